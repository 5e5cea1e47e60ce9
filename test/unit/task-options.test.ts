import { describe, expect, it } from 'vitest';
import { LinuxRuncCreateOptionsType, RuncOptionsType, RuntimeOptionsType, packAny } from '../../src/api/index.js';
import { Code } from 'ttrpc-ts';
import { ShimError } from '../../src/shim/errdefs.js';
import { decodeStartInput } from '../../src/shim/start-input.js';
import { startOptionTypes } from '../../src/task/manager.js';
import { decodeOptions, decodeStartOptions, defaultOptions } from '../../src/task/options.js';
import { parseFlatToml } from '../../src/task/runtime-options-toml.js';

describe('task options', () => {
  it('defaults when absent', () => {
    expect(decodeOptions(undefined)).toEqual(defaultOptions());
    expect(decodeOptions({ type_url: '', value: new Uint8Array() })).toEqual(defaultOptions());
  });

  it('reads containerd.runc.v1.Options', () => {
    const any = packAny(RuncOptionsType, { binaryName: 'crun', root: '/run/x', systemdCgroup: true, ioUid: 1000, ioGid: 1001, noPivotRoot: true });
    expect(decodeOptions(any)).toMatchObject({ binaryName: 'crun', root: '/run/x', systemdCgroup: true, ioUid: 1000, ioGid: 1001, noPivotRoot: true, noNewKeyring: false });
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
    expect([...startOptionTypes].sort()).toEqual([RuncOptionsType, RuntimeOptionsType, LinuxRuncCreateOptionsType].map((t) => t.typeName).sort());
  });
});
