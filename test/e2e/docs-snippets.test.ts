// Issue #5 item 5: every snippet the README shows (docs/) works as pasted.
// - docs/containerd-1.x.toml (1.6, 1.7) and docs/containerd-2.x.toml (2.1) are appended unchanged to the
//   test containerd's config (it then defines no tsshim handler of its own) and a pod runs with the handler.
// - docs/runtimeclass.yaml: no kube-apiserver here, so the test does what the kubelet would: looks up the
//   pod's runtimeClassName, asks CRI for the RuntimeClass's handler and runs the pod's container.
// - docs/ctr-run.sh: its `ctr run` line runs as written (with the fixture image; no registry here).
// - docs/daemon.json is the exact file dockerd reads in docker.test.ts; here its content is checked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerConfig } from './clients/cri.js';
import {
  definesRuntimeTable,
  describeEachCri,
  docsDir,
  runtimes,
  shimBinaryName,
  readProcessStat,
  tsshimCriHandler,
  waitFor,
} from './harness/index.js';
import type { ContainerdVersion, CriSuite } from './harness/index.js';

const readDoc = (name: string): string => readFileSync(join(docsDir, name), 'utf8');

interface RuntimeTable {
  plugin: string;
  handler: string;
  runtimeType: string;
}

/** The CRI runtime handler table of a README TOML snippet: its plugin section, handler name and runtime_type. */
function runtimeTable(toml: string): RuntimeTable {
  const header = /^\[plugins\."([^"]+)"\.containerd\.runtimes\.([A-Za-z0-9_-]+)\]\s*$/m.exec(toml);
  const type = /^\s*runtime_type\s*=\s*"([^"]+)"\s*$/m.exec(toml);
  if (!header || !type) throw new Error(`no runtime handler table with a runtime_type in:\n${toml}`);
  return { plugin: header[1]!, handler: header[2]!, runtimeType: type[1]! };
}

/** The YAML documents of a manifest file, comments and blank lines dropped. */
function yamlDocuments(text: string): string[][] {
  return text
    .split(/^---\s*$/m)
    .map((doc) => doc.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')))
    .filter((lines) => lines.length > 0);
}

const indentOf = (line: string): number => line.length - line.trimStart().length;

/**
 * The scalar at a path of block-mapping keys (`['metadata', 'name']`), for the subset of YAML the docs
 * use; a key of '-' steps into the first item of a block sequence. Quoted scalars are unquoted; a flow
 * sequence of double-quoted strings is returned as its JSON text.
 */
function yamlValue(doc: readonly string[], path: readonly string[]): string | undefined {
  let lines = [...doc];
  let indent = 0;
  for (const [depth, key] of path.entries()) {
    const index = lines.findIndex(
      (l) => indentOf(l) === indent && (key === '-' ? l.trimStart().startsWith('- ') : l.trimStart().startsWith(`${key}:`)),
    );
    if (index < 0) return undefined;
    const line = lines[index]!;
    if (key === '-') {
      // "- name: x": the item's first key sits two columns in; treat it as the item's first line.
      lines = [' '.repeat(indent + 2) + line.trimStart().slice(2), ...lines.slice(index + 1)];
      const end = lines.slice(1).findIndex((l) => indentOf(l) <= indent);
      lines = end < 0 ? lines : lines.slice(0, end + 1);
      indent += 2;
      continue;
    }
    const value = line.slice(line.indexOf(':') + 1).trim();
    if (depth === path.length - 1) return value.replace(/^"(.*)"$|^'(.*)'$/, (_, d?: string, s?: string) => d ?? s ?? '');
    const rest = lines.slice(index + 1);
    const end = rest.findIndex((l) => indentOf(l) <= indent);
    lines = end < 0 ? rest : rest.slice(0, end);
    if (lines.length === 0) return undefined;
    indent = indentOf(lines[0]!);
  }
  return undefined;
}

function manifests(): { runtimeClass: readonly string[]; pod: readonly string[] } {
  const docs = yamlDocuments(readDoc('runtimeclass.yaml'));
  const ofKind = (kind: string): string[] => {
    const found = docs.filter((d) => yamlValue(d, ['kind']) === kind);
    if (found.length !== 1) throw new Error(`docs/runtimeclass.yaml: expected one ${kind}, found ${found.length}`);
    return found[0]!;
  };
  return { runtimeClass: ofKind('RuntimeClass'), pod: ofKind('Pod') };
}

describe('README snippets', () => {
  it('runtimeclass.yaml: a node.k8s.io/v1 RuntimeClass whose handler is the CRI handler tsshim, and a pod that selects it', () => {
    const { runtimeClass, pod } = manifests();
    expect(yamlValue(runtimeClass, ['apiVersion'])).toBe('node.k8s.io/v1');
    expect(yamlValue(runtimeClass, ['metadata', 'name'])).toBe('tsshim');
    expect(yamlValue(runtimeClass, ['handler'])).toBe(tsshimCriHandler);
    expect(yamlValue(pod, ['spec', 'runtimeClassName'])).toBe(yamlValue(runtimeClass, ['metadata', 'name']));
    expect(JSON.parse(yamlValue(pod, ['spec', 'containers', '-', 'command']) ?? 'null')).toEqual(['echo', 'hello from tsshim']);
  });

  it('the containerd snippets define that handler with runtime_type io.containerd.tsshim.v2 in the CRI section of their config version', () => {
    const v1 = runtimeTable(readDoc('containerd-1.x.toml'));
    const v2 = runtimeTable(readDoc('containerd-2.x.toml'));
    expect(v1).toEqual({ plugin: 'io.containerd.grpc.v1.cri', handler: tsshimCriHandler, runtimeType: runtimes.tsshim });
    expect(v2).toEqual({ plugin: 'io.containerd.cri.v1.runtime', handler: tsshimCriHandler, runtimeType: runtimes.tsshim });
  });

  it('daemon.json: runtime tsshim of runtimeType io.containerd.tsshim.v2 (dockerd reads this file in docker.test.ts)', () => {
    expect(JSON.parse(readDoc('daemon.json'))).toEqual({ runtimes: { tsshim: { runtimeType: runtimes.tsshim } } });
  });
});

/** The `ctr run ...` line of docs/ctr-run.sh as argv (plain words only, no quoting in it). */
function ctrRunLine(): string[] {
  const line = readDoc('ctr-run.sh')
    .split('\n')
    .find((l) => l.startsWith('ctr run '));
  if (!line) throw new Error('docs/ctr-run.sh has no "ctr run" line');
  return line.trim().split(/\s+/);
}

function podSnippetSuite(snippet: string, versions: readonly ContainerdVersion[]): void {
  describeEachCri(
    `README ${snippet}`,
    (suite: CriSuite) => {
      it('appended as is, it is the only tsshim handler in the config and runs a pod through tsshim', async () => {
        const text = readDoc(snippet);
        const config = readFileSync(suite.containerd.configPath, 'utf8');
        expect(config.endsWith(`${text}\n`)).toBe(true);
        expect(definesRuntimeTable(config.slice(0, config.length - text.length - 1), tsshimCriHandler)).toBe(false);

        // What the kubelet does with docs/runtimeclass.yaml: the pod's runtimeClassName -> the RuntimeClass's handler.
        const { runtimeClass, pod: podManifest } = manifests();
        const handler = yamlValue(runtimeClass, ['handler']);
        expect(handler).toBe(runtimeTable(text).handler);
        const name = yamlValue(podManifest, ['metadata', 'name'])!;
        const pod = suite.pod(name);
        const podId = await suite.cri.runPodSandbox(pod, handler!);
        expect((await suite.cri.podSandboxInfo(podId)).runtimeType).toBe(runtimes.tsshim);
        const command = JSON.parse(yamlValue(podManifest, ['spec', 'containers', '-', 'command'])!) as string[];
        const id = await suite.cri.createContainer(
          podId,
          containerConfig({
            name: yamlValue(podManifest, ['spec', 'containers', '-', 'name'])!,
            image: suite.fixtures.image,
            command,
            logPath: `${name}.log`,
          }),
          pod,
        );
        await suite.cri.startContainer(id);
        const exited = await suite.cri.waitForContainerState(id, 'CONTAINER_EXITED');
        expect(exited.exitCode).toBe(0);
        expect(readFileSync(join(suite.env.logDirectory, `${name}.log`), 'utf8')).toMatch(/ stdout F hello from tsshim\n$/);
        const pausePid = (await suite.cri.podSandboxInfo(podId)).pid;
        expect(suite.containerd.shims(shimBinaryName(runtimes.tsshim)).map((s) => s.pid)).toContain(readProcessStat(pausePid)?.ppid);
        await suite.cri.stopPodSandbox(podId);
        await suite.cri.removePodSandbox(podId);
      });

      it('the `ctr run --runtime io.containerd.tsshim.v2` line of docs/ctr-run.sh runs a container through tsshim', async () => {
        const argv = ctrRunLine();
        expect(argv.slice(0, 5)).toEqual(['ctr', 'run', '--rm', '--runtime', runtimes.tsshim]);
        // The docs pull busybox:latest from a registry; here the fixture busybox stands in for it (no network).
        const args = argv.slice(1).map((a) => (a === 'docker.io/library/busybox:latest' ? suite.fixtures.image : a));
        expect(args).toContain(suite.fixtures.image);
        const shimsSeen = new Set<number>();
        const watching = setInterval(() => {
          for (const s of suite.containerd.shims(shimBinaryName(runtimes.tsshim))) shimsSeen.add(s.pid);
        }, 25);
        try {
          expect(await suite.containerd.ctrOk(args, { namespace: 'k8s.io' })).toBe('hello from tsshim\n');
        } finally {
          clearInterval(watching);
        }
        expect(shimsSeen.size).toBeGreaterThan(0);
        expect(await waitFor(() => suite.containerd.shims(shimBinaryName(runtimes.tsshim)).length === 0, 10_000)).toBe(true);
      });
    },
    { onlyVersions: versions, extraToml: `\n${readDoc(snippet)}` },
  );
}

podSnippetSuite('containerd-1.x.toml', ['1.6', '1.7']);
podSnippetSuite('containerd-2.x.toml', ['2.1']);
