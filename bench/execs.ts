// Processes started per container lifecycle, counted from every successful execve under containerd: strace
// follows containerd and every shim process already serving it (spares), then `count` lifecycles run
// (`ctr run --rm ... true`) and a settle lets a replacement spare start. ptrace slows what it traces, so
// this section runs on its own and gives counts only, never times.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { shimProcesses } from './processes.js';
import { BenchStepError, ctrIn, runArgs, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface ExecCounts {
  lifecycles: number;
  /** execve of node (or the single executable, which is node). */
  node: number;
  /** Distinct processes that ran a shim of the runtime's family (launcher, node, SEA, Go binary). */
  shimProcesses: number;
  runc: number;
  /** Every successful execve, whatever the program. */
  all: number;
}

export interface ExecRecord {
  pid: number;
  file: string;
}

/** `execve("/usr/bin/node", [...], ...) = 0` lines of one strace -ff output file; failed execs (ENOENT on a PATH search) are skipped. */
export function parseStraceExecs(pid: number, text: string): ExecRecord[] {
  const out: ExecRecord[] = [];
  for (const line of text.split('\n')) {
    const m = /^execve(?:at)?\((?:\d+, )?"((?:[^"\\]|\\.)*)".*\) = 0$/.exec(line.trim());
    if (m?.[1] !== undefined) out.push({ pid, file: m[1] });
  }
  return out;
}

/** Counts per runtime family from the exec records of `lifecycles` lifecycles. */
export function tallyExecs(records: readonly ExecRecord[], family: Runtime['family'], lifecycles: number): ExecCounts {
  // The single executable is node too: under its own runtime name on the bench's PATH, or in dist/sea/.
  const isNode = (f: string): boolean =>
    basename(f) === 'node' || basename(f).startsWith('containerd-shim-tsshimsea') || f.endsWith('/sea/containerd-shim-tsshim-v2');
  const isShim = (f: string): boolean =>
    family === 'go' ? basename(f) === 'containerd-shim-runc-v2' : isNode(f) || basename(f).startsWith('containerd-shim-tsshim');
  return {
    lifecycles,
    node: records.filter((r) => isNode(r.file)).length,
    shimProcesses: new Set(records.filter((r) => isShim(r.file)).map((r) => r.pid)).size,
    runc: records.filter((r) => basename(r.file) === 'runc').length,
    all: records.length,
  };
}

async function waitForAttach(stderr: () => string, pids: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((stderr().match(/Process \d+ attached/g) ?? []).length < pids && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function countExecs(
  containerd: Containerd,
  image: string,
  runtime: Runtime,
  lifecycles: number,
  settleMs: number,
): Promise<ExecCounts> {
  const dir = await mkdtemp(join(containerd.tempDir, 'strace-'));
  const pids = [containerd.pid, ...shimProcesses(containerd.address).map((p) => p.pid)];
  const strace = spawn(
    'strace',
    [
      '-f',
      '-ff',
      '-e',
      'trace=execve,execveat',
      '-e',
      'signal=none',
      '-s',
      '64',
      '-o',
      join(dir, 'exec'),
      ...pids.flatMap((p) => ['-p', String(p)]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  strace.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const exited = new Promise<void>((resolve) => {
    strace.once('exit', () => resolve());
    strace.once('error', () => resolve());
  });
  try {
    await waitForAttach(() => stderr, pids.length, 5_000);
    if (strace.exitCode !== null) throw new BenchStepError(`strace exited early: ${stderr.trim()}`);
    for (let i = 0; i < lifecycles; i++) {
      await timedCtrOk(containerd, runArgs(runtime, ['--rm'], image, `bench-${runtime.tag}-execs-${i}`, ['true']), ctrIn(runtime));
    }
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    if (strace.exitCode === null && strace.pid !== undefined) process.kill(strace.pid, 'SIGINT');
    await exited;
  }
  const records: ExecRecord[] = [];
  for (const name of await readdir(dir)) {
    const pid = Number(name.split('.').pop());
    records.push(...parseStraceExecs(pid, await readFile(join(dir, name), 'utf8')));
  }
  await rm(dir, { recursive: true, force: true });
  return tallyExecs(records, runtime.family, lifecycles);
}
