// The stdio paths a Create or Exec names must exist, except what containerd never creates.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStdioPaths } from '../../src/task/request-checks.js';

const dir = mkdtempSync(join(tmpdir(), 'tsshim-checks-'));
const stdout = join(dir, 'out');
writeFileSync(stdout, '');
const missing = join(dir, 'missing');

describe('checkStdioPaths', () => {
  it('a missing stdout or stderr FIFO is NotFound naming the path', () => {
    expect(() => checkStdioPaths({ stdin: '', stdout: missing, stderr: '', terminal: false })).toThrow(/stdout .*missing.* does not exist/);
    expect(() => checkStdioPaths({ stdin: '', stdout, stderr: missing, terminal: false })).toThrow(/stderr .*missing.* does not exist/);
  });

  it('with a terminal the stderr FIFO may be absent: containerd names one it never creates', () => {
    expect(() => checkStdioPaths({ stdin: '', stdout, stderr: missing, terminal: true })).not.toThrow();
    expect(() => checkStdioPaths({ stdin: '', stdout: missing, stderr: '', terminal: true })).toThrow(/stdout/);
  });
});
