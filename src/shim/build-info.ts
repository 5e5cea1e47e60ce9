// What `-v` and `-info` report about this build: the version (package.json's, the only copy) and the
// git revision, both recorded by the build (scripts/build-info.mjs, through esbuild's define). Run from
// the sources (the tests), package.json is read and the revision is "unknown".
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  version: string;
  /** The commit the build was made from, ".m" appended when the tree had changes; "unknown" outside git. */
  revision: string;
}

declare const __TSSHIM_BUILD_INFO__: BuildInfo | undefined;

function fromSources(): BuildInfo {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return { version: pkg.version, revision: 'unknown' };
  } catch {
    // Bundled by something other than the build (a bench or test bundle): no package.json beside it.
    return { version: 'unknown', revision: 'unknown' };
  }
}

export const buildInfo: BuildInfo = typeof __TSSHIM_BUILD_INFO__ === 'undefined' ? fromSources() : __TSSHIM_BUILD_INFO__;
