// tsshim native addon: the few Linux calls Node cannot make (docs/architecture.md §12.1).
//
// Every function validates its arguments, checks every return value and throws an
// Error shaped like Node's system errors: message "<CODE>: <syscall>[ '<path>']: <text>",
// with .code (errno name), .errno (negative errno, as Node does), .syscall and .path.
// File descriptors created here are O_CLOEXEC and are closed on every error path.
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// ---------------------------------------------------------------------------
// Errors

// Throws the pending N-API failure if nothing else is pending. Returns NULL for `return`.
static napi_value throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "tsshim: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#define NAPI_CALL(env, call)                                 \
  do {                                                       \
    if ((call) != napi_ok) return throw_napi_failure(env, #call); \
  } while (0)

static const char *errno_name(int err, char *buf, size_t len) {
  const char *name = strerrorname_np(err);
  if (name) return name;
  snprintf(buf, len, "E%d", err);
  return buf;
}

// Builds (does not throw) a system error. code_name/errno_value describe the failure.
static napi_value make_sys_error(napi_env env, const char *code_name, int errno_value, const char *text,
                                 const char *syscall, const char *path) {
  char msg[1024];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s '%s': %s", code_name, syscall, path, text);
  else
    snprintf(msg, sizeof msg, "%s: %s: %s", code_name, syscall, text);
  napi_value code, message, error, num, sys, pth;
  if (napi_create_string_utf8(env, code_name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, code, message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, errno_value, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) == napi_ok)
    napi_set_named_property(env, error, "syscall", sys);
  if (path && napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &pth) == napi_ok)
    napi_set_named_property(env, error, "path", pth);
  return error;
}

// Throws the system error for errno `err`. Always returns NULL.
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char buf[16];
  napi_value error = make_sys_error(env, errno_name(err, buf, sizeof buf), -err, strerror(err), syscall, path);
  if (error) napi_throw(env, error);
  else napi_throw_error(env, NULL, syscall);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

// ---------------------------------------------------------------------------
// Arguments

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_get_cb_info");
    return false;
  }
  if (argc < want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s expects %zu arguments, got %zu", fn, want, argc);
    throw_type(env, msg);
    return false;
  }
  return true;
}

static bool get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  char msg[128];
  // Range first (also rejects NaN), so the cast below is defined.
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      !(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer in [%lld, %lld]", name, (long long)min, (long long)max);
    throw_type(env, msg);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool get_fd(napi_env env, napi_value v, int *fd) {
  int64_t n;
  if (!get_int(env, v, "fd", 0, INT32_MAX, &n)) return false;
  *fd = (int)n;
  return true;
}

static bool get_bool(napi_env env, napi_value v, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a boolean", name);
    throw_type(env, msg);
    return false;
  }
  return true;
}

// A malloc'd NUL-terminated copy of a string argument; NULL for null/undefined when nullable.
// Returns false (with an exception pending) on a wrong type or embedded NUL.
static bool get_string(napi_env env, napi_value v, const char *name, bool nullable, char **out) {
  napi_valuetype t;
  char msg[128];
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) {
    throw_napi_failure(env, "napi_typeof");
    return false;
  }
  if (nullable && (t == napi_null || t == napi_undefined)) return true;
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string%s", name, nullable ? " or null" : "");
    throw_type(env, msg);
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return false;
  }
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return false;
  }
  if (strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "%s must not contain NUL bytes", name);
    throw_type(env, msg);
    return false;
  }
  *out = s;
  return true;
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  NAPI_CALL(env, napi_get_undefined(env, &u));
  return u;
}

static bool set_int(napi_env env, napi_value obj, const char *key, int64_t n) {
  napi_value v;
  return napi_create_int64(env, n, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

static bool set_bool(napi_env env, napi_value obj, const char *key, bool b) {
  napi_value v;
  return napi_get_boolean(env, b, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

static bool set_int_or_null(napi_env env, napi_value obj, const char *key, bool present, int64_t n) {
  napi_value v;
  if (!present) return napi_get_null(env, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
  return set_int(env, obj, key, n);
}

// [a, b] as a JS array; closes both fds if the array cannot be built.
static napi_value fd_pair(napi_env env, int a, int b) {
  napi_value arr, va, vb;
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok || napi_create_int32(env, a, &va) != napi_ok ||
      napi_create_int32(env, b, &vb) != napi_ok || napi_set_element(env, arr, 0, va) != napi_ok ||
      napi_set_element(env, arr, 1, vb) != napi_ok) {
    close(a);
    close(b);
    return throw_napi_failure(env, "fd_pair");
  }
  return arr;
}

// An int32 fd as a JS number; closes the fd if that fails.
static napi_value fd_value(napi_env env, int fd) {
  napi_value v;
  if (napi_create_int32(env, fd, &v) != napi_ok) {
    close(fd);
    return throw_napi_failure(env, "napi_create_int32");
  }
  return v;
}

// ---------------------------------------------------------------------------
// Processes

static napi_value SetChildSubreaper(napi_env env, napi_callback_info info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return throw_errno(env, errno, "prctl(PR_SET_CHILD_SUBREAPER)", NULL);
  return undefined_value(env);
}

static napi_value IsChildSubreaper(napi_env env, napi_callback_info info) {
  int on = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) != 0) return throw_errno(env, errno, "prctl(PR_GET_CHILD_SUBREAPER)", NULL);
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, on != 0, &v));
  return v;
}

// wait4(pid, WNOHANG): null while the child runs, else its raw and decoded status.
// Only a positive pid is accepted: a blanket wait would steal libuv's exits (Decision 2).
static napi_value Wait4(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t pid;
  if (!get_args(env, info, 1, argv, "wait4")) return NULL;
  if (!get_int(env, argv[0], "pid", 1, INT32_MAX, &pid)) return NULL;
  int status = 0;
  struct rusage ru;
  pid_t r;
  do {
    r = wait4((pid_t)pid, &status, WNOHANG, &ru);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, errno, "wait4", NULL);
  napi_value result;
  if (r == 0) {
    NAPI_CALL(env, napi_get_null(env, &result));
    return result;
  }
  napi_value usage;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_object(env, &usage));
  bool ok = set_int(env, result, "pid", r) && set_int(env, result, "status", status) &&
            set_bool(env, result, "exited", WIFEXITED(status)) &&
            set_int_or_null(env, result, "code", WIFEXITED(status), WIFEXITED(status) ? WEXITSTATUS(status) : 0) &&
            set_bool(env, result, "signaled", WIFSIGNALED(status)) &&
            set_int_or_null(env, result, "signal", WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0) &&
            set_int(env, usage, "userMicros", (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec) &&
            set_int(env, usage, "systemMicros", (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec) &&
            set_int(env, usage, "maxRssKiB", ru.ru_maxrss) &&
            napi_set_named_property(env, result, "rusage", usage) == napi_ok;
  if (!ok) return throw_napi_failure(env, "wait4 result");
  return result;
}

// ---------------------------------------------------------------------------
// File descriptors

static napi_value Pipe2(napi_env env, napi_callback_info info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2", NULL);
  return fd_pair(env, fds[0], fds[1]);
}

static napi_value Mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *path;
  int64_t mode;
  if (!get_args(env, info, 2, argv, "mkfifo")) return NULL;
  if (!get_int(env, argv[1], "mode", 0, 07777, &mode)) return NULL;
  if (!get_string(env, argv[0], "path", false, &path)) return NULL;
  int rc = mkfifo(path, (mode_t)mode);
  int err = errno;
  napi_value ret = rc == 0 ? undefined_value(env) : throw_errno(env, err, "mkfifo", path);
  free(path);
  return ret;
}

static napi_value Eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t initval, flags;
  if (!get_args(env, info, 2, argv, "eventfd")) return NULL;
  if (!get_int(env, argv[0], "initval", 0, UINT32_MAX, &initval)) return NULL;
  if (!get_int(env, argv[1], "flags", 0, INT32_MAX, &flags)) return NULL;
  int fd = eventfd((unsigned int)initval, (int)flags);
  if (fd < 0) return throw_errno(env, errno, "eventfd", NULL);
  return fd_value(env, fd);
}

static napi_value Fchown(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  int64_t uid, gid;
  if (!get_args(env, info, 3, argv, "fchown")) return NULL;
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (!get_int(env, argv[1], "uid", -1, UINT32_MAX, &uid)) return NULL;
  if (!get_int(env, argv[2], "gid", -1, UINT32_MAX, &gid)) return NULL;
  if (fchown(fd, (uid_t)uid, (gid_t)gid) != 0) return throw_errno(env, errno, "fchown", NULL);
  return undefined_value(env);
}

static napi_value SetNonBlocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv, "setNonBlocking")) return NULL;
  if (!get_fd(env, argv[0], &fd) || !get_bool(env, argv[1], "nonBlocking", &on)) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return throw_errno(env, errno, "fcntl(F_GETFL)", NULL);
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && fcntl(fd, F_SETFL, want) != 0) return throw_errno(env, errno, "fcntl(F_SETFL)", NULL);
  return undefined_value(env);
}

static napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "closeFd") || !get_fd(env, argv[0], &fd)) return NULL;
  // On Linux the fd is released even when close() reports EINTR: never retry.
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", NULL);
  return undefined_value(env);
}

static napi_value Dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "dup") || !get_fd(env, argv[0], &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_errno(env, errno, "fcntl(F_DUPFD_CLOEXEC)", NULL);
  return fd_value(env, copy);
}

// ---------------------------------------------------------------------------
// Unix sockets: console socket (listen/accept/recvFd) and peer credentials

static napi_value UnixListen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *path;
  int64_t backlog;
  if (!get_args(env, info, 2, argv, "unixListen")) return NULL;
  if (!get_int(env, argv[1], "backlog", 1, 4096, &backlog)) return NULL;
  if (!get_string(env, argv[0], "path", false, &path)) return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    napi_value r = throw_errno(env, ENAMETOOLONG, "bind", path);
    free(path);
    return r;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    napi_value r = throw_errno(env, errno, "socket", NULL);
    free(path);
    return r;
  }
  const char *failed = NULL;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) failed = "bind";
  else if (listen(fd, (int)backlog) != 0) failed = "listen";
  if (failed) {
    int err = errno;
    close(fd);
    napi_value r = throw_errno(env, err, failed, path);
    free(path);
    return r;
  }
  free(path);
  return fd_value(env, fd);
}

// accept4 (non-blocking, close-on-exec): the connection fd, or null if none is pending.
static napi_value Accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "accept") || !get_fd(env, argv[0], &fd)) return NULL;
  int conn;
  do {
    conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (conn < 0 && errno == EINTR);
  if (conn < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value n;
      NAPI_CALL(env, napi_get_null(env, &n));
      return n;
    }
    return throw_errno(env, errno, "accept4", NULL);
  }
  return fd_value(env, conn);
}

// recvmsg with room for up to 16 descriptors (close-on-exec). Returns the byte count or -1 with
// errno; *count gets the descriptors received (extra ones are closed), *truncated MSG_CTRUNC.
static ssize_t recv_with_fds(int sock, char *data, size_t len, int fds[16], int *count, bool *truncated) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * 16)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  memset(&control, 0, sizeof control);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  *count = 0;
  *truncated = false;
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < nfds; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*count < 16) fds[(*count)++] = fd;
      else close(fd);
    }
  }
  *truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n;
}

// Receives exactly one fd sent with SCM_RIGHTS (the data, up to 4096 bytes, is discarded).
// Any extra or truncated descriptors are closed and reported as an error.
static napi_value RecvFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int sock;
  if (!get_args(env, info, 1, argv, "recvFd") || !get_fd(env, argv[0], &sock)) return NULL;
  char data[4096];
  int fds[16];
  int count;
  bool truncated;
  ssize_t n = recv_with_fds(sock, data, sizeof data, fds, &count, &truncated);
  if (n < 0) return throw_errno(env, errno, "recvmsg", NULL);
  if (count == 1 && !truncated) return fd_value(env, fds[0]);
  for (int i = 0; i < count; i++) close(fds[i]);
  if (truncated) return throw_errno(env, EMSGSIZE, "recvmsg(SCM_RIGHTS truncated)", NULL);
  if (count == 0) return throw_errno(env, n == 0 ? ECONNRESET : ENOMSG, "recvmsg(no fd received)", NULL);
  return throw_errno(env, EPROTO, "recvmsg(more than one fd received)", NULL);
}

// recvMessage(sock, maxBytes): {data: Buffer, fds: number[]} from one recvmsg; data is empty at
// end of stream. EAGAIN when nothing is there yet. Truncated descriptors are closed and an error.
static napi_value RecvMessage(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int sock;
  int64_t max;
  if (!get_args(env, info, 2, argv, "recvMessage") || !get_fd(env, argv[0], &sock)) return NULL;
  if (!get_int(env, argv[1], "maxBytes", 1, 1 << 20, &max)) return NULL;
  char *data = malloc((size_t)max);
  if (!data) return throw_errno(env, ENOMEM, "recvMessage", NULL);
  int fds[16];
  int count;
  bool truncated;
  ssize_t n = recv_with_fds(sock, data, (size_t)max, fds, &count, &truncated);
  if (n < 0 || truncated) {
    int err = n < 0 ? errno : EMSGSIZE;
    free(data);
    for (int i = 0; i < count; i++) close(fds[i]);
    return throw_errno(env, err, "recvmsg", NULL);
  }
  napi_value result, buffer, list;
  void *copy;
  bool ok = napi_create_object(env, &result) == napi_ok && napi_create_buffer_copy(env, (size_t)n, data, &copy, &buffer) == napi_ok &&
            napi_create_array_with_length(env, (size_t)count, &list) == napi_ok;
  free(data);
  for (int i = 0; ok && i < count; i++) {
    napi_value v;
    ok = napi_create_int32(env, fds[i], &v) == napi_ok && napi_set_element(env, list, (uint32_t)i, v) == napi_ok;
  }
  if (ok) ok = napi_set_named_property(env, result, "data", buffer) == napi_ok && napi_set_named_property(env, result, "fds", list) == napi_ok;
  if (!ok) {
    for (int i = 0; i < count; i++) close(fds[i]);
    return throw_napi_failure(env, "recvMessage result");
  }
  return result;
}

static napi_value GetPeerCred(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "getPeerCred") || !get_fd(env, argv[0], &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno, "getsockopt(SO_PEERCRED)", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (!set_int(env, result, "pid", cred.pid) || !set_int(env, result, "uid", cred.uid) || !set_int(env, result, "gid", cred.gid))
    return throw_napi_failure(env, "getPeerCred result");
  return result;
}

// ---------------------------------------------------------------------------
// Terminals

static napi_value SetWinsize(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  int64_t rows, cols;
  if (!get_args(env, info, 3, argv, "setWinsize") || !get_fd(env, argv[0], &fd)) return NULL;
  if (!get_int(env, argv[1], "rows", 0, 65535, &rows) || !get_int(env, argv[2], "cols", 0, 65535, &cols)) return NULL;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCSWINSZ)", NULL);
  return undefined_value(env);
}

static napi_value GetWinsize(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "getWinsize") || !get_fd(env, argv[0], &fd)) return NULL;
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCGWINSZ)", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (!set_int(env, result, "rows", ws.ws_row) || !set_int(env, result, "cols", ws.ws_col))
    return throw_napi_failure(env, "getWinsize result");
  return result;
}

// Bytes waiting to be read in a pipe or FIFO (FIONREAD): how much of what the shim wrote to a
// client's FIFO the client has not read yet.
static napi_value BytesUnread(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, "bytesUnread") || !get_fd(env, argv[0], &fd)) return NULL;
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) != 0) return throw_errno(env, errno, "ioctl(FIONREAD)", NULL);
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, n, &result));
  return result;
}

// A new pty pair {master, slave, path}; used by tests (the shim receives masters from runc).
static napi_value OpenPty(napi_env env, napi_callback_info info) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return throw_errno(env, errno, "posix_openpt", NULL);
  char name[128];
  const char *failed = NULL;
  if (grantpt(master) != 0) failed = "grantpt";
  else if (unlockpt(master) != 0) failed = "unlockpt";
  else if (ptsname_r(master, name, sizeof name) != 0) failed = "ptsname_r";
  if (failed) {
    int err = errno;
    close(master);
    return throw_errno(env, err, failed, NULL);
  }
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    int err = errno;
    close(master);
    return throw_errno(env, err, "open", name);
  }
  napi_value result, path;
  if (napi_create_object(env, &result) != napi_ok || napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &path) != napi_ok ||
      !set_int(env, result, "master", master) || !set_int(env, result, "slave", slave) ||
      napi_set_named_property(env, result, "path", path) != napi_ok) {
    close(master);
    close(slave);
    return throw_napi_failure(env, "openpty result");
  }
  return result;
}

// ---------------------------------------------------------------------------
// Mounts

typedef struct {
  char *dir, *source, *target, *fstype, *data;
  unsigned long flags;
} mount_args;

static void mount_args_free(mount_args *m) {
  free(m->dir);
  free(m->source);
  free(m->target);
  free(m->fstype);
  free(m->data);
}

// argv: [source, target, fstype, flags, data] starting at argv[0].
static bool get_mount_args(napi_env env, napi_value *argv, mount_args *m) {
  int64_t flags;
  if (!get_int(env, argv[3], "flags", 0, UINT32_MAX, &flags)) return false;
  m->flags = (unsigned long)flags;
  return get_string(env, argv[0], "source", true, &m->source) && get_string(env, argv[1], "target", false, &m->target) &&
         get_string(env, argv[2], "fstype", true, &m->fstype) && get_string(env, argv[4], "data", true, &m->data);
}

static int do_mount(const mount_args *m) {
  const char *data = m->data && m->data[0] ? m->data : NULL;
  return mount(m->source, m->target, m->fstype, m->flags, data);
}

static napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  mount_args m = {0};
  if (!get_args(env, info, 5, argv, "mount")) return NULL;
  napi_value ret = NULL;
  if (get_mount_args(env, argv, &m)) {
    ret = do_mount(&m) == 0 ? undefined_value(env) : throw_errno(env, errno, "mount", m.target);
  }
  mount_args_free(&m);
  return ret;
}

typedef struct {
  const mount_args *m;
  int err;
  const char *failed;
} mount_in_job;

// Runs on its own thread with a private cwd (unshare(CLONE_FS)), so relative paths in the
// mount data resolve under `dir` without moving the whole process's cwd.
static void *mount_in_thread(void *arg) {
  mount_in_job *job = arg;
  job->err = 0;
  if (unshare(CLONE_FS) != 0) job->failed = "unshare(CLONE_FS)";
  else if (chdir(job->m->dir) != 0) job->failed = "chdir";
  else if (do_mount(job->m) != 0) job->failed = "mount";
  if (job->failed) job->err = errno;
  return NULL;
}

// mountIn(dir, source, target, fstype, flags, data): mount(2) with `dir` as working directory
// (containerd's trick for overlay lowerdir lists longer than a page).
static napi_value MountIn(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  mount_args m = {0};
  if (!get_args(env, info, 6, argv, "mountIn")) return NULL;
  napi_value ret = NULL;
  if (get_string(env, argv[0], "dir", false, &m.dir) && get_mount_args(env, argv + 1, &m)) {
    mount_in_job job = {.m = &m, .err = 0, .failed = NULL};
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, mount_in_thread, &job);
    if (rc != 0) {
      ret = throw_errno(env, rc, "pthread_create", NULL);
    } else {
      pthread_join(thread, NULL);
      if (job.failed) ret = throw_errno(env, job.err, job.failed, strcmp(job.failed, "chdir") == 0 ? m.dir : m.target);
      else ret = undefined_value(env);
    }
  }
  mount_args_free(&m);
  return ret;
}

static napi_value Umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *target;
  int64_t flags;
  if (!get_args(env, info, 2, argv, "umount2")) return NULL;
  if (!get_int(env, argv[1], "flags", 0, INT32_MAX, &flags)) return NULL;
  if (!get_string(env, argv[0], "target", false, &target)) return NULL;
  napi_value ret = umount2(target, (int)flags) == 0 ? undefined_value(env) : throw_errno(env, errno, "umount2", target);
  free(target);
  return ret;
}

// ---------------------------------------------------------------------------
// pollReadable(fd, callback): one-shot readability watch on the libuv loop.
//
// Returns a handle object with close() (cancel; idempotent) and unref(). The callback
// runs once with (null) when fd is readable, or (error) if polling failed. The poll
// request owns the uv handle; the JS handle owns a token that points at the request
// while it is active. Either side may go first.

typedef struct poll_token poll_token;

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_ref owner;  // the JS handle object, kept alive while the poll is active
  napi_async_context async_ctx;
  poll_token *token;
  bool active;
} poll_req;

struct poll_token {
  poll_req *req;
};

static void poll_cleanup_hook(void *arg);

static void poll_handle_closed(uv_handle_t *h) {
  free(h->data);
}

// Stops the poll and drops every JS reference. from_hook: called by the env cleanup hook.
static void poll_finish(poll_req *req, bool from_hook) {
  if (!req->active) return;
  req->active = false;
  if (!from_hook) napi_remove_env_cleanup_hook(req->env, poll_cleanup_hook, req);
  if (req->token) {
    req->token->req = NULL;
    req->token = NULL;
  }
  napi_delete_reference(req->env, req->callback);
  napi_delete_reference(req->env, req->owner);
  uv_poll_stop(&req->handle);
  uv_close((uv_handle_t *)&req->handle, poll_handle_closed);
}

static void poll_cleanup_hook(void *arg) {
  poll_req *req = arg;
  napi_async_destroy(req->env, req->async_ctx);
  poll_finish(req, true);
}

static void poll_ready(uv_poll_t *h, int status, int events) {
  poll_req *req = h->data;
  if (!req->active) return;
  napi_env env = req->env;
  napi_async_context ctx = req->async_ctx;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb = NULL, recv, arg, result;
  napi_get_reference_value(env, req->callback, &cb);
  poll_finish(req, false);  // before the callback, so it may poll the same fd again
  if (status < 0) {
    arg = make_sys_error(env, uv_err_name(status), status, uv_strerror(status), "poll", NULL);
  } else if (napi_get_null(env, &arg) != napi_ok) {
    arg = NULL;
  }
  if (cb && arg && napi_get_global(env, &recv) == napi_ok) {
    if (napi_make_callback(env, ctx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_async_destroy(env, ctx);
  napi_close_handle_scope(env, scope);
}

static void poll_token_finalize(napi_env env, void *data, void *hint) {
  poll_token *token = data;
  if (token->req) token->req->token = NULL;
  free(token);
}

static poll_token *unwrap_token(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || !data) {
    throw_type(env, "not a pollReadable handle");
    return NULL;
  }
  return data;
}

static napi_value PollHandleClose(napi_env env, napi_callback_info info) {
  poll_token *token = unwrap_token(env, info);
  if (!token) return NULL;
  poll_req *req = token->req;
  if (req) {
    napi_async_context ctx = req->async_ctx;
    poll_finish(req, false);
    napi_async_destroy(env, ctx);
  }
  return undefined_value(env);
}

static napi_value PollHandleUnref(napi_env env, napi_callback_info info) {
  poll_token *token = unwrap_token(env, info);
  if (!token) return NULL;
  if (token->req) uv_unref((uv_handle_t *)&token->req->handle);
  return undefined_value(env);
}

static napi_value PollReadable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  napi_valuetype t;
  if (!get_args(env, info, 2, argv, "pollReadable") || !get_fd(env, argv[0], &fd)) return NULL;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) return throw_type(env, "callback must be a function");

  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  napi_value handle, fn, name;
  NAPI_CALL(env, napi_create_object(env, &handle));
  NAPI_CALL(env, napi_create_function(env, "close", NAPI_AUTO_LENGTH, PollHandleClose, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, handle, "close", fn));
  NAPI_CALL(env, napi_create_function(env, "unref", NAPI_AUTO_LENGTH, PollHandleUnref, NULL, &fn));
  NAPI_CALL(env, napi_set_named_property(env, handle, "unref", fn));
  NAPI_CALL(env, napi_create_string_utf8(env, "tsshim.pollReadable", NAPI_AUTO_LENGTH, &name));

  poll_token *token = calloc(1, sizeof *token);
  if (!token) return throw_errno(env, ENOMEM, "calloc", NULL);
  if (napi_wrap(env, handle, token, poll_token_finalize, NULL, NULL) != napi_ok) {
    free(token);
    return throw_napi_failure(env, "napi_wrap");
  }
  // From here the token belongs to the handle object (freed by its finalizer).
  poll_req *req = calloc(1, sizeof *req);
  if (!req) return throw_errno(env, ENOMEM, "calloc", NULL);
  req->env = env;
  int rc = uv_poll_init(loop, &req->handle, fd);
  if (rc != 0) {
    free(req);
    napi_value error = make_sys_error(env, uv_err_name(rc), rc, uv_strerror(rc), "uv_poll_init", NULL);
    if (error) napi_throw(env, error);
    return NULL;
  }
  req->handle.data = req;
  // The handle is initialised: from here errors must go through uv_close.
  if (napi_create_reference(env, argv[1], 1, &req->callback) != napi_ok) {
    uv_close((uv_handle_t *)&req->handle, poll_handle_closed);
    return throw_napi_failure(env, "napi_create_reference");
  }
  if (napi_create_reference(env, handle, 1, &req->owner) != napi_ok) {
    napi_delete_reference(env, req->callback);
    uv_close((uv_handle_t *)&req->handle, poll_handle_closed);
    return throw_napi_failure(env, "napi_create_reference");
  }
  if (napi_async_init(env, handle, name, &req->async_ctx) != napi_ok) {
    napi_delete_reference(env, req->callback);
    napi_delete_reference(env, req->owner);
    uv_close((uv_handle_t *)&req->handle, poll_handle_closed);
    return throw_napi_failure(env, "napi_async_init");
  }
  rc = uv_poll_start(&req->handle, UV_READABLE, poll_ready);
  if (rc != 0) {
    napi_async_destroy(env, req->async_ctx);
    napi_delete_reference(env, req->callback);
    napi_delete_reference(env, req->owner);
    uv_close((uv_handle_t *)&req->handle, poll_handle_closed);
    napi_value error = make_sys_error(env, uv_err_name(rc), rc, uv_strerror(rc), "uv_poll_start", NULL);
    if (error) napi_throw(env, error);
    return NULL;
  }
  req->active = true;
  req->token = token;
  token->req = req;
  napi_add_env_cleanup_hook(env, poll_cleanup_hook, req);
  return handle;
}

// ---------------------------------------------------------------------------
// Module

static bool add_constant(napi_env env, napi_value obj, const char *name, int64_t value) {
  return set_int(env, obj, name, value);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"setChildSubreaper", NULL, SetChildSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isChildSubreaper", NULL, IsChildSubreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"wait4", NULL, Wait4, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipe2", NULL, Pipe2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, Mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"eventfd", NULL, Eventfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fchown", NULL, Fchown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNonBlocking", NULL, SetNonBlocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, CloseFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dup", NULL, Dup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unixListen", NULL, UnixListen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accept", NULL, Accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFd", NULL, RecvFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvMessage", NULL, RecvMessage, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getPeerCred", NULL, GetPeerCred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWinsize", NULL, SetWinsize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getWinsize", NULL, GetWinsize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bytesUnread", NULL, BytesUnread, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openpty", NULL, OpenPty, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, Mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mountIn", NULL, MountIn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, Umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollReadable", NULL, PollReadable, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));

  napi_value c;
  NAPI_CALL(env, napi_create_object(env, &c));
  bool ok = add_constant(env, c, "MS_RDONLY", MS_RDONLY) && add_constant(env, c, "MS_NOSUID", MS_NOSUID) &&
            add_constant(env, c, "MS_NODEV", MS_NODEV) && add_constant(env, c, "MS_NOEXEC", MS_NOEXEC) &&
            add_constant(env, c, "MS_SYNCHRONOUS", MS_SYNCHRONOUS) && add_constant(env, c, "MS_REMOUNT", MS_REMOUNT) &&
            add_constant(env, c, "MS_MANDLOCK", MS_MANDLOCK) && add_constant(env, c, "MS_DIRSYNC", MS_DIRSYNC) &&
            add_constant(env, c, "MS_NOATIME", MS_NOATIME) && add_constant(env, c, "MS_NODIRATIME", MS_NODIRATIME) &&
            add_constant(env, c, "MS_BIND", MS_BIND) && add_constant(env, c, "MS_MOVE", MS_MOVE) &&
            add_constant(env, c, "MS_REC", MS_REC) && add_constant(env, c, "MS_SILENT", MS_SILENT) &&
            add_constant(env, c, "MS_UNBINDABLE", MS_UNBINDABLE) && add_constant(env, c, "MS_PRIVATE", MS_PRIVATE) &&
            add_constant(env, c, "MS_SLAVE", MS_SLAVE) && add_constant(env, c, "MS_SHARED", MS_SHARED) &&
            add_constant(env, c, "MS_RELATIME", MS_RELATIME) && add_constant(env, c, "MS_STRICTATIME", MS_STRICTATIME) &&
            add_constant(env, c, "MS_LAZYTIME", MS_LAZYTIME) && add_constant(env, c, "MNT_FORCE", MNT_FORCE) &&
            add_constant(env, c, "MNT_DETACH", MNT_DETACH) && add_constant(env, c, "EFD_CLOEXEC", EFD_CLOEXEC) &&
            add_constant(env, c, "EFD_NONBLOCK", EFD_NONBLOCK) && add_constant(env, c, "EFD_SEMAPHORE", EFD_SEMAPHORE) &&
            add_constant(env, c, "PAGE_SIZE", sysconf(_SC_PAGESIZE));
  if (!ok) return throw_napi_failure(env, "constants");
  NAPI_CALL(env, napi_set_named_property(env, exports, "constants", c));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
