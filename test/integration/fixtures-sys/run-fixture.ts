// Runs a TypeScript fixture in its own `node` process: the reaper must be the process itself
// (vitest runs tests in workers), and mount tests want a private mount namespace.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
const addonBuilds = [join(repoRoot, 'native/build/Release/tsshim.node'), join(repoRoot, 'dist/tsshim.node')];

export interface FixtureResult<R> {
  code: number | null;
  stderr: string;
  /** The JSON object the fixture printed as its last stdout line. */
  report: R;
}

/** Bundles fixtures-sys/<name>.ts with esbuild and runs it; `unshare` puts it in a private mount namespace. */
export async function runFixture<R>(
  name: string,
  opts: { args?: string[]; unshare?: boolean; timeoutMs?: number } = {},
): Promise<FixtureResult<R>> {
  const built = addonBuilds.find((p) => existsSync(p));
  if (!built) throw new Error(`${addonBuilds.join(' and ')} are missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-fixture-'));
  try {
    // A private copy: a teammate's rebuild must not swap the library under the running fixture.
    const addonPath = join(dir, 'tsshim.node');
    copyFileSync(built, addonPath);
    const outfile = join(dir, `${name}.mjs`);
    await build({
      entryPoints: [join(here, `${name}.ts`)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'warning',
    });
    const argv = [process.execPath, outfile, ...(opts.args ?? [])];
    const [cmd, ...args] = opts.unshare ? ['unshare', '-m', '--propagation', 'private', ...argv] : argv;
    const child = spawn(cmd!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TSSHIM_ADDON: addonPath, NODE_OPTIONS: '' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 55_000);
    const code = await new Promise<number | null>((res, rej) => {
      child.once('error', rej);
      child.once('close', (c) => res(c));
    }).finally(() => clearTimeout(timer));
    const stdout = Buffer.concat(out).toString();
    const stderr = Buffer.concat(err).toString();
    const last = stdout.trim().split('\n').pop() ?? '';
    let report: R;
    try {
      report = JSON.parse(last) as R;
    } catch {
      throw new Error(`fixture ${name} exited ${code} without a JSON report.\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
    return { code, stderr, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
