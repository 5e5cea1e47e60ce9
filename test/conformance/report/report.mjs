#!/usr/bin/env node
// Prints the conformance table (each suite with tsshim beside the Go shim), writes
// it as Markdown too, and exits non-zero when a failure is not in its suite's
// expected list.
// Usage: report.mjs --markdown OUT [--header TEXT]
//                   --expected FILE [--tsshim RUN_DIR] [--go RUN_DIR]            (integration/client)
//                   --cri-expected FILE --cri-skip FILE [--cri-tsshim RUN_DIR] [--cri-go RUN_DIR]  (CRI)
// A RUN_DIR holds test.log, exit-code, seconds and tests.list (written by inner.sh / cri-inner.sh).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { counts, failures, parseRun } from './parse.mjs';
import { ExpectedFailureError, entryFor, loadExpected, loadSkipList, uncovered } from './expected.mjs';

const { values: opts } = parseArgs({
  options: {
    expected: { type: 'string' },
    markdown: { type: 'string' },
    header: { type: 'string', default: '' },
    tsshim: { type: 'string' },
    go: { type: 'string' },
    'cri-expected': { type: 'string' },
    'cri-skip': { type: 'string' },
    'cri-tsshim': { type: 'string' },
    'cri-go': { type: 'string' },
  },
});
const anyClient = !!(opts.tsshim || opts.go);
const anyCri = !!(opts['cri-tsshim'] || opts['cri-go']);
if (
  !opts.markdown ||
  (!anyClient && !anyCri) ||
  (anyClient && !opts.expected) ||
  (anyCri && (!opts['cri-expected'] || !opts['cri-skip']))
) {
  process.stderr.write(
    'usage: report.mjs --markdown OUT [--header TEXT] --expected FILE [--tsshim DIR] [--go DIR]' +
      ' --cri-expected FILE --cri-skip FILE [--cri-tsshim DIR] [--cri-go DIR]\n',
  );
  process.exit(2);
}

/** @param {string} dir */
function loadRun(dir) {
  const codeFile = join(dir, 'exit-code');
  const secondsFile = join(dir, 'seconds');
  const exitCode = existsSync(codeFile) ? Number(readFileSync(codeFile, 'utf8').trim()) : null;
  const seconds = existsSync(secondsFile) ? Number(readFileSync(secondsFile, 'utf8').trim()) : 0;
  const listFile = join(dir, 'tests.list');
  const listed = existsSync(listFile)
    ? readFileSync(listFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('Test'))
    : [];
  const log = join(dir, 'test.log');
  // A run that never got to its suite (the namespace failed early) has no log: no results.
  if (!existsSync(log)) return { results: new Map(), exitCode, seconds };
  return parseRun(log, exitCode, seconds, listed);
}

/** @typedef {import('./expected.mjs').Entry} Entry */
/** @typedef {{ label: string, key: 'tsshim' | 'go', run: import('./parse.mjs').Run }} Column */
/** @typedef {{ label: string, entries: Entry[], skipped: string[], columns: Column[] }} Suite */

/** @param {string | undefined} tsshimDir @param {string | undefined} goDir @returns {Column[]} */
function columnsOf(tsshimDir, goDir) {
  /** @type {Column[]} */
  const columns = [];
  if (tsshimDir) columns.push({ label: 'tsshim', key: 'tsshim', run: loadRun(tsshimDir) });
  if (goDir) columns.push({ label: 'Go shim', key: 'go', run: loadRun(goDir) });
  return columns;
}

/** @type {Suite[]} */
const suites = [];
try {
  if (anyClient) {
    suites.push({
      label: 'client',
      entries: loadExpected(/** @type {string} */ (opts.expected)),
      skipped: [],
      columns: columnsOf(opts.tsshim, opts.go),
    });
  }
  if (anyCri) {
    suites.push({
      label: 'CRI',
      entries: loadExpected(/** @type {string} */ (opts['cri-expected'])),
      skipped: loadSkipList(/** @type {string} */ (opts['cri-skip'])).map((s) => s.name),
      columns: columnsOf(opts['cri-tsshim'], opts['cri-go']),
    });
  }
} catch (err) {
  if (err instanceof ExpectedFailureError) {
    process.stderr.write(`conformance: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
// The Go shim may only fail where an entry says the failure is not the shim's.
/** @type {Record<'tsshim' | 'go', (e: Entry) => boolean>} */
const usable = { tsshim: () => true, go: (e) => e.scope !== 'tsshim' };

/** @param {Entry[]} entries @param {import('./parse.mjs').TestResult | undefined} r @param {'tsshim' | 'go'} key */
function cell(entries, r, key) {
  if (!r) return 'not run';
  if (r.outcome !== 'fail') return r.outcome;
  const listed = entryFor(entries, r.name, usable[key]);
  return `FAIL${r.note ? ` (${r.note})` : ''}${listed ? ' (expected)' : ''}`;
}

const all = suites.flatMap((s) => s.columns.map((c) => ({ suite: s, column: c })));
const heads = all.map(({ suite, column }) => `${suite.label}: ${column.label}`);
const rows = [
  ['', ...heads],
  ['passed', ...all.map(({ column }) => String(counts(column.run).pass))],
  ['failed', ...all.map(({ column }) => String(counts(column.run).fail))],
  ['skipped by the suite', ...all.map(({ column }) => String(counts(column.run).skip))],
  ['not run here (skip list)', ...all.map(({ suite }) => String(suite.skipped.length))],
  ['suite time (s)', ...all.map(({ column }) => String(column.run.seconds))],
  ['suite exit code', ...all.map(({ column }) => String(column.run.exitCode ?? 'none'))],
];
/** Per suite: its failing tests, its columns side by side. */
const failTables = suites.map((s) => {
  const failing = [...new Set(s.columns.flatMap((c) => failures(c.run)))].sort();
  return {
    suite: s,
    failing,
    table: [
      [`failing test (${s.label})`, ...s.columns.map((c) => c.label)],
      ...failing.map((t) => [t, ...s.columns.map((c) => cell(s.entries, c.run.results.get(t), c.key))]),
    ],
  };
});

/** @param {string[][]} table */
function text(table) {
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  return table
    .map((r) =>
      r
        .map((v, i) => v.padEnd(widths[i] ?? 0))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}
/** @param {string[][]} table */
function markdown(table) {
  const [head = [], ...body] = table;
  return [head, head.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const out = [];
if (opts.header) out.push(opts.header, '');
out.push(text(rows), '');
for (const f of failTables) {
  out.push(f.failing.length === 0 ? `${f.suite.label}: no failing tests.` : `${f.suite.label}: failing tests:\n${text(f.table)}`, '');
}
process.stdout.write(`${out.join('\n')}\n`);

const md = [opts.header ? `${opts.header}\n` : '', markdown(rows), ''];
for (const f of failTables) md.push(f.failing.length === 0 ? `${f.suite.label}: no failing tests.` : markdown(f.table), '');
writeFileSync(opts.markdown, `${md.join('\n')}\n`);

// Verdict.
let bad = false;
for (const { suite, column: c } of all) {
  const name = `${suite.label} ${c.label}`;
  const fails = failures(c.run);
  const unlisted = uncovered(fails, suite.entries, usable[c.key]);
  for (const t of unlisted) {
    process.stdout.write(`conformance: ${name}: ${t} failed and is not in the expected-failure list\n`);
  }
  if (c.run.exitCode === null || c.run.results.size === 0 || (c.run.exitCode !== 0 && fails.length === 0)) {
    process.stdout.write(`conformance: ${name}: the suite did not run (exit code ${c.run.exitCode ?? 'none'}); see its test.log\n`);
    bad = true;
  }
  if (unlisted.length > 0) bad = true;
  for (const e of suite.entries) {
    if (!usable[c.key](e) || e.scope === 'flaky') continue;
    const results = [...c.run.results.values()].filter((r) => r.name === e.name || r.name.startsWith(`${e.name}/`));
    if (results.length > 0 && results.every((r) => r.outcome === 'pass')) {
      process.stdout.write(`conformance: ${name}: ${e.name} passes now: prune line ${e.line} of its expected-failure list\n`);
    }
  }
  for (const t of suite.skipped) {
    if (c.run.results.has(t)) process.stdout.write(`conformance: ${name}: ${t} ran although the skip list names it\n`);
  }
}
// The closing lines: the shim under test, per suite, in the form CI reads.
for (const { suite, column } of all) {
  if (column.key !== 'tsshim') continue;
  const c = counts(column.run);
  process.stdout.write(`tsshim (${suite.label}): ${c.pass} passed, ${c.fail} failed, ${c.skip} skipped\n`);
}
process.exit(bad ? 1 : 0);
