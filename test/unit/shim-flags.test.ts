import { describe, expect, it } from 'vitest';
import { FlagError, parseFlags } from '../../src/shim/flags.js';
import { groupSocketPath, unixAddress } from '../../src/shim/address.js';

describe('shim flags', () => {
  it('parses the start argv containerd passes', () => {
    const f = parseFlags([
      '-namespace',
      'k8s.io',
      '-address',
      '/run/containerd/containerd.sock',
      '-publish-binary',
      '/usr/bin/containerd',
      '-id',
      'abc',
      '-debug',
      'start',
    ]);
    expect(f).toMatchObject({
      namespace: 'k8s.io',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      id: 'abc',
      debug: true,
      action: 'start',
    });
  });

  it('parses the delete argv with -bundle, and the daemon argv without an action', () => {
    expect(parseFlags(['-namespace', 'n', '-id', 'x', '-bundle', '/b', 'delete'])).toMatchObject({
      bundle: '/b',
      action: 'delete',
      debug: false,
    });
    expect(parseFlags(['-namespace', 'n', '-id', 'x', '-address', '/a']).action).toBe('');
  });

  it('accepts Go flag spellings: --name, -name=value, -bool=false', () => {
    expect(parseFlags(['--namespace=n', '-debug=false', '--id', 'i'])).toMatchObject({ namespace: 'n', debug: false, id: 'i' });
    expect(parseFlags(['-v']).version).toBe(true);
    expect(parseFlags(['-info']).info).toBe(true);
  });

  it('refuses unknown flags and missing values like Go does', () => {
    expect(() => parseFlags(['-bogus'])).toThrow(new FlagError('flag provided but not defined: -bogus'));
    expect(() => parseFlags(['-namespace'])).toThrow(/flag needs an argument: -namespace/);
    expect(() => parseFlags(['-debug=maybe'])).toThrow(/invalid boolean value/);
  });
});

describe('shim socket address', () => {
  it('hashes <address>/<ns>/<group> like filepath.Join (docs/protocol.md §3.3)', () => {
    // sha256("/tmp/x/c.sock/rsch/t1"), computed independently with sha256sum.
    const path = groupSocketPath('/tmp/x/c.sock', 'rsch', 't1');
    expect(path).toBe('/run/containerd/s/62ae3a8b284d83c5335b7f912e1cbe84a6d3734dbdc9a6b3d794fa942191c677');
    expect(groupSocketPath('/tmp/x/c.sock/', 'rsch', 't1')).toBe(path);
    expect(unixAddress(path)).toBe(`unix://${path}`);
  });
});
