/* heapdump.c: the heap dump (format in heapdump.h): gm_write_heap_dump,
 * and GOMALLOC_HEAPMAP at exit.
 *
 * The dump is written through the heap visitor (heapmap.h) with write(2)
 * from a buffer on the stack (stats.h's gm_fdout_t): no malloc and no
 * stdio, so it is safe in a destructor of a program whose malloc we are.
 *
 * GOMALLOC_HEAPMAP=heap.html (and `gomalloc run --heapmap`, which sets it)
 * ends here at exit: the library writes heap.html.PID.heapdump, then runs
 * the renderer, `gomalloc heapmap -o heap.html DUMP`, waits for it and
 * removes the dump. The page is drawn by the tool, with the system's
 * malloc, in a process of its own; the library draws nothing. The tool is
 * looked for beside the library (dladdr: LIBDIR/../bin/gomalloc when
 * installed), then in the build tree (GM_BUILD_CLI), then on PATH. If none
 * is found or it fails, the dump stays and one warning gives the command
 * that draws it. */
#include "heapdump.h"

#include "error.h"
#include "gomalloc.h"
#include "heapmap.h"
#include "internal.h"
#include "os.h"
#include "stats.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GM_LIB_TO_BIN
#define GM_LIB_TO_BIN "../bin" /* the installed bindir, relative to the libdir */
#endif

/* ---- writing ---------------------------------------------------------------------- */

typedef struct dumpw {
  gm_fdout_t out;       /* stats.h: a buffer on the stack, written with write(2) */
  size_t spans, chunks; /* as announced by the visitor, for the end line */
} dumpw_t;

static void put(dumpw_t *w, const char *s, size_t n) { gm_fdout_write(&w->out, s, n); }

static void put_s(dumpw_t *w, const char *s) { put(w, s, strlen(s)); }

/* " v" in decimal or hex (0x...). */
static void put_dec(dumpw_t *w, uint64_t v) {
  char b[32];
  b[0] = ' ';
  put(w, b, 1 + gm_fmt_dec(b + 1, (size_t)v));
}

static void put_hex(dumpw_t *w, uint64_t v) {
  char b[32];
  b[0] = ' ';
  put(w, b, 1 + gm_fmt_hex(b + 1, (size_t)v));
}

/* " name=v" */
static void put_field(dumpw_t *w, const char *name, uint64_t v) {
  char b[32];
  put_s(w, " ");
  put_s(w, name);
  b[0] = '=';
  put(w, b, 1 + gm_fmt_dec(b + 1, (size_t)v));
}

static int dump_begin(const struct gm_heap_info *h, void *arg) {
  dumpw_t *w = arg;
  w->spans = h->spans;
  w->chunks = h->chunks;
  put_s(w, "heap");
  put_dec(w, (uint64_t)h->detail);
  put_dec(w, h->spans);
  put_dec(w, h->chunks);
  put_s(w, "\n");
  return w->out.err;
}

static int dump_span(const struct gm_heap_span *s, void *arg) {
  dumpw_t *w = arg;
  put_s(w, "span");
  put_hex(w, s->base);
  uint64_t f[] = {s->npages,    s->spanclass, s->state,    s->nelems,   s->alloc_count,
                  s->freeindex, s->live,      s->elemsize, s->released, s->nwords};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    put_dec(w, f[i]);
  for (unsigned k = 0; k < s->nwords; k++)
    put_hex(w, s->used[k]);
  for (unsigned k = 0; k < s->nwords; k++)
    put_hex(w, s->pending[k]);
  put_s(w, "\n");
  return w->out.err;
}

static int dump_chunk(const struct gm_heap_chunk *c, void *arg) {
  dumpw_t *w = arg;
  put_s(w, "chunk");
  put_hex(w, c->base);
  for (unsigned k = 0; k < GM_CHUNK_PAGES / 64; k++)
    put_hex(w, c->alloc[k]);
  for (unsigned k = 0; k < GM_CHUNK_PAGES / 64; k++)
    put_hex(w, c->scav[k]);
  put_s(w, "\n");
  return w->out.err;
}

static void dump_stats(dumpw_t *w, const struct gm_stats *st) {
  put_s(w, "totals");
#define T(name) put_field(w, #name, st->name);
  GM_HEAPDUMP_TOTALS(T)
#undef T
  put_s(w, "\n");
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    put_s(w, "class");
    put_dec(w, k);
#define C(name) put_field(w, #name, cs->name);
    GM_HEAPDUMP_CLASS(C)
#undef C
    uint64_t bits;
    memcpy(&bits, &cs->max_waste, sizeof bits);
    put_s(w, " max_waste=");
    char b[32];
    put(w, b, gm_fmt_hex(b, (size_t)bits));
    put_s(w, "\n");
  }
}

GM_API int gm_write_heap_dump(int fd) {
  dumpw_t w = {.out = {.fd = fd}};
  /* The statistics first: they take the same locks and release them. The
   * struct is big for a small thread stack, so it lives in mapped memory. */
  struct gm_stats *st = gm_sys_alloc(sizeof *st);
  if (!st)
    return -1;
  st->size = sizeof *st;
  gm_stats(st);
  put_s(&w, GM_HEAPDUMP_MAGIC);
  put_dec(&w, GM_HEAPDUMP_VERSION);
  put_s(&w, "\nprocess");
  put_dec(&w, (uint64_t)getpid());
  put_s(&w, " ");
  put_s(&w, gm_version());
  put_s(&w, " ");
  /* The program's name to the end of the line, which it must not break. */
  for (const char *p = program_invocation_name ? program_invocation_name : "?"; *p; p++)
    put(&w, *p == '\n' || *p == '\r' ? "?" : p, 1);
  put_s(&w, "\ngeometry");
  put_dec(&w, GM_PAGE_SIZE);
  put_dec(&w, GM_CHUNK_PAGES);
  put_dec(&w, GM_ARENA_BYTES);
  put_s(&w, "\n");
  dump_stats(&w, st);
  gm_sys_free(st, GM_ALIGN_UP(sizeof *st, gm_sys_page_size()));
  static const struct gm_heap_visitor v = {dump_begin, dump_span, dump_chunk};
  int rc = gm_heap_visit(&v, &w);
  if (rc < 0)
    return -1; /* no snapshot: errno says why */
  /* The end line repeats the counts, so a reader can tell a cut file. */
  if (rc == 0) {
    put_s(&w, "end");
    put_dec(&w, w.spans);
    put_dec(&w, w.chunks);
    put_s(&w, "\n");
    gm_fdout_flush(&w.out);
  }
  if (w.out.err) {
    errno = w.out.err;
    return -1;
  }
  return 0;
}

/* ---- GOMALLOC_HEAPMAP at exit ---------------------------------------------------------- */

extern char **environ;

/* parts (NULL-terminated) joined into out; false if they do not fit. */
static bool join(char *out, size_t n, const char *const *parts) {
  size_t o = 0;
  for (; *parts; parts++) {
    size_t l = strlen(*parts);
    if (o + l >= n) {
      out[o] = 0;
      return false;
    }
    memcpy(out + o, *parts, l);
    o += l;
  }
  out[o] = 0;
  return true;
}
#define JOIN(out, ...) join(out, sizeof out, (const char *const[]){__VA_ARGS__, NULL})

/* One message line, in one write. */
static void say(int fd, const char *const *parts) {
  gm_fdout_t o = {.fd = fd};
  for (; *parts; parts++)
    gm_fdout_write(&o, *parts, strlen(*parts));
  gm_fdout_flush(&o);
}
#define SAY(fd, ...) say(fd, (const char *const[]){__VA_ARGS__, NULL})

/* LIBDIR/GM_LIB_TO_BIN/gomalloc, LIBDIR being where this code was loaded
 * from, if it is there. */
static bool tool_beside_library(char *out, size_t n) {
  Dl_info info;
  if (!dladdr((void *)gm_write_heap_dump, &info) || !info.dli_fname)
    return false;
  const char *slash = strrchr(info.dli_fname, '/');
  static const char rel[] = "/" GM_LIB_TO_BIN "/gomalloc";
  if (!slash || (size_t)(slash - info.dli_fname) + sizeof rel > n)
    return false;
  memcpy(out, info.dli_fname, (size_t)(slash - info.dli_fname));
  memcpy(out + (slash - info.dli_fname), rel, sizeof rel);
  return access(out, X_OK) == 0;
}

/* The environment without GOMALLOC_* and LD_PRELOAD: the tool must not
 * report on itself at exit, nor run on our malloc. In mapped memory. */
static char **tool_env(size_t *len) {
  size_t n = 0;
  for (char **e = environ; e && *e; e++)
    n++;
  *len = (n + 1) * sizeof(char *);
  char **env = gm_sys_alloc(*len);
  if (!env)
    return NULL;
  n = 0;
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "GOMALLOC_", 9) != 0 && strncmp(*e, "LD_PRELOAD=", 11) != 0)
      env[n++] = *e;
  env[n] = NULL;
  return env;
}

/* Run tool (searched on PATH if search) on the dump and wait for it: the
 * posix_spawn error (ENOENT: no such tool), or 0 with its wait status. */
static int run_tool(const char *tool, bool search, char *const argv[], char **env, int *status) {
  /* Our own SIGCHLD: blocked, and not ignored, so that neither a program's
   * handler nor auto-reaping takes the tool's status first. */
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, &old);
  struct sigaction prev, dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, NULL, &prev);
  bool reset = prev.sa_handler == SIG_IGN || (prev.sa_flags & SA_NOCLDWAIT);
  if (reset)
    sigaction(SIGCHLD, &dfl, NULL);
  /* The tool starts with no signal blocked and the usual ones at default. */
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, def;
  sigemptyset(&none);
  sigemptyset(&def);
  static const int sigs[] = {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaddset(&def, sigs[i]);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int err = search ? posix_spawnp(&pid, tool, NULL, &at, argv, env)
                   : posix_spawn(&pid, tool, NULL, &at, argv, env);
  posix_spawnattr_destroy(&at);
  if (err == 0) {
    while (waitpid(pid, status, 0) < 0) {
      if (errno != EINTR) {
        err = errno;
        break;
      }
    }
  }
  if (reset)
    sigaction(SIGCHLD, &prev, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return err;
}

void gm_heapdump_at_exit(const char *path, int msg_fd) {
  char dump[1200], pid[24];
  pid[gm_fmt_dec(pid, (size_t)getpid())] = 0;
  int rc = -1, fd = -1;
  errno = ENAMETOOLONG;
  if (JOIN(dump, path, ".", pid, ".heapdump")) {
    fd = open(dump, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0)
      rc = gm_write_heap_dump(fd);
  }
  int err = errno;
  if (fd >= 0 && close(fd) != 0 && rc == 0) {
    rc = -1;
    err = errno;
  }
  if (rc != 0) {
    if (fd >= 0)
      unlink(dump);
    SAY(msg_fd, "gomalloc: cannot write the heap map to ", path, ": ", strerror(err), "\n");
    return;
  }

  char tool[1200] = "gomalloc";
  char *argv[] = {tool, (char *)"heapmap", (char *)"-o", (char *)path, (char *)"--", dump, NULL};
  size_t envlen = 0;
  char **env = tool_env(&envlen);
  int status = 0;
  err = env ? ENOENT : ENOMEM;
  if (env && tool_beside_library(tool, sizeof tool))
    err = run_tool(tool, false, argv, env, &status);
#ifdef GM_BUILD_CLI
  if (err == ENOENT && JOIN(tool, GM_BUILD_CLI) && access(tool, X_OK) == 0)
    err = run_tool(tool, false, argv, env, &status);
#endif
  if (err == ENOENT && JOIN(tool, "gomalloc"))
    err = run_tool(tool, true, argv, env, &status);
  if (env)
    gm_sys_free(env, GM_ALIGN_UP(envlen, gm_sys_page_size()));

  if (err == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    unlink(dump);
    SAY(msg_fd, "gomalloc: heap map written to ", path, "\n");
    return;
  }
  char num[24], why[1400];
  if (err == ENOENT) {
    JOIN(why, "no `gomalloc` tool found beside the library or on PATH");
  } else if (err) {
    JOIN(why, "cannot run ", tool, ": ", strerror(err));
  } else {
    bool exited = WIFEXITED(status);
    num[gm_fmt_dec(num, (size_t)(exited ? WEXITSTATUS(status) : WTERMSIG(status)))] = 0;
    JOIN(why, tool, exited ? " exited with status " : " was killed by signal ", num);
  }
  SAY(msg_fd, "gomalloc: heap map not drawn (", why, "); its data is in ", dump,
      "; draw it with: gomalloc heapmap -o ", path, " ", dump, "\n");
}
