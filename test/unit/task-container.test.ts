// Container with fake collaborators (runc, reaper, publisher, cgroups): the order of its events
// and its answers when requests, exits and runc failures interleave. The e2e suites drive the
// same paths through a real containerd and runc; these pin the orderings that are hard to force there.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from 'ttrpc-ts';
import { TaskExitType, Topic, unpackAny, type TaskEvent } from '../../src/api/index.js';
import type { Cgroup, OomWatcher } from '../../src/cgroups/index.js';
import type { Logger } from '../../src/shim/logger.js';
import type { Exit } from '../../src/sys/reaper.js';
import { defaultOptions } from '../../src/task/bundle-files.js';
import { Container } from '../../src/task/container.js';
import type { CreateParams } from '../../src/task/container-setup.js';
import type { ContainerDeps, RuncClient } from '../../src/task/deps.js';
import { Deferred } from '../../src/task/serial.js';

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child: () => silent,
};

/** Exits are reported when a test (or the fake runc) says so. */
class FakeReaper {
  private readonly exits = new Map<number, Deferred<Exit>>();
  private slot(pid: number): Deferred<Exit> {
    let slot = this.exits.get(pid);
    if (!slot) {
      slot = new Deferred<Exit>();
      this.exits.set(pid, slot);
    }
    return slot;
  }
  waitFor(pid: number): Promise<Exit> {
    return this.slot(pid).promise;
  }
  exit(pid: number, status: number): void {
    this.slot(pid).resolve({ pid, status, exitedAt: new Date() });
  }
}

type Hook = () => Promise<void>;

/** Behaves like runc for one container: pids from 1000 on, kill and forced delete end init. */
class FakeRunc {
  readonly calls: string[] = [];
  initPid = 0;
  private nextPid = 1000;
  /** Per call name: runs inside the call (to fail it, slow it, or make something happen meanwhile). */
  readonly hooks: Record<string, Hook> = {};
  constructor(private readonly reaper: FakeReaper) {}

  private async call(name: string): Promise<void> {
    this.calls.push(name);
    await this.hooks[name]?.();
  }
  async create(_id: string, opts: { pidFile: string }): Promise<void> {
    await this.call('create');
    this.initPid = this.nextPid++;
    writeFileSync(opts.pidFile, String(this.initPid));
  }
  async start(): Promise<void> {
    await this.call('start');
  }
  async exec(_id: string, _spec: unknown, opts: { pidFile: string }): Promise<void> {
    await this.call('exec');
    writeFileSync(opts.pidFile, String(this.nextPid++));
  }
  async kill(_id: string, signal: number): Promise<void> {
    this.calls.push('kill');
    this.reaper.exit(this.initPid, 128 + signal);
    await this.hooks.kill?.();
  }
  async delete(_id: string, opts: { force?: boolean }): Promise<void> {
    await this.call(opts.force ? 'delete --force' : 'delete');
    if (opts.force) this.reaper.exit(this.initPid, 137);
  }
  async pause(): Promise<void> {
    await this.call('pause');
  }
  async resume(): Promise<void> {
    await this.call('resume');
  }
  async ps(): Promise<number[]> {
    await this.call('ps');
    return [this.initPid];
  }
  async update(): Promise<void> {
    await this.call('update');
  }
  async checkpoint(): Promise<void> {
    await this.call('checkpoint');
  }
  async restore(_id: string, opts: { pidFile: string }): Promise<void> {
    await this.call('restore');
    this.initPid = this.nextPid++;
    writeFileSync(opts.pidFile, String(this.initPid));
  }
}

/** A cgroup whose OOM counter a test can raise; the watcher reports it on check(), as the real one. */
class FakeCgroups {
  ooms = 0;
  private reported = 0;
  ofPid = async (): Promise<Cgroup> => ({ metrics: async () => ({}) }) as unknown as Cgroup;
  watchOOM = (_cgroup: Cgroup, onOOM: () => void): OomWatcher => {
    let closed = false;
    return {
      check: () => {
        for (; this.reported < this.ooms; this.reported++) onOOM();
      },
      close: () => {
        closed = true;
      },
      get closed() {
        return closed;
      },
    };
  };
}

interface Fixture {
  bundle: string;
  reaper: FakeReaper;
  runc: FakeRunc;
  cgroups: FakeCgroups;
  events: TaskEvent[];
  deps: ContainerDeps;
}

let fx: Fixture;

beforeEach(() => {
  const bundle = mkdtempSync(join(tmpdir(), 'tsshim-container-'));
  const reaper = new FakeReaper();
  const runc = new FakeRunc(reaper);
  const cgroups = new FakeCgroups();
  const events: TaskEvent[] = [];
  fx = {
    bundle,
    reaper,
    runc,
    cgroups,
    events,
    deps: {
      runcFor: () => runc as unknown as RuncClient,
      reaper,
      publisher: { publish: (event) => events.push(event) },
      clock: { now: () => new Date(), monotonic: () => 0n },
      cgroups,
      logger: silent,
    },
  };
});

afterEach(() => rmSync(fx.bundle, { recursive: true, force: true }));

function params(over: Partial<CreateParams> = {}): CreateParams {
  return {
    id: 'c1',
    bundle: fx.bundle,
    namespace: 'test',
    rootfs: [],
    stdio: { stdin: '', stdout: '', stderr: '', terminal: false },
    options: defaultOptions(),
    checkpoint: '',
    parentCheckpoint: '',
    ...over,
  };
}

const noStdio = { stdin: '', stdout: '', stderr: '', terminal: false };

/** Topics in publish order; exits as `exit:<process id>:<status>`. */
function timeline(): string[] {
  return fx.events.map((e) => {
    const topic = e.topic.replace('/tasks/', '');
    if (e.topic !== Topic.TaskExit) return topic;
    const exit = unpackAny(TaskExitType, e.event);
    return `exit:${exit.id}:${exit.exitStatus}`;
  });
}

async function rejection(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  return err as { code: Code; message: string };
}

/** Lets the handlers the fakes woke run (they are promise chains: no timer needed). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Container events', () => {
  it('go out in the order create, start, exec-added, exec-started, exec exit, init exit, delete', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', { args: ['true'] }, noStdio);
    const execPid = await c.startExec('e1');
    fx.reaper.exit(execPid, 0);
    await c.process('e1').wait();
    await c.deleteExec('e1');
    await c.kill('', 15, false);
    await c.init.wait();
    const deleted = await c.delete();
    expect(deleted.status).toBe(143);
    expect(timeline()).toEqual(['create', 'start', 'exec-added', 'exec-started', 'exit:e1:0', 'exit:c1:143', 'delete']);
    expect(c.init.state).toBe('deleted');
  });

  it('an exec still running when init dies exits before init does', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', {}, noStdio);
    const execPid = await c.startExec('e1');
    fx.reaper.exit(fx.runc.initPid, 137);
    await settle();
    expect(timeline()).not.toContain('exit:c1:137');
    fx.reaper.exit(execPid, 137);
    await c.init.wait();
    expect(timeline().slice(-2)).toEqual(['exit:e1:137', 'exit:c1:137']);
  });

  it('an OOM kill is published before the exit it caused', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    fx.cgroups.ooms = 1; // the kernel's notification has not reached the watcher yet
    fx.reaper.exit(fx.runc.initPid, 137);
    await c.init.wait();
    expect(timeline()).toEqual(['create', 'start', 'oom', 'exit:c1:137']);
  });

  it('an exit that races Start is published after the start event', async () => {
    fx.runc.hooks.start = async () => {
      fx.reaper.exit(fx.runc.initPid, 1);
      await settle();
    };
    const c = await Container.create(params(), fx.deps);
    await c.start();
    await c.init.wait();
    expect(timeline()).toEqual(['create', 'start', 'exit:c1:1']);
    expect(c.init.state).toBe('stopped');
  });
});

describe('Container requests', () => {
  it('Delete of a never-started container kills its init through runc and reports 137', async () => {
    const c = await Container.create(params(), fx.deps);
    const deleted = await c.delete();
    expect(fx.runc.calls).toEqual(['create', 'delete --force']);
    expect(deleted.status).toBe(137);
    expect(timeline()).toEqual(['create', 'exit:c1:137', 'delete']);
    expect((await rejection(c.delete())).code).toBe(Code.NotFound);
  });

  it('a failed pause rolls back to running and publishes nothing', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    fx.runc.hooks.pause = async () => {
      throw new Error('runc pause: freezer busy');
    };
    await expect(c.pause()).rejects.toThrow('freezer busy');
    expect(c.init.state).toBe('running');
    expect(timeline()).toEqual(['create', 'start']);
    const resume = await rejection(c.resume());
    expect(resume.code).toBe(Code.FailedPrecondition);
    expect(resume.message).toContain('it is running');
  });

  it('pause and resume move through pausing, paused and back', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    const seen: string[] = [];
    fx.runc.hooks.pause = async () => {
      seen.push(c.init.state);
    };
    await c.pause();
    seen.push(c.init.state);
    await c.resume();
    seen.push(c.init.state);
    expect(seen).toEqual(['pausing', 'paused', 'running']);
    expect(timeline()).toEqual(['create', 'start', 'paused', 'resumed']);
  });

  it('a failed exec start leaves the exec created, releases its waiters and can be deleted', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', {}, noStdio);
    fx.runc.hooks.exec = async () => {
      throw new Error('runc exec: executable file not found');
    };
    await expect(c.startExec('e1')).rejects.toThrow('executable file not found');
    const exec = c.process('e1');
    expect(exec.state).toBe('created');
    expect((await exec.wait()).status).toBe(255);
    expect(timeline()).toEqual(['create', 'start', 'exec-added']);
    expect((await rejection(c.kill('e1', 9, false))).code).toBe(Code.FailedPrecondition);
    await c.deleteExec('e1');
    expect(() => c.process('e1')).toThrow('not found');
  });

  it('an exec Start that arrives while its Delete runs finds the exec gone; runc never runs it', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', {}, noStdio);
    const deleting = c.deleteExec('e1');
    const starting = rejection(c.startExec('e1'));
    await deleting;
    expect((await starting).code).toBe(Code.NotFound);
    expect(fx.runc.calls).not.toContain('exec');
  });

  it('no exec starts once init was reaped, though its exit is not published yet', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', {}, noStdio);
    const execPid = await c.startExec('e1');
    fx.reaper.exit(fx.runc.initPid, 0); // init's exit waits for e1's
    await settle();
    c.addExec('e2', {}, noStdio);
    const refused = await rejection(c.startExec('e2'));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.message).toContain('its init exited');
    expect(fx.runc.calls.filter((call) => call === 'exec')).toHaveLength(1);
    fx.reaper.exit(execPid, 0);
    await c.init.wait();
  });

  it('an exec start that fails because init died is answered once init is stopped', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    c.addExec('e1', {}, noStdio);
    fx.runc.hooks.exec = async () => {
      fx.reaper.exit(fx.runc.initPid, 137);
      await settle();
      throw new Error('OCI runtime exec failed: exec failed: cannot exec in a stopped container');
    };
    await expect(c.startExec('e1')).rejects.toThrow('cannot exec in a stopped container');
    // No settle here: a State right after the answer must already see the exit (TestIssue10589).
    expect(c.init.state).toBe('stopped');
    expect(c.process('e1').state).toBe('created');
    expect(timeline()).toEqual(['create', 'start', 'exec-added', 'exit:c1:137']);
  });

  it('answers a Kill of init before the Delete that follows the exit it caused', async () => {
    const c = await Container.create(params(), fx.deps);
    await c.start();
    const release = new Deferred<void>();
    fx.runc.hooks.kill = () => release.promise; // runc kill answers late, after init is gone
    const answers: string[] = [];
    // What Delete has done when runc delete runs: the Kill must have been answered by then (the
    // delete's own file writes take long enough that the answer order alone would not show it).
    let killAnsweredBeforeRuncDelete: boolean | undefined;
    fx.runc.hooks.delete = async () => {
      killAnsweredBeforeRuncDelete = answers.includes('kill');
    };
    const kill = c.kill('', 9, false).then(() => answers.push('kill'));
    await c.init.wait();
    const del = c.delete().then(() => answers.push('delete'));
    await settle();
    expect(answers).toEqual([]);
    expect(fx.runc.calls).not.toContain('delete');
    release.resolve();
    await Promise.all([kill, del]);
    expect(answers).toEqual(['kill', 'delete']);
    expect(killAnsweredBeforeRuncDelete).toBe(true);
  });

  it('refuses what the state does not allow with FailedPrecondition naming the state', async () => {
    const c = await Container.create(params(), fx.deps);
    const pause = await rejection(c.pause());
    expect(pause.code).toBe(Code.FailedPrecondition);
    expect(pause.message).toBe('cannot pause init process c1: it is created');
    await c.start();
    expect((await rejection(c.start())).message).toBe('cannot start init process c1: it is running');
    expect((await rejection(c.delete())).message).toBe('cannot delete init process c1: it is running');
    fx.reaper.exit(fx.runc.initPid, 0);
    await c.init.wait();
    expect((await rejection(c.kill('', 9, false))).code).toBe(Code.NotFound);
    expect((await rejection(c.update({}))).message).toBe('cannot update init process c1: it is stopped');
    expect(() => c.addExec('e1', {}, noStdio)).toThrow('cannot exec in a stopped container (it is stopped)');
  });

  it('a container created from a checkpoint is restore-pending until Start restores it', async () => {
    const c = await Container.create(params({ checkpoint: join(fx.bundle, 'image') }), fx.deps);
    expect(c.init.state).toBe('restore-pending');
    expect(fx.runc.calls).toEqual([]);
    const pid = await c.start();
    expect(pid).toBe(fx.runc.initPid);
    expect(fx.runc.calls).toEqual(['restore']);
    expect(c.init.state).toBe('running');
    expect(timeline()).toEqual(['create', 'start']);
  });

  it('Delete of a never-restored container runs nothing and reports 0', async () => {
    const c = await Container.create(params({ checkpoint: join(fx.bundle, 'image') }), fx.deps);
    const deleted = await c.delete();
    expect(deleted.status).toBe(0);
    expect(fx.runc.calls).toEqual([]);
    expect(c.init.state).toBe('deleted');
  });

  it('a failed create undoes itself: runc delete, no event, the error passed on', async () => {
    fx.runc.hooks.create = async () => {
      throw new Error('runc create: no such file: /bin/sh');
    };
    await expect(Container.create(params(), fx.deps)).rejects.toThrow('/bin/sh');
    expect(fx.runc.calls).toEqual(['create', 'delete --force']);
    expect(fx.events).toEqual([]);
  });

  it('a create whose stdio cannot be set up runs no runc at all and names the missing path', async () => {
    const stdio = { stdin: '', stdout: join(fx.bundle, 'missing', 'stdout'), stderr: '', terminal: false };
    const err = await rejection(Container.create(params({ stdio }), fx.deps));
    expect(err.message).toContain(stdio.stdout); // the service maps it to NotFound (one place maps codes)
    expect(fx.runc.calls).toEqual([]);
    expect(fx.events).toEqual([]);
  });
});
