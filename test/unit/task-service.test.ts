// TaskService through its registered method table, with fake container collaborators: the bytes
// in, the checks, the codes out, and when a deferred Shutdown is honoured. The e2e suites drive
// the same table through containerd.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, type CallContext, type TtrpcServer } from 'ttrpc-ts';
import { TASK_SERVICE_V2, TASK_SERVICE_V3, containerd } from '../../src/api/index.js';
import type { Logger } from '../../src/shim/logger.js';
import type { Exit } from '../../src/sys/reaper.js';
import type { ContainerDeps, RuncClient } from '../../src/task/deps.js';
import { TaskService } from '../../src/task/service.js';

const t = containerd.task.v2;
type Table = Record<string, (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>>;

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => silent };

let bundle: string;
let table: Table;
let shutdowns: string[];
let exits: Map<number, (exit: Exit) => void>;

beforeEach(() => {
  bundle = mkdtempSync(join(tmpdir(), 'tsshim-service-'));
  shutdowns = [];
  exits = new Map();
  let nextPid = 2000;
  const runc = {
    create: async (_id: string, opts: { pidFile: string }) => writeFileSync(opts.pidFile, String(nextPid++)),
    start: async () => {},
    kill: async (_id: string, signal: number) => exits.get(2000)?.({ pid: 2000, status: 128 + signal, exitedAt: new Date() }),
    delete: async (_id: string, opts: { force?: boolean }) => {
      if (opts.force) exits.get(2000)?.({ pid: 2000, status: 137, exitedAt: new Date() });
    },
  };
  const deps: ContainerDeps = {
    runcFor: () => runc as unknown as RuncClient,
    reaper: { waitFor: (pid) => new Promise<Exit>((resolve) => exits.set(pid, resolve)) },
    publisher: { publish() {} },
    clock: { now: () => new Date(), monotonic: () => 0n },
    cgroups: {
      ofPid: () => Promise.reject(new Error('no cgroup here')),
      watchOOM: () => {
        throw new Error('unused');
      },
    },
    logger: silent,
  };
  const tables = new Map<string, Table>();
  const server = { register: (name: string, methods: Table) => tables.set(name, methods), on() {}, off() {} };
  new TaskService({ namespace: 'test', deps, shutdown: (reason) => shutdowns.push(reason) }).register(server as unknown as TtrpcServer);
  expect(tables.get(TASK_SERVICE_V3)).toBe(tables.get(TASK_SERVICE_V2));
  table = tables.get(TASK_SERVICE_V2) as Table;
});

afterEach(() => rmSync(bundle, { recursive: true, force: true }));

const ctx = { signal: new AbortController().signal } as CallContext;

async function call<T>(method: string, payload: Uint8Array, decode?: (bytes: Uint8Array) => T): Promise<T> {
  const answer = await (table[method] as Table[string])(payload, ctx);
  return decode ? decode(answer) : (undefined as T);
}

async function failure(method: string, payload: Uint8Array): Promise<{ code: Code; message: string }> {
  return (table[method] as Table[string])(payload, ctx).then(
    () => {
      throw new Error(`${method} succeeded`);
    },
    (err: { code: Code; message: string }) => err,
  );
}

const create = (id: string) => t.CreateTaskRequest.encode({ id, bundle }).finish();
const state = (id: string) => t.StateRequest.encode({ id }).finish();

describe('TaskService', () => {
  it('serves Create, Start, State, Kill, Wait and Delete of one container', async () => {
    expect((await call('Create', create('c1'), (b) => t.CreateTaskResponse.decode(b))).pid).toBe(2000);
    await call('Start', t.StartRequest.encode({ id: 'c1' }).finish());
    expect((await call('State', state('c1'), (b) => t.StateResponse.decode(b))).status).toBe(containerd.v1.types.Status.RUNNING);
    const waited = call('Wait', t.WaitRequest.encode({ id: 'c1' }).finish(), (b) => t.WaitResponse.decode(b));
    await call('Kill', t.KillRequest.encode({ id: 'c1', signal: 9 }).finish());
    expect((await waited).exitStatus).toBe(137);
    expect((await call('Delete', t.DeleteRequest.encode({ id: 'c1' }).finish(), (b) => t.DeleteResponse.decode(b))).exitStatus).toBe(137);
    expect((await failure('State', state('c1'))).code).toBe(Code.NotFound);
  });

  it('answers bad input with InvalidArgument naming the field, and serves on', async () => {
    const badId = await failure('Create', create('../../x'));
    expect(badId.code).toBe(Code.InvalidArgument);
    expect(badId.message).toMatch(/\bid\b/);
    const garbage = await failure('State', Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(garbage.code).toBe(Code.InvalidArgument);
    expect((await call('Create', create('c1'), (b) => t.CreateTaskResponse.decode(b))).pid).toBe(2000);
    expect((await failure('Create', create('c1'))).code).toBe(Code.AlreadyExists);
  });

  it('defers a Shutdown that comes while a container remains until that container is deleted', async () => {
    await call('Create', create('c1'));
    await call('Shutdown', t.ShutdownRequest.encode({ id: 'c1' }).finish());
    expect(shutdowns).toEqual([]);
    await call('Delete', t.DeleteRequest.encode({ id: 'c1' }).finish());
    expect(shutdowns).toEqual(['the last container was deleted after a Shutdown request']);
  });
});
