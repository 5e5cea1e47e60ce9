// io_uid/io_gid: the shim gives the container-side ends of the stdio pipes to that owner
// (docs/protocol.md §12.3), so a user-namespaced container's root can reopen them.
import { fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { mkfifo } from '../../src/sys/native.js';
import { createProcessIO, type StdioHandle } from '../../src/stdio/process-io.js';

const logger = pino({ level: 'silent' });
const identity = { containerId: 'c1', namespace: 'ns1' };
let dir = '';
let io: StdioHandle | undefined;

afterEach(() => {
  io?.close();
  io = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function fifos(): { stdin: string; stdout: string; stderr: string; terminal: boolean } {
  dir = mkdtempSync(join(tmpdir(), 'tsshim-owner-'));
  const paths = { stdin: join(dir, 'in'), stdout: join(dir, 'out'), stderr: join(dir, 'err'), terminal: false };
  for (const p of [paths.stdin, paths.stdout, paths.stderr]) mkfifo(p, 0o600);
  return paths;
}

describe('stdio pipe owner', () => {
  it('chowns the pipes handed to runc to io_uid/io_gid', async () => {
    io = await createProcessIO(fifos(), { uid: 1000, gid: 2000 }, identity, logger);
    for (const fd of io.runcStdio) {
      expect(typeof fd).toBe('number');
      const st = fstatSync(fd as number);
      expect([st.uid, st.gid]).toEqual([1000, 2000]);
    }
  });

  it('leaves them to root without the options', async () => {
    io = await createProcessIO(fifos(), { uid: 0, gid: 0 }, identity, logger);
    const st = fstatSync(io.runcStdio[1] as number);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });
});
