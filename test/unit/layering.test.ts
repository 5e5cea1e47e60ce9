// docs/architecture.md §2.2: a folder under src/ imports only from folders before it;
// runc/, stdio/ and cgroups/ are siblings that do not import each other.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src');
const rank: Record<string, number> = { ttrpc: 0, api: 1, sys: 2, shim: 3, runc: 4, stdio: 4, cgroups: 4, task: 5, cmd: 6 };

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'gen' ? [] : files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(path: string): string {
  return relative(src, path).split('/')[0]!;
}

describe('layers', () => {
  it('every relative import goes to the same folder or one listed before it', () => {
    const violations: string[] = [];
    for (const file of files(src)) {
      const from = layerOf(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const to = layerOf(join(dirname(file), m[1]!));
        if (to === from) continue;
        if (!(to in rank)) continue;
        if (rank[to]! >= rank[from]!) violations.push(`${relative(src, file)} imports ${to}/ (${m[1]})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('processes are spawned through src/sys/spawn.ts (the reaper must know them), except by `start`, which is not the daemon', () => {
    // start (with the spare it leaves, shim/spare-spawn.ts) and the single executable's re-exec run
    // before there is a daemon (and a reaper).
    const allowed = new Set(['sys/spawn.ts', 'shim/start.ts', 'shim/spare-spawn.ts', 'shim/bootstrap.ts', 'cmd/sea-env.ts']);
    const offenders = files(src)
      .map((f) => relative(src, f))
      .filter((f) => !allowed.has(f))
      .filter((f) => /^import (?!type)[^;]*from 'node:child_process'/m.test(readFileSync(join(src, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
