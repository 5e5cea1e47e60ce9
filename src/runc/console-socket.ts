// The console socket of terminal-mode create/exec/restore: runc connects to it and sends the
// pty master over SCM_RIGHTS (`--console-socket`). Node cannot receive fds, so the addon
// listens, accepts and receives; readiness comes from a one-shot poll on the libuv loop.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoOf } from '../sys/errno.js';
import { accept, closeFd, pollReadable, recvFd, unixListen } from '../sys/native.js';

/** The Go shim gives the whole accept-and-receive step 30 s. */
const DEFAULT_RECEIVE_TIMEOUT_MS = 30_000;

class ConsoleSocketError extends Error {
  override readonly name = 'ConsoleSocketError';
}

export class ConsoleSocket {
  private listenFd: number | null;

  private constructor(
    /** Pass to runc as `--console-socket`. */
    readonly path: string,
    private readonly dir: string,
    listenFd: number,
  ) {
    this.listenFd = listenFd;
  }

  /** Listens on `<mkdtemp($XDG_RUNTIME_DIR or tmpdir, "pty")>/pty.sock`, like the Go shim. */
  static async create(env: NodeJS.ProcessEnv = process.env): Promise<ConsoleSocket> {
    const dir = await mkdtemp(join(env.XDG_RUNTIME_DIR || tmpdir(), 'pty'));
    const path = join(dir, 'pty.sock');
    try {
      return new ConsoleSocket(path, dir, unixListen(path, 1));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Waits for runc to connect and send the pty master; the caller owns the returned fd.
   * Rejects on timeout, abort, or a peer that closes without sending an fd.
   */
  async receiveMaster(opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
    const listenFd = this.listenFd;
    if (listenFd === null) throw new ConsoleSocketError('console socket is closed');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS;
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new ConsoleSocketError(`no pty master received on ${this.path} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    let conn: number | null = null;
    try {
      while (conn === null) {
        await readable(listenFd, signal);
        conn = accept(listenFd);
      }
      for (;;) {
        await readable(conn, signal);
        try {
          return recvFd(conn);
        } catch (err) {
          if (errnoOf(err) !== 'EAGAIN') {
            throw new ConsoleSocketError(`receiving the pty master on ${this.path}: ${(err as Error).message}`, { cause: err });
          }
        }
      }
    } finally {
      clearTimeout(timer);
      if (conn !== null) closeFd(conn);
    }
  }

  /** Stops listening and removes the socket's directory (idempotent). */
  async close(): Promise<void> {
    if (this.listenFd !== null) {
      closeFd(this.listenFd);
      this.listenFd = null;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once `fd` is readable (or hung up); rejects with the abort reason. */
function readable(fd: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      handle.close();
      reject(signal.reason);
    };
    const handle = pollReadable(fd, (err) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
