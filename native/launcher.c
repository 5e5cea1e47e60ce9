// containerd-shim-tsshim-v2: the executable containerd runs. It holds no shim logic (that is all
// in TypeScript, src/shim/); it only saves a Node start where one is not needed:
//
//   delete  prints <bundle>/delete-response.pb when the daemon left it there (the daemon writes
//           it after it deleted the container itself, so there is nothing left to clean up);
//   start   hands the call to the spare daemon of this containerd, if one listens: the spare
//           gets our argv, environment, working directory and stdio fds and answers on our
//           stdout itself; we only relay its exit status;
//   else    execs Node on <our directory>/current/shim.mjs, as the shell launcher did.
//
// Two layouts, chosen when compiled: a clone's dist/ (TSSHIM_ENTRY "current/shim.mjs", a symlink a
// rebuild switches) and the npm package (scripts/pack.mjs: "<build id>/shim.mjs", a plain directory,
// since npm keeps no symlinks). Either way the entry's real path names one build.
//
// The spare answers 'A' (it will answer the call) or 'D' (run it yourself) before it touches
// anything, and acts only after our 'G': so falling back to Node after 'D', a refused connection,
// a silent close or a slow answer never runs a call twice. docs/architecture.md "Start-up and density" has the
// protocol and the measurements behind it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

// The Node to run: an absolute path (the build's own Node) is used when it is executable, anything
// else is looked up on PATH; TSSHIM_NODE in the environment overrides both.
#ifndef TSSHIM_NODE
#define TSSHIM_NODE "node"
#endif
// The entry, relative to the launcher's directory.
#ifndef TSSHIM_ENTRY
#define TSSHIM_ENTRY "current/shim.mjs"
#endif

extern char **environ;

// Where the spare of each containerd listens (beside containerd's shim sockets in /run/containerd/s).
static const char spare_dir[] = "/run/containerd/tsshim";
// How long a spare may take to say 'A' or 'D'; an idle spare answers at once.
static const int decision_timeout_ms = 2000;

// FNV-1a, 64 bit: names the spare socket of a containerd address (src/shim/spare-address.ts
// computes the same; a collision only costs a 'D').
static uint64_t fnv1a64(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The value of a string flag (`-name v`, `-name=v`, `--name v`, `--name=v`), or NULL. Stops at
// the first non-flag word, like Go's flag package; *action gets that word.
static const char *flag_value(int argc, char **argv, const char *name, const char **action) {
  static const char *const string_flags[] = {"namespace", "address", "publish-binary", "id", "bundle", "socket", "debug-socket", NULL};
  const char *found = NULL;
  *action = NULL;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    if (strcmp(w, "--") == 0) {
      *action = i + 1 < argc ? argv[i + 1] : NULL;
      return found;
    }
    if (w[0] != '-' || w[1] == '\0') {
      *action = w;
      return found;
    }
    const char *body = w + (w[1] == '-' ? 2 : 1);
    const char *eq = strchr(body, '=');
    size_t len = eq ? (size_t)(eq - body) : strlen(body);
    int takes_value = 0;
    for (const char *const *f = string_flags; *f; f++) {
      if (strlen(*f) == len && strncmp(*f, body, len) == 0) takes_value = 1;
    }
    const char *value = NULL;
    if (eq) value = eq + 1;
    else if (takes_value && i + 1 < argc) value = argv[++i];
    if (takes_value && value && strlen(name) == len && strncmp(name, body, len) == 0) found = value;
  }
  return found;
}

// Writes all of `buf`; to a socket with MSG_NOSIGNAL, so a peer that went away is an error, not SIGPIPE.
static int write_all_to(int fd, const void *buf, size_t len, int is_socket) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = is_socket ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}
#define write_all(fd, buf, len) write_all_to(fd, buf, len, 0)
#define send_all(sock, buf, len) write_all_to(sock, buf, len, 1)


// delete: print the response the daemon left. Returns only when there is none.
static void try_saved_delete_response(int argc, char **argv) {
  const char *action;
  const char *bundle = flag_value(argc, argv, "bundle", &action);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/delete-response.pb", bundle && *bundle ? bundle : ".") >= (int)sizeof path) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[512];  // a DeleteResponse is three small fields
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0 || (size_t)n == sizeof buf) return;  // unreadable or not what the daemon writes
  if (write_all(1, buf, (size_t)n) != 0) _exit(1);
  _exit(0);
}

// Appends `s` and its NUL to the request buffer.
struct buf {
  char *data;
  size_t len, cap;
};
static int put(struct buf *b, const char *s) {
  size_t n = strlen(s) + 1;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int read_byte(int fd, int timeout_ms, unsigned char *out) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do {
    r = poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return -1;
  ssize_t n;
  do {
    n = read(fd, out, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

static int read_exact(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, decision_timeout_ms) <= 0) return -1;
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

// The spare that took our call became a daemon and tells us how to start the next one:
// u32le length, then NUL-terminated strings: nice, file, argv0, argc, args..., env...
// Started detached (own session, reparented when our child exits), its stdio on /dev/null.
static void start_next_spare(int sock) {
  unsigned char len_bytes[4];
  if (read_exact(sock, len_bytes, 4) != 0) return;
  size_t len = (size_t)len_bytes[0] | (size_t)len_bytes[1] << 8 | (size_t)len_bytes[2] << 16 | (size_t)len_bytes[3] << 24;
  if (len == 0 || len > (1 << 20)) return;
  char *data = malloc(len + 1);
  if (!data) return;
  if (read_exact(sock, data, len) != 0 || data[len - 1] != '\0') {
    free(data);
    return;
  }
  data[len] = '\0';
  size_t count = 0;
  for (size_t i = 0; i < len; i++) count += data[i] == '\0';
  char **strings = calloc(count + 1, sizeof *strings);
  if (!strings) {
    free(data);
    return;
  }
  for (size_t i = 0, k = 0; i < len; i += strlen(data + i) + 1) strings[k++] = data + i;
  long argc = count >= 4 ? strtol(strings[3], NULL, 10) : -1;
  if (argc < 0 || (size_t)argc + 4 > count) {
    free(strings);
    free(data);
    return;
  }
  int nice_value = atoi(strings[0]);
  const char *file = strings[1];
  char **argv = calloc((size_t)argc + 2, sizeof *argv);
  if (!argv) {
    free(strings);
    free(data);
    return;
  }
  argv[0] = strings[2];
  for (long i = 0; i < argc; i++) argv[i + 1] = strings[4 + i];
  char **envp = strings + 4 + argc;
  pid_t child = fork();
  if (child == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (null > 2) close(null);
    }
    if (chdir("/") != 0) _exit(127);
    (void)!setpriority(PRIO_PROCESS, 0, nice_value);
    execve(file, argv, envp);
    _exit(127);
  }
  if (child > 0) {
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  free(argv);
  free(strings);
  free(data);
}

// start: hand the call to the spare. Returns only when it declined or none listens.
static void try_spare_start(int argc, char **argv, const char *entry) {
  const char *no = getenv("TSSHIM_SPARES");
  if (no && strcmp(no, "0") == 0) return;
  const char *action;
  const char *address = flag_value(argc, argv, "address", &action);
  if (!address || !*address) return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/tsshim-spare-%016llx", spare_dir, (unsigned long long)fnv1a64(address));
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  if (connect(sock, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(sock);
    return;
  }
  // The request: "tsshim-start-1", entry, cwd, argc, argv..., env... (NUL-terminated strings),
  // after a 4-byte little-endian length; our fds 0, 1, 2 ride along with it.
  struct buf b = {0};
  char cwd[PATH_MAX], count[16];
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  snprintf(count, sizeof count, "%d", argc);
  int bad = put(&b, "tsshim-start-1") || put(&b, entry) || put(&b, cwd) || put(&b, count);
  for (int i = 0; i < argc && !bad; i++) bad = put(&b, argv[i]);
  for (char **e = environ; *e && !bad; e++) bad = put(&b, *e);
  if (bad || b.len > 0x7fffffff) {
    close(sock);
    free(b.data);
    return;
  }
  unsigned char header[4] = {(unsigned char)b.len, (unsigned char)(b.len >> 8), (unsigned char)(b.len >> 16), (unsigned char)(b.len >> 24)};
  int fds[3] = {0, 1, 2};
  union {
    char buf[CMSG_SPACE(sizeof fds)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = header, .iov_len = sizeof header};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t sent;
  do {
    sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  int ok = sent == (ssize_t)sizeof header;
  // The spare reads the request only after it has seen the header, so this cannot block for long.
  if (ok) ok = send_all(sock, b.data, b.len) == 0;
  free(b.data);
  unsigned char decision;
  if (!ok || read_byte(sock, decision_timeout_ms, &decision) != 0 || decision != 'A' || send_all(sock, "G", 1) != 0) {
    close(sock);
    return;  // declined, or gone before it decided: nothing was done, run the call ourselves
  }
  // From 'G' on the spare answers the call; we only wait for it.
  unsigned char status;
  if (read_byte(sock, -1, &status) != 0) {
    static const char msg_lost[] = "tsshim: the spare daemon ended while it handled start\n";
    (void)!write(2, msg_lost, sizeof msg_lost - 1);
    _exit(1);
  }
  unsigned char next;
  if (read_byte(sock, decision_timeout_ms, &next) == 0 && next == 'S') start_next_spare(sock);
  _exit(status);
}

int main(int argc, char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    perror("containerd-shim-tsshim-v2: readlink /proc/self/exe");
    return 1;
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  *slash = '\0';
  char entry[PATH_MAX];
  if (snprintf(entry, sizeof entry, "%s/%s", self, TSSHIM_ENTRY) >= (int)sizeof entry) return 1;
  // The entry's real path names the build: a spare of another build declines.
  char real_entry[PATH_MAX];
  if (!realpath(entry, real_entry)) snprintf(real_entry, sizeof real_entry, "%s", entry);

  const char *action;
  flag_value(argc, argv, "", &action);
  if (action && strcmp(action, "delete") == 0) try_saved_delete_response(argc, argv);
  if (action && strcmp(action, "start") == 0) try_spare_start(argc, argv, real_entry);

  // Node: what its start-up would pay for and the shim never uses (DESIGN: Decision 4).
  unsetenv("NODE_EXTRA_CA_CERTS");
  unsetenv("NODE_OPTIONS");
  const char *node = getenv("TSSHIM_NODE");
  if (!node || !*node) node = TSSHIM_NODE[0] == '/' && access(TSSHIM_NODE, X_OK) != 0 ? "node" : TSSHIM_NODE;
  char **args = calloc((size_t)argc + 4, sizeof *args);
  if (!args) return 1;
  args[0] = (char *)node;
  args[1] = "--v8-pool-size=1";
  args[2] = real_entry;
  for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
  execvp(node, args);
  fprintf(stderr, "containerd-shim-tsshim-v2: cannot run %s: %s\n", node, strerror(errno));
  return 127;
}
