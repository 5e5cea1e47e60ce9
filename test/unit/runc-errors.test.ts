import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuncError, isNotFoundKillError, killNotFoundReason, lastErrorMessage, readPidFile } from '../../src/runc/index.js';
import { lastLoggedError, logOffset } from '../../src/runc/errors.js';
import { parsePids, parseState } from '../../src/runc/types.js';

// Lines as runc 1.1 writes them with --log-format json.
const createFailure = [
  '{"level":"warning","msg":"some warning","time":"2024-01-01T00:00:00Z"}',
  '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH","time":"2024-01-01T00:00:01Z"}',
  '',
].join('\n');

describe('runc log.json parsing', () => {
  it('takes the last error line', () => {
    expect(lastErrorMessage(createFailure)).toBe(
      'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH',
    );
    const two = '{"level":"error","msg":"first"}\n{"level":"info","msg":"x"}\n{"level":"error","msg":"  second \\n"}\n';
    expect(lastErrorMessage(two)).toBe('second');
  });

  it('ignores non-JSON and cut lines', () => {
    expect(lastErrorMessage('garbage\n{"level":"error","msg":"ok"}\n{"level":"error","ms')).toBe('ok');
    expect(lastErrorMessage('')).toBe('');
    expect(lastErrorMessage('{"level":"error"}\n[1]\nnull\n')).toBe('');
  });

  describe('only what this invocation appended', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'runc-log-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('skips errors of earlier invocations', async () => {
      const log = join(dir, 'log.json');
      expect(await logOffset(log)).toBe(0);
      await writeFile(log, '{"level":"error","msg":"old failure"}\n');
      const offset = await logOffset(log);
      expect(await lastLoggedError(log, offset)).toBe('');
      await appendFile(log, createFailure);
      expect(await lastLoggedError(log, offset)).toMatch(/^runc create failed: unable to start container process/);
      // A log replaced by a shorter one is read from its start.
      await writeFile(log, '{"level":"error","msg":"new"}\n');
      expect(await lastLoggedError(log, offset)).toBe('new');
      expect(await lastLoggedError(join(dir, 'missing.json'), 0)).toBe('');
    });
  });
});

describe('RuncError', () => {
  it('formats like the Go shim', () => {
    const err = new RuncError('create', 1, 'runc create failed: boom');
    expect(err.message).toBe('OCI runtime create failed: runc create failed: boom');
    expect(err.command).toBe('create');
    expect(err.exitCode).toBe(1);
    expect(err.runcMessage).toBe('runc create failed: boom');
    expect(new RuncError('start', 2, '').message).toBe('OCI runtime start failed: exit status 2');
    expect(new RuncError('start', null, '', { signal: 'SIGKILL' }).message).toBe('OCI runtime start failed: signal: SIGKILL');
  });
});

describe('kill errors that mean NotFound', () => {
  it.each([
    ['container not running', 'process already finished'],
    ['os: process already finished', 'process already finished'],
    ['kill: No such process', 'process already finished'],
    ['container does not exist', 'no such container'],
  ])('%s', (runcMessage, reason) => {
    const err = new RuncError('kill', 1, runcMessage);
    expect(killNotFoundReason(err)).toBe(reason);
    expect(isNotFoundKillError(err)).toBe(true);
  });

  it('ESRCH from kill(2) and stderr-only messages', () => {
    expect(killNotFoundReason(Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' }))).toBe('process already finished');
    expect(isNotFoundKillError(new RuncError('kill', 1, '', { stderr: 'container not running' }))).toBe(true);
  });

  it('other failures are not NotFound', () => {
    expect(isNotFoundKillError(new RuncError('kill', 1, 'permission denied'))).toBe(false);
    expect(isNotFoundKillError('container not running')).toBe(false);
  });
});

describe('runc output parsing', () => {
  it('state', () => {
    const s = parseState(
      '{"ociVersion":"1.0.2-dev","id":"c1","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2024-01-01T00:00:00Z","owner":""}',
    );
    expect(s.pid).toBe(42);
    expect(s.status).toBe('running');
    expect(() => parseState('{"id":"c1"}')).toThrow();
  });

  it('ps', () => {
    expect(parsePids('[1,2,3]\n')).toEqual([1, 2, 3]);
    expect(parsePids('null\n')).toEqual([]);
    expect(() => parsePids('{"a":1}')).toThrow();
  });
});

describe('readPidFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runc-pid-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a pid, retrying while the file is missing', async () => {
    const path = join(dir, 'init.pid');
    const reading = readPidFile(path, { attempts: 100, intervalMs: 5 });
    setTimeout(() => {
      void writeFile(path, '4242');
    }, 20);
    expect(await reading).toBe(4242);
  });

  it('gives up on a missing file and refuses garbage', async () => {
    await expect(readPidFile(join(dir, 'none.pid'), { attempts: 2, intervalMs: 1 })).rejects.toThrow(/does not exist/);
    await writeFile(join(dir, 'bad.pid'), 'abc');
    await expect(readPidFile(join(dir, 'bad.pid'))).rejects.toThrow(/invalid content/);
    await writeFile(join(dir, 'empty.pid'), '');
    await expect(readPidFile(join(dir, 'empty.pid'), { attempts: 2, intervalMs: 1 })).rejects.toThrow(/is empty/);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const reading = readPidFile(join(dir, 'never.pid'), { attempts: 1000, intervalMs: 5, signal: ac.signal });
    ac.abort();
    await expect(reading).rejects.toThrow();
  });
});
