import { describe, expect, it } from 'vitest';
import { runFixture } from './fixtures-sys/run-fixture.js';

interface ReaperReport {
  error?: string;
  rounds: number;
  subreaper: boolean;
  wrongExits: string[];
  orphans: number;
  orphanStatuses: number[];
  orphansReaped: number;
  killed: Record<'SIGKILL' | 'SIGTERM', { status: number; signal?: number }>;
  keptBeforeLateWait: boolean;
  late: { pid: number; status: number; expected: number };
  zombies: number[];
}

describe('reaper with orphans (own node process, real subreaper)', () => {
  it('reaps every orphan, steals no child_process exit, keeps exits for late waiters', async () => {
    const rounds = 200;
    const { code, stderr, report } = await runFixture<ReaperReport>('reaper-orphans', { args: [String(rounds)] });
    expect(report.error, stderr).toBeUndefined();
    expect(code).toBe(0);
    expect(report.subreaper).toBe(true);
    // Every ChildProcess emitted 'exit' with its own code (sh: 3, run(): 4).
    expect(report.wrongExits).toEqual([]);
    // Every orphaned grandchild was reaped by the reaper, with status 0.
    expect(report.orphans).toBe(rounds);
    expect(report.orphansReaped).toBe(rounds);
    expect(report.orphanStatuses).toEqual([0]);
    expect(report.killed.SIGKILL).toEqual({ status: 137, signal: 9 });
    expect(report.killed.SIGTERM).toEqual({ status: 143, signal: 15 });
    expect(report.keptBeforeLateWait).toBe(true);
    expect(report.late).toEqual({ pid: report.late.expected, status: 0, expected: report.late.expected });
    expect(report.zombies).toEqual([]);
  });
});
