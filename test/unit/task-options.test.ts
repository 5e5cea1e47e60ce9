import { describe, expect, it } from 'vitest';
import { LinuxRuncCreateOptionsType, RuncOptionsType, RuntimeOptionsType, packAny } from '../../src/api/index.js';
import { Code } from '../../src/ttrpc/index.js';
import { ShimError } from '../../src/shim/errdefs.js';
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

  it('start stdin: empty, an options Any, or a 2.3 BootstrapParams (whose first field is the task id)', () => {
    expect(decodeStartOptions(new Uint8Array(), 't1')).toEqual(defaultOptions());
    const anyBytes = Buffer.from('0a1a636f6e7461696e6572642e72756e632e76312e4f7074696f6e73120f1a0e2f73797366732f637573746f6d', 'hex');
    expect(decodeStartOptions(anyBytes, 't1').shimCgroup).toBe('/sysfs/custom');
    // BootstrapParams{instance_id: "t1", namespace: "ns"}
    const bootstrap = Buffer.from([0x0a, 0x02, 0x74, 0x31, 0x12, 0x02, 0x6e, 0x73]);
    expect(decodeStartOptions(bootstrap, 't1')).toEqual(defaultOptions());
  });
});
