// containerd config.toml for a private e2e containerd.
// 1.6/1.7 read `version = 2`; 2.x reads `version = 3` (it would migrate 2, but 3 says what we mean).
// Every path that defaults to a host location (/opt/containerd, /var/run/nri, ...) is moved into the
// temp dir or its plugin disabled, so a test containerd leaves nothing behind.
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import type { ContainerdVersion } from './versions.js';

/** The README's paste-able snippets (containerd configs, RuntimeClass, daemon.json), each used by a test. */
export const docsDir = join(repoRoot, 'docs');

export interface ConfigInput {
  version: ContainerdVersion;
  root: string;
  state: string;
  address: string;
  ttrpcAddress: string;
  /** Directory for the opt plugin (defaults to /opt/containerd). */
  optDir: string;
  criEnabled: boolean;
  /** Sandbox image for CRI (the fixture's pause image). */
  pauseImage: string;
  /** CRI runtime handlers by name (default: runc -> io.containerd.runc.v2, tsshim -> io.containerd.tsshim.v2). */
  runtimeHandlers?: Readonly<Record<string, CriRuntimeHandler>>;
  /**
   * Raw TOML appended at the end (must match the config version's syntax). A runtime handler table it
   * defines (e.g. a README snippet's `...containerd.runtimes.tsshim`) replaces the handler of that name.
   */
  extraToml?: string;
}

/** One `containerd.runtimes.<handler>` entry of the CRI config. */
export interface CriRuntimeHandler {
  /** e.g. io.containerd.tsshim.v2 */
  runtimeType: string;
  /** Absolute path of the shim binary (otherwise found on PATH by runtime_type). */
  runtimePath?: string;
  /** Annotations CRI passes from the pod to the containers of this handler. */
  podAnnotations?: readonly string[];
  /** The `options` table: runc options for io.containerd.runc.v2, else sent as runtimeoptions.v1.Options. */
  options?: Readonly<Record<string, string | number | boolean>>;
}

export const defaultRuntimeHandlers: Readonly<Record<string, CriRuntimeHandler>> = {
  runc: { runtimeType: 'io.containerd.runc.v2' },
  tsshim: { runtimeType: 'io.containerd.tsshim.v2' },
};

const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;
const tomlValue = (v: string | number | boolean): string => (typeof v === 'string' ? q(v) : String(v));

/** Whether `toml` has a `[... .containerd.runtimes.<name>]` table (bare, "quoted" or 'quoted' name). */
export function definesRuntimeTable(toml: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\s*\\[[^\\]\\n]*\\.containerd\\.runtimes\\.(?:${escaped}|"${escaped}"|'${escaped}')\\s*\\]`, 'm').test(toml);
}

/** The `[<section>.<name>]` tables of the runtime handlers (same keys in config v2 and v3). */
function runtimeTables(section: string, handlers: Readonly<Record<string, CriRuntimeHandler>>, extraToml = ''): string {
  // TOML refuses a table defined twice: the appended TOML's own handler table wins.
  return Object.entries(handlers)
    .filter(([name]) => !definesRuntimeTable(extraToml, name))
    .map(([name, h]) => {
      let t = `[${section}.${q(name)}]\n  runtime_type = ${q(h.runtimeType)}\n`;
      if (h.runtimePath !== undefined) t += `  runtime_path = ${q(h.runtimePath)}\n`;
      if (h.podAnnotations !== undefined) t += `  pod_annotations = ${list(h.podAnnotations)}\n`;
      const options = Object.entries(h.options ?? {});
      if (options.length > 0) t += `[${section}.${q(name)}.options]\n${options.map(([k, v]) => `  ${k} = ${tomlValue(v)}\n`).join('')}`;
      return t;
    })
    .join('');
}

// Snapshotters that cannot work on this machine or in a temp root just add noise and start-up time.
const uselessSnapshotters = ['btrfs', 'zfs', 'devmapper', 'aufs', 'blockfile', 'erofs'].map((s) => `io.containerd.snapshotter.v1.${s}`);

function v2Config(c: ConfigInput): string {
  const disabled = [...uselessSnapshotters, 'io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp'];
  if (!c.criEnabled) disabled.push('io.containerd.grpc.v1.cri');
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const criSection = !c.criEnabled
    ? ''
    : `
[${cri}]
  sandbox_image = ${q(c.pauseImage)}
  # root here lacks CAP_SYS_RESOURCE: without this the pause container fails to start
  restrict_oom_score_adj = true
${c.version === '1.6' ? '' : '  netns_mounts_under_state_dir = true\n'}[${cri}.containerd]
  default_runtime_name = "runc"
${runtimeTables(`${cri}.containerd.runtimes`, c.runtimeHandlers ?? defaultRuntimeHandlers, c.extraToml)}`;
  return `version = 2
root = ${q(c.root)}
state = ${q(c.state)}
disabled_plugins = ${list(disabled)}

[grpc]
  address = ${q(c.address)}
[ttrpc]
  address = ${q(c.ttrpcAddress)}
[debug]
  level = "debug"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(c.optDir)}
${criSection}${c.extraToml ?? ''}
`;
}

function v3Config(c: ConfigInput): string {
  const disabled = [...uselessSnapshotters, 'io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp'];
  // 2.x splits CRI into several plugins; disabling them all keeps its sandbox controllers from loading too.
  if (!c.criEnabled)
    disabled.push(
      'io.containerd.grpc.v1.cri',
      'io.containerd.cri.v1.images',
      'io.containerd.cri.v1.runtime',
      'io.containerd.podsandbox.controller.v1.podsandbox',
    );
  const criSection = !c.criEnabled
    ? ''
    : `
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = ${q(c.pauseImage)}
[plugins.'io.containerd.cri.v1.runtime']
  # root here lacks CAP_SYS_RESOURCE: without this the pause container fails to start
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'
${runtimeTables(`plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes`, c.runtimeHandlers ?? defaultRuntimeHandlers, c.extraToml)}`;
  return `version = 3
root = ${q(c.root)}
state = ${q(c.state)}
disabled_plugins = ${list(disabled)}

[grpc]
  address = ${q(c.address)}
[ttrpc]
  address = ${q(c.ttrpcAddress)}
[debug]
  level = 'debug'
[metrics]
  address = ''

[plugins.'io.containerd.internal.v1.opt']
  path = ${q(c.optDir)}
[plugins.'io.containerd.image-verifier.v1.bindir']
  bin_dir = ${q(`${c.optDir}/image-verifier/bin`)}
${criSection}${c.extraToml ?? ''}
`;
}

export function renderContainerdConfig(c: ConfigInput): string {
  return c.version.startsWith('1.') ? v2Config(c) : v3Config(c);
}
