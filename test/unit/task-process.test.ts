// The process state machine: which moves are legal, and which requests each state allows.
import { describe, expect, it } from 'vitest';
import { Code } from 'ttrpc-ts';
import { ContainerProcess, IllegalTransitionError, type ProcessState } from '../../src/task/process.js';

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };

function initIn(...path: ProcessState[]): ContainerProcess {
  const proc = new ContainerProcess('c1', 'init', stdio);
  for (const state of path) proc.transition(state);
  return proc;
}

describe('ContainerProcess', () => {
  it('moves created -> running -> pausing -> paused -> running -> stopped -> deleted', () => {
    const proc = initIn('running', 'pausing', 'paused', 'running', 'stopped', 'deleted');
    expect(proc.state).toBe('deleted');
  });

  it.each<[ProcessState[], ProcessState]>([
    [[], 'paused'],
    [['running'], 'created'],
    [['running', 'stopped'], 'running'],
    [['running', 'stopped', 'deleted'], 'stopped'],
    [['running'], 'restore-pending'],
  ])('refuses the move after %j to %s', (path, to) => {
    const proc = initIn(...path);
    expect(() => proc.transition(to)).toThrow(IllegalTransitionError);
    expect(proc.state).toBe(path.at(-1) ?? 'created');
  });

  it('answers a request its state does not allow with FailedPrecondition naming the state', () => {
    const proc = initIn('running', 'stopped');
    expect(() => proc.check('pause')).toThrow(
      expect.objectContaining({
        code: Code.FailedPrecondition,
        message: 'cannot pause init process c1: it is stopped',
      }),
    );
    expect(() => proc.check('delete')).not.toThrow();
  });

  it('an exit moves a live process to stopped once, and a deleted one nowhere', () => {
    const proc = initIn('running');
    proc.setExited({ status: 3, exitedAt: new Date() });
    proc.setExited({ status: 4, exitedAt: new Date() });
    expect(proc.state).toBe('stopped');
    expect(proc.exit?.status).toBe(3);
    const gone = initIn('deleted');
    gone.setExited({ status: 0, exitedAt: new Date() });
    expect(gone.state).toBe('deleted');
  });

  it('a restore-pending init starts by restore or is deleted, and allows no pause', () => {
    const proc = new ContainerProcess('c1', 'init', stdio, 'restore-pending');
    expect(proc.allows('start')).toBe(true);
    expect(proc.allows('delete')).toBe(true);
    expect(proc.allows('pause')).toBe(false);
    proc.transition('running');
    expect(proc.state).toBe('running');
  });

  it('an exec allows kill only while running', () => {
    const exec = new ContainerProcess('e1', 'exec', stdio);
    expect(exec.allows('kill')).toBe(false);
    exec.transition('running');
    expect(exec.allows('kill')).toBe(true);
    expect(exec.allows('pause')).toBe(false);
  });
});
