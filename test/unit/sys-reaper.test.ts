import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, Reaper, type Exit } from '../../src/sys/reaper.js';
import { spawnTracked } from '../../src/sys/spawn.js';

// Raw wait statuses as the kernel encodes them.
const exitedWith = (code: number): number => (code & 0xff) << 8;
const killedBy = (signal: number, core = false): number => signal | (core ? 0x80 : 0);

describe('decodeWaitStatus', () => {
  it('decodes a normal exit', () => {
    expect(decodeWaitStatus(exitedWith(0))).toEqual({ exited: true, code: 0, signaled: false, signal: null, status: 0 });
    expect(decodeWaitStatus(exitedWith(3))).toMatchObject({ exited: true, code: 3, status: 3 });
    expect(decodeWaitStatus(exitedWith(255))).toMatchObject({ code: 255, status: 255 });
  });

  it('decodes a death by signal as 128 + signal', () => {
    expect(decodeWaitStatus(killedBy(9))).toEqual({ exited: false, code: null, signaled: true, signal: 9, status: 137 });
    expect(decodeWaitStatus(killedBy(15))).toMatchObject({ signal: 15, status: 143 });
    // core dumped: bit 0x80 is not part of the signal number
    expect(decodeWaitStatus(killedBy(11, true))).toMatchObject({ signaled: true, signal: 11, status: 139 });
  });

  it('does not mistake a stopped status for an exit', () => {
    expect(decodeWaitStatus((19 << 8) | 0x7f)).toMatchObject({ exited: false, signaled: false, status: -1 });
  });
});

/** A reaper over a fake process table: `exit(pid, raw)` makes a child reapable. */
function fakeReaper(maxUnclaimed?: number) {
  const zombies = new Map<number, number>();
  const debug: string[] = [];
  const waited: number[] = [];
  const r = new Reaper({
    maxUnclaimed,
    listChildren: () => [...zombies.keys()],
    wait4: (pid) => {
      waited.push(pid);
      const status = zombies.get(pid);
      if (status === undefined) return null;
      zombies.delete(pid);
      return { pid, status };
    },
    logger: { debug: (_o, msg) => debug.push(msg), warn: (_o, msg) => debug.push(msg) },
  });
  return {
    r,
    debug,
    waited,
    exit(pid: number, raw: number) {
      zombies.set(pid, raw);
      r.sweep();
    },
  };
}

const pending = Symbol('pending');
async function settle<T>(p: Promise<T>): Promise<T | typeof pending> {
  return Promise.race([p, new Promise<typeof pending>((res) => setImmediate(() => res(pending)))]);
}

describe('Reaper (fake process table)', () => {
  it('resolves a waiter registered before the exit', async () => {
    const f = fakeReaper();
    const p = f.r.waitFor(100);
    expect(await settle(p)).toBe(pending);
    f.exit(100, exitedWith(7));
    const exit = await p;
    expect(exit).toMatchObject({ pid: 100, status: 7 });
    expect(exit.signal).toBeUndefined();
    expect(exit.exitedAt).toBeInstanceOf(Date);
    expect(f.r.unclaimedCount).toBe(0);
  });

  it('keeps an unclaimed exit for a late waiter, once', async () => {
    const f = fakeReaper();
    const unclaimed: Exit[] = [];
    f.r.onUnclaimed((e) => unclaimed.push(e));
    f.exit(200, killedBy(9));
    expect(unclaimed.map((e) => e.pid)).toEqual([200]);
    expect(await f.r.waitFor(200)).toMatchObject({ pid: 200, status: 137, signal: 9 });
    expect(f.r.unclaimedCount).toBe(0);
    expect(await settle(f.r.waitFor(200))).toBe(pending);
  });

  it('gives every waiter of a pid the same exit', async () => {
    const f = fakeReaper();
    const a = f.r.waitFor(300);
    const b = f.r.waitFor(300);
    f.exit(300, exitedWith(1));
    expect(await a).toBe(await b);
  });

  it('ignores a kept exit older than `since` (pid reuse)', async () => {
    const f = fakeReaper();
    f.exit(400, exitedWith(1)); // a previous process with pid 400
    const since = process.hrtime.bigint();
    const p = f.r.waitFor(400, { since });
    expect(await settle(p)).toBe(pending);
    f.exit(400, exitedWith(2));
    expect(await p).toMatchObject({ status: 2 });
    // A kept exit recorded after `since` is taken.
    const since2 = process.hrtime.bigint();
    f.exit(401, exitedWith(5));
    expect(await f.r.waitFor(401, { since: since2 })).toMatchObject({ status: 5 });
  });

  it('drops the oldest unclaimed exit beyond the bound, with a debug log', async () => {
    const f = fakeReaper(3);
    for (const pid of [1, 2, 3, 4]) f.exit(pid, exitedWith(pid));
    expect(f.r.unclaimedCount).toBe(3);
    expect(f.debug.some((m) => m.includes('dropped'))).toBe(true);
    expect(f.debug.filter((m) => m.includes('nobody waits'))).toHaveLength(4);
    expect(await settle(f.r.waitFor(1))).toBe(pending);
    expect(await f.r.waitFor(4)).toMatchObject({ status: 4 });
  });

  it('lists again until a pass reaps nothing (SIGCHLDs coalesce)', () => {
    // Child 21 becomes reapable while the sweep is busy with 20: the same sweep must get it.
    const zombies = new Map<number, number>([[20, exitedWith(0)]]);
    const waited: number[] = [];
    const r = new Reaper({
      listChildren: () => [...zombies.keys()],
      wait4: (pid) => {
        waited.push(pid);
        const status = zombies.get(pid);
        zombies.delete(pid);
        if (pid === 20) zombies.set(21, exitedWith(1));
        return status === undefined ? null : { pid, status };
      },
    });
    r.sweep();
    expect(zombies.size).toBe(0);
    expect(r.unclaimedCount).toBe(2);
    expect(waited.every((pid) => pid > 0)).toBe(true);
  });

  it('treats ECHILD (reaped elsewhere meanwhile) as nothing to reap', () => {
    const warned: string[] = [];
    const r = new Reaper({
      listChildren: () => [30],
      wait4: () => {
        throw Object.assign(new Error('ECHILD: wait4: No child processes'), { code: 'ECHILD', errno: -10, syscall: 'wait4' });
      },
      logger: { debug() {}, warn: (_o, m) => warned.push(m) },
    });
    r.sweep();
    expect(r.unclaimedCount).toBe(0);
    expect(warned).toEqual([]);
  });

  it('never waits on a pid that libuv owns', async () => {
    const child = spawnTracked('sleep', ['5'], { stdio: 'ignore' });
    const pid = child.pid!;
    const waited: number[] = [];
    const r = new Reaper({
      listChildren: () => [pid],
      wait4: (p) => {
        waited.push(p);
        return null;
      },
    });
    try {
      r.sweep();
      expect(waited).toEqual([]);
    } finally {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGKILL');
      await exited;
    }
    r.sweep();
    expect(waited).toEqual([pid]); // libuv reaped it, so it is no longer libuv's
  });

  it('rejects a waiter whose signal aborts, and forgets it', async () => {
    const f = fakeReaper();
    const ac = new AbortController();
    const p = f.r.waitFor(500, { signal: ac.signal });
    ac.abort(new Error('shutting down'));
    await expect(p).rejects.toThrow('shutting down');
    f.exit(500, 0);
    // Nobody was waiting any more, so the exit is kept.
    expect(f.r.unclaimedCount).toBe(1);
    await expect(f.r.waitFor(600, { signal: ac.signal })).rejects.toThrow('shutting down');
  });
});
