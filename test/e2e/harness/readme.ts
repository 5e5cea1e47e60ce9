// The README's command blocks, read as the tests run them: every command the README shows a user is
// run by a test, unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** The `nth` (from 0) fenced block of `lang` under the heading line `heading` (e.g. '### The npm package ...'). */
export function readmeBlock(heading: string, lang = 'sh', nth = 0): string {
  const text = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const at = text.split('\n').findIndex((l) => l === heading || l.startsWith(`${heading} `));
  if (at < 0) throw new Error(`README.md has no heading "${heading}"`);
  const rest = text.split('\n').slice(at + 1);
  const opens = rest.flatMap((l, i) => (l === `\`\`\`${lang}` ? [i] : []));
  const open = opens[nth] ?? -1;
  const nextHeading = rest.findIndex((l) => /^#{1,3} /.test(l));
  if (open < 0 || (nextHeading >= 0 && nextHeading < open)) throw new Error(`README.md: no \`\`\`${lang} block under "${heading}"`);
  const close = rest.findIndex((l, i) => i > open && l === '```');
  return `${rest.slice(open + 1, close).join('\n')}\n`;
}
