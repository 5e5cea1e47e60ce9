import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errnoOf } from '../../src/sys/errno.js';
import { AddonLoadError, addonCandidates, loadAddonFrom } from '../../src/sys/native.js';

describe('addon resolution', () => {
  it('looks beside the module, then in the repo build dir', () => {
    expect(addonCandidates('/opt/tsshim/dist/shim.mjs', {})).toEqual([
      '/opt/tsshim/dist/tsshim.node',
      '/opt/tsshim/tsshim.node',
      '/opt/tsshim/native/build/Release/tsshim.node',
      '/opt/native/build/Release/tsshim.node',
    ]);
    expect(addonCandidates('/repo/src/sys/native.ts', {})).toContain('/repo/native/build/Release/tsshim.node');
    // esbuild code splitting puts native.ts in dist/chunks/
    expect(addonCandidates('/opt/tsshim/dist/chunks/native-X.mjs', {})).toContain('/opt/tsshim/dist/tsshim.node');
  });

  it('uses only TSSHIM_ADDON when it is set', () => {
    expect(addonCandidates('/repo/src/sys/native.ts', { TSSHIM_ADDON: '/x/y.node' })).toEqual(['/x/y.node']);
  });

  it('says how to build the addon when none loads', () => {
    let caught: unknown;
    try {
      loadAddonFrom(['/nope/a.node', '/nope/b.node'], () => false);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AddonLoadError);
    const message = (caught as Error).message;
    expect(message).toContain('npm run build');
    expect(message).toMatch(/python3.*make.*g\+\+/);
    expect(message).toContain('/nope/a.node (not found)');
    expect(message).toContain('/nope/b.node (not found)');
  });

  it('reports a file that is not a loadable addon', () => {
    expect(() => loadAddonFrom([fileURLToPath(import.meta.url)])).toThrow(/tsshim\.node.*npm run build[\s\S]*Tried: /);
  });
});

describe('errnoOf', () => {
  it("reads the errno name of the addon's errors and of Node's, nothing else", () => {
    const err = Object.assign(new Error('EPERM: prctl(PR_SET_CHILD_SUBREAPER): Operation not permitted'), {
      code: 'EPERM',
      errno: -1,
      syscall: 'prctl(PR_SET_CHILD_SUBREAPER)',
    });
    expect(errnoOf(err)).toBe('EPERM');
    let fromNode: unknown;
    try {
      readFileSync('/nonexistent/tsshim');
    } catch (e) {
      fromNode = e;
    }
    expect(errnoOf(fromNode)).toBe('ENOENT');
    expect(errnoOf(new Error('x'))).toBeUndefined();
    expect(errnoOf('EPERM')).toBeUndefined();
    expect(errnoOf({ code: 'EPERM' })).toBeUndefined();
    expect(errnoOf(undefined)).toBeUndefined();
  });
});
