// The runc client against real runc (root) and a busybox bundle. Runs without the reaper: the
// container's processes are reparented to the host init, so exits are observed by polling
// `runc state`, never by waiting on a pid.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, waitFor } from '../e2e/harness/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadStream } from 'node:tty';
import { ConsoleSocket, Runc, RuncError, isNotFoundKillError, readPidFile, type RuncState } from '../../src/runc/index.js';
import { run } from '../../src/sys/spawn.js';

const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const suffix = `${process.pid}-${Date.now().toString(36)}`;

let dir: string;

async function makeBundle(name: string, args: string[], terminal = false): Promise<string> {
  const bundle = join(dir, name);
  const rootfs = join(bundle, 'rootfs');
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp']) await mkdir(join(rootfs, sub), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const applet of ['sh', 'echo', 'sleep', 'true', 'cat']) await symlink('busybox', join(rootfs, 'bin', applet));
  const spec = await run(RUNC, ['spec'], { cwd: bundle });
  if (spec.code !== 0) throw new Error(`runc spec: ${spec.stderr.toString()}`);
  const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
    process: { terminal: boolean; args: string[] };
  };
  config.process.terminal = terminal;
  config.process.args = args;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  return bundle;
}

function client(bundle: string): Runc {
  // A private XDG_RUNTIME_DIR shows where exec's temporary process file goes (and that it goes away).
  return new Runc({
    binary: RUNC,
    root: join(dir, 'runc-root'),
    logPath: join(bundle, 'log.json'),
    env: { ...process.env, XDG_RUNTIME_DIR: join(dir, 'xdg'), NOTIFY_SOCKET: '/nonexistent/notify' },
  });
}

/** Polls `runc state` until `want` (runc answers immediately; the container moves on its own). */
async function waitForStatus(runc: Runc, id: string, want: RuncState['status']): Promise<RuncState> {
  let last: RuncState | undefined;
  await eventually(
    async () => {
      last = await runc.state(id);
      return last.status === want;
    },
    30_000,
    20,
  );
  if (last?.status !== want) throw new Error(`container ${id} stayed ${last?.status}, wanted ${want}`);
  return last;
}

/** A FIFO read through a net.Socket: a real pipe for the container's stdout/stderr. */
async function openOutputFifo(path: string): Promise<{ writeFd: number; text: () => string; close: () => void }> {
  const mk = await run('mkfifo', [path]);
  if (mk.code !== 0) throw new Error(`mkfifo: ${mk.stderr.toString()}`);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  let out = '';
  reader.on('data', (b: Buffer) => {
    out += b.toString('utf8');
  });
  reader.on('error', () => {
    /* EOF/close races are irrelevant to the assertions */
  });
  return { writeFd, text: () => out, close: () => reader.destroy() };
}

async function waitForText(read: () => string, want: string): Promise<void> {
  await waitFor(() => read().includes(want), 10_000, 20);
  expect(read()).toContain(want);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsshim-runc-it-'));
  await mkdir(join(dir, 'xdg'));
});

const created: Array<{ runc: Runc; id: string }> = [];

afterAll(async () => {
  for (const { runc, id } of created) await runc.delete(id, { force: true }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('runc client', () => {
  it('creates, starts, inspects, execs, kills and deletes a busybox container', async () => {
    const id = `tsshim-it-${suffix}`;
    const bundle = await makeBundle('ok', ['sh', '-c', 'echo hello from init; exec sleep 1000']);
    const runc = client(bundle);
    const output = await openOutputFifo(join(dir, 'init-out'));
    created.push({ runc, id });
    try {
      const pidFile = join(bundle, 'init.pid');
      try {
        await runc.create(id, { bundle, pidFile, stdio: ['ignore', output.writeFd, output.writeFd] });
      } finally {
        closeSync(output.writeFd); // the container holds its own copy
      }
      const pid = await readPidFile(pidFile);
      expect(pid).toBeGreaterThan(1);
      const createdState = await runc.state(id);
      expect(createdState).toMatchObject({ id, pid, status: 'created', bundle });

      await runc.start(id);
      await waitForText(output.text, 'hello from init');
      expect((await runc.state(id)).status).toBe('running');
      expect(await runc.ps(id)).toContain(pid);

      await runc.pause(id);
      expect((await runc.state(id)).status).toBe('paused');
      await runc.resume(id);
      expect((await runc.state(id)).status).toBe('running');

      // exec: spec through a temp file, output into a regular file.
      const execOut = join(dir, 'exec-out');
      const execFd = openSync(execOut, 'w');
      try {
        await runc.exec(
          id,
          {
            args: ['sh', '-c', 'echo hello from exec'],
            cwd: '/',
            env: ['PATH=/bin'],
            user: { uid: 0, gid: 0 },
            terminal: false,
          },
          { pidFile: join(bundle, 'e1.pid'), stdio: ['ignore', execFd, execFd] },
        );
      } finally {
        closeSync(execFd);
      }
      expect(await readPidFile(join(bundle, 'e1.pid'))).toBeGreaterThan(1);
      expect(await readdir(join(dir, 'xdg'))).toEqual([]);
      await waitForText(() => readFileTextSync(execOut), 'hello from exec');

      await runc.update(id, { pids: { limit: 100 } });

      await runc.kill(id, 9);
      const stopped = await waitForStatus(runc, id, 'stopped');
      expect(stopped.pid).toBe(0);

      const again = await runc.kill(id, 9).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(again).toBeInstanceOf(RuncError);
      expect(isNotFoundKillError(again)).toBe(true);

      await runc.delete(id);
      const gone = await runc.state(id).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(gone).toBeInstanceOf(RuncError);
      expect((gone as RuncError).message).toMatch(/^OCI runtime state failed: .*does not exist/);
      expect(
        isNotFoundKillError(
          await runc.kill(id, 15).then(
            () => undefined,
            (e: unknown) => e,
          ),
        ),
      ).toBe(true);
    } finally {
      output.close();
    }
  });

  it('receives the pty master of a terminal container over the console socket', async () => {
    const id = `tsshim-it-tty-${suffix}`;
    const bundle = await makeBundle('tty', ['sh', '-c', 'echo hello-tty; exec sleep 1000'], true);
    const runc = client(bundle);
    created.push({ runc, id });
    const socket = await ConsoleSocket.create({ XDG_RUNTIME_DIR: join(dir, 'xdg') });
    expect(socket.path.startsWith(join(dir, 'xdg', 'pty'))).toBe(true);
    const giveUp = new AbortController();
    let master: number;
    try {
      const receiving = socket.receiveMaster({ signal: giveUp.signal });
      await runc.create(id, { bundle, pidFile: join(bundle, 'init.pid'), consoleSocket: socket.path }).catch((err: unknown) => {
        giveUp.abort(err);
        throw err;
      });
      master = await receiving;
    } finally {
      await socket.close();
    }
    expect(await readdir(join(dir, 'xdg'))).toEqual([]);
    const tty = new ReadStream(master);
    let out = '';
    tty.on('data', (b: Buffer) => {
      out += b.toString('utf8');
    });
    tty.on('error', () => {
      /* EIO once the container side closes */
    });
    try {
      await runc.start(id);
      await waitForText(() => out, 'hello-tty');
      await runc.kill(id, 9);
      await waitForStatus(runc, id, 'stopped');
      await runc.delete(id);
    } finally {
      tty.destroy();
    }
  });

  it('times out when nobody sends a pty master', async () => {
    const socket = await ConsoleSocket.create({ XDG_RUNTIME_DIR: join(dir, 'xdg') });
    try {
      await expect(socket.receiveMaster({ timeoutMs: 50 })).rejects.toThrow(/no pty master received/);
    } finally {
      await socket.close();
    }
  });

  it("surfaces runc's own message when create fails", async () => {
    const id = `tsshim-it-bad-${suffix}`;
    const bundle = await makeBundle('bad', ['/no/such/binary']);
    const runc = client(bundle);
    created.push({ runc, id });
    // An earlier error in the same log must not be reported for this invocation.
    await writeFile(join(bundle, 'log.json'), '{"level":"error","msg":"stale error from before"}\n');
    const err = await runc.create(id, { bundle, pidFile: join(bundle, 'init.pid') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RuncError);
    const runcErr = err as RuncError;
    expect(runcErr.command).toBe('create');
    expect(runcErr.exitCode).not.toBe(0);
    expect(runcErr.message).toMatch(/^OCI runtime create failed: /);
    expect(runcErr.runcMessage).toContain('/no/such/binary');
    expect(runcErr.message).not.toContain('stale error');
  });

  it('reports features', async () => {
    const runc = new Runc({ binary: RUNC, root: join(dir, 'runc-root'), logPath: join(dir, 'features-log.json') });
    const { raw, features } = await runc.features();
    expect(JSON.parse(raw)).toEqual(features);
    expect(typeof features.ociVersionMax).toBe('string');
  });

  it('fails with a RuncError when the binary does not exist', async () => {
    const runc = new Runc({ binary: join(dir, 'no-runc'), root: join(dir, 'runc-root'), logPath: join(dir, 'x.json') });
    const err = await runc.state('x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RuncError);
    expect((err as RuncError).message).toMatch(/^OCI runtime state failed: cannot run .*ENOENT/);
  });
});

function readFileTextSync(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
