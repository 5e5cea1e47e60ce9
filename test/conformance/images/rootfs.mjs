// Staging trees for the stand-in images, built from Debian's busybox-static.
// Each function fills an empty directory; ownership and modes are real (we are
// root) so that `tar --numeric-owner` records them as the upstream images have them.
import { chmodSync, chownSync, copyFileSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';

// Users and groups of the upstream busybox images (buildroot's skeleton).
const BUSYBOX_PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const BUSYBOX_GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;
const BUSYBOX_SHADOW = `${BUSYBOX_PASSWD.split('\n')
  .filter(Boolean)
  .map((line) => `${line.split(':')[0]}:*:10933:0:99999:7:::`)
  .join('\n')}\n`;

// Debian's busybox `nc` ignores SIGTERM, and as PID 1 of a container an
// unhandled SIGTERM does nothing, so `nc -l` would never stop when the suite
// kills it. The upstream image's nc does stop. This wrapper stays PID 1, runs
// the real applet as its child and exits 143 (128+SIGTERM) on SIGTERM.
const NC_WRAPPER = `#!/bin/sh
trap 'kill "$child" 2>/dev/null; exit 143' TERM INT
/bin/busybox nc "$@" <&0 &
child=$!
wait "$child"
`;

// The CRI suite runs the pause image as every pod's sandbox: like the real one it
// sleeps as PID 1 until SIGTERM or SIGINT, then exits 0, and reaps what it inherits. It is
// a static C program, not a shell script: PID 1 ignores a signal it has no handler for, and
// a script's trap comes too late for a test that signals the sandbox right after it started
// (TestSandboxRemoveWithoutIPLeakage: `kill <pid>` a few ms after RunPodSandbox).
const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
`;

/** Compiles the stand-in pause (static, so it needs nothing in the image) into `path`. */
function buildPause(path) {
  const src = `${path}.c`;
  writeFileSync(src, PAUSE_C);
  try {
    execFileSync('cc', ['-static', '-O2', '-o', path, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  } finally {
    rmSync(src, { force: true });
  }
}

/** @param {string} path @param {string} text @param {number} mode */
function writeFile(path, text, mode) {
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** @param {string} root @param {string[]} dirs @param {number} mode */
function mkdirs(root, dirs, mode = 0o755) {
  for (const d of dirs) {
    mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, d), mode);
  }
}

/** The applets this busybox provides, by name. */
function appletNames() {
  return execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/**
 * Like ghcr.io/containerd/busybox: every applet in /bin as a hard link to
 * /bin/busybox, upstream's /etc/passwd, /etc/group and /etc/shadow.
 * @param {string} root
 */
export function stageBusybox(root) {
  mkdirs(root, ['bin', 'dev', 'etc', 'home', 'proc', 'sys', 'usr/sbin', 'var/spool/mail', 'var/www']);
  mkdirs(root, ['root'], 0o700);
  mkdirs(root, ['tmp'], 0o1777);
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of appletNames()) {
    if (applet === 'busybox' || applet === 'nc') continue;
    linkSync(join(root, 'bin/busybox'), join(root, 'bin', applet));
  }
  writeFile(join(root, 'bin/nc'), NC_WRAPPER, 0o755);
  writeFile(join(root, 'etc/passwd'), BUSYBOX_PASSWD, 0o644);
  writeFile(join(root, 'etc/group'), BUSYBOX_GROUP, 0o644);
  writeFile(join(root, 'etc/shadow'), BUSYBOX_SHADOW, 0o640);
}

/**
 * Second layer of ghcr.io/containerd/volume-copy-up: a directory declared as
 * a volume, holding a file whose content the copy-up must preserve.
 * @param {string} root
 */
export function stageVolumeCopyUp(root) {
  // The CRI suite also expects the upstream image's two oddly named volumes.
  mkdirs(root, ['test_dir', ':colon_prefixed', 'C:/weird_test_dir']);
  writeFile(join(root, 'test_dir/test_file'), 'test_content\n', 0o644);
  writeFile(join(root, ':colon_prefixed/colon_prefixed_file'), 'test_content\n', 0o644);
  writeFile(join(root, 'C:/weird_test_dir/weird_test_file'), 'test_content\n', 0o644);
}

// The upstream image is Ubuntu based: Debian's users, `bash`, a setuid passwd.
const DEBIAN_PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`;
const DEBIAN_GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
mail:x:8:
www-data:x:33:
backup:x:34:
users:x:100:
nogroup:x:65534:
`;

/**
 * Top layer of ghcr.io/containerd/volume-ownership over the busybox layer:
 * Debian's users (the suite runs as uid 34 "backup"), a `bash` (busybox has
 * none: a script handing over to sh), a setuid /usr/bin/passwd, and a volume
 * directory owned by nobody:nogroup.
 * @param {string} root
 */
export function stageVolumeOwnership(root) {
  // Ubuntu's top-level directories: a read-only rootfs needs /run to exist.
  mkdirs(root, ['bin', 'boot', 'etc', 'media', 'mnt', 'opt', 'run', 'srv', 'usr/bin', 'var/backups', 'test_dir']);
  writeFile(join(root, 'bin/bash'), '#!/bin/sh\nexec /bin/sh "$@"\n', 0o755);
  writeFile(join(root, 'usr/bin/passwd'), '#!/bin/sh\necho "passwd: stand-in" >&2\nexit 1\n', 0o4755);
  writeFile(join(root, 'etc/passwd'), DEBIAN_PASSWD, 0o644);
  writeFile(join(root, 'etc/group'), DEBIAN_GROUP, 0o644);
  writeFile(join(root, 'test_dir/test_file'), 'test_content\n', 0o644);
  chownSync(join(root, 'test_dir'), 65534, 65534);
  chownSync(join(root, 'test_dir/test_file'), 65534, 65534);
}

/**
 * The pause images: /pause (the CRI suite's sandbox, see PAUSE_C) and busybox.
 * @param {string} root
 */
export function stagePause(root) {
  mkdirs(root, ['bin']);
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  buildPause(join(root, 'pause'));
}

/**
 * Content for a manifest of a platform this machine cannot run: one small
 * file naming it, so that each platform has its own distinct layer.
 * @param {string} root @param {string} label
 */
export function stageForeign(root, label) {
  writeFile(join(root, 'platform.txt'), `${label}\n`, 0o644);
}
