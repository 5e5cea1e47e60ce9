// `start`'s stdin decoder and its BootstrapResult answer, against bytes the generated codecs of
// proto/containerd/runtime/bootstrap/v1 (containerd 2.3's bootstrap.proto) produce.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RuncOptionsType, RuntimeOptionsType, containerd, encodeNamed, google, packAny } from '../../src/api/index.js';
import { groupSocketPath, maxSocketDirLength, requestedSocketDir } from '../../src/shim/address.js';
import { encodeBootstrapResult, startOutput } from '../../src/shim/bootstrap.js';
import { daemonLogLevel } from '../../src/shim/daemon-env.js';
import { parseFlags } from '../../src/shim/flags.js';
import { StartInputError, decodeStartInput, logLevelName, type StartInput } from '../../src/shim/start-input.js';
import { startOptionTypes } from '../../src/task/manager.js';
import { decodeStartOptions } from '../../src/task/options.js';

const boot = containerd.runtime.bootstrap.v1;
const ctx = { id: 'task-1', namespace: 'k8s.io', optionTypes: startOptionTypes };
const encodeParams = (p: containerd.runtime.bootstrap.v1.IBootstrapParams): Uint8Array => boot.BootstrapParams.encode(p).finish();

const runcAny = packAny(RuncOptionsType, { shimCgroup: '/podruntime/shim', binaryName: '/usr/bin/crun' });
// CRI's options for a runtime_type other than io.containerd.runc.v2, with the prefix Go's anypb.New writes.
const criAny = {
  type_url: 'type.googleapis.com/runtimeoptions.v1.Options',
  value: encodeNamed(RuntimeOptionsType, { configBody: Buffer.from('ShimCgroup = "/from/toml"\nBinaryName = "/usr/sbin/runc"\n') }),
};
const sandboxAny = { type_url: 'containerd.io/sandbox.v1.SandboxConfig', value: Buffer.from([0x0a, 0x01, 0x78]) };

const fullParams: containerd.runtime.bootstrap.v1.IBootstrapParams = {
  instanceId: 'task-1',
  namespace: 'k8s.io',
  logLevel: boot.LogLevel.LOG_LEVEL_TRACE,
  containerdVersion: '2.3.4+unknown',
  containerdTtrpcAddress: '/run/containerd/containerd.sock.ttrpc',
  containerdGrpcAddress: '/run/containerd/containerd.sock',
  containerdBinary: '/usr/bin/containerd',
  extensions: [{ value: runcAny }],
  socketDir: '/run/c/s',
};

function bootstrapOf(input: StartInput) {
  if (input.form !== 'bootstrap') throw new Error(`expected BootstrapParams, got ${input.form}`);
  return input;
}

/** Unknown fields of every wire type: varint 20, bytes 21, fixed32 22, fixed64 23, a group 24. */
const unknownFields = Buffer.from([
  0xa0,
  0x01,
  0x96,
  0x01, // 20: varint 150
  0xaa,
  0x01,
  0x03,
  0x61,
  0x62,
  0x63, // 21: "abc"
  0xb5,
  0x01,
  1,
  2,
  3,
  4, // 22: fixed32
  0xb9,
  0x01,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8, // 23: fixed64
  0xc3,
  0x01,
  0x08,
  0x01,
  0xc4,
  0x01, // 24: group { 1: varint 1 }
]);

describe('start stdin: BootstrapParams (containerd 2.3+)', () => {
  it('reads every field', () => {
    const input = bootstrapOf(decodeStartInput(encodeParams(fullParams), ctx));
    expect(input.params).toEqual({
      instanceId: 'task-1',
      namespace: 'k8s.io',
      logLevel: -8,
      containerdVersion: '2.3.4+unknown',
      containerdTtrpcAddress: '/run/containerd/containerd.sock.ttrpc',
      containerdGrpcAddress: '/run/containerd/containerd.sock',
      containerdBinary: '/usr/bin/containerd',
      extensions: [{ typeUrl: 'containerd.runc.v1.Options', value: Buffer.from(runcAny.value!) }],
      socketDir: '/run/c/s',
    });
    expect(input.options).toEqual(input.params.extensions[0]);
  });

  it('skips unknown fields of every wire type, in the message and in an extension', () => {
    const extension = Buffer.concat([boot.Extension.encode({ value: runcAny }).finish(), unknownFields]);
    const bytes = Buffer.concat([
      unknownFields,
      encodeParams({ ...fullParams, extensions: [] }),
      Buffer.from([0x42, extension.length]),
      extension,
      unknownFields,
    ]);
    const input = bootstrapOf(decodeStartInput(bytes, ctx));
    expect(input.params.socketDir).toBe('/run/c/s');
    expect(input.params.containerdVersion).toBe('2.3.4+unknown');
    expect(input.options?.typeUrl).toBe('containerd.runc.v1.Options');
  });

  it('hands the runc Options extension to the task layer: shim_cgroup and the rest', () => {
    const options = decodeStartOptions(decodeStartInput(encodeParams(fullParams), ctx));
    expect(options.shimCgroup).toBe('/podruntime/shim');
    expect(options.binaryName).toBe('/usr/bin/crun');
  });

  it('finds runtimeoptions.v1.Options (prefixed type URL) among extensions of other types', () => {
    const input = bootstrapOf(
      decodeStartInput(encodeParams({ ...fullParams, extensions: [{ value: sandboxAny }, { value: criAny }] }), ctx),
    );
    expect(input.params.extensions.map((e) => e.typeUrl)).toEqual(['containerd.io/sandbox.v1.SandboxConfig', criAny.type_url]);
    expect(input.options?.typeUrl).toBe(criAny.type_url);
    expect(decodeStartOptions(input).shimCgroup).toBe('/from/toml');
  });

  it('has no options when no extension is of an option type', () => {
    const input = bootstrapOf(decodeStartInput(encodeParams({ ...fullParams, extensions: [{ value: sandboxAny }, {}] }), ctx));
    expect(input.options).toBeUndefined();
    expect(decodeStartOptions(input).shimCgroup).toBe('');
  });

  it('treats socket_dir absent or empty as the default, and keeps the INFO level when log_level is absent', () => {
    const none = bootstrapOf(decodeStartInput(encodeParams({ ...fullParams, socketDir: null, logLevel: null }), ctx));
    expect(none.params.socketDir).toBeUndefined();
    expect(none.params.logLevel).toBe(0);
    const empty = encodeParams({ ...fullParams, socketDir: '' });
    expect(Buffer.from(empty).includes(Buffer.from([0x4a, 0x00]))).toBe(true); // present on the wire, empty
    expect(bootstrapOf(decodeStartInput(empty, ctx)).params.socketDir).toBeUndefined();
  });

  it("reads a BootstrapParams that holds only instance_id and namespace (an Any's shape) by its content", () => {
    const input = decodeStartInput(encodeParams({ instanceId: 'task-1', namespace: 'k8s.io' }), ctx);
    expect(input.form).toBe('bootstrap');
    expect(input.options).toBeUndefined();
  });

  it('refuses BootstrapParams for another task or namespace', () => {
    expect(() => decodeStartInput(encodeParams({ ...fullParams, instanceId: 'other' }), ctx)).toThrow(
      'BootstrapParams on stdin is for "k8s.io/other", but the flags say "k8s.io/task-1"',
    );
    expect(() => decodeStartInput(encodeParams({ ...fullParams, namespace: 'default' }), ctx)).toThrow(/"default\/task-1"/);
  });
});

describe('start stdin: empty and the options Any (containerd 1.6-2.2)', () => {
  it('empty stdin is no options', () => {
    expect(decodeStartInput(new Uint8Array(), ctx)).toEqual({ form: 'empty', options: undefined });
  });

  it('an Any, with a bare or a prefixed type URL, is the options', () => {
    const bare = decodeStartInput(google.protobuf.Any.encode(runcAny).finish(), ctx);
    expect(bare.form).toBe('any');
    expect(bare.options?.typeUrl).toBe('containerd.runc.v1.Options');
    expect(Buffer.from(bare.options!.value)).toEqual(Buffer.from(runcAny.value!));
    expect(decodeStartOptions(bare).shimCgroup).toBe('/podruntime/shim');
    const prefixed = decodeStartInput(google.protobuf.Any.encode(criAny).finish(), ctx);
    expect(prefixed.form).toBe('any');
    expect(decodeStartOptions(prefixed).shimCgroup).toBe('/from/toml');
  });

  it('an Any of a type the shim does not read stays an Any; the task layer names the type', () => {
    const input = decodeStartInput(google.protobuf.Any.encode(sandboxAny).finish(), ctx);
    expect(input.form).toBe('any');
    expect(() => decodeStartOptions(input)).toThrow(/unsupported runtime options type "containerd.io\/sandbox.v1.SandboxConfig"/);
  });
});

describe('start stdin: anything else is a clear error', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['text', Buffer.from('hello'), /end of group 13 without its start \(5 bytes starting 68656c6c6f\)/],
    ['an invalid wire type', Buffer.from([0x0f]), /field 1 has the invalid wire type 7/],
    ['JSON', Buffer.from('{"options":{"ShimCgroup":"/x"}}'), /\(31 bytes starting 7b226f7074696f6e73/],
    ['a truncated BootstrapParams', encodeParams(fullParams).subarray(0, 30), /overruns|claims/],
    ['a length past the end', Buffer.from([0x0a, 0x7f, 0x61]), /field 1 claims 127 bytes|overruns/],
    ['a truncated varint', Buffer.from([0x18, 0xff]), /truncated varint/],
    ['field number 0', Buffer.from([0x02, 0x00]), /invalid field number 0/],
    ['an unmatched end of group', Buffer.from([0x0c]), /end of group 1 without its start/],
    ['protobuf without instance_id', Buffer.from([0x58, 0x01, 0x62, 0x01, 0x78]), /fields 11, 12 but no instance_id/],
    [
      'a broken extension',
      Buffer.concat([encodeParams({ ...fullParams, extensions: [] }), Buffer.from([0x42, 0x02, 0x0a, 0x05])]),
      /overruns|claims/,
    ],
  ];
  for (const [what, bytes, reason] of cases) {
    it(`refuses ${what}`, () => {
      let error: unknown;
      try {
        decodeStartInput(bytes, ctx);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(StartInputError);
      const message = (error as Error).message;
      expect(message).toMatch(/^start: stdin is neither runtime options \(a google.protobuf.Any\) nor containerd 2.3's BootstrapParams: /);
      expect(message).toMatch(reason);
      expect(message).toContain(`(${bytes.length} bytes starting `);
    });
  }

  it('refuses a string field that is not UTF-8, naming the field', () => {
    const bytes = Buffer.concat([encodeParams(fullParams), Buffer.from([0x12, 0x02, 0xc3, 0x28])]);
    expect(() => decodeStartInput(bytes, ctx)).toThrow(/BootstrapParams.namespace is not valid UTF-8/);
  });
});

describe('log_level', () => {
  it("maps every LogLevel to the daemon's level and an unknown number to the nearest one", () => {
    const L = boot.LogLevel;
    expect(
      [
        L.LOG_LEVEL_TRACE,
        L.LOG_LEVEL_DEBUG,
        L.LOG_LEVEL_INFO,
        L.LOG_LEVEL_WARN,
        L.LOG_LEVEL_ERROR,
        L.LOG_LEVEL_FATAL,
        L.LOG_LEVEL_PANIC,
      ].map(logLevelName),
    ).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'fatal']);
    expect([-100, -6, -5, 1, 3, 9, 40].map(logLevelName)).toEqual(['trace', 'trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  });

  it('reaches the daemon through TSSHIM_LOG_LEVEL; without it -debug decides', () => {
    const flags = parseFlags(['-namespace', 'n', '-id', 'i', '-debug']);
    expect(daemonLogLevel(flags, { TSSHIM_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(daemonLogLevel(flags, {})).toBe('debug');
    expect(daemonLogLevel(flags, { TSSHIM_LOG_LEVEL: 'loud' })).toBe('debug');
    expect(daemonLogLevel(parseFlags(['-id', 'i']), {})).toBe('info');
  });
});

describe('socket_dir', () => {
  it('places the socket in the directory containerd names, with the same hash', () => {
    const hash = groupSocketPath('/run/containerd/containerd.sock', 'k8s.io', 'pod').slice('/run/containerd/s/'.length);
    expect(groupSocketPath('/run/containerd/containerd.sock', 'k8s.io', 'pod', requestedSocketDir('/run/c/s'))).toBe(`/run/c/s/${hash}`);
    expect(requestedSocketDir(undefined)).toBe('/run/containerd/s');
    expect(requestedSocketDir('/run//c/./s/')).toBe('/run/c/s');
  });

  it("applies containerd's rules: absolute, at most 42 bytes (107-byte socket path)", () => {
    const longest = `/${'d'.repeat(maxSocketDirLength - 1)}`;
    expect(maxSocketDirLength).toBe(42);
    expect(requestedSocketDir(longest)).toBe(longest);
    expect(Buffer.byteLength(groupSocketPath('a', 'b', 'c', longest))).toBe(107);
    expect(() => requestedSocketDir(`${longest}d`)).toThrow(/is 43 bytes; at most 42/);
    expect(() => requestedSocketDir('run/c/s')).toThrow(/must be an absolute path: "run\/c\/s"/);
  });
});

describe('start output to BootstrapParams', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-boot23-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const address = 'unix:///run/c/s/abc';
  const decodeResult = (bytes: Uint8Array) => boot.BootstrapResult.decode(bytes);

  it('encodes BootstrapResult exactly as the generated codec does', () => {
    for (const version of [2, 3, -1]) {
      expect(Buffer.from(encodeBootstrapResult(version, address))).toEqual(
        Buffer.from(boot.BootstrapResult.encode({ version, address, protocol: 'ttrpc' }).finish()),
      );
    }
  });

  it('answers BootstrapParams with BootstrapResult version 3, from containerd_version without running containerd', () => {
    const input = decodeStartInput(encodeParams({ ...fullParams, containerdBinary: join(dir, 'absent') }), ctx);
    const out = startOutput(address, input, join(dir, 'absent-too'), {}, dir);
    expect(decodeResult(out)).toMatchObject({ version: 3, address, protocol: 'ttrpc' });
    expect(out.at(-1)).not.toBe(0x0a);
  });

  it('asks containerd_binary when containerd_version is empty; TSSHIM_BOOTSTRAP_VERSION=2 still forces version 2', () => {
    const binary = join(dir, 'containerd');
    writeFileSync(binary, '#!/bin/sh\necho "containerd github.com/containerd/containerd/v2 2.3.4 abc"\n');
    chmodSync(binary, 0o755);
    const input = decodeStartInput(encodeParams({ ...fullParams, containerdVersion: '', containerdBinary: binary }), ctx);
    expect(decodeResult(startOutput(address, input, '', {}, dir)).version).toBe(3);
    expect(decodeResult(startOutput(address, input, '', { TSSHIM_BOOTSTRAP_VERSION: '2' }, dir)).version).toBe(2);
  });

  it('keeps the text forms for the stdin of containerd 1.6-2.2', () => {
    const text = (input: StartInput) => Buffer.from(startOutput(address, input, '', {}, dir)).toString();
    expect(text({ form: 'empty', options: undefined })).toBe(address);
    expect(
      JSON.parse(
        Buffer.from(startOutput(address, { form: 'empty', options: undefined }, '', { TSSHIM_BOOTSTRAP_VERSION: '3' }, dir)).toString(),
      ),
    ).toEqual({ version: 3, address, protocol: 'ttrpc' });
  });
});
