// Issue #3: exec processes through tsshim.
import { expect, it } from 'vitest';
import { describeEachContainerd, eventually, removeContainer, runtimes } from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;

async function runDetached(containerd: Containerd, image: string, id: string, ...cmd: string[]): Promise<void> {
  await containerd.ctrOk(['run', '-d', '--runtime', runtime, image, id, ...(cmd.length ? cmd : ['sleep', '600'])]);
}

describeEachContainerd('exec through tsshim', (suite) => {
  it('ctr task exec prints the output and returns the exit code; events come in order', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex1');
    const events = await containerd.subscribeEvents();
    const r = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', 'ex1', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.code).toBe(5);
    await events.waitForOutput(/\/tasks\/exit [^\n]*"id":"e1"[^\n]*\n/);
    const lines = events
      .stdout()
      .split('\n')
      .filter((l) => l.includes('/tasks/') && l.includes('e1'));
    expect(lines.map((l) => /\/tasks\/[a-z-]+/.exec(l)![0])).toEqual(['/tasks/exec-added', '/tasks/exec-started', '/tasks/exit']);
    expect(lines[2]).toMatch(/"exit_status":5/);
    await events.stop();
    await removeContainer(containerd, 'ex1');
  });

  it('feeds stdin to an exec (cat sees the input and EOF)', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex2');
    const r = await containerd.ctr(['task', 'exec', '--exec-id', 'cat1', 'ex2', 'cat'], { input: 'line one\nline two\n' });
    expect(r.stdout).toBe('line one\nline two\n');
    expect(r.code).toBe(0);
    await removeContainer(containerd, 'ex2');
  });

  it('runs two execs at once', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex3');
    const [a, b] = await Promise.all([
      containerd.ctr(['task', 'exec', '--exec-id', 'a', 'ex3', 'sh', '-c', 'sleep 0.5; echo A; exit 1']),
      containerd.ctr(['task', 'exec', '--exec-id', 'b', 'ex3', 'sh', '-c', 'sleep 0.5; echo B; exit 2']),
    ]);
    expect([a.stdout, a.code, b.stdout, b.code]).toEqual(['A\n', 1, 'B\n', 2]);
    await removeContainer(containerd, 'ex3');
  });

  it('refuses a duplicate exec id with AlreadyExists', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex4');
    // The first exec runs until its stdin gives it a line: it exists for as long as the test needs.
    const first = containerd.spawnCtr(['task', 'exec', '--exec-id', 'dup', 'ex4', 'sh', '-c', 'echo started; read line; echo "got $line"']);
    await first.waitForOutput(/started/);
    const second = await containerd.ctr(['task', 'exec', '--exec-id', 'dup', 'ex4', 'true']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/already exists/);
    first.stdin.end('go\n');
    await first.waitForOutput(/got go/);
    expect((await first.exited).code).toBe(0);
    await removeContainer(containerd, 'ex4');
  });

  it('kill of a finished exec is NotFound; a detached exec can be killed while it runs', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex5');
    await containerd.ctrOk(['task', 'exec', '--detach', '--exec-id', 'quick', 'ex5', 'true']);
    await containerd.ctrOk(['task', 'exec', '--detach', '--exec-id', 'slow', 'ex5', 'sleep', '600']);
    expect(
      await eventually(async () => {
        const r = await containerd.ctr(['task', 'kill', '--exec-id', 'quick', 'ex5']);
        return r.code !== 0 && /not found/.test(r.stderr);
      }, 10_000),
    ).toBe(true);
    const ps = await containerd.ctrOk(['task', 'ps', 'ex5']);
    expect(ps).toMatch(/slow/); // the exec pid is annotated with its exec id (ProcessDetails)
    await containerd.ctrOk(['task', 'kill', '--exec-id', 'slow', '-s', 'SIGKILL', 'ex5']);
    await removeContainer(containerd, 'ex5');
  });

  it('exec into a stopped container fails with FailedPrecondition', async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex6', 'true');
    expect(await eventually(async () => /STOPPED/.test(await containerd.ctrOk(['task', 'ls'])), 10_000)).toBe(true);
    const r = await containerd.ctr(['task', 'exec', '--exec-id', 'late', 'ex6', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not running|failed precondition/i);
    await containerd.ctrOk(['task', 'delete', 'ex6']);
    await containerd.ctrOk(['containers', 'delete', 'ex6']);
  });

  it("publishes init's exit after the exits of its execs", async () => {
    const { containerd } = suite;
    await runDetached(containerd, suite.fixtures.image, 'ex7');
    await containerd.ctrOk(['task', 'exec', '--detach', '--exec-id', 'long', 'ex7', 'sleep', '600']);
    const events = await containerd.subscribeEvents();
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'ex7']);
    await events.waitForOutput(/\/tasks\/exit [^\n]*"id":"ex7"[^\n]*\n/);
    const exits = events
      .stdout()
      .split('\n')
      .filter((l) => l.includes('/tasks/exit'));
    expect(exits.map((l) => /"id":"([^"]+)"/.exec(l)?.[1])).toEqual(['long', 'ex7']);
    await events.stop();
    await containerd.ctrOk(['task', 'delete', 'ex7']);
    await containerd.ctrOk(['containers', 'delete', 'ex7']);
  });
});
