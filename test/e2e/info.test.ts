// Issue #5: `-info` as containerd 2.x uses it (`ctr plugins inspect-runtime`, idmap validation).
import { expect, it } from 'vitest';
import { describeEachContainerd, runtimes } from './harness/index.js';

describeEachContainerd(
  'runtime info of tsshim',
  (suite) => {
    it("ctr plugins inspect-runtime shows our name, version and runc's features", async () => {
      const out = await suite.containerd.ctrOk(['plugins', 'inspect-runtime', '--runtime', runtimes.tsshim]);
      const info = JSON.parse(out) as {
        Name: string;
        Version: { Version: string; Revision?: string };
        Features?: { ociVersionMin?: string; mountOptions?: string[] };
      };
      expect(info.Name).toBe(runtimes.tsshim);
      expect(info.Version.Version).toMatch(/^\d+\.\d+\.\d+/);
      // The revision the build recorded, as -v prints it (issue 12).
      expect(info.Version.Revision).toMatch(/^[0-9a-f]{40}(\.m)?$/);
      expect(info.Features?.ociVersionMin).toBeTruthy();
      // containerd's own conformance test looks for this one ("rro" is known since runc 1.1).
      expect(info.Features?.mountOptions).toContain('rro');
    });
  },
  { importImage: false, onlyVersions: ['2.1'] },
); // `inspect-runtime` and `-info` exist from containerd 2.0
