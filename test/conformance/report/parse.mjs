// Reads `go test -v` output into per-test results. Subtests count as tests
// (as gotestsum counts them). A test that started but never reported (the
// binary timed out or crashed) is a failure "did not finish"; when the binary
// failed, a listed top-level test that never started is a failure "not run".
import { readFileSync } from 'node:fs';

/** @typedef {'pass' | 'fail' | 'skip'} Outcome */
/** @typedef {{ name: string, outcome: Outcome, seconds: number, note?: string }} TestResult */
/** @typedef {{ results: Map<string, TestResult>, exitCode: number | null, seconds: number }} Run */

const RESULT = /^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)/;
const STARTED = /^=== (?:RUN|CONT|PAUSE|NAME)\s+(\S+)/;

/**
 * @param {string} logFile @param {number | null} exitCode @param {number} seconds wall time of the run
 * @param {string[]} listed the top-level tests the run was to run (`-test.list`)
 * @returns {Run}
 */
export function parseRun(logFile, exitCode, seconds, listed) {
  /** @type {Map<string, TestResult>} */
  const results = new Map();
  const started = new Set();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const r = RESULT.exec(line);
    if (r) {
      const [, word, name, secs] = /** @type {[string, string, string, string]} */ (r);
      results.set(name, { name, outcome: /** @type {Outcome} */ (word.toLowerCase()), seconds: Number(secs) });
      continue;
    }
    const s = STARTED.exec(line);
    if (s) started.add(/** @type {string} */ (s[1]));
  }
  for (const name of started) {
    if (!results.has(name)) results.set(name, { name, outcome: 'fail', seconds: 0, note: 'did not finish' });
  }
  if (exitCode !== 0) {
    for (const name of listed) {
      if (!results.has(name)) results.set(name, { name, outcome: 'fail', seconds: 0, note: 'not run' });
    }
  }
  return { results, exitCode, seconds };
}

/** @param {Run} run */
export function counts(run) {
  const c = { pass: 0, fail: 0, skip: 0 };
  for (const r of run.results.values()) c[r.outcome] += 1;
  return c;
}

/** @param {Run} run @returns {string[]} failing test names, sorted */
export function failures(run) {
  return [...run.results.values()]
    .filter((r) => r.outcome === 'fail')
    .map((r) => r.name)
    .sort();
}
