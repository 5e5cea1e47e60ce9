// The expected-failure list (test/conformance/expected-failures.txt).
// One entry a line: NAME SCOPE REASON...
//   NAME    a test name as `go test -v` prints it; it also covers its subtests
//   SCOPE   `both`   fails with the Go shim too under this harness (stand-in
//                    image, machine, containerd itself): not a tsshim gap
//           `flaky`  fails now and then with either shim, for a reason outside
//                    the runtime (never reported as "passes now")
//           `tsshim` a tsshim gap; the reason names the open issue ("issue N")
//   REASON  free text, required
// Blank lines and lines starting with # are ignored.
import { readFileSync } from 'node:fs';

/** @typedef {{ name: string, scope: 'both' | 'flaky' | 'tsshim', reason: string, line: number }} Entry */

export class ExpectedFailureError extends Error {}

/**
 * The lines of a list file that hold an entry (blank lines and # comments dropped), trimmed, with
 * their 1-based line numbers.
 * @param {string} file @returns {{ text: string, line: number }[]}
 */
function entryLines(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((raw, i) => ({ text: raw.trim(), line: i + 1 }))
    .filter(({ text }) => text !== '' && !text.startsWith('#'));
}

/** @param {string} file @returns {Entry[]} */
export function loadExpected(file) {
  return entryLines(file).map(({ text, line }) => {
    const m = /^(\S+)\s+(both|flaky|tsshim)\s+(\S.*)$/.exec(text);
    if (!m) throw new ExpectedFailureError(`${file}:${line}: want "NAME both|flaky|tsshim REASON", got: ${text}`);
    const [, name, scope, reason] = /** @type {[string, string, Entry['scope'], string]} */ (m);
    if (scope === 'tsshim' && !/\bissue \d+\b/.test(reason)) {
      throw new ExpectedFailureError(`${file}:${line}: a tsshim entry must name its open issue ("issue N"): ${text}`);
    }
    return { name, scope, reason, line };
  });
}

/**
 * The entry that covers a failing test: its own, or one of a parent test.
 * @param {Entry[]} entries @param {string} test @param {(e: Entry) => boolean} usable
 */
export function entryFor(entries, test, usable) {
  return entries.find((e) => usable(e) && (e.name === test || test.startsWith(`${e.name}/`)));
}

/**
 * Failures no entry covers. A parent test that has failing subtests is judged
 * by them (each uncovered subtest is reported itself), so it is never listed.
 * @param {string[]} failing @param {Entry[]} entries @param {(e: Entry) => boolean} usable
 */
export function uncovered(failing, entries, usable) {
  return failing.filter((t) => !entryFor(entries, t, usable) && !failing.some((c) => c.startsWith(`${t}/`)));
}

/**
 * A skip list (cri-skip.txt): one `NAME REASON...` a line, NAME a top-level
 * test; blank lines and # comments ignored.
 * @param {string} file @returns {{ name: string, reason: string }[]}
 */
export function loadSkipList(file) {
  return entryLines(file).map(({ text, line }) => {
    const m = /^(Test\w*)\s+(\S.*)$/.exec(text);
    if (!m) throw new ExpectedFailureError(`${file}:${line}: want "TestName REASON", got: ${text}`);
    return { name: /** @type {string} */ (m[1]), reason: /** @type {string} */ (m[2]) };
  });
}
