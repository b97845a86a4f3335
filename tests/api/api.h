/* api.h: which allocator API a test calls, plus errno, block-content and
 * process helpers. The checks themselves are tests/common/check.h's.
 *
 * Every test source is compiled in up to three variants:
 *   default          the standard names (malloc, free, ...), linked with
 *                    libgomalloc.so or libgomalloc.a, which override libc's;
 *   GM_TEST_API_GM   the gm_* names, linked with gomalloc_nooverride (the
 *                    variant that runs under ASan/UBSan, item 37);
 *   GM_TEST_BASELINE the standard names, linked with nothing: glibc's malloc,
 *                    used only to validate the harness where the behaviour
 *                    coincides.
 * Tests call T_malloc, T_free, ... and never the raw names for heap blocks. */
#ifndef GM_TEST_API_H
#define GM_TEST_API_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "../common/check.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(GM_TEST_BASELINE)
#include "gomalloc.h"
#endif

/* C23 sized frees are not declared by glibc 2.36; weak so the baseline
 * variant links (they are then NULL). cfree left glibc's headers in 2.26. */
void free_sized(void *ptr, size_t size) __attribute__((weak));
void free_aligned_sized(void *ptr, size_t alignment, size_t size) __attribute__((weak));
void cfree(void *ptr) __attribute__((weak));

#if defined(GM_TEST_API_GM)
#define API_NAME "gm"
#define T_malloc gm_malloc
#define T_calloc gm_calloc
#define T_realloc gm_realloc
#define T_reallocarray gm_reallocarray
#define T_free gm_free
#define T_free_sized gm_free_sized
#define T_free_aligned_sized gm_free_aligned_sized
#define T_aligned_alloc gm_aligned_alloc
#define T_posix_memalign gm_posix_memalign
#define T_memalign gm_memalign
#define T_valloc gm_valloc
#define T_pvalloc gm_pvalloc
#define T_usable gm_usable_size
#define T_trim() ((void)gm_release())
#define T_HAVE_SIZED_FREE 1
#else
#define API_NAME "libc"
#define T_malloc malloc
#define T_calloc calloc
#define T_realloc realloc
#define T_reallocarray reallocarray
#define T_free free
#define T_free_sized free_sized
#define T_free_aligned_sized free_aligned_sized
#define T_aligned_alloc aligned_alloc
#define T_posix_memalign posix_memalign
#define T_memalign memalign
#define T_valloc valloc
#define T_pvalloc pvalloc
#define T_usable malloc_usable_size
#define T_trim() ((void)malloc_trim(0))
#define T_HAVE_SIZED_FREE (free_sized != NULL && free_aligned_sized != NULL)
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GM_TEST_SANITIZED 1
#endif
#endif
#ifndef GM_TEST_SANITIZED
#define GM_TEST_SANITIZED 0
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* ---- errno, opaque values, block contents ------------------------------------ */

/* errno_sentinel() sets errno to 1789 (glibc's sentinel), so a test can see
 * whether a call touched errno. */
#define ERRNO_SENTINEL 1789

static inline const char *errno_name(int e) {
  switch (e) {
  case 0: return "0";
  case ENOMEM: return "ENOMEM";
  case EINVAL: return "EINVAL";
  case EOVERFLOW: return "EOVERFLOW";
  case EFAULT: return "EFAULT";
  case EAGAIN: return "EAGAIN";
  case ERRNO_SENTINEL: return "sentinel 1789 (unchanged)";
  default: return "other";
  }
}

#define CHECK_ERRNO_IS(got, exp)                                                                   \
  do {                                                                                             \
    int ge_ = (got), ee_ = (exp);                                                                  \
    CHECK(ge_ == ee_, "errno: expected %s (%d), got %s (%d)", errno_name(ee_), ee_,                \
          errno_name(ge_), ge_);                                                                   \
  } while (0)

static inline void errno_sentinel(void) { errno = ERRNO_SENTINEL; }

/* Hides a value from the optimiser (so sizes like SIZE_MAX are not folded
 * into compile-time warnings, and malloc/free pairs are not elided). */
static inline size_t opaque_size(size_t x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}
static inline void *opaque_ptr(void *p) {
  __asm__ volatile("" : "+r"(p)::"memory");
  return p;
}

/* First offset in p[0..n) that is not zero, or n. */
static inline size_t first_nonzero(const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i = 0;
  while (i < n && ((uintptr_t)(b + i) & 7))
    if (b[i++])
      return i - 1;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, b + i, 8);
    if (w)
      break;
  }
  for (; i < n; i++)
    if (b[i])
      return i;
  return n;
}

/* Deterministic per-position pattern byte for block contents. */
static inline unsigned char pattern_byte(size_t seed, size_t i) {
  return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ 0x5a);
}
static inline void pattern_fill(void *p, size_t n, size_t seed) {
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    b[i] = pattern_byte(seed, i);
}
/* First offset in p[0..n) that does not hold the pattern, or n. */
static inline size_t pattern_find_bad(const void *p, size_t n, size_t seed) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern_byte(seed, i))
      return i;
  return n;
}

/* expr must return NULL with errno == err (errno is set to the sentinel
 * first). A non-NULL result is reported and freed. */
#define CHECK_NULL_ERRNO(expr, err)                                                                \
  do {                                                                                             \
    errno_sentinel();                                                                              \
    void *r_ = (expr);                                                                             \
    int e_ = errno;                                                                                \
    CHECK(r_ == NULL && e_ == (err), "%s: expected NULL with errno %s, got %p with errno %s (%d)", \
          #expr, errno_name(err), r_, errno_name(e_), e_);                                         \
    if (r_)                                                                                        \
      T_free(r_);                                                                                  \
  } while (0)

/* ---- memory of this process (no allocation) ------------------------------ */

/* Field 0 (VmSize) or 1 (resident) of /proc/self/statm, in bytes. */
static inline size_t statm_field(int field) {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = 0;
  const char *s = buf;
  for (int i = 0; i < field; i++) {
    while (*s && *s != ' ')
      s++;
    while (*s == ' ')
      s++;
  }
  size_t v = 0;
  while (*s >= '0' && *s <= '9')
    v = v * 10 + (size_t)(*s++ - '0');
  return v * (size_t)sysconf(_SC_PAGESIZE);
}
static inline size_t rss_bytes(void) { return statm_field(1); }
static inline size_t vsz_bytes(void) { return statm_field(0); }

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- subprocesses ------------------------------------------------------------ */

#define CHILD_OUT_MAX (256 * 1024)

typedef struct child_result {
  int status;      /* from waitpid */
  int timed_out;   /* 1 if the child was killed after the timeout */
  char out[CHILD_OUT_MAX];
  size_t out_len;
  char err[CHILD_OUT_MAX];
  size_t err_len;
} child_result_t;

/* Runs fn(arg) in a forked child (stdout and stderr captured) or, if fn is
 * NULL, re-executes this program as `argv0 args...` (after pre_exec, e.g.
 * setrlimit, ran in the child). Waits at most timeout_s seconds, then kills
 * the child with SIGKILL. Returns 0, or -1 if the child could not be made.
 * The caller must be single-threaded or only call async-signal-safe code
 * in fn (the usual fork rule). */
static inline int run_child(int (*fn)(void *), void *arg, char *const args[],
                            void (*pre_exec)(void), unsigned timeout_s, child_result_t *r) {
  int po[2], pe[2];
  r->status = 0;
  r->timed_out = 0;
  r->out_len = r->err_len = 0;
  r->out[0] = r->err[0] = 0;
  fflush(stdout);
  fflush(stderr);
  if (pipe(po) != 0)
    return -1;
  if (pipe(pe) != 0) {
    close(po[0]);
    close(po[1]);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    /* The child's checks count from zero. */
    check_reset();
    if (fn) {
      int rc = fn(arg);
      fflush(stdout);
      fflush(stderr);
      _exit(rc);
    }
    if (!args)
      _exit(126);
    if (pre_exec)
      pre_exec();
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  int open_fds = 2;
  double deadline = now_seconds() + timeout_s;
  struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  while (open_fds > 0) {
    double left = deadline - now_seconds();
    if (left <= 0) {
      r->timed_out = 1;
      kill(pid, SIGKILL);
      break;
    }
    int rc = poll(pf, 2, (int)(left * 1000) + 1);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char *buf = i == 0 ? r->out : r->err;
      size_t *len = i == 0 ? &r->out_len : &r->err_len;
      char tmp[4096];
      ssize_t n = read(pf[i].fd, tmp, sizeof tmp);
      if (n <= 0) {
        close(pf[i].fd);
        pf[i].fd = -1;
        open_fds--;
        continue;
      }
      size_t room = CHILD_OUT_MAX - 1 - *len;
      size_t take = (size_t)n < room ? (size_t)n : room;
      memcpy(buf + *len, tmp, take);
      *len += take;
      buf[*len] = 0;
    }
  }
  /* The pipes may close before the child exits (it closed them, or a
   * grandchild holds them): keep honouring the deadline while waiting. */
  for (;;) {
    pid_t w = waitpid(pid, &r->status, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR)
      break;
    if (now_seconds() > deadline && !r->timed_out) {
      r->timed_out = 1;
      kill(pid, SIGKILL);
    }
    usleep(1000);
  }
  for (int i = 0; i < 2; i++)
    if (pf[i].fd >= 0)
      close(pf[i].fd);
  return 0;
}

/* "exit 0", "killed by signal 6 (Aborted)", "timed out". */
static inline const char *child_status_text(const child_result_t *r, char *buf, size_t n) {
  if (r->timed_out)
    snprintf(buf, n, "timed out (killed)");
  else if (WIFEXITED(r->status))
    snprintf(buf, n, "exit %d", WEXITSTATUS(r->status));
  else if (WIFSIGNALED(r->status))
    snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(r->status),
             strsignal(WTERMSIG(r->status)));
  else
    snprintf(buf, n, "status 0x%x", r->status);
  return buf;
}

static inline int child_exited_ok(const child_result_t *r) {
  return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/* Prints text with every line prefixed by "  | " (so a child's own
 * "N passed, M failed" line is not mistaken for this program's). */
static inline void print_indented(const char *text) {
  const char *s = text;
  while (*s) {
    const char *eol = strchr(s, '\n');
    int len = eol ? (int)(eol - s) : (int)strlen(s);
    printf("  | %.*s\n", len, s);
    s += len + (eol ? 1 : 0);
  }
}

/* Prints a child's captured output, for failure context. */
static inline void child_dump(const char *what, const child_result_t *r) {
  printf("  ---- %s: stdout (%zu bytes) ----\n", what, r->out_len);
  print_indented(r->out);
  printf("  ---- %s: stderr (%zu bytes) ----\n", what, r->err_len);
  print_indented(r->err);
  fflush(stdout);
}

#endif /* GM_TEST_API_H */
