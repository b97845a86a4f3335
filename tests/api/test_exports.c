/* test_exports.c: the exported names (checklist item 34, and the link-time
 * half of item 33).
 *
 * - dlsym(RTLD_DEFAULT, name) for every standard allocation name, the
 *   __libc_* aliases and the mangled C++ operators resolves, and dladdr
 *   places it in libgomalloc.so (this program links the shared library);
 * - each C function, called through the resolved pointer, hands out
 *   gomalloc memory (gm_usable_size agrees with malloc_usable_size) and
 *   frees it;
 * - libc functions that allocate internally (strdup, strndup, asprintf,
 *   getline, realpath, open_memstream, wcsdup, get_current_dir_name, fopen)
 *   return gomalloc blocks that free() takes, and the program break (brk)
 *   does not move, i.e. glibc's malloc is not used.
 * Behaviour checks run in a forked child, so a foreign pointer (which makes
 * gm_usable_size abort) is reported as a failure, not a crash. */
#include "api.h"

#include <dlfcn.h>
#include <wchar.h>

#if defined(GM_TEST_BASELINE)
/* glibc-only harness check: there is no gm_usable_size. */
static size_t gm_usable_size(const void *p) {
  (void)p;
  return 0;
}
#endif

static const char *const c_names[] = {
    "malloc",         "free",           "calloc",          "realloc",       "reallocarray",
    "aligned_alloc",  "posix_memalign", "memalign",        "valloc",        "pvalloc",
    "malloc_usable_size", "malloc_trim", "free_sized",     "free_aligned_sized", "cfree",
    "__libc_malloc",  "__libc_free",    "__libc_calloc",   "__libc_realloc", "__libc_memalign",
    "__libc_valloc",  "__libc_pvalloc", "mallinfo",        "mallinfo2",     "malloc_stats",
    "malloc_info",    "mallopt"};

static const char *const cxx_names[] = {
    "_Znwm",                                 /* new(size_t) */
    "_Znam",                                 /* new[](size_t) */
    "_ZnwmRKSt9nothrow_t",                   /* new(size_t, nothrow) */
    "_ZnamRKSt9nothrow_t",                   /* new[](size_t, nothrow) */
    "_ZdlPv",                                /* delete(void*) */
    "_ZdaPv",                                /* delete[](void*) */
    "_ZdlPvRKSt9nothrow_t",                  /* delete(void*, nothrow) */
    "_ZdaPvRKSt9nothrow_t",                  /* delete[](void*, nothrow) */
    "_ZdlPvm",                               /* delete(void*, size_t) */
    "_ZdaPvm",                               /* delete[](void*, size_t) */
    "_ZnwmSt11align_val_t",                  /* new(size_t, align) */
    "_ZnamSt11align_val_t",                  /* new[](size_t, align) */
    "_ZnwmSt11align_val_tRKSt9nothrow_t",    /* new(size_t, align, nothrow) */
    "_ZnamSt11align_val_tRKSt9nothrow_t",    /* new[](size_t, align, nothrow) */
    "_ZdlPvSt11align_val_t",                 /* delete(void*, align) */
    "_ZdaPvSt11align_val_t",                 /* delete[](void*, align) */
    "_ZdlPvSt11align_val_tRKSt9nothrow_t",   /* delete(void*, align, nothrow) */
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",   /* delete[](void*, align, nothrow) */
    "_ZdlPvmSt11align_val_t",                /* delete(void*, size_t, align) */
    "_ZdaPvmSt11align_val_t",                /* delete[](void*, size_t, align) */
};

static void check_name(const char *name) {
  dlerror();
  void *s = dlsym(RTLD_DEFAULT, name);
  if (!CHECK(s != NULL, "dlsym(RTLD_DEFAULT, \"%s\"): expected a symbol, got NULL (%s)", name,
             dlerror()))
    return;
  Dl_info info;
  memset(&info, 0, sizeof info);
  if (!CHECK(dladdr(s, &info) != 0, "dladdr(%s = %p): expected an object, got none", name, s))
    return;
  CHECK(info.dli_fname && strstr(info.dli_fname, "libgomalloc.so") != NULL,
        "%s resolves to %p in \"%s\": expected libgomalloc.so", name, s,
        info.dli_fname ? info.dli_fname : "(null)");
}

/* The C functions called through dlsym pointers: gomalloc blocks. */
static int owned(void *p) {
  if (!p)
    return 0;
  size_t g = gm_usable_size(p), m = malloc_usable_size(p);
  return g > 0 && g == m;
}

static void *sym(const char *name) { return dlsym(RTLD_DEFAULT, name); }

#define CALL_CHECK(expr, what)                                                                     \
  do {                                                                                             \
    void *p_ = (expr);                                                                             \
    CHECK(owned(p_), "%s: expected a gomalloc block (gm_usable_size == malloc_usable_size > 0), "  \
                     "got %p",                                                                     \
          what, p_);                                                                               \
    free(p_);                                                                                      \
  } while (0)

static int behaviour_child(void *arg) {
  (void)arg;
  check_section("exported functions behave");
  void *(*f_malloc)(size_t) = (void *(*)(size_t))sym("malloc");
  void *(*f_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))sym("calloc");
  void *(*f_realloc)(void *, size_t) = (void *(*)(void *, size_t))sym("realloc");
  void *(*f_reallocarray)(void *, size_t, size_t) =
      (void *(*)(void *, size_t, size_t))sym("reallocarray");
  void *(*f_aligned_alloc)(size_t, size_t) = (void *(*)(size_t, size_t))sym("aligned_alloc");
  int (*f_posix_memalign)(void **, size_t, size_t) =
      (int (*)(void **, size_t, size_t))sym("posix_memalign");
  void *(*f_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))sym("memalign");
  void *(*f_valloc)(size_t) = (void *(*)(size_t))sym("valloc");
  void *(*f_pvalloc)(size_t) = (void *(*)(size_t))sym("pvalloc");
  void (*f_free)(void *) = (void (*)(void *))sym("free");
  void (*f_cfree)(void *) = (void (*)(void *))sym("cfree");
  void (*f_free_sized)(void *, size_t) = (void (*)(void *, size_t))sym("free_sized");
  void (*f_free_aligned_sized)(void *, size_t, size_t) =
      (void (*)(void *, size_t, size_t))sym("free_aligned_sized");
  int (*f_trim)(size_t) = (int (*)(size_t))sym("malloc_trim");
  void *(*l_malloc)(size_t) = (void *(*)(size_t))sym("__libc_malloc");
  void *(*l_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_calloc");
  void *(*l_realloc)(void *, size_t) = (void *(*)(void *, size_t))sym("__libc_realloc");
  void *(*l_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_memalign");
  void *(*l_valloc)(size_t) = (void *(*)(size_t))sym("__libc_valloc");
  void *(*l_pvalloc)(size_t) = (void *(*)(size_t))sym("__libc_pvalloc");
  void (*l_free)(void *) = (void (*)(void *))sym("__libc_free");

  if (f_malloc)
    CALL_CHECK(f_malloc(100), "malloc");
  if (f_malloc)
    CALL_CHECK(f_malloc(1 * MiB), "malloc large");
  if (f_calloc)
    CALL_CHECK(f_calloc(10, 10), "calloc");
  if (f_realloc)
    CALL_CHECK(f_realloc(NULL, 100), "realloc(NULL)");
  if (f_reallocarray)
    CALL_CHECK(f_reallocarray(NULL, 10, 10), "reallocarray");
  if (f_aligned_alloc)
    CALL_CHECK(f_aligned_alloc(64, 100), "aligned_alloc");
  if (f_memalign)
    CALL_CHECK(f_memalign(4096, 100), "memalign");
  if (f_valloc)
    CALL_CHECK(f_valloc(100), "valloc");
  if (f_pvalloc)
    CALL_CHECK(f_pvalloc(100), "pvalloc");
  if (f_posix_memalign) {
    void *p = NULL;
    int rc = f_posix_memalign(&p, 256, 100);
    CHECK(rc == 0 && owned(p), "posix_memalign: expected 0 and a gomalloc block, got %d, %p", rc, p);
    free(p);
  }
  if (l_malloc)
    CALL_CHECK(l_malloc(100), "__libc_malloc");
  if (l_calloc)
    CALL_CHECK(l_calloc(10, 10), "__libc_calloc");
  if (l_realloc)
    CALL_CHECK(l_realloc(NULL, 100), "__libc_realloc");
  if (l_memalign)
    CALL_CHECK(l_memalign(64, 100), "__libc_memalign");
  if (l_valloc)
    CALL_CHECK(l_valloc(100), "__libc_valloc");
  if (l_pvalloc)
    CALL_CHECK(l_pvalloc(100), "__libc_pvalloc");
  /* The frees take gomalloc blocks (and errno survives). */
  void (*frees[])(void *) = {f_free, f_cfree, l_free};
  const char *free_names[] = {"free", "cfree", "__libc_free"};
  for (int i = 0; i < 3; i++) {
    if (!frees[i])
      continue;
    for (int k = 0; k < 1000; k++) {
      void *p = malloc((size_t)k * 40 + 1);
      errno_sentinel();
      frees[i](p);
      if (!CHECK(errno == ERRNO_SENTINEL, "%s: expected errno kept, got %d", free_names[i], errno))
        break;
    }
  }
  if (f_free_sized) {
    f_free_sized(malloc(100), 100);
    f_free_sized(NULL, 0);
  }
  if (f_free_aligned_sized)
    f_free_aligned_sized(aligned_alloc(64, 128), 64, 128);
  if (f_trim) {
    int r = f_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0): expected 0 or 1, got %d", r);
  }
  /* The malloc_usable_size symbol is gomalloc's. */
  void *p = malloc(100);
  CHECK(malloc_usable_size(p) == gm_usable_size(p) && gm_usable_size(p) >= 100,
        "malloc_usable_size %zu vs gm_usable_size %zu for malloc(100)", malloc_usable_size(p),
        gm_usable_size(p));
  free(p);
  fflush(stdout);
  return check_summary();
}

/* libc functions that allocate internally. */
static int libc_child(void *arg) {
  (void)arg;
  check_section("libc functions allocate from gomalloc");
  void *brk0 = sbrk(0);
  for (int r = 0; r < 20; r++) {
    char *s = strdup("hello, gomalloc");
    CHECK(owned(s), "strdup: expected a gomalloc block, got %p", (void *)s);
    free(s);
    s = strndup("hello, gomalloc", 5);
    CHECK(owned(s), "strndup: expected a gomalloc block, got %p", (void *)s);
    free(s);
    s = NULL;
    int n = asprintf(&s, "%d %s %f", 42, "text", 3.5);
    CHECK(n > 0 && owned(s), "asprintf: expected a gomalloc block, got %p", (void *)s);
    free(s);
    s = realpath("/proc/self/exe", NULL);
    CHECK(owned(s), "realpath(NULL): expected a gomalloc block, got %p", (void *)s);
    free(s);
    s = get_current_dir_name();
    CHECK(owned(s), "get_current_dir_name: expected a gomalloc block, got %p", (void *)s);
    free(s);
    wchar_t *w = wcsdup(L"wide");
    CHECK(owned(w), "wcsdup: expected a gomalloc block, got %p", (void *)w);
    free(w);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (CHECK(m != NULL, "open_memstream failed")) {
      for (int i = 0; i < 1000; i++)
        fprintf(m, "line %d\n", i);
      fclose(m);
      CHECK(owned(buf), "open_memstream buffer: expected a gomalloc block, got %p", (void *)buf);
      free(buf);
    }
    FILE *f = fopen("/proc/self/maps", "r");
    if (CHECK(f != NULL, "fopen(/proc/self/maps) failed")) {
      char *line = NULL;
      size_t cap = 0;
      int lines = 0;
      while (getline(&line, &cap, f) > 0)
        lines++;
      CHECK(lines > 0 && owned(line), "getline: expected a gomalloc block, got %p", (void *)line);
      free(line);
      fclose(f);
    }
  }
  void *brk1 = sbrk(0);
  CHECK(brk0 == brk1, "program break moved from %p to %p: glibc's malloc was used", brk0, brk1);
  fflush(stdout);
  return check_summary();
}

static child_result_t res;

static void run_section(const char *what, int (*fn)(void *)) {
  if (run_child(fn, NULL, NULL, NULL, 60, &res) != 0) {
    CHECK(0, "%s: could not start the child", what);
    return;
  }
  char st[128];
  int ok = CHECK(child_exited_ok(&res), "%s: expected the child to exit 0, got %s", what,
                 child_status_text(&res, st, sizeof st));
  if (!ok)
    child_dump(what, &res);
  else {
    printf("ok   %s\n", what);
    print_indented(res.out);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_exports (%s API)\n", API_NAME);
  check_section("dlsym/dladdr");
  for (size_t i = 0; i < sizeof c_names / sizeof c_names[0]; i++)
    check_name(c_names[i]);
  for (size_t i = 0; i < sizeof cxx_names / sizeof cxx_names[0]; i++)
    check_name(cxx_names[i]);
  /* The names this program linked against are gomalloc's too. */
  Dl_info info;
  void *direct[] = {(void *)malloc, (void *)free, (void *)calloc, (void *)realloc};
  const char *direct_names[] = {"malloc", "free", "calloc", "realloc"};
  for (int i = 0; i < 4; i++) {
    memset(&info, 0, sizeof info);
    dladdr(direct[i], &info);
    CHECK(info.dli_fname && strstr(info.dli_fname, "libgomalloc.so"),
          "&%s = %p lies in \"%s\": expected libgomalloc.so", direct_names[i], direct[i],
          info.dli_fname ? info.dli_fname : "(null)");
  }
  check_section("behaviour");
  run_section("exported functions behave", behaviour_child);
  run_section("libc functions allocate from gomalloc", libc_child);
  return check_summary();
}
