#!/usr/bin/env node
// Builds the stand-ins for the images containerd's integration/client and CRI
// integration suites pull by fixed public names, into OUT/blobs/sha256 plus OUT/images.json
// (reference -> index descriptor). Usage: build.mjs OUT
//
// Which images and why (read from the suite's source, integration/images and
// integration/client):
//   ghcr.io/containerd/busybox:1.36       the test image nearly every test runs;
//                                         multi-platform (export tests need the
//                                         other platforms to be absent locally)
//   ghcr.io/containerd/volume-copy-up:2.2 multi-layer image (export/import, idmapped overlay)
//   ghcr.io/containerd/volume-ownership:2.1  user namespace tests (uid 34, bash, setuid passwd)
//   registry.k8s.io/pause:3.10, :3.6      all platforms with distinct layers (the client
//                                         suite's image usage tests); 3.10 is the CRI
//                                         suite's sandbox image: /pause sleeps until SIGTERM
//   registry.k8s.io/e2e-test-images/busybox:1.29-2  pull of some platforms only
//   ghcr.io/containerd/windows/nanoserver:1809      must fail to unpack on Linux
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore, MEDIA, index, manifest } from './blobs.mjs';
import { stageBusybox, stageForeign, stagePause, stageVolumeCopyUp, stageVolumeOwnership } from './rootfs.mjs';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: build.mjs OUT_DIR\n');
  process.exit(2);
}
const store = new BlobStore(out);
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const amd64 = { os: 'linux', architecture: 'amd64' };
const FOREIGN = [
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'linux', architecture: 's390x' },
];

/** @param {import('./blobs.mjs').Platform} p */
const label = (p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * Manifests for platforms this machine cannot run, each with its own layer.
 * @param {typeof MEDIA.oci} media @param {string} ref @param {import('./blobs.mjs').Platform[]} platforms
 */
function foreignManifests(media, ref, platforms) {
  return platforms.map((p) =>
    manifest(store, media, p, [store.layer((root) => stageForeign(root, `${ref} ${label(p)}`), media.layer)], { Env: [PATH_ENV] }),
  );
}

/** @type {Record<string, import('./blobs.mjs').Descriptor>} */
const images = {};

const busyboxDocker = store.layer(stageBusybox, MEDIA.docker.layer);
const busyboxOci = store.layer(stageBusybox, MEDIA.oci.layer);
const shell = { Env: [PATH_ENV], Cmd: ['sh'] };

{
  const ref = 'ghcr.io/containerd/busybox:1.36';
  images[ref] = index(store, MEDIA.docker, [
    manifest(store, MEDIA.docker, amd64, [busyboxDocker], shell),
    ...foreignManifests(MEDIA.docker, ref, FOREIGN),
  ]);
}
{
  const ref = 'ghcr.io/containerd/volume-copy-up:2.2';
  const top = store.layer(stageVolumeCopyUp, MEDIA.oci.layer);
  images[ref] = index(store, MEDIA.oci, [
    manifest(store, MEDIA.oci, amd64, [busyboxOci, top], {
      ...shell,
      Volumes: { '/test_dir': {}, '/:colon_prefixed': {}, '/C:/weird_test_dir': {} },
    }),
    ...foreignManifests(MEDIA.oci, ref, FOREIGN.slice(1)),
  ]);
}
{
  const ref = 'ghcr.io/containerd/volume-ownership:2.1';
  const top = store.layer(stageVolumeOwnership, MEDIA.oci.layer);
  images[ref] = index(store, MEDIA.oci, [
    manifest(store, MEDIA.oci, amd64, [busyboxOci, top], { Env: [PATH_ENV], Cmd: ['bash'], Volumes: { '/test_dir': {} } }),
    ...foreignManifests(MEDIA.oci, ref, FOREIGN.slice(1)),
  ]);
}
for (const tag of ['3.10', '3.6']) {
  const ref = `registry.k8s.io/pause:${tag}`;
  const media = tag === '3.6' ? MEDIA.docker : MEDIA.oci;
  const pause = store.layer(stagePause, media.layer);
  images[ref] = index(store, media, [
    manifest(store, media, amd64, [pause], { Env: [PATH_ENV], Entrypoint: ['/pause'] }),
    ...foreignManifests(media, ref, FOREIGN),
  ]);
}
{
  const ref = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
  images[ref] = index(store, MEDIA.docker, [
    manifest(store, MEDIA.docker, amd64, [busyboxDocker], shell),
    ...foreignManifests(MEDIA.docker, ref, FOREIGN),
  ]);
}
{
  const ref = 'ghcr.io/containerd/windows/nanoserver:1809';
  const windows = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.0' };
  images[ref] = index(store, MEDIA.docker, foreignManifests(MEDIA.docker, ref, [windows]));
}

writeFileSync(join(out, 'images.json'), `${JSON.stringify(images, null, 2)}\n`);
process.stderr.write(`conformance: built ${Object.keys(images).length} stand-in images in ${out}\n`);
