// A content-addressed blob directory (blobs/sha256/<hex>) and the layer,
// config, manifest and index documents the stand-in images are made of.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @typedef {{ mediaType: string, digest: string, size: number, platform?: Platform }} Descriptor */
/** @typedef {{ os: string, architecture: string, variant?: string, 'os.version'?: string }} Platform */
/** @typedef {{ diffId: string, descriptor: Descriptor }} Layer */

export const MEDIA = {
  docker: {
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
  oci: {
    index: 'application/vnd.oci.image.index.v1+json',
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
};

// Fixed timestamps keep the digests identical from one build to the next.
const EPOCH = '2024-01-01T00:00:00Z';

/** @param {Buffer} data */
const sha256 = (data) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export class BlobStore {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = join(dir, 'blobs/sha256');
    mkdirSync(this.dir, { recursive: true });
  }

  /** @param {Buffer} data @param {string} mediaType @returns {Descriptor} */
  put(data, mediaType) {
    const digest = sha256(data);
    writeFileSync(join(this.dir, digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  }

  /** @param {unknown} doc @param {string} mediaType */
  putJson(doc, mediaType) {
    return this.put(Buffer.from(JSON.stringify(doc)), mediaType);
  }

  /**
   * Builds a tree with `stage` in a scratch directory, tars it (hard links,
   * numeric owners and modes kept, sorted, fixed mtimes) and gzips it.
   * @param {(root: string) => void} stage @param {string} mediaType @returns {Layer}
   */
  layer(stage, mediaType) {
    const scratch = mkdtempSync(join(tmpdir(), 'tsshim-layer-'));
    try {
      stage(scratch);
      const entries = readdirSync(scratch).sort();
      const tar = execFileSync(
        'tar',
        [
          '--create',
          '--format=posix',
          '--numeric-owner',
          '--sort=name',
          `--mtime=${EPOCH}`,
          '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
          '-C',
          scratch,
          '--',
          ...entries,
        ],
        { maxBuffer: 1 << 28 },
      );
      const gz = execFileSync('gzip', ['-n', '-9'], { input: tar, maxBuffer: 1 << 28 });
      return { diffId: sha256(tar), descriptor: this.put(gz, mediaType) };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * @param {BlobStore} store @param {typeof MEDIA.oci} media @param {Platform} platform
 * @param {Layer[]} layers @param {Record<string, unknown>} runConfig
 * @returns {Descriptor} the manifest, with its platform
 */
export function manifest(store, media, platform, layers, runConfig) {
  const config = store.putJson(
    {
      created: EPOCH,
      ...platform,
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: EPOCH, created_by: 'tsshim conformance stand-in' })),
    },
    media.config,
  );
  const doc = { schemaVersion: 2, mediaType: media.manifest, config, layers: layers.map((l) => l.descriptor) };
  return { ...store.putJson(doc, media.manifest), platform };
}

/** @param {BlobStore} store @param {typeof MEDIA.oci} media @param {Descriptor[]} manifests */
export function index(store, media, manifests) {
  return store.putJson({ schemaVersion: 2, mediaType: media.index, manifests }, media.index);
}
