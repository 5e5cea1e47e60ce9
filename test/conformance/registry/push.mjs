#!/usr/bin/env node
// Pushes the stand-in images (images/build.mjs output) to the local registry
// with the distribution API: blobs first, then each platform manifest by
// digest, then the index under its tag. The repository is the reference's path
// without its host (ghcr.io/containerd/busybox -> containerd/busybox), since
// the proxy sends every allowed host to this one registry.
// Usage: push.mjs IMAGES_DIR REGISTRY_PORT CA_FILE
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [imagesDir, portArg, caFile] = process.argv.slice(2);
if (!imagesDir || !portArg || !caFile) {
  process.stderr.write('usage: push.mjs IMAGES_DIR REGISTRY_PORT CA_FILE\n');
  process.exit(2);
}
const ca = readFileSync(caFile);
const base = `https://127.0.0.1:${Number(portArg)}`;

/** @typedef {{ mediaType: string, digest: string, size: number }} Descriptor */

/** @param {string} digest */
const blob = (digest) => readFileSync(join(imagesDir, 'blobs/sha256', digest.slice('sha256:'.length)));

/**
 * @param {string} method @param {string} url @param {Buffer | undefined} body @param {Record<string, string>} headers
 * @returns {Promise<{ status: number, location: string | undefined, text: string }>}
 */
function call(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url, base), { method, ca, headers: { ...headers, 'content-length': String(body?.length ?? 0) } }, (res) => {
      const chunks = /** @type {Buffer[]} */ ([]);
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** @param {{ status: number, text: string }} res @param {number} want @param {string} what */
function expect(res, want, what) {
  if (res.status !== want) throw new Error(`push: ${what}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
}

/** @param {string} repo @param {Descriptor} desc */
async function pushBlob(repo, desc) {
  const head = await call('HEAD', `/v2/${repo}/blobs/${desc.digest}`, undefined);
  if (head.status === 200) return;
  const start = await call('POST', `/v2/${repo}/blobs/uploads/`, undefined);
  expect(start, 202, `start upload to ${repo}`);
  if (!start.location) throw new Error(`push: no upload location from ${repo}`);
  const url = new URL(start.location, base);
  url.searchParams.set('digest', desc.digest);
  expect(
    await call('PUT', url.toString(), blob(desc.digest), { 'content-type': 'application/octet-stream' }),
    201,
    `blob ${desc.digest} to ${repo}`,
  );
}

/** @param {string} repo @param {string} reference @param {Descriptor} desc */
async function pushManifest(repo, reference, desc) {
  expect(
    await call('PUT', `/v2/${repo}/manifests/${reference}`, blob(desc.digest), { 'content-type': desc.mediaType }),
    201,
    `manifest ${reference} to ${repo}`,
  );
}

/** @type {Record<string, Descriptor>} */
const images = JSON.parse(readFileSync(join(imagesDir, 'images.json'), 'utf8'));
for (const [ref, indexDesc] of Object.entries(images)) {
  const slash = ref.indexOf('/');
  const colon = ref.lastIndexOf(':');
  const repo = ref.slice(slash + 1, colon);
  const tag = ref.slice(colon + 1);
  /** @type {{ manifests: Descriptor[] }} */
  const index = JSON.parse(blob(indexDesc.digest).toString());
  for (const m of index.manifests) {
    /** @type {{ config: Descriptor, layers: Descriptor[] }} */
    const manifest = JSON.parse(blob(m.digest).toString());
    for (const d of [manifest.config, ...manifest.layers]) await pushBlob(repo, d);
    await pushManifest(repo, m.digest, m);
  }
  await pushManifest(repo, tag, indexDesc);
}
process.stderr.write(`conformance: pushed ${Object.keys(images).length} images to ${base}\n`);
