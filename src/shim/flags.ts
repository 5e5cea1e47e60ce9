// Command-line flags exactly as containerd passes them to a shim (docs/protocol.md §2.2, §2.3).
// containerd uses Go's `flag` syntax: `-name value`, `-name=value`, `--name value`, and
// bare `-debug` for booleans. Parsing stops at the first non-flag word (the action).

export interface ShimFlags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  socket: string;
  debugSocket: string;
  debug: boolean;
  version: boolean;
  info: boolean;
  /** `start`, `delete`, or '' for the daemon. */
  action: string;
}

export class FlagError extends Error {
  override name = 'FlagError';
}

const stringFlags = {
  namespace: 'namespace',
  address: 'address',
  'publish-binary': 'publishBinary',
  id: 'id',
  bundle: 'bundle',
  socket: 'socket',
  'debug-socket': 'debugSocket',
} as const satisfies Record<string, keyof ShimFlags>;

const boolFlags = { debug: 'debug', v: 'version', info: 'info' } as const satisfies Record<string, keyof ShimFlags>;

function isStringFlag(name: string): name is keyof typeof stringFlags {
  return Object.hasOwn(stringFlags, name);
}
function isBoolFlag(name: string): name is keyof typeof boolFlags {
  return Object.hasOwn(boolFlags, name);
}

export function parseFlags(argv: readonly string[]): ShimFlags {
  const flags: ShimFlags = {
    namespace: '',
    address: '',
    publishBinary: '',
    id: '',
    bundle: '',
    socket: '',
    debugSocket: '',
    debug: false,
    version: false,
    info: false,
    action: '',
  };
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    const body = word.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (isBoolFlag(name)) {
      if (inline !== undefined && !/^(1|0|t|f|true|false|TRUE|FALSE|True|False)$/.test(inline)) {
        throw new FlagError(`invalid boolean value "${inline}" for flag -${name}`);
      }
      flags[boolFlags[name]] = inline === undefined || /^(1|t|true)$/i.test(inline);
      i++;
    } else if (isStringFlag(name)) {
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
        value = argv[++i]!;
      }
      flags[stringFlags[name]] = value;
      i++;
    } else {
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
  }
  flags.action = argv[i] ?? '';
  return flags;
}
