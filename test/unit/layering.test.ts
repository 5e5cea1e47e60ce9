// docs/architecture.md §2.2: a folder under src/ imports only from folders before it;
// runc/, stdio/ and cgroups/ are siblings that do not import each other. The bottom layer, ttrpc, is the
// workspace package packages/ttrpc-ts: src/ reaches it only by its name, and it reaches nothing of tsshim.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src');
const ttrpcPackage = join(import.meta.dirname, '../../packages/ttrpc-ts');
const rank: Record<string, number> = { api: 1, sys: 2, shim: 3, runc: 4, stdio: 4, cgroups: 4, task: 5, cmd: 6 };

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

  it('src/ imports ttrpc only as the package ttrpc-ts, never a file of it', () => {
    const offenders = files(src)
      .map((f) => [relative(src, f), readFileSync(f, 'utf8')] as const)
      .filter(([, text]) => /(?:from|import)\s*\(?\s*'(?:[^']*\/packages\/|ttrpc-ts\/)/.test(text))
      .map(([f]) => f);
    expect(offenders).toEqual([]);
    expect(readFileSync(join(src, 'shim/daemon.ts'), 'utf8')).toMatch(/from 'ttrpc-ts'/);
  });

  it('ttrpc-ts imports only Node, protobufjs and its own files, and names nothing of containerd', () => {
    const outside: string[] = [];
    for (const file of files(join(ttrpcPackage, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1]!;
        const own = spec.startsWith('./') && !relative(join(ttrpcPackage, 'src'), join(dirname(file), spec)).startsWith('..');
        if (!own && !spec.startsWith('node:') && !spec.startsWith('protobufjs/'))
          outside.push(`${relative(ttrpcPackage, file)} imports ${spec}`);
      }
      // Examples in comments may mention containerd's service names; code may not.
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      if (/containerd|tsshim/i.test(code)) outside.push(`${relative(ttrpcPackage, file)} names containerd or tsshim`);
    }
    expect(outside).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(ttrpcPackage, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['protobufjs']);
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
