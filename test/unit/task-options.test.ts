import { describe, expect, it } from 'vitest';
import { LinuxRuncCreateOptionsType, RuncOptionsType, RuntimeOptionsType, packAny } from '../../src/api/index.js';
import { Code } from 'ttrpc-ts';
import { ShimError } from '../../src/shim/errdefs.js';
import { decodeStartInput } from '../../src/shim/start-input.js';
import { startOptionTypes } from '../../src/task/manager.js';
import { decodeCheckpointOptions, decodeOptions, decodeStartOptions, defaultOptions, restorePathOf } from '../../src/task/options.js';
import { parseFlatToml } from '../../src/task/runtime-options-toml.js';

describe('task options', () => {
  it('defaults when absent', () => {
    expect(decodeOptions(undefined)).toEqual(defaultOptions());
    expect(decodeOptions({ type_url: '', value: new Uint8Array() })).toEqual(defaultOptions());
  });

  it('reads containerd.runc.v1.Options', () => {
    const any = packAny(RuncOptionsType, {
      binaryName: 'crun',
      root: '/run/x',
      systemdCgroup: true,
      ioUid: 1000,
      ioGid: 1001,
      noPivotRoot: true,
    });
    expect(decodeOptions(any)).toMatchObject({
      binaryName: 'crun',
      root: '/run/x',
      systemdCgroup: true,
      ioUid: 1000,
      ioGid: 1001,
      noPivotRoot: true,
      noNewKeyring: false,
    });
  });

  it('reads containerd.linux.runc.CreateOptions (what the client sends runtimes not named io.containerd.runc.*)', () => {
    const any = packAny(LinuxRuncCreateOptionsType, { ioUid: 1000, ioGid: 2000, noPivotRoot: true, shimCgroup: '/s' });
    expect(decodeOptions(any)).toEqual({ ...defaultOptions(), ioUid: 1000, ioGid: 2000, noPivotRoot: true, shimCgroup: '/s' });
  });

  it('reads the TOML body of runtimeoptions.v1.Options (what CRI sends for non-runc runtime types)', () => {
    const body = Buffer.from('BinaryName = "/usr/bin/crun"\nSystemdCgroup = false\nio_uid = 1000\n# a comment\nOther = "ignored"\n');
    const any = packAny(RuntimeOptionsType, { typeUrl: 'containerd.runc.v1.Options', configBody: body });
    expect(decodeOptions(any)).toMatchObject({ binaryName: '/usr/bin/crun', systemdCgroup: false, ioUid: 1000 });
  });

  it('refuses an unknown options type with InvalidArgument naming its type URL', () => {
    let thrown: unknown;
    try {
      decodeOptions({ type_url: 'example.com/Bogus', value: new Uint8Array() });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ShimError);
    expect((thrown as ShimError).code).toBe(Code.InvalidArgument);
    expect((thrown as ShimError).message).toContain('example.com/Bogus');
  });

  it('refuses a mistyped TOML value and a non-flat TOML line', () => {
    const any = (text: string) => packAny(RuntimeOptionsType, { configBody: Buffer.from(text) });
    expect(() => decodeOptions(any('SystemdCgroup = "yes"'))).toThrow(/must be a boolean/);
    expect(() => parseFlatToml('[table]')).toThrow(/not "key = value"/);
  });

  it('start: the options of every stdin form are read alike (empty, a bare Any, a BootstrapParams extension)', () => {
    const ctx = { id: 't1', namespace: 'ns', optionTypes: startOptionTypes };
    expect(decodeStartOptions(decodeStartInput(new Uint8Array(), ctx))).toEqual(defaultOptions());
    // Any{type_url: "containerd.runc.v1.Options", value: Options{shim_cgroup: "/sysfs/custom"}}, as 1.6 wrote it.
    const anyBytes = Buffer.from('0a1a636f6e7461696e6572642e72756e632e76312e4f7074696f6e73120f1a0d2f73797366732f637573746f6d', 'hex');
    expect(decodeStartOptions(decodeStartInput(anyBytes, ctx)).shimCgroup).toBe('/sysfs/custom');
    // BootstrapParams{instance_id: "t1", namespace: "ns", extensions: [{value: <the same Any>}]}
    const extension = Buffer.concat([Buffer.from([0x0a, anyBytes.length]), anyBytes]);
    const params = Buffer.concat([Buffer.from('0a027431' + '12026e73', 'hex'), Buffer.from([0x42, extension.length]), extension]);
    expect(decodeStartOptions(decodeStartInput(params, ctx)).shimCgroup).toBe('/sysfs/custom');
    // BootstrapParams{instance_id: "t1", namespace: "ns"}: no options.
    expect(decodeStartOptions(decodeStartInput(Buffer.from('0a027431' + '12026e73', 'hex'), ctx))).toEqual(defaultOptions());
  });

  it('start looks for the option types decodeOptions reads, by the names api/ gives them', () => {
    expect([...startOptionTypes].sort()).toEqual(
      [RuncOptionsType, RuntimeOptionsType, LinuxRuncCreateOptionsType].map((t) => t.typeName).sort(),
    );
  });

  // Hand-built bytes: field 8 (tag 0x42) = "/a", field 9 (tag 0x4a) = "/b". The two packages give
  // these numbers opposite meanings (containerd's runtime/v2/runc/options/oci.proto and
  // runtime/linux/runctypes/runc.proto).
  const fields8and9 = Uint8Array.from([0x42, 0x02, 0x2f, 0x61, 0x4a, 0x02, 0x2f, 0x62]);

  it('checkpoint options: containerd.runc.v1 has image_path = 8, work_path = 9', () => {
    const o = decodeCheckpointOptions({ type_url: 'containerd.runc.v1.CheckpointOptions', value: fields8and9 });
    expect(o).toMatchObject({ imagePath: '/a', workPath: '/b', exit: false });
  });

  it('checkpoint options: the legacy containerd.linux.runc (containerd 1.6/1.7 clients) has work_path = 8, image_path = 9', () => {
    const o = decodeCheckpointOptions({
      type_url: 'containerd.linux.runc.CheckpointOptions',
      value: Uint8Array.from([0x08, 0x01, ...fields8and9]),
    });
    expect(o).toMatchObject({ imagePath: '/b', workPath: '/a', exit: true });
  });

  it('checkpoint options: absent is defaults; an unknown type is InvalidArgument naming it', () => {
    expect(decodeCheckpointOptions(undefined)).toMatchObject({ imagePath: '', workPath: '', exit: false, emptyNamespaces: [] });
    let thrown: unknown;
    try {
      decodeCheckpointOptions({ type_url: 'example.com/Other', value: new Uint8Array() });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as ShimError).code).toBe(Code.InvalidArgument);
    expect((thrown as ShimError).message).toContain('example.com/Other');
  });

  it('restore path: criu_image_path of the legacy CreateOptions wins; runc Options and TOML never restore', () => {
    const legacy = packAny(LinuxRuncCreateOptionsType, { criuImagePath: '/img' });
    expect(restorePathOf(legacy, '')).toBe('/img');
    expect(restorePathOf(legacy, '/tmp/ctrd-checkpoint1')).toBe('/img');
    expect(restorePathOf(packAny(LinuxRuncCreateOptionsType, { ioUid: 1 }), '/cp')).toBe('/cp');
    expect(restorePathOf(packAny(RuncOptionsType, { criuImagePath: '/img' }), '')).toBe('');
    const toml = packAny(RuntimeOptionsType, { configBody: Buffer.from('CriuImagePath = "/img"\n') });
    expect(restorePathOf(toml, '')).toBe('');
    expect(restorePathOf(undefined, '/cp')).toBe('/cp');
  });
});
