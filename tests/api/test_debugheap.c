/* test_debugheap.c: the checked heap of debug builds (checklist 22).
 * Registered only when the library is built with GM_DEBUG (`make DEBUG=1`).
 *
 * Driver as in test_faults.c: without arguments the program re-executes
 * itself once per case (`api_debugheap <case> [size] [bytes]`), the child
 * announces its block ("PTR 0x...") and then misbehaves; the parent checks
 *   - overflow by 1 and by 8 bytes past a small block, for sizes across
 *     the classes: the child dies of SIGABRT at free (or realloc) with the
 *     one line "gomalloc: fatal: buffer overflow <block> (...)";
 *   - a write into a freed small block: SIGABRT when the slot is handed out
 *     again, "gomalloc: fatal: write after free <block> (...)";
 *   - the first byte past a large block of a multiple of 16 bytes: SIGSEGV
 *     on the write (a guard page), and an overrun into the rest of the last
 *     16 bytes: SIGABRT at free;
 *   - controls: programs that use every byte they were given (requested
 *     size and malloc_usable_size), realloc, calloc and aligned blocks exit
 *     0 with no fatal line. */
#include "api.h"

#include <pthread.h>
#include <string.h>

static const char fatal_prefix[] = "gomalloc: fatal: ";

static void announce(const void *p) {
  printf("PTR %p\n", p);
  fflush(stdout);
}

static void returned(const char *what) {
  printf("RETURNED from %s without a fault\n", what);
  fflush(stdout);
}

/* ---- the children ----------------------------------------------------- */

static int child_overflow(size_t n, size_t by) {
  unsigned char *p = T_malloc(n);
  if (!p)
    return 3;
  memset(p, 'a', n);
  announce(p);
  /* Through a volatile pointer: the compiler must not drop the writes. */
  volatile unsigned char *v = p;
  for (size_t i = 0; i < by; i++)
    v[n + i] = (unsigned char)('x' + i);
  T_free(opaque_ptr(p));
  returned("free of an overrun block");
  return 0;
}

static int child_overflow_realloc(size_t n, size_t by) {
  unsigned char *p = T_malloc(n);
  if (!p)
    return 3;
  announce(p);
  volatile unsigned char *v = p;
  for (size_t i = 0; i < by; i++)
    v[n + i] = 0; /* zeros too */
  void *q = T_realloc(opaque_ptr(p), n * 4 + 100);
  returned("realloc of an overrun block");
  T_free(q);
  return 0;
}

/* Write into freed block p, then allocate its size until the slot comes
 * back: the malloc that would hand it out must abort. */
static int damage_and_reuse(unsigned char *p, size_t n, size_t at) {
  volatile unsigned char *v = opaque_ptr(p);
  v[at] = 0x41;
  static void *keep[200000];
  for (int i = 0; i < 200000; i++) {
    keep[i] = T_malloc(n);
    if (keep[i] == (void *)p) {
      returned("malloc handing out the damaged slot");
      return 0;
    }
  }
  printf("NEVER REUSED\n");
  return 0;
}

static int child_uaf(size_t n, size_t at) {
  unsigned char *p = T_malloc(n);
  if (!p)
    return 3;
  announce(p);
  T_free(p);
  return damage_and_reuse(p, n, at);
}

/* The same, freed by another thread. */
static void *free_it(void *p) {
  T_free(p);
  return NULL;
}
static int child_uaf_remote(size_t n, size_t at) {
  unsigned char *p = T_malloc(n);
  if (!p)
    return 3;
  announce(p);
  pthread_t t;
  if (pthread_create(&t, NULL, free_it, p) != 0)
    return 3;
  pthread_join(t, NULL);
  return damage_and_reuse(p, n, at);
}

static int child_guard(size_t n) {
  unsigned char *p = T_malloc(n);
  if (!p)
    return 3;
  memset(p, 'a', n);
  announce(p);
  volatile unsigned char *v = p;
  v[n] = 1; /* must fault */
  returned("write past a large block");
  return 0;
}

/* Normal use of every byte given, in many sizes: no fault. */
static int child_control(void) {
  announce(NULL);
  static const size_t sizes[] = {0,    1,    7,     8,     9,     15,     16,     17,    24,
                                 25,   100,  512,   1000,  4096,  8184,   8192,   32760, 32761,
                                 32768, 32769, 65536, 100000, 100001, 1 << 20, 3000001};
  enum { NS = sizeof sizes / sizeof sizes[0] };
  for (int round = 0; round < 20; round++) {
    void *p[NS];
    for (size_t i = 0; i < NS; i++) {
      size_t n = sizes[i];
      p[i] = (i + (size_t)round) % 3 == 0 ? T_calloc(1, n) : T_malloc(n);
      if (!p[i])
        return 3;
      if ((i + (size_t)round) % 3 == 0)
        for (size_t k = 0; k < n; k++)
          if (((unsigned char *)p[i])[k] != 0)
            return 5;
      size_t u = T_usable(p[i]);
      if (u < n)
        return 6;
      memset(p[i], 'u', u); /* up to the usable size is the caller's */
    }
    for (size_t i = 0; i < NS; i++) {
      size_t n = sizes[(i + 7) % NS];
      void *q = T_realloc(p[i], n);
      if (!q && n)
        return 3;
      if (q) {
        memset(q, 'r', n);
        p[i] = q;
      } else {
        p[i] = T_malloc(1);
      }
    }
    for (size_t i = 0; i < NS; i++)
      T_free(p[i]);
    for (size_t a = 32; a <= 64 * 1024; a *= 4) {
      void *q = NULL;
      if (T_posix_memalign(&q, a, a + 8) != 0 || ((uintptr_t)q & (a - 1)))
        return 7;
      memset(q, 'm', a + 8);
      T_free(q);
    }
  }
  return 0;
}

/* ---- the driver ------------------------------------------------------- */

static child_result_t result;

static int fatal_lines(const char *err, const char **first, size_t *first_len) {
  int n = 0;
  *first = NULL;
  for (const char *l = err; *l;) {
    const char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    if (strncmp(l, fatal_prefix, strlen(fatal_prefix)) == 0) {
      if (n++ == 0) {
        *first = l;
        *first_len = len;
      }
    }
    if (!e)
      break;
    l = e + 1;
  }
  return n;
}

/* expect: "ok", "segv", or the fault text of the one fatal line. */
static void run(const char *argv0, const char *cas, size_t a, size_t b, const char *expect) {
  char name[160], sa[32], sb[32];
  snprintf(name, sizeof name, "%s %zu %zu", cas, a, b);
  check_section(name);
  snprintf(sa, sizeof sa, "%zu", a);
  snprintf(sb, sizeof sb, "%zu", b);
  char *args[] = {(char *)argv0, (char *)cas, sa, sb, NULL};
  if (run_child(NULL, NULL, args, NULL, 60, &result) != 0) {
    CHECK(0, "%s: could not start the child: %s", name, strerror(errno));
    return;
  }
  char st[128];
  child_status_text(&result, st, sizeof st);
  char ptr[64] = "";
  const char *pl = strstr(result.out, "PTR ");
  if (pl)
    sscanf(pl + 4, "%63s", ptr);
  const char *line = NULL;
  size_t len = 0;
  int nfatal = fatal_lines(result.err, &line, &len);
  int ok = CHECK(ptr[0] != 0, "%s: the child announced no pointer", name);
  if (strcmp(expect, "ok") == 0) {
    ok &= CHECK(child_exited_ok(&result), "%s: expected exit 0, got %s", name, st);
    ok &= CHECK(nfatal == 0, "%s: expected no fatal line, got %.*s", name, (int)len, line ? line : "");
  } else if (strcmp(expect, "segv") == 0) {
    ok &= CHECK(!result.timed_out && WIFSIGNALED(result.status) && WTERMSIG(result.status) == SIGSEGV,
                "%s: expected death by SIGSEGV (guard page), got %s", name, st);
  } else {
    ok &= CHECK(!result.timed_out && WIFSIGNALED(result.status) && WTERMSIG(result.status) == SIGABRT,
                "%s: expected death by SIGABRT, got %s", name, st);
    ok &= CHECK(nfatal == 1, "%s: expected one fatal line, got %d", name, nfatal);
    if (nfatal == 1 && ptr[0]) {
      char want[256];
      int wl = snprintf(want, sizeof want, "%s%s %s (", fatal_prefix, expect, ptr);
      ok &= CHECK(len > (size_t)wl && strncmp(line, want, (size_t)wl) == 0 && line[len - 1] == ')',
                  "%s: expected \"%s...)\", got \"%.*s\"", name, want, (int)len, line);
    }
  }
  if (!ok)
    child_dump(name, &result);
  else
    printf("ok   %s\n", name);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4) {
    size_t a = strtoul(argv[2], NULL, 10), b = strtoul(argv[3], NULL, 10);
    printf("CASE %s\n", argv[1]);
    fflush(stdout);
    if (!strcmp(argv[1], "overflow"))
      return child_overflow(a, b);
    if (!strcmp(argv[1], "overflow_realloc"))
      return child_overflow_realloc(a, b);
    if (!strcmp(argv[1], "uaf"))
      return child_uaf(a, b);
    if (!strcmp(argv[1], "uaf_remote"))
      return child_uaf_remote(a, b);
    if (!strcmp(argv[1], "guard"))
      return child_guard(a);
    if (!strcmp(argv[1], "control"))
      return child_control();
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
  }
  printf("test_debugheap (%s API)\n", API_NAME);
  static const size_t small[] = {1, 8, 13, 16, 24, 40, 100, 127, 1000, 4096, 8000, 32000, 32760};
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
    run(argv[0], "overflow", small[i], 1, "buffer overflow");
    run(argv[0], "overflow", small[i], 8, "buffer overflow");
  }
  run(argv[0], "overflow_realloc", 48, 1, "buffer overflow");
  run(argv[0], "overflow_realloc", 200, 8, "buffer overflow");
  /* Large blocks: past the last 16-byte boundary is the guard page; the
   * bytes before it are canaries checked at free. */
  run(argv[0], "overflow", 100001, 1, "buffer overflow");
  run(argv[0], "overflow", 100008, 8, "buffer overflow");
  run(argv[0], "overflow", 40000 + 3, 8, "buffer overflow");
  run(argv[0], "guard", 100000, 0, "segv");
  run(argv[0], "guard", 1 << 20, 0, "segv");
  run(argv[0], "guard", 32768, 0, "segv");
  static const size_t uaf[][2] = {{8, 0}, {16, 15}, {64, 5}, {100, 99}, {1000, 512}, {4096, 0}, {20000, 12345}};
  for (size_t i = 0; i < sizeof uaf / sizeof uaf[0]; i++) {
    run(argv[0], "uaf", uaf[i][0], uaf[i][1], "write after free");
    run(argv[0], "uaf_remote", uaf[i][0], uaf[i][1], "write after free");
  }
  run(argv[0], "control", 0, 0, "ok");
  return check_summary();
}
