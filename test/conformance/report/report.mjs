#!/usr/bin/env node
// Prints the conformance table (tsshim beside the Go shim), writes it as
// Markdown too, and exits non-zero when a failure is not in the expected list.
// Usage: report.mjs --expected FILE --markdown OUT [--header TEXT]
//                   [--tsshim RUN_DIR] [--go RUN_DIR]
// A RUN_DIR holds test.log, exit-code, seconds and tests.list (written by inner.sh).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { counts, failures, parseRun } from './parse.mjs';
import { ExpectedFailureError, entryFor, loadExpected, uncovered } from './expected.mjs';

const { values: opts } = parseArgs({
  options: {
    expected: { type: 'string' }, markdown: { type: 'string' }, header: { type: 'string', default: '' },
    tsshim: { type: 'string' }, go: { type: 'string' },
  },
});
if (!opts.expected || !opts.markdown || (!opts.tsshim && !opts.go)) {
  process.stderr.write('usage: report.mjs --expected FILE --markdown OUT [--header TEXT] [--tsshim DIR] [--go DIR]\n');
  process.exit(2);
}

/** @param {string} dir */
function loadRun(dir) {
  const codeFile = join(dir, 'exit-code');
  const secondsFile = join(dir, 'seconds');
  const exitCode = existsSync(codeFile) ? Number(readFileSync(codeFile, 'utf8').trim()) : null;
  const seconds = existsSync(secondsFile) ? Number(readFileSync(secondsFile, 'utf8').trim()) : 0;
  const listFile = join(dir, 'tests.list');
  const listed = existsSync(listFile) ? readFileSync(listFile, 'utf8').split('\n').filter((l) => l.startsWith('Test')) : [];
  return parseRun(join(dir, 'test.log'), exitCode, seconds, listed);
}

/** @type {{ label: string, key: 'tsshim' | 'go', run: import('./parse.mjs').Run }[]} */
const columns = [];
if (opts.tsshim) columns.push({ label: 'tsshim', key: 'tsshim', run: loadRun(opts.tsshim) });
if (opts.go) columns.push({ label: 'Go shim', key: 'go', run: loadRun(opts.go) });

let entries;
try {
  entries = loadExpected(opts.expected);
} catch (err) {
  if (err instanceof ExpectedFailureError) {
    process.stderr.write(`conformance: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
// The Go shim may only fail where an entry says the failure is not the shim's.
/** @type {Record<'tsshim' | 'go', (e: import('./expected.mjs').Entry) => boolean>} */
const usable = { tsshim: () => true, go: (e) => e.scope !== 'tsshim' };

/** @param {import('./parse.mjs').TestResult | undefined} r @param {'tsshim' | 'go'} key */
function cell(r, key) {
  if (!r) return 'not run';
  if (r.outcome !== 'fail') return r.outcome;
  const listed = entryFor(entries, r.name, usable[key]);
  return `FAIL${r.note ? ` (${r.note})` : ''}${listed ? ' (expected)' : ''}`;
}

const failing = [...new Set(columns.flatMap((c) => failures(c.run)))].sort();
const rows = [
  ['', ...columns.map((c) => c.label)],
  ['passed', ...columns.map((c) => String(counts(c.run).pass))],
  ['failed', ...columns.map((c) => String(counts(c.run).fail))],
  ['skipped', ...columns.map((c) => String(counts(c.run).skip))],
  ['suite time (s)', ...columns.map((c) => String(c.run.seconds))],
  ['suite exit code', ...columns.map((c) => String(c.run.exitCode ?? 'none'))],
];
const failRows = failing.map((t) => [t, ...columns.map((c) => cell(c.run.results.get(t), c.key))]);

/** @param {string[][]} table */
function text(table) {
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  return table.map((r) => r.map((v, i) => v.padEnd(widths[i] ?? 0)).join('   ').trimEnd()).join('\n');
}
/** @param {string[][]} table */
function markdown(table) {
  const [head = [], ...body] = table;
  return [head, head.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const out = [];
if (opts.header) out.push(opts.header, '');
out.push(text(rows), '');
out.push(failing.length === 0 ? 'No failing tests.' : `Failing tests:\n${text([['test', ...columns.map((c) => c.label)], ...failRows])}`);
process.stdout.write(`${out.join('\n')}\n\n`);

const md = [opts.header ? `${opts.header}\n` : '', markdown(rows), '',
  failing.length === 0 ? 'No failing tests.' : markdown([['failing test', ...columns.map((c) => c.label)], ...failRows])];
writeFileSync(opts.markdown, `${md.join('\n')}\n`);

// Verdict.
let bad = false;
for (const c of columns) {
  const fails = failures(c.run);
  const unlisted = uncovered(fails, entries, usable[c.key]);
  for (const t of unlisted) {
    process.stdout.write(`conformance: ${c.label}: ${t} failed and is not in the expected-failure list\n`);
  }
  if (c.run.exitCode === null || c.run.results.size === 0 || (c.run.exitCode !== 0 && fails.length === 0)) {
    process.stdout.write(`conformance: ${c.label}: the suite did not run (exit code ${c.run.exitCode ?? 'none'}); see its test.log\n`);
    bad = true;
  }
  if (unlisted.length > 0) bad = true;
  for (const e of entries) {
    if (!usable[c.key](e) || e.scope === 'flaky') continue;
    const results = [...c.run.results.values()].filter((r) => r.name === e.name || r.name.startsWith(`${e.name}/`));
    if (results.length > 0 && results.every((r) => r.outcome === 'pass')) {
      process.stdout.write(`conformance: ${c.label}: ${e.name} passes now: prune line ${e.line} of the expected-failure list\n`);
    }
  }
}
// The closing line: the shim under test, in the form CI reads.
const main = columns[0];
if (main) {
  const c = counts(main.run);
  process.stdout.write(`${main.key}: ${c.pass} passed, ${c.fail} failed, ${c.skip} skipped\n`);
}
process.exit(bad ? 1 : 0);
