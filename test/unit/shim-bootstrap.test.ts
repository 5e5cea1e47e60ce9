import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrapOutput, containerdMajorVersion } from '../../src/shim/bootstrap.js';

const dir = mkdtempSync(join(tmpdir(), 'tsshim-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeContainerd(name: string, versionLine: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(path, 0o755);
  return path;
}

const address = 'unix:///run/containerd/s/abc';

describe('start output', () => {
  it('is the plain address for containerd 1.x', () => {
    expect(
      bootstrapOutput(address, fakeContainerd('c16', 'containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1'), {}, dir),
    ).toBe(address);
    expect(bootstrapOutput(address, fakeContainerd('c17', 'containerd github.com/containerd/containerd 1.7.24~ds1 x'), {}, dir)).toBe(
      address,
    );
  });

  it('is bootstrap JSON version 3 for containerd 2.x', () => {
    const out = bootstrapOutput(address, fakeContainerd('c21', 'containerd github.com/containerd/containerd/v2 2.1.9+unknown'), {}, dir);
    expect(JSON.parse(out)).toEqual({ version: 3, address, protocol: 'ttrpc' });
  });

  it('falls back to the plain address when the version cannot be told, and obeys TSSHIM_BOOTSTRAP_VERSION', () => {
    expect(bootstrapOutput(address, join(dir, 'missing'), {}, dir)).toBe(address);
    expect(bootstrapOutput(address, fakeContainerd('c21b', 'containerd x/v2 2.1.9'), { TSSHIM_BOOTSTRAP_VERSION: '2' }, dir)).toBe(address);
    expect(JSON.parse(bootstrapOutput(address, '', { TSSHIM_BOOTSTRAP_VERSION: '3' }, dir)).version).toBe(3);
    expect(containerdMajorVersion(fakeContainerd('garbage', 'no version here'), dir)).toBe(0);
  });
});
