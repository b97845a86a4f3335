/* test_faults.c: bad frees abort with one exact line (checklist 17-20).
 *
 * Driver: without arguments this program re-executes itself once per case
 * (`api_faults <case>`), captures the child's stdout and stderr through
 * pipes and checks
 *   - the child died of SIGABRT (WIFSIGNALED && WTERMSIG == SIGABRT);
 *   - stderr holds exactly one line
 *       gomalloc: fatal: <fault> <ptr> (<detail>)
 *     with <ptr> the pointer the case passed, as printed by %p (0x + lower
 *     case hex), which the child announces on stdout ("PTR 0x...") before
 *     the bad call.
 * A few cases must instead exit 0 with no fatal line (controls, and user
 * data that looks like metadata).
 *
 * Faults and details (the spec):
 *   double free            <detail any>            block freed twice (small,
 *                          large, another free in between, across threads)
 *   invalid free           (interior pointer)      free(p+1), free(p+8),
 *                                                  free(large+4096)
 *   invalid free           (not allocated)         heap page/slot not allocated
 *   invalid free           (not owned by gomalloc) (void*)1, stack, .data,
 *                                                  own mmap, other allocator
 *   invalid realloc / invalid malloc_usable_size  with the same details. */
#include "api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>

#if defined(GM_TEST_API_GM)
#define USABLE_FAULT "invalid malloc_usable_size"
#define USABLE_FAULT_ALT "invalid gm_usable_size"
#else
#define USABLE_FAULT "invalid malloc_usable_size"
#define USABLE_FAULT_ALT NULL
#endif

#define NOT_OWNED "not owned by gomalloc"
#define INTERIOR "interior pointer"
#define NOT_ALLOCATED "not allocated"

static long data_word = 42; /* in .data */

static void announce(const void *p) {
  printf("PTR %p\n", p);
  fflush(stdout);
}

/* After a call that should have aborted. */
static void returned(const char *what) {
  printf("RETURNED from %s without aborting\n", what);
  fflush(stdout);
}

/* A pointer from an allocator that is not gomalloc: glibc's own malloc
 * (found in libc.so.6 itself, as the standard name is ours) or, in the gm_*
 * variant, the process malloc. */
static void *foreign_block(size_t n) {
#if defined(GM_TEST_API_GM) || defined(GM_TEST_BASELINE)
  return malloc(n);
#else
  void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (!h)
    return NULL;
  void *(*libc_malloc)(size_t);
  *(void **)&libc_malloc = dlsym(h, "malloc");
  return libc_malloc ? libc_malloc(n) : NULL;
#endif
}

/* ---- double free -------------------------------------------------------- */

static void df_small(void) {
  void *p = T_malloc(64);
  announce(p);
  T_free(p);
  T_free(opaque_ptr(p));
  returned("second free");
}
static void df_large(void) {
  void *p = T_malloc(1 * MiB);
  announce(p);
  T_free(p);
  T_free(opaque_ptr(p));
  returned("second free");
}
static void df_huge(void) {
  void *p = T_malloc(100 * MiB);
  announce(p);
  T_free(p);
  T_free(opaque_ptr(p));
  returned("second free");
}
static void df_between_small(void) {
  void *p = T_malloc(64), *q = T_malloc(64);
  announce(p);
  T_free(p);
  T_free(q);
  T_free(opaque_ptr(p));
  returned("third free");
}
static void df_between_large(void) {
  void *p = T_malloc(200 * KiB), *q = T_malloc(200 * KiB);
  announce(p);
  T_free(p);
  T_free(q);
  T_free(opaque_ptr(p));
  returned("third free");
}
/* A large block freed, then a new small span takes its span struct (the
 * heap's free list is LIFO) elsewhere: the second free still names the
 * double free, though p's page no longer maps to a span that holds it. */
static void df_large_struct_reused(void) {
  void *p = T_malloc(1 * MiB);
  announce(p);
  T_free(p);
  void *keep[64];
  for (int i = 0; i < 64; i++)
    keep[i] = T_malloc((size_t)(i % 16 + 1) * 1024); /* new small spans */
  T_free(opaque_ptr(p));
  returned("second free");
  for (int i = 0; i < 64; i++)
    T_free(keep[i]);
}
static void df_between_many(void) {
  void *p = T_malloc(48);
  void *others[100];
  for (int i = 0; i < 100; i++)
    others[i] = T_malloc(48);
  announce(p);
  T_free(p);
  for (int i = 0; i < 100; i++)
    T_free(others[i]);
  T_free(opaque_ptr(p));
  returned("second free");
}
static void df_aligned(void) {
  void *p = T_aligned_alloc(4096, 5000);
  announce(p);
  T_free(p);
  T_free(opaque_ptr(p));
  returned("second free");
}
static void df_calloc(void) {
  void *p = T_calloc(10, 10);
  announce(p);
  T_free(p);
  T_free(opaque_ptr(p));
  returned("second free");
}

struct xt {
  size_t n;
  void *p;
};
static void *xt_alloc_free(void *arg) {
  struct xt *x = arg;
  x->p = T_malloc(x->n);
  T_free(x->p);
  return NULL;
}
static void *xt_free(void *arg) {
  struct xt *x = arg;
  T_free(x->p);
  return NULL;
}
/* Free x->p on a thread of its own, and wait for it. */
static void free_on_thread(struct xt *x) {
  pthread_t t;
  pthread_create(&t, NULL, xt_free, x);
  pthread_join(t, NULL);
}
/* Thread A mallocs p and frees it; after the join, thread B (main) frees it. */
static void df_xthread(size_t n) {
  struct xt x = {n, NULL};
  pthread_t t;
  pthread_create(&t, NULL, xt_alloc_free, &x);
  pthread_join(t, NULL);
  announce(x.p);
  T_free(opaque_ptr(x.p));
  returned("second free");
}
static void df_xthread_small(void) { df_xthread(64); }
static void df_xthread_large(void) { df_xthread(1 * MiB); }
/* main mallocs, thread A frees (remote free), thread B frees again. */
static void df_xthread_remote(void) {
  struct xt x = {96, T_malloc(96)};
  announce(x.p);
  free_on_thread(&x);
  free_on_thread(&x);
  returned("second free");
}
/* main mallocs, thread A frees (remote free), main frees again: caught at
 * the second free, not later at a sweep the program may never reach. */
static void df_xthread_back(void) {
  struct xt x = {96, T_malloc(96)};
  announce(x.p);
  free_on_thread(&x);
  T_free(opaque_ptr(x.p));
  returned("second free");
}

/* ---- interior pointers ------------------------------------------------------ */

static void interior(size_t n, size_t off) {
  unsigned char *p = T_malloc(n);
  announce(p + off);
  T_free(opaque_ptr(p + off));
  returned("free of an interior pointer");
}
static void int_small_1(void) { interior(64, 1); }
static void int_small_8(void) { interior(64, 8); }
static void int_small_16(void) { interior(48, 16); }
static void int_small_last(void) { interior(4096, 4095); }
static void int_large_4096(void) { interior(1 * MiB, 4096); }
static void int_large_8192(void) { interior(1 * MiB, 8192); }
static void int_large_16(void) { interior(100 * KiB, 16); }
static void int_large_mid(void) { interior(3 * MiB, 1 * MiB + 8); }
static void int_aligned(void) {
  unsigned char *p = T_aligned_alloc(4096, 40000);
  announce(p + 4096);
  T_free(opaque_ptr(p + 4096));
  returned("free of an interior pointer");
}

/* ---- not allocated ------------------------------------------------------------ */

/* A page of the heap that was allocated and is free now. */
static void na_freed_page(void) {
  unsigned char *p = T_malloc(1 * MiB);
  unsigned char *q = p + 64 * KiB;
  announce(q);
  T_free(p);
  T_free(opaque_ptr(q));
  returned("free of a freed page");
}
/* A slot that was never handed out: the first block of the 28672 B class
 * (2 slots per 57344 B span): the other slot is unused. */
static void na_never_issued(void) {
  /* 28664 bytes: the 28672-byte class (two per 56 KiB span) in release
   * builds, and with the 8-byte trailer of debug builds too. */
  unsigned char *p = T_malloc(28664);
  unsigned char *q = ((uintptr_t)p % 8192 == 0) ? p + 28672 : p - 28672;
  announce(q);
  T_free(opaque_ptr(q));
  returned("free of a never-issued slot");
}

/* ---- not owned ----------------------------------------------------------------- */

static void no_one(void) {
  announce((void *)1);
  T_free(opaque_ptr((void *)1));
  returned("free((void*)1)");
}
static void no_stack(void) {
  char buf[64];
  buf[0] = 1;
  announce(buf);
  T_free(opaque_ptr(buf));
  returned("free(stack)");
}
static void no_data(void) {
  announce(&data_word);
  T_free(opaque_ptr(&data_word));
  returned("free(.data)");
}
static void no_mmap_rw(void) {
  void *m = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  announce(m);
  T_free(opaque_ptr(m));
  returned("free(own mmap RW)");
}
static void no_mmap_none(void) {
  void *m = mmap(NULL, 64 * KiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  announce((char *)m + 4096);
  T_free(opaque_ptr((char *)m + 4096));
  returned("free(own mmap PROT_NONE)");
}
static void no_foreign(void) {
  void *f = foreign_block(100);
  announce(f);
  T_free(opaque_ptr(f));
  returned("free(pointer from another allocator)");
}
static void no_foreign_large(void) {
  void *f = foreign_block(1 * MiB);
  announce(f);
  T_free(opaque_ptr(f));
  returned("free(large pointer from another allocator)");
}
static void no_kernel(void) {
  void *k = (void *)(uintptr_t)0xffffffffffff0000ULL;
  announce(k);
  T_free(opaque_ptr(k));
  returned("free(kernel address)");
}
static void no_high_user(void) {
  void *k = (void *)(((uintptr_t)1 << 47) - 65536);
  announce(k);
  T_free(opaque_ptr(k));
  returned("free(top of user space)");
}
static void no_free_sized(void) {
  char buf[32];
  buf[0] = 0;
  announce(buf);
  if (T_HAVE_SIZED_FREE)
    T_free_sized(opaque_ptr(buf), 32);
  returned("free_sized(stack)");
}

/* ---- realloc ------------------------------------------------------------------------ */

static void re_one(void) {
  announce((void *)1);
  void *r = T_realloc(opaque_ptr((void *)1), 16);
  printf("realloc returned %p\n", r);
  returned("realloc((void*)1)");
}
static void re_stack(void) {
  char buf[64];
  buf[0] = 1;
  announce(buf);
  void *r = T_realloc(opaque_ptr(buf), 128);
  printf("realloc returned %p\n", r);
  returned("realloc(stack)");
}
static void re_foreign(void) {
  void *f = foreign_block(100);
  announce(f);
  void *r = T_realloc(opaque_ptr(f), 200);
  printf("realloc returned %p\n", r);
  returned("realloc(foreign)");
}
static void re_interior_small(void) {
  unsigned char *p = T_malloc(64);
  announce(p + 8);
  void *r = T_realloc(opaque_ptr(p + 8), 100);
  printf("realloc returned %p\n", r);
  returned("realloc(interior)");
}
static void re_interior_large(void) {
  unsigned char *p = T_malloc(1 * MiB);
  announce(p + 4096);
  void *r = T_realloc(opaque_ptr(p + 4096), 2 * MiB);
  printf("realloc returned %p\n", r);
  returned("realloc(interior large)");
}
static void re_freed(void) {
  void *p = T_malloc(64);
  announce(p);
  T_free(p);
  void *r = T_realloc(opaque_ptr(p), 100);
  printf("realloc returned %p\n", r);
  returned("realloc(freed)");
}
static void re_freed_large(void) {
  void *p = T_malloc(1 * MiB);
  announce(p);
  T_free(p);
  void *r = T_realloc(opaque_ptr(p), 100);
  printf("realloc returned %p\n", r);
  returned("realloc(freed large)");
}

/* ---- malloc_usable_size --------------------------------------------------------------- */

static void us_one(void) {
  announce((void *)1);
  size_t u = T_usable(opaque_ptr((void *)1));
  printf("usable %zu\n", u);
  returned("malloc_usable_size((void*)1)");
}
static void us_stack(void) {
  char buf[64];
  buf[0] = 1;
  announce(buf);
  size_t u = T_usable(opaque_ptr(buf));
  printf("usable %zu\n", u);
  returned("malloc_usable_size(stack)");
}
static void us_foreign(void) {
  void *f = foreign_block(100);
  announce(f);
  size_t u = T_usable(opaque_ptr(f));
  printf("usable %zu\n", u);
  returned("malloc_usable_size(foreign)");
}
static void us_interior_small(void) {
  unsigned char *p = T_malloc(64);
  announce(p + 8);
  size_t u = T_usable(opaque_ptr(p + 8));
  printf("usable %zu\n", u);
  returned("malloc_usable_size(interior)");
}
static void us_interior_large(void) {
  unsigned char *p = T_malloc(1 * MiB);
  announce(p + 4096);
  size_t u = T_usable(opaque_ptr(p + 4096));
  printf("usable %zu\n", u);
  returned("malloc_usable_size(interior large)");
}
static void us_freed(void) {
  void *p = T_malloc(64);
  announce(p);
  T_free(p);
  size_t u = T_usable(opaque_ptr(p));
  printf("usable %zu\n", u);
  returned("malloc_usable_size(freed)");
}

/* ---- must not abort ---------------------------------------------------------------------- */

static void ok_control(void) {
  for (int i = 0; i < 1000; i++) {
    void *p = T_malloc((size_t)i * 33);
    T_free(p);
  }
  void *p = T_malloc(64);
  announce(p);
  T_free(p);
  printf("clean\n");
}
/* User bytes equal to what metadata could look like (tst-tcfree3). */
static void ok_user_metadata(void) {
  enum { K = 256 };
  uintptr_t *ps[K];
  for (int r = 0; r < 50; r++) {
    for (int k = 0; k < K; k++)
      ps[k] = T_malloc((size_t)(k % 8 + 1) * 16);
    for (int k = 0; k < K; k += 2)
      T_free(ps[k]);
    for (int k = 1; k < K; k += 2) {
      size_t words = ((size_t)(k % 8 + 1) * 16) / sizeof(uintptr_t);
      for (size_t w = 0; w < words; w++)
        ps[k][w] = (w & 1) ? (uintptr_t)ps[(k + 1) % K] : (uintptr_t)ps[k];
    }
    for (int k = 0; k < K; k += 2) {
      ps[k] = T_malloc((size_t)(k % 8 + 1) * 16);
      ps[k][0] = (uintptr_t)ps[k];
      ps[k][1] = (uintptr_t)ps[(k + 3) % K];
    }
    for (int k = 0; k < K; k++)
      T_free(ps[k]);
  }
  announce(ps[0]);
  printf("clean\n");
}

/* ---- table and driver ----------------------------------------------------------------------- */

typedef struct fault_case {
  const char *name;
  void (*fn)(void);
  const char *fault;  /* NULL: must exit 0 without a fatal line */
  const char *detail; /* NULL: any detail */
  const char *fault2; /* an alternative accepted where the spec allows two */
  const char *detail2;
} fault_case_t;

static const fault_case_t cases[] = {
    {"double_free_small", df_small, "double free", NULL, NULL, NULL},
    {"double_free_large", df_large, "double free", NULL, NULL, NULL},
    {"double_free_huge", df_huge, "double free", NULL, NULL, NULL},
    {"double_free_between_small", df_between_small, "double free", NULL, NULL, NULL},
    {"double_free_between_large", df_between_large, "double free", NULL, NULL, NULL},
    {"double_free_between_many", df_between_many, "double free", NULL, NULL, NULL},
    {"double_free_large_struct_reused", df_large_struct_reused, "double free", NULL, NULL, NULL},
    {"double_free_aligned", df_aligned, "double free", NULL, NULL, NULL},
    {"double_free_calloc", df_calloc, "double free", NULL, NULL, NULL},
    {"double_free_xthread_small", df_xthread_small, "double free", NULL, NULL, NULL},
    {"double_free_xthread_large", df_xthread_large, "double free", NULL, NULL, NULL},
    {"double_free_xthread_remote", df_xthread_remote, "double free", NULL, NULL, NULL},
    {"double_free_xthread_back", df_xthread_back, "double free", NULL, NULL, NULL},
    {"interior_small_p1", int_small_1, "invalid free", INTERIOR, NULL, NULL},
    {"interior_small_p8", int_small_8, "invalid free", INTERIOR, NULL, NULL},
    {"interior_small_48_p16", int_small_16, "invalid free", INTERIOR, NULL, NULL},
    {"interior_small_last_byte", int_small_last, "invalid free", INTERIOR, NULL, NULL},
    {"interior_large_p4096", int_large_4096, "invalid free", INTERIOR, NULL, NULL},
    {"interior_large_p8192", int_large_8192, "invalid free", INTERIOR, NULL, NULL},
    {"interior_large_p16", int_large_16, "invalid free", INTERIOR, NULL, NULL},
    {"interior_large_mid", int_large_mid, "invalid free", INTERIOR, NULL, NULL},
    {"interior_aligned", int_aligned, "invalid free", INTERIOR, NULL, NULL},
    {"not_allocated_freed_page", na_freed_page, "invalid free", NOT_ALLOCATED, NULL, NULL},
    /* The spec names a never-issued slot "not allocated"; with slot state in
     * bitmaps it is indistinguishable from a freed slot, so "double free" is
     * accepted too. */
    {"not_allocated_never_issued_slot", na_never_issued, "invalid free", NOT_ALLOCATED,
     "double free", NULL},
    {"not_owned_1", no_one, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_stack", no_stack, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_data", no_data, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_mmap_rw", no_mmap_rw, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_mmap_none", no_mmap_none, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_foreign_small", no_foreign, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_foreign_large", no_foreign_large, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_kernel_address", no_kernel, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_top_of_user_space", no_high_user, "invalid free", NOT_OWNED, NULL, NULL},
    {"not_owned_free_sized_stack", no_free_sized, "invalid free", NOT_OWNED, NULL, NULL},
    {"realloc_not_owned_1", re_one, "invalid realloc", NOT_OWNED, NULL, NULL},
    {"realloc_not_owned_stack", re_stack, "invalid realloc", NOT_OWNED, NULL, NULL},
    {"realloc_not_owned_foreign", re_foreign, "invalid realloc", NOT_OWNED, NULL, NULL},
    {"realloc_interior_small", re_interior_small, "invalid realloc", INTERIOR, NULL, NULL},
    {"realloc_interior_large", re_interior_large, "invalid realloc", INTERIOR, NULL, NULL},
    /* realloc of a freed block: the fault word is fixed, the detail may be
     * "not allocated" or the double-free wording. */
    {"realloc_freed_small", re_freed, "invalid realloc", NULL, NULL, NULL},
    {"realloc_freed_large", re_freed_large, "invalid realloc", NULL, NULL, NULL},
    {"usable_not_owned_1", us_one, USABLE_FAULT, NOT_OWNED, USABLE_FAULT_ALT, NOT_OWNED},
    {"usable_not_owned_stack", us_stack, USABLE_FAULT, NOT_OWNED, USABLE_FAULT_ALT, NOT_OWNED},
    {"usable_not_owned_foreign", us_foreign, USABLE_FAULT, NOT_OWNED, USABLE_FAULT_ALT, NOT_OWNED},
    {"usable_interior_small", us_interior_small, USABLE_FAULT, INTERIOR, USABLE_FAULT_ALT,
     INTERIOR},
    {"usable_interior_large", us_interior_large, USABLE_FAULT, INTERIOR, USABLE_FAULT_ALT,
     INTERIOR},
    {"usable_freed", us_freed, USABLE_FAULT, NULL, USABLE_FAULT_ALT, NULL},
    {"control_valid_free", ok_control, NULL, NULL, NULL, NULL},
    {"user_data_like_metadata", ok_user_metadata, NULL, NULL, NULL, NULL},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const char fatal_prefix[] = "gomalloc: fatal: ";

/* Counts stderr lines starting with the fatal prefix; returns the first. */
static int fatal_lines(const char *err, const char **first, size_t *first_len) {
  int n = 0;
  const char *s = err;
  while (*s) {
    const char *eol = strchr(s, '\n');
    size_t len = eol ? (size_t)(eol - s) : strlen(s);
    if (len >= sizeof fatal_prefix - 1 && memcmp(s, fatal_prefix, sizeof fatal_prefix - 1) == 0) {
      if (n++ == 0) {
        *first = s;
        *first_len = len;
      }
    }
    s += len + (eol ? 1 : 0);
  }
  return n;
}

/* Does line (without newline) match "<prefix><fault> <ptr>" followed by
 * " (<detail>)" (any detail if detail is NULL) and nothing else? */
static int line_matches(const char *line, size_t len, const char *fault, const char *ptr,
                        const char *detail) {
  char want[512];
  int n = snprintf(want, sizeof want, "%s%s %s", fatal_prefix, fault, ptr);
  if (n < 0 || (size_t)n > len || memcmp(line, want, (size_t)n) != 0)
    return 0;
  const char *rest = line + n;
  size_t rlen = len - (size_t)n;
  if (detail) {
    char d[256];
    int m = snprintf(d, sizeof d, " (%s)", detail);
    return (size_t)m == rlen && memcmp(rest, d, rlen) == 0;
  }
  /* Any detail: nothing, or " (...)". */
  return rlen == 0 || (rlen >= 3 && rest[0] == ' ' && rest[1] == '(' && rest[rlen - 1] == ')');
}

static child_result_t result;

static void run_case(const char *argv0, const fault_case_t *c) {
  check_section(c->name);
  char name[128];
  snprintf(name, sizeof name, "%s", c->name);
  char *args[] = {(char *)argv0, name, NULL};
  if (run_child(NULL, NULL, args, NULL, 30, &result) != 0) {
    CHECK(0, "%s: could not start the child: %s", c->name, strerror(errno));
    return;
  }
  char st[128];
  child_status_text(&result, st, sizeof st);
  /* The announced pointer. */
  char ptr[64] = "";
  const char *pl = strstr(result.out, "PTR ");
  if (pl)
    sscanf(pl + 4, "%63s", ptr);
  int ok = CHECK(ptr[0] != 0, "%s: expected the child to announce its pointer, got no PTR line",
                 c->name);
  const char *line = NULL;
  size_t len = 0;
  int nfatal = fatal_lines(result.err, &line, &len);

  if (!c->fault) {
    ok &= CHECK(child_exited_ok(&result), "%s: expected exit 0 (no fault), got %s", c->name, st);
    ok &= CHECK(nfatal == 0, "%s: expected no fatal line, got: %.*s", c->name, (int)len,
                line ? line : "");
  } else {
    ok &= CHECK(!result.timed_out && WIFSIGNALED(result.status) && WTERMSIG(result.status) == SIGABRT,
                "%s: expected death by SIGABRT, got %s", c->name, st);
    ok &= CHECK(nfatal == 1, "%s: expected exactly one \"%s...\" line on stderr, got %d", c->name,
                fatal_prefix, nfatal);
    if (nfatal >= 1 && ptr[0]) {
      int m = line_matches(line, len, c->fault, ptr, c->detail) ||
              (c->fault2 && line_matches(line, len, c->fault2, ptr, c->detail2));
      char want[512];
      snprintf(want, sizeof want, "%s%s %s (%s)%s%s%s%s%s", fatal_prefix, c->fault, ptr,
               c->detail ? c->detail : "<any detail>", c->fault2 ? "  or  " : "",
               c->fault2 ? c->fault2 : "", c->fault2 ? " " : "", c->fault2 ? ptr : "",
               c->fault2 ? (c->detail2 ? " (...)" : " (<any detail>)") : "");
      ok &= CHECK(m, "%s: expected line \"%s\", got \"%.*s\"", c->name, want, (int)len, line);
    }
  }
  if (!ok)
    child_dump(c->name, &result);
  else
    printf("ok   %s\n", c->name);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2) {
    for (size_t i = 0; i < NCASES; i++)
      if (strcmp(argv[1], cases[i].name) == 0) {
        /* Make stdio allocate its buffer now, not between a case's frees. */
        printf("CASE %s\n", argv[1]);
        fflush(stdout);
        cases[i].fn();
        fflush(stdout);
        return 0;
      }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
  }
  printf("test_faults (%s API): %zu cases\n", API_NAME, NCASES);
  for (size_t i = 0; i < NCASES; i++)
    run_case(argv[0], &cases[i]);
  return check_summary();
}
