// Issue 10 item 3: malformed requests sent straight to the daemon's socket get exact codes with a
// message naming the field, and the daemon serves on (State of a running container answers after each).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Code } from 'ttrpc-ts';
import { JsonTypeUrl, Status, containerd as api, encodeMessage, packJsonAny, type AnyMessage } from '../../src/api/index.js';
import { describeEachContainerd, runtimes } from './harness/index.js';
import { RawTtrpcConnection, decodeState, describeAnswer, shimAddress, stateRequest, type RawAnswer } from './clients/raw-ttrpc.js';

const task = api.task.v2;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describeEachContainerd('hostile input to the daemon socket', (suite) => {
  const id = 'hostile1';
  let conn: RawTtrpcConnection;
  let address: string;

  beforeAll(async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtimes.tsshim, suite.fixtures.image, id, 'sleep', '600']);
    address = shimAddress(containerd.state, containerd.namespace, id);
    conn = await RawTtrpcConnection.connect(address);
  });
  afterAll(async () => {
    await conn?.close();
  });

  /** Sends `payload` as `method`; expects `code` with a message matching `message`; then State still answers. */
  async function expectAnswer(method: string, payload: Uint8Array, code: Code, message: RegExp): Promise<void> {
    const answer: RawAnswer = await conn.call(method, payload);
    expect(describeAnswer(answer)).toMatch(new RegExp(`^${Code[code]}: `));
    expect(answer.message).toMatch(message);
    const state = await conn.call('State', stateRequest(id));
    expect(describeAnswer(state)).toBe('OK: ');
    expect(decodeState(state.payload).id).toBe(id);
  }

  it('an undecodable payload is InvalidArgument', async () => {
    // A tag with no length after it; then a tag varint that never ends.
    await expectAnswer('State', hex('0a'), Code.InvalidArgument, /cannot decode State request/);
    await expectAnswer('Kill', hex('ffffffffffffffffffffff'), Code.InvalidArgument, /cannot decode Kill request/);
  });

  it('a string whose length runs past the payload is InvalidArgument naming the field, not a truncated id', async () => {
    await expectAnswer(
      'State',
      hex('0a ffffffff0f 686f7374696c6531'),
      Code.InvalidArgument,
      /StateRequest\.id: length 4294967295 runs past the end/,
    );
    await expectAnswer('Create', hex('0a 02 6331 12 40 2f'), Code.InvalidArgument, /CreateTaskRequest\.bundle: length 64 runs past/);
    // exec_id of a request whose id is fine.
    await expectAnswer(
      'Kill',
      Buffer.concat([encodeMessage(task.KillRequest, { id }), hex('12 05 78')]),
      Code.InvalidArgument,
      /KillRequest\.execId: length 5/,
    );
  });

  it('an Any with JSON that does not parse, or of an unexpected type, is InvalidArgument naming the field', async () => {
    const exec = (spec: AnyMessage) => encodeMessage(task.ExecProcessRequest, { id, execId: 'badspec', spec });
    await expectAnswer(
      'Exec',
      exec({ type_url: JsonTypeUrl.OciProcess, value: Buffer.from('{"args": [') }),
      Code.InvalidArgument,
      /^spec: invalid JSON in Any/,
    );
    await expectAnswer(
      'Exec',
      exec(packJsonAny('example.com/Bogus', {})),
      Code.InvalidArgument,
      /^spec: unexpected Any type "example\.com\/Bogus"/,
    );
    await expectAnswer(
      'Update',
      encodeMessage(task.UpdateTaskRequest, {
        id,
        resources: { type_url: JsonTypeUrl.OciLinuxResources, value: Buffer.from('not json') },
      }),
      Code.InvalidArgument,
      /^resources: invalid JSON in Any/,
    );
    await expectAnswer(
      'Checkpoint',
      encodeMessage(task.CheckpointTaskRequest, {
        id,
        path: '/tmp/never',
        options: { type_url: 'containerd.runc.v1.CheckpointOptions', value: hex('0a 7f') },
      }),
      Code.InvalidArgument,
      /^options: invalid containerd\.runc\.v1\.CheckpointOptions/,
    );
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, {
        id: 'newc',
        bundle: suite.containerd.tempDir,
        options: { type_url: 'example.com/Bogus', value: new Uint8Array(0) },
      }),
      Code.InvalidArgument,
      /^options: unsupported runtime options type "example\.com\/Bogus"/,
    );
  });

  it('an id or exec id that is not a containerd identifier is InvalidArgument naming the field', async () => {
    await expectAnswer('State', stateRequest('../../x'), Code.InvalidArgument, /^invalid id "\.\.\/\.\.\/x": must match /);
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, { id: '../../x', bundle: '/nonexistent' }),
      Code.InvalidArgument,
      /^invalid id "\.\.\/\.\.\/x"/,
    );
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, { id: '', bundle: '/nonexistent' }),
      Code.InvalidArgument,
      /^invalid id "": must not be empty/,
    );
    await expectAnswer(
      'Delete',
      encodeMessage(task.DeleteRequest, { id: 'x'.repeat(77) }),
      Code.InvalidArgument,
      /^invalid id "x{77}": is longer than 76 characters/,
    );
    await expectAnswer(
      'Exec',
      encodeMessage(task.ExecProcessRequest, {
        id,
        execId: '../../e',
        spec: packJsonAny(JsonTypeUrl.OciProcess, { args: ['true'], cwd: '/' }),
      }),
      Code.InvalidArgument,
      /^invalid exec_id "\.\.\/\.\.\/e"/,
    );
    await expectAnswer(
      'Kill',
      encodeMessage(task.KillRequest, { id, execId: 'a/b', signal: 9 }),
      Code.InvalidArgument,
      /^invalid exec_id "a\/b"/,
    );
    await expectAnswer('State', stateRequest(id, '-lead'), Code.InvalidArgument, /^invalid exec_id "-lead"/);
  });

  it('a stdio path or bundle that does not exist is NotFound naming the path', async () => {
    const spec = packJsonAny(JsonTypeUrl.OciProcess, { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } });
    await expectAnswer(
      'Exec',
      encodeMessage(task.ExecProcessRequest, { id, execId: 'nostdout', spec, stdout: '/nonexistent/out' }),
      Code.NotFound,
      /^stdout "\/nonexistent\/out" does not exist/,
    );
    await expectAnswer(
      'Exec',
      encodeMessage(task.ExecProcessRequest, { id, execId: 'nostdin', spec, stdin: '/nonexistent/in' }),
      Code.NotFound,
      /^stdin "\/nonexistent\/in" does not exist/,
    );
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, { id: 'newc', bundle: suite.containerd.tempDir, stderr: '/nonexistent/err' }),
      Code.NotFound,
      /^stderr "\/nonexistent\/err" does not exist/,
    );
    // The bundle containerd made before starting the shim.
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, { id: 'newc', bundle: '/nonexistent/bundle' }),
      Code.NotFound,
      /^bundle "\/nonexistent\/bundle" does not exist/,
    );
    await expectAnswer(
      'Exec',
      encodeMessage(task.ExecProcessRequest, { id, execId: 'nul', spec, stdout: '/tmp/a\0b' }),
      Code.InvalidArgument,
      /^stdout "\/tmp\/a\\u0000b" contains a NUL byte/,
    );
    await expectAnswer(
      'Create',
      encodeMessage(task.CreateTaskRequest, { id: 'newc', bundle: 'relative' }),
      Code.InvalidArgument,
      /^bundle "relative" is not an absolute path/,
    );
    // Nothing was added: a Start of the refused exec is NotFound.
    const start = await conn.call('Start', encodeMessage(task.StartRequest, { id, execId: 'nostdout' }));
    expect(start.code).toBe(Code.NotFound);
  });

  it('the daemon still serves a new connection, and the container still runs', async () => {
    const fresh = await RawTtrpcConnection.connect(address);
    try {
      const state = await fresh.call('State', stateRequest(id));
      expect(describeAnswer(state)).toBe('OK: ');
      expect(decodeState(state.payload).status).toBe(Status.RUNNING);
    } finally {
      await fresh.close();
    }
  });
});
