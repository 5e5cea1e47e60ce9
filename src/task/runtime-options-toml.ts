// The TOML that CRI hands a non-runc runtime in runtimeoptions.v1.Options (`config_body`, or
// the file at `config_path`): the runtime handler's `options` table (docs/protocol.md §14). We read
// the keys a runc shim understands, spelled as in containerd's runc options (BinaryName, ...)
// or in snake case (binary_name, ...). Only flat `key = value` lines occur in that table.
import { invalidArgument } from '../shim/errdefs.js';
import type { TaskOptions } from './bundle-files.js';

type TomlValue = string | number | boolean;

/** Parses flat `key = value` TOML lines (strings, integers, booleans); tables and arrays are refused. */
export function parseFlatToml(text: string): Map<string, TomlValue> {
  const values = new Map<string, TomlValue>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z0-9_.-]+|"[^"]*")\s*=\s*(.+)$/.exec(line);
    if (!match) throw invalidArgument(`runtime options TOML line ${index + 1} is not "key = value": ${line}`);
    const key = match[1]!.replace(/^"|"$/g, '');
    values.set(key, parseValue(match[2]!.replace(/\s+#.*$/, ''), index + 1));
  }
  return values;
}

function parseValue(text: string, line: number): TomlValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^[+-]?\d[\d_]*$/.test(text)) return Number(text.replace(/_/g, ''));
  const basic = /^"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (basic) return JSON.parse(`"${basic[1]}"`) as string;
  const literal = /^'([^']*)'$/.exec(text);
  if (literal) return literal[1]!;
  throw invalidArgument(`runtime options TOML line ${line}: unsupported value ${text}`);
}

const keys: Record<keyof TaskOptions, readonly string[]> = {
  binaryName: ['BinaryName', 'binary_name'],
  root: ['Root', 'root'],
  systemdCgroup: ['SystemdCgroup', 'systemd_cgroup'],
  noPivotRoot: ['NoPivotRoot', 'no_pivot_root'],
  noNewKeyring: ['NoNewKeyring', 'no_new_keyring'],
  ioUid: ['IoUid', 'io_uid'],
  ioGid: ['IoGid', 'io_gid'],
  shimCgroup: ['ShimCgroup', 'shim_cgroup'],
  criuImagePath: ['CriuImagePath', 'criu_image_path'],
  criuWorkPath: ['CriuWorkPath', 'criu_work_path'],
  shimSharing: ['ShimSharing', 'shim_sharing'],
};

/** The values ShimSharing may take. */
const shimSharingValues = ['', 'pod', 'namespace'];

/** Applies the runc keys found in `toml` to `options` (unknown keys are left to other shims). */
export function applyTomlOptions(options: TaskOptions, toml: string): TaskOptions {
  const values = parseFlatToml(toml);
  for (const [field, names] of Object.entries(keys) as Array<[keyof TaskOptions, readonly string[]]>) {
    const name = names.find((n) => values.has(n));
    if (name === undefined) continue;
    const value = values.get(name)!;
    const expected = typeof options[field];
    if (typeof value !== expected) {
      throw invalidArgument(`runtime option ${name} must be a ${expected}, not ${JSON.stringify(value)}`);
    }
    if (field === 'shimSharing' && !shimSharingValues.includes(value as string)) {
      throw invalidArgument(`runtime option ${name} must be "pod" or "namespace", not ${JSON.stringify(value)}`);
    }
    (options as unknown as Record<string, TomlValue>)[field] = value;
  }
  return options;
}
