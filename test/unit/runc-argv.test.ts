import { describe, expect, it } from 'vitest';
import {
  checkpointArgs,
  createArgs,
  deleteArgs,
  execArgs,
  featuresArgs,
  globalArgs,
  killArgs,
  pauseArgs,
  psArgs,
  restoreArgs,
  resumeArgs,
  startArgs,
  stateArgs,
  updateArgs,
} from '../../src/runc/argv.js';

describe('runc argv', () => {
  it('global flags: root, JSON log, optional systemd cgroup', () => {
    expect(globalArgs({ root: '/run/containerd/runc/default', logPath: '/b/log.json' })).toEqual([
      '--root',
      '/run/containerd/runc/default',
      '--log',
      '/b/log.json',
      '--log-format',
      'json',
    ]);
    expect(globalArgs({ root: '/r/ns', logPath: '/b/log.json', systemdCgroup: true })).toEqual([
      '--root',
      '/r/ns',
      '--log',
      '/b/log.json',
      '--log-format',
      'json',
      '--systemd-cgroup',
    ]);
    // `-info` asks for features with neither, as the Go shim does.
    expect(globalArgs({})).toEqual([]);
  });

  it('create', () => {
    expect(createArgs('c1', { bundle: '/b', pidFile: '/b/init.pid' })).toEqual([
      'create',
      '--bundle',
      '/b',
      '--pid-file',
      '/b/init.pid',
      'c1',
    ]);
    expect(
      createArgs('c1', { bundle: '/b', pidFile: '/b/init.pid', consoleSocket: '/tmp/pty1/pty.sock', noPivot: true, noNewKeyring: true }),
    ).toEqual([
      'create',
      '--bundle',
      '/b',
      '--pid-file',
      '/b/init.pid',
      '--console-socket',
      '/tmp/pty1/pty.sock',
      '--no-pivot',
      '--no-new-keyring',
      'c1',
    ]);
  });

  it('exec is always detached with a process file', () => {
    expect(execArgs('c1', { processFile: '/tmp/runc-process1', pidFile: '/b/e1.pid' })).toEqual([
      'exec',
      '--process',
      '/tmp/runc-process1',
      '--detach',
      '--pid-file',
      '/b/e1.pid',
      'c1',
    ]);
    expect(execArgs('c1', { processFile: '/p', pidFile: '/b/e1.pid', consoleSocket: '/s' })).toEqual([
      'exec',
      '--process',
      '/p',
      '--detach',
      '--pid-file',
      '/b/e1.pid',
      '--console-socket',
      '/s',
      'c1',
    ]);
  });

  it('kill takes the signal as a number after the id', () => {
    expect(killArgs('c1', 15)).toEqual(['kill', 'c1', '15']);
    expect(killArgs('c1', 9, true)).toEqual(['kill', '--all', 'c1', '9']);
    expect(() => killArgs('c1', -1)).toThrow(RangeError);
    expect(() => killArgs('c1', 1.5)).toThrow(RangeError);
  });

  it('simple commands', () => {
    expect(startArgs('c1')).toEqual(['start', 'c1']);
    expect(deleteArgs('c1')).toEqual(['delete', 'c1']);
    expect(deleteArgs('c1', true)).toEqual(['delete', '--force', 'c1']);
    expect(stateArgs('c1')).toEqual(['state', 'c1']);
    expect(psArgs('c1')).toEqual(['ps', '--format', 'json', 'c1']);
    expect(pauseArgs('c1')).toEqual(['pause', 'c1']);
    expect(resumeArgs('c1')).toEqual(['resume', 'c1']);
    expect(updateArgs('c1')).toEqual(['update', '--resources=-', 'c1']);
    expect(featuresArgs()).toEqual(['features']);
  });

  it('checkpoint', () => {
    expect(checkpointArgs('c1', { imagePath: '/img', workPath: '/work' })).toEqual([
      'checkpoint',
      '--image-path',
      '/img',
      '--work-path',
      '/work',
      'c1',
    ]);
    expect(
      checkpointArgs('c1', {
        imagePath: '/img',
        workPath: '/work',
        parentPath: '/parent',
        leaveRunning: true,
        tcpEstablished: true,
        extUnixSk: true,
        shellJob: true,
        fileLocks: true,
        emptyNamespaces: ['network', 'ipc'],
        manageCgroupsMode: 'soft',
      }),
    ).toEqual([
      'checkpoint',
      '--image-path',
      '/img',
      '--work-path',
      '/work',
      '--parent-path',
      '/parent',
      '--leave-running',
      '--tcp-established',
      '--ext-unix-sk',
      '--shell-job',
      '--file-locks',
      '--empty-ns',
      'network',
      '--empty-ns',
      'ipc',
      '--manage-cgroups-mode',
      'soft',
      'c1',
    ]);
  });

  it('restore is detached, without subreaper, bundle last', () => {
    expect(restoreArgs('c1', { imagePath: '/img', workPath: '/w', bundle: '/b', pidFile: '/b/init.pid' })).toEqual([
      'restore',
      '--image-path',
      '/img',
      '--work-path',
      '/w',
      '--detach',
      '--pid-file',
      '/b/init.pid',
      '--no-subreaper',
      '--bundle',
      '/b',
      'c1',
    ]);
    expect(
      restoreArgs('c1', {
        imagePath: '/img',
        workPath: '/w',
        parentPath: '/pp',
        bundle: '/b',
        pidFile: '/b/init.pid',
        noPivot: true,
        consoleSocket: '/s',
      }),
    ).toEqual([
      'restore',
      '--image-path',
      '/img',
      '--work-path',
      '/w',
      '--parent-path',
      '/pp',
      '--detach',
      '--pid-file',
      '/b/init.pid',
      '--no-subreaper',
      '--no-pivot',
      '--console-socket',
      '/s',
      '--bundle',
      '/b',
      'c1',
    ]);
  });
});
