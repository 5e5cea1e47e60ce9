import { describe, expect, it } from 'vitest';
import { runFixture } from './fixtures-sys/run-fixture.js';

interface MountReport {
  error?: string;
  cwdBefore: string;
  tmpfs: { count: number; fsType: string; options: string };
  roBind: { read: string; write: string; options: string };
  escape: { mountedAtReRooted: boolean; hostEtcUntouched: boolean };
  before: number;
  rollback: { error: string; left: number };
  refused: string;
  overlay: { optionBytes: number; error?: string; cwdUnchanged?: string; top?: string; deepest?: string; left?: number };
  busy: { firstTry: string; left: number };
  after: number;
}

describe('mountAll / unmountAll (private mount namespace, real mounts)', () => {
  it('mounts, protects, rolls back and unmounts like containerd', async () => {
    const { code, stderr, report } = await runFixture<MountReport>('mounts', { unshare: true });
    expect(report.error, stderr).toBeUndefined();
    expect(code).toBe(0);
    expect(report.tmpfs).toEqual({ count: 1, fsType: 'tmpfs', options: expect.stringMatching(/^rw,nosuid,nodev\b/) as unknown });
    expect(report.roBind).toEqual({ read: 'content', write: 'EROFS', options: expect.stringMatching(/^ro\b/) as unknown });
    expect(report.escape).toEqual({ mountedAtReRooted: true, hostEtcUntouched: true });
    // root tmpfs, ro bind, re-rooted escape, two stacked, one nested
    expect(report.before).toBe(6);
    expect(report.rollback.left).toBe(0);
    expect(report.rollback.error).toMatch(/ENODEV/);
    expect(report.refused).toMatch(/"loop" is not supported/);
    // lowerdir list longer than a page: mounted from the common parent, process cwd untouched
    expect(report.overlay.error).toBeUndefined();
    expect(report.overlay.optionBytes).toBeGreaterThan(4096);
    expect(report.overlay).toMatchObject({ cwdUnchanged: report.cwdBefore, top: 'top', deepest: '70', left: 0 });
    expect(report.busy).toEqual({ firstTry: 'EBUSY', left: 0 });
    expect(report.after).toBe(0);
  });
});
