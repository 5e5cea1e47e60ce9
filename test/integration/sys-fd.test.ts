// Real syscalls through the addon, in the test process itself (no subreaper, no mounts here).
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errnoOf } from '../../src/sys/errno.js';
import * as mountopts from '../../src/sys/mountopts.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, native, type SysError } from '../../src/sys/native.js';
import { afterNextIoPoll } from '../e2e/harness/wait.js';

const n = native();
const dir = mkdtempSync(join(tmpdir(), 'tsshim-sys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** fcntl flags of one of our fds, from /proc/self/fdinfo (octal). */
const fdFlags = (fd: number): number => parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;

/** The pipes this process holds open (targets of /proc/self/fd links). */
const openPipes = (): string[] =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((t) => t.startsWith('pipe:'))
    .sort();

function thrown(fn: () => unknown): SysError {
  try {
    fn();
  } catch (err) {
    if (errnoOf(err) !== undefined) return err as SysError;
    throw err;
  }
  throw new Error('expected a system error');
}

/** Resolves when `fd` is readable (one-shot poll on the libuv loop). */
const readable = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => void n.pollReadable(fd, (err) => (err ? reject(err) : resolve())));

/** Runs python3 code in a child; resolves with its exit code and stderr. */
function python(code: string, args: string[]): { done: Promise<{ code: number | null; stderr: string }>; pid: number } {
  const child = spawn('python3', ['-c', code, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return { pid: child.pid!, done: new Promise((res) => child.once('close', (c) => res({ code: c, stderr }))) };
}

describe('constants', () => {
  it('TS mount and eventfd constants equal the kernel headers the addon was built with', () => {
    // Every constant the TS side defines (the addon knows a few more that nothing uses); MS_PROPAGATION
    // is TS's own mask of the four propagation flags.
    const ts: Record<string, unknown> = { ...mountopts, EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE };
    const names = Object.keys(ts).filter((name) => /^(MS|MNT|EFD)_/.test(name) && name !== 'MS_PROPAGATION');
    expect(names.length).toBeGreaterThan(10);
    const kernel = n.constants as unknown as Record<string, number>;
    for (const name of names) expect(ts[name], name).toBe(kernel[name]);
    expect(n.constants.PAGE_SIZE).toBeGreaterThanOrEqual(4096);
  });
});

describe('errors', () => {
  it('carry code, negative errno, syscall and path like Node system errors', () => {
    const err = thrown(() => n.mkfifo('/nonexistent-dir/x', 0o600));
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'mkfifo', path: '/nonexistent-dir/x' });
    expect(err.message).toBe("ENOENT: mkfifo '/nonexistent-dir/x': No such file or directory");
    expect(() => n.closeFd(-1)).toThrow(TypeError);
    expect(() => n.closeFd(1.5)).toThrow(TypeError);
    expect(() => (n.mkfifo as unknown as (p: unknown) => void)(42)).toThrow(TypeError);
  });

  it('wait4 refuses anything but one positive pid, and says ECHILD for a stranger', () => {
    expect(() => n.wait4(-1)).toThrow(TypeError);
    expect(() => n.wait4(0)).toThrow(TypeError);
    expect(thrown(() => n.wait4(1))).toMatchObject({ code: 'ECHILD', syscall: 'wait4' });
  });
});

describe('file descriptors', () => {
  it('bytesUnread counts what a pipe holds for its reader', () => {
    const [r, w] = n.pipe2();
    try {
      expect(n.bytesUnread(r)).toBe(0);
      writeSync(w, 'twelve bytes');
      expect(n.bytesUnread(r)).toBe(12);
      readSync(r, Buffer.alloc(5));
      expect(n.bytesUnread(r)).toBe(7);
    } finally {
      n.closeFd(r);
      n.closeFd(w);
    }
    expect(thrown(() => n.bytesUnread(r))).toMatchObject({ code: 'EBADF' });
  });

  it('pipe2 gives a close-on-exec pipe that carries data', () => {
    const [r, w] = n.pipe2();
    try {
      expect(fdFlags(r) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fdFlags(w) & O_CLOEXEC).toBe(O_CLOEXEC);
      writeSync(w, 'ping');
      const buf = Buffer.alloc(16);
      expect(buf.subarray(0, readSync(r, buf)).toString()).toBe('ping');
    } finally {
      n.closeFd(r);
      n.closeFd(w);
    }
    expect(thrown(() => n.closeFd(r))).toMatchObject({ code: 'EBADF' });
  });

  it('dup, setNonBlocking and fchown act on the fd', () => {
    const [r, w] = n.pipe2();
    const copy = n.dup(r);
    try {
      expect(copy).not.toBe(r);
      expect(fdFlags(copy) & O_CLOEXEC).toBe(O_CLOEXEC);
      n.setNonBlocking(r, true);
      expect(fdFlags(copy) & O_NONBLOCK).toBe(O_NONBLOCK); // shared open file description
      expect(thrown(() => readSync(r, Buffer.alloc(1))).code).toBe('EAGAIN');
      n.setNonBlocking(r, false);
      expect(fdFlags(r) & O_NONBLOCK).toBe(0);
      n.fchown(w, 1234, 4321);
      expect(fstatSync(w)).toMatchObject({ uid: 1234, gid: 4321 });
      n.fchown(w, -1, 99); // -1 keeps the uid
      expect(fstatSync(w)).toMatchObject({ uid: 1234, gid: 99 });
    } finally {
      for (const fd of [r, w, copy]) n.closeFd(fd);
    }
  });

  it('mkfifo makes a FIFO with the mode asked (umask aside)', () => {
    const path = join(dir, 'fifo');
    n.mkfifo(path, 0o600);
    const st = statSync(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600 & ~process.umask());
    expect(thrown(() => n.mkfifo(path, 0o600))).toMatchObject({ code: 'EEXIST', path });
  });
});

describe('eventfd and pollReadable', () => {
  it('fires once when the eventfd is written, not before', async () => {
    const efd = n.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    try {
      let fired = 0;
      const done = new Promise<void>((resolve) =>
        n.pollReadable(efd, (err) => {
          expect(err).toBeNull();
          fired++;
          resolve();
        }),
      );
      await afterNextIoPoll(); // a spurious wake-up would have run by now
      expect(fired).toBe(0);
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(5n);
      writeSync(efd, one);
      await done;
      expect(fired).toBe(1);
      const got = Buffer.alloc(8);
      readSync(efd, got);
      expect(got.readBigUInt64LE()).toBe(5n);
      expect(thrown(() => readSync(efd, got)).code).toBe('EAGAIN'); // counter reset
    } finally {
      n.closeFd(efd);
    }
  });

  it('never calls back after close(), and close() is idempotent', async () => {
    const efd = n.eventfd(1, EFD_CLOEXEC); // readable at once
    let fired = false;
    const handle = n.pollReadable(efd, () => (fired = true));
    handle.close();
    handle.close();
    await afterNextIoPoll(); // the fd is readable: a poll that close() did not stop would have fired
    expect(fired).toBe(false);
    // A new poll on the same fd works after close().
    await readable(efd);
    n.closeFd(efd);
  });

  it('lets the callback poll the same fd again', async () => {
    const efd = n.eventfd(1, EFD_CLOEXEC);
    const twice = await new Promise<number>((resolve) => n.pollReadable(efd, () => n.pollReadable(efd, () => resolve(2))));
    expect(twice).toBe(2);
    n.closeFd(efd);
  });

  it('rejects an fd libuv cannot poll', () => {
    expect(thrown(() => n.pollReadable(987654, () => {}))).toMatchObject({ code: 'EBADF' });
  });
});

describe('unix sockets: console-socket flow and peer credentials', () => {
  // Like runc: connect to the console socket and send one fd with SCM_RIGHTS, plus a name.
  const sender = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
fds = []
for _ in range(int(sys.argv[2])):
    r, w = os.pipe()
    os.write(w, b"from python")
    os.close(w)
    fds.append(r)
if fds:
    socket.send_fds(s, [b"/dev/pts/42"], fds)
else:
    s.sendall(b"no fd here")
s.recv(1)  # stay connected until the receiver is done
`;

  async function receiveFrom(fdCount: number): Promise<{ fd?: number; err?: SysError; peer: { pid: number; uid: number }; pyPid: number }> {
    const path = join(dir, `console-${fdCount}.sock`);
    const listenFd = n.unixListen(path, 1);
    try {
      expect(n.accept(listenFd)).toBeNull(); // nothing pending yet
      const py = python(sender, [path, String(fdCount)]);
      await readable(listenFd);
      const conn = n.accept(listenFd)!;
      try {
        const peer = n.getPeerCred(conn);
        await readable(conn);
        let fd: number | undefined;
        let err: SysError | undefined;
        try {
          fd = n.recvFd(conn);
        } catch (e) {
          if (errnoOf(e) === undefined) throw e;
          err = e as SysError;
        }
        writeSync(conn, 'x'); // let the sender exit
        const { code, stderr } = await py.done;
        expect(code, stderr).toBe(0);
        return { fd, err, peer, pyPid: py.pid };
      } finally {
        n.closeFd(conn);
      }
    } finally {
      n.closeFd(listenFd);
    }
  }

  it('receives exactly one fd over SCM_RIGHTS, close-on-exec, from the right peer', async () => {
    const { fd, err, peer, pyPid } = await receiveFrom(1);
    expect(err).toBeUndefined();
    expect(peer).toMatchObject({ pid: pyPid, uid: process.getuid!() });
    try {
      expect(fdFlags(fd!) & O_CLOEXEC).toBe(O_CLOEXEC);
      const buf = Buffer.alloc(64);
      expect(buf.subarray(0, readSync(fd!, buf)).toString()).toBe('from python');
    } finally {
      closeSync(fd!);
    }
  });

  it('refuses a message with two fds (and closes both) or with none', async () => {
    const pipesBefore = openPipes();
    const two = await receiveFrom(2);
    expect(two.fd).toBeUndefined();
    expect(two.err).toMatchObject({ code: 'EPROTO' });
    expect(openPipes()).toEqual(pipesBefore); // both received fds were closed
    const none = await receiveFrom(0);
    expect(none.err).toMatchObject({ code: 'ENOMSG' });
  });
});

describe('terminals', () => {
  it('setWinsize on the master is seen by getWinsize on the slave', () => {
    const pty = n.openpty();
    try {
      expect(pty.path).toMatch(/^\/dev\/pts\/\d+$/);
      n.setWinsize(pty.master, 33, 144);
      expect(n.getWinsize(pty.slave)).toEqual({ rows: 33, cols: 144 });
      expect(n.getWinsize(pty.master)).toEqual({ rows: 33, cols: 144 });
      expect(() => n.setWinsize(pty.master, 70000, 1)).toThrow(TypeError);
    } finally {
      n.closeFd(pty.master);
      n.closeFd(pty.slave);
    }
    const [r, w] = n.pipe2();
    expect(thrown(() => n.getWinsize(r))).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl(TIOCGWINSZ)' });
    n.closeFd(r);
    n.closeFd(w);
  });
});
