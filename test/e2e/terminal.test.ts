// Issue #3: terminals. ctr runs under a real pty (script(1) or tmux), as a user would.
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeEachContainerd, eventually, runCommand, runtimes, shellQuote, taskRow } from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;

function ctrCommandLine(containerd: Containerd, args: string[]): string {
  return [containerd.binaries.ctr, '--address', containerd.address, '-n', containerd.namespace, ...args].map(shellQuote).join(' ');
}

/** Runs ctr with its stdio on a fresh pty (util-linux script). */
async function ctrUnderPty(containerd: Containerd, args: string[]) {
  return runCommand('script', ['-qefc', ctrCommandLine(containerd, args), '/dev/null'], { timeoutMs: 30_000 });
}

class Tmux {
  readonly socket = `tsshim-${randomBytes(4).toString('hex')}`;
  run(args: string[]) {
    return runCommand('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { timeoutMs: 10_000 });
  }
  async screen(): Promise<string> {
    return (await this.run(['capture-pane', '-p', '-t', 'main'])).stdout;
  }
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = await this.screen();
      if (pattern.test(text)) return text;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`tmux screen never matched ${pattern}:\n${text}`);
  }
  async type(text: string) {
    await this.run(['send-keys', '-t', 'main', '-l', text]);
    await this.run(['send-keys', '-t', 'main', 'Enter']);
  }
  /** Resolves once the session's command has exited (tmux ends a session whose only pane's program exits). */
  async waitForExit(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.run(['has-session', '-t', 'main'])).code === 0) {
      if (Date.now() >= deadline) throw new Error(`the tmux session did not end within ${timeoutMs} ms:\n${await this.screen()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  kill() {
    return this.run(['kill-server']);
  }
}

describeEachContainerd('terminals through tsshim', (suite) => {
  it('ctr run -t: the process has a pty (/dev/pts/N) and its output comes back', async () => {
    const r = await ctrUnderPty(suite.containerd, [
      'run',
      '-t',
      '--rm',
      '--runtime',
      runtime,
      suite.fixtures.image,
      'tty1',
      'sh',
      '-c',
      'tty; echo done',
    ]);
    expect(r.stdout, r.stdout + r.stderr).toMatch(/\/dev\/pts\/\d+\r*\n/);
    expect(r.stdout).toMatch(/done/);
    expect(r.code).toBe(0);
  });

  it('ctr task exec -t: the exec has a pty too', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'tty2', 'sleep', '600']);
    const r = await ctrUnderPty(containerd, ['task', 'exec', '-t', '--exec-id', 'tx', 'tty2', 'sh', '-c', 'tty; exit 3']);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.code).toBe(3);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'tty2']);
    expect(await eventually(async () => (await taskRow(containerd, 'tty2'))?.status === 'STOPPED', 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'delete', 'tty2']);
    await containerd.ctrOk(['containers', 'delete', 'tty2']);
  });

  it('typed input reaches a program reading the terminal, and a resize reaches the container', async () => {
    const { containerd } = suite;
    const tmux = new Tmux();
    try {
      const cmd = ctrCommandLine(containerd, ['run', '-t', '--rm', '--runtime', runtime, suite.fixtures.image, 'tty3', 'sh']);
      const env = { ...process.env, TERM: 'xterm' };
      const started = await runCommand(
        'tmux',
        ['-L', tmux.socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', '80', '-y', '24', cmd],
        { env, timeoutMs: 10_000 },
      );
      expect(started.code, started.stderr).toBe(0);
      await tmux.run(['set-option', '-g', 'status', 'off']);
      await tmux.waitFor(/#\s*$/m);
      await tmux.type('read line; echo "got:$line"');
      await tmux.type('hello there');
      await tmux.waitFor(/got:hello there/);
      await tmux.type('stty size');
      await tmux.waitFor(/^24 80\s*$/m);
      await tmux.run(['resize-window', '-t', 'main', '-x', '100', '-y', '30']);
      // The resize travels tmux -> ctr -> containerd -> shim -> pty; ask until the shell sees it.
      const deadline = Date.now() + 10_000;
      for (;;) {
        await tmux.type('clear; stty size');
        try {
          await tmux.waitFor(/^30 100\s*$/m, 1_000);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
      await tmux.type('exit');
      // ctr run --rm deletes the container itself: let it finish before the suite's cleanup looks.
      await tmux.waitForExit();
    } finally {
      await tmux.kill();
    }
  });
});
