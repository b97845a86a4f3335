/* test_realloc.c: realloc and reallocarray (checklist items 6-9).
 *
 *  6  realloc(NULL, n) = malloc(n); realloc(NULL, 0) non-NULL; realloc(p, 0)
 *     frees p and returns NULL (glibc behaviour).
 *  7  realloc(p, SIZE_MAX) / realloc(p, PTRDIFF_MAX+1) -> NULL + ENOMEM, p
 *     still valid with its contents.
 *  8  realloc keeps min(old, new) bytes across every class pair and
 *     small <-> large; realloc(p, malloc_usable_size(p)) returns p.
 *  9  reallocarray overflow -> NULL + ENOMEM, buffer untouched;
 *     reallocarray(NULL, 0, 16) non-NULL. */
#include "api.h"

static const size_t classes[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,   192,
    208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,   640,
    704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,  3072,  3200,
    3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288,
    13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
    /* odd and large sizes */
    1, 7, 17, 33, 1000, 32769, 40000, 65536, 100001, 1 * 1024 * 1024, 3 * 1024 * 1024 + 5,
    9 * 1024 * 1024};
#define NSIZES (sizeof classes / sizeof classes[0])

static void test_null_and_zero(void) {
  check_section("realloc NULL / 0");
  void *p = T_realloc(NULL, opaque_size(0));
  CHECK(p != NULL, "realloc(NULL, 0): expected non-NULL, got NULL (errno %s)", errno_name(errno));
  T_free(p);
  for (size_t i = 0; i < NSIZES; i++) {
    size_t n = classes[i];
    unsigned char *q = T_realloc(NULL, n);
    if (!CHECK(q != NULL, "realloc(NULL, %zu): expected a block, got NULL", n))
      continue;
    CHECK(T_usable(q) >= n, "realloc(NULL, %zu): expected usable >= %zu, got %zu", n, n,
          T_usable(q));
    if (n >= 16)
      CHECK(((uintptr_t)q & 15) == 0, "realloc(NULL, %zu): expected 16-byte aligned, got %p", n,
            (void *)q);
    memset(q, 0x11, n);
    T_free(q);
  }
  /* realloc(p, 0) frees p and returns NULL. */
  for (size_t i = 0; i < NSIZES; i++) {
    void *q = T_malloc(classes[i]);
    if (!q)
      continue;
    void *r = T_realloc(q, opaque_size(0));
    CHECK(r == NULL, "realloc(malloc(%zu), 0): expected NULL (block freed), got %p", classes[i], r);
    if (r)
      T_free(r);
  }
  /* ... and really frees it: 20,000 x 4 MiB through realloc(p, 0) must not
   * accumulate (80 GB would be needed otherwise). */
  size_t vsz0 = vsz_bytes(), rss0 = rss_bytes();
  for (int i = 0; i < 20000; i++) {
    unsigned char *q = T_malloc(opaque_size(4 * MiB));
    if (!q) {
      CHECK(0, "malloc(4 MiB) #%d in realloc(p,0) loop: expected a block, got NULL", i);
      break;
    }
    q[0] = 1;
    q[4 * MiB - 1] = 1;
    void *r = T_realloc(q, opaque_size(0));
    if (r) {
      CHECK(0, "realloc(p, 0): expected NULL, got %p", r);
      T_free(r);
      break;
    }
  }
  size_t vsz1 = vsz_bytes(), rss1 = rss_bytes();
  CHECK(vsz1 <= vsz0 + 1 * GiB, "realloc(p,0) loop: expected VM growth <= 1 GiB, got %zu MiB",
        (vsz1 - vsz0) / MiB);
  CHECK(rss1 <= rss0 + 64 * MiB, "realloc(p,0) loop: expected RSS growth <= 64 MiB, got %zu MiB",
        rss1 > rss0 ? (rss1 - rss0) / MiB : 0);
}

static void test_failed_realloc(void) {
  check_section("failed realloc");
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
                         (size_t)1 << 50, ((size_t)1 << 48) + 1};
  for (size_t i = 0; i < NSIZES; i++) {
    size_t n = classes[i];
    unsigned char *p = T_malloc(n);
    if (!p)
      continue;
    pattern_fill(p, n, n);
    size_t u = T_usable(p);
    for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++) {
      errno_sentinel();
      void *r = T_realloc(opaque_ptr(p), opaque_size(huge[h]));
      int e = errno;
      CHECK(r == NULL && e == ENOMEM,
            "realloc(malloc(%zu), 0x%zx): expected NULL/ENOMEM, got %p/%s (%d)", n, huge[h], r,
            errno_name(e), e);
      if (r) { /* p is gone; stop using it */
        T_free(r);
        p = NULL;
        break;
      }
    }
    if (!p)
      continue;
    size_t bad = pattern_find_bad(p, n, n);
    CHECK(bad == n, "block of %zu after failed realloc: expected contents intact, differ at %zu", n,
          bad);
    CHECK(T_usable(p) == u, "block of %zu after failed realloc: usable changed %zu -> %zu", n, u,
          T_usable(p));
    /* Still a normal block: it can grow and be freed. */
    unsigned char *q = T_realloc(p, n + 100);
    if (CHECK(q != NULL, "realloc after a failed realloc: expected a block, got NULL")) {
      bad = pattern_find_bad(q, n, n);
      CHECK(bad == n, "grow after failed realloc (%zu): contents differ at %zu", n, bad);
      T_free(q);
    }
  }
}

static void test_class_pairs(void) {
  check_section("class pairs");
  for (size_t i = 0; i < NSIZES; i++) {
    for (size_t j = 0; j < NSIZES; j++) {
      size_t a = classes[i], b = classes[j];
      unsigned char *p = T_malloc(a);
      if (!CHECK(p != NULL, "malloc(%zu): expected a block, got NULL", a))
        continue;
      pattern_fill(p, a, a ^ b);
      unsigned char *q = T_realloc(p, b);
      if (!CHECK(q != NULL, "realloc(%zu -> %zu): expected a block, got NULL", a, b)) {
        T_free(p);
        continue;
      }
      size_t keep = a < b ? a : b;
      size_t bad = pattern_find_bad(q, keep, a ^ b);
      CHECK(bad == keep, "realloc(%zu -> %zu): expected first %zu bytes kept, differ at %zu", a, b,
            keep, bad);
      CHECK(T_usable(q) >= b, "realloc(%zu -> %zu): expected usable >= %zu, got %zu", a, b, b,
            T_usable(q));
      if (b >= 16)
        CHECK(((uintptr_t)q & 15) == 0, "realloc(%zu -> %zu): expected 16-aligned, got %p", a, b,
              (void *)q);
      memset(q, 0x3c, b); /* the whole new size is writable */
      T_free(q);
    }
  }
  /* A chain through every size and back, one block. */
  check_section("realloc chain");
  size_t cur = 1;
  unsigned char *p = T_malloc(cur);
  if (p) {
    p[0] = pattern_byte(1, 0);
    for (int pass = 0; pass < 2 && p; pass++) {
      for (size_t k = 0; k < NSIZES && p; k++) {
        size_t i = pass == 0 ? k : NSIZES - 1 - k;
        size_t n = classes[i];
        unsigned char *q = T_realloc(p, n);
        if (!CHECK(q != NULL, "chain realloc(%zu -> %zu): expected a block, got NULL", cur, n)) {
          T_free(p);
          p = NULL;
          break;
        }
        size_t keep = cur < n ? cur : n;
        size_t bad = pattern_find_bad(q, keep, 1);
        CHECK(bad == keep, "chain realloc(%zu -> %zu): contents differ at %zu", cur, n, bad);
        pattern_fill(q, n, 1);
        p = q;
        cur = n;
      }
    }
    T_free(p);
  }
}

static void test_usable_in_place(void) {
  check_section("realloc to usable size");
  for (size_t i = 0; i < NSIZES; i++) {
    size_t n = classes[i];
    unsigned char *p = T_malloc(n);
    if (!p)
      continue;
    size_t u = T_usable(p);
    pattern_fill(p, u, 9);
    void *q = T_realloc(opaque_ptr(p), u);
    CHECK(q == p, "realloc(p, usable %zu) for malloc(%zu): expected the same pointer %p, got %p", u,
          n, (void *)p, q);
    if (q) {
      size_t bad = pattern_find_bad(q, u, 9);
      CHECK(bad == u, "realloc(p, usable) of %zu: contents differ at %zu", n, bad);
      /* Shrinking to the requested size keeps the contents too. */
      unsigned char *r = T_realloc(q, n);
      if (CHECK(r != NULL, "realloc(p, %zu) shrink: expected a block, got NULL", n)) {
        bad = pattern_find_bad(r, n, 9);
        CHECK(bad == n, "shrink back to %zu: contents differ at %zu", n, bad);
        T_free(r);
      }
    }
  }
}

static void test_reallocarray(void) {
  check_section("reallocarray");
  const size_t M = SIZE_MAX;
  CHECK_NULL_ERRNO(T_reallocarray(NULL, opaque_size(M), 2), ENOMEM);
  CHECK_NULL_ERRNO(T_reallocarray(NULL, 2, opaque_size(M)), ENOMEM);
  CHECK_NULL_ERRNO(T_reallocarray(NULL, opaque_size(65537), opaque_size(M / 65537 + 1)), ENOMEM);
  CHECK_NULL_ERRNO(T_reallocarray(NULL, opaque_size(M / 65537 + 1), opaque_size(65537)), ENOMEM);
  void *z = T_reallocarray(NULL, opaque_size(0), 16);
  CHECK(z != NULL, "reallocarray(NULL, 0, 16): expected non-NULL, got NULL");
  T_free(z);
  z = T_reallocarray(NULL, 16, opaque_size(0));
  CHECK(z != NULL, "reallocarray(NULL, 16, 0): expected non-NULL, got NULL");
  T_free(z);

  const size_t sizes[] = {100, 4096, 100000};
  for (size_t s = 0; s < 3; s++) {
    size_t n = sizes[s];
    unsigned char *p = T_malloc(n);
    if (!p)
      continue;
    pattern_fill(p, n, 77);
    CHECK_NULL_ERRNO(T_reallocarray(opaque_ptr(p), opaque_size(M), 2), ENOMEM);
    CHECK_NULL_ERRNO(T_reallocarray(opaque_ptr(p), 2, opaque_size(M)), ENOMEM);
    CHECK_NULL_ERRNO(T_reallocarray(opaque_ptr(p), opaque_size(65537), opaque_size(M / 65537 + 1)),
                     ENOMEM);
    CHECK_NULL_ERRNO(T_reallocarray(opaque_ptr(p), opaque_size(M / 65537 + 1), opaque_size(65537)),
                     ENOMEM);
    size_t bad = pattern_find_bad(p, n, 77);
    CHECK(bad == n, "buffer of %zu after reallocarray overflow: expected untouched, differs at %zu",
          n, bad);
    /* A valid reallocarray keeps the contents. */
    unsigned char *q = T_reallocarray(p, 3, n);
    if (CHECK(q != NULL, "reallocarray(p, 3, %zu): expected a block, got NULL", n)) {
      bad = pattern_find_bad(q, n, 77);
      CHECK(bad == n, "reallocarray(p, 3, %zu): contents differ at %zu", n, bad);
      CHECK(T_usable(q) >= 3 * n, "reallocarray(p, 3, %zu): usable %zu < %zu", n, T_usable(q),
            3 * n);
      T_free(q);
    }
  }
}

/* Growing one block step by step (vector-like) keeps everything. */
static void test_growth(void) {
  check_section("growth");
  size_t n = 0;
  unsigned char *p = NULL;
  for (size_t step = 1; n < 48 * MiB; step = step * 5 / 4 + 16) {
    size_t m = n + step;
    unsigned char *q = T_realloc(p, m);
    if (!CHECK(q != NULL, "growth realloc(%zu -> %zu): expected a block, got NULL", n, m))
      break;
    for (size_t i = n; i < m; i++)
      q[i] = pattern_byte(5, i);
    p = q;
    n = m;
  }
  size_t bad = pattern_find_bad(p, n, 5);
  CHECK(bad == n, "growth to %zu: contents differ at %zu", n, bad);
  /* And shrink step by step. */
  while (p && n > 64) {
    size_t m = n / 3;
    unsigned char *q = T_realloc(p, m);
    if (!CHECK(q != NULL, "shrink realloc(%zu -> %zu): expected a block, got NULL", n, m))
      break;
    p = q;
    n = m;
    bad = pattern_find_bad(p, n, 5);
    if (!CHECK(bad == n, "shrink to %zu: contents differ at %zu", n, bad))
      break;
  }
  T_free(p);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_realloc (%s API)\n", API_NAME);
  test_null_and_zero();
  test_failed_realloc();
  test_class_pairs();
  test_usable_in_place();
  test_reallocarray();
  test_growth();
  return check_summary();
}
