/* test_align.c: alignment (checklist items 10-15).
 *
 * 10  malloc(n) is 16-aligned for every n >= 16 (8-aligned below: the
 *     documented choice in gomalloc.h); calloc and realloc too.
 * 11  posix_memalign: EINVAL for a = 0, 3, 4, 24, 0x300, SIZE_MAX/2+2;
 *     ENOMEM for (8, SIZE_MAX), (4096, -4096); *p unchanged on error;
 *     (8, 0) -> 0 and freeable.
 * 12  aligned_alloc(0, 64), (65, 64), (SIZE_MAX/2+1, 64) -> NULL + EINVAL;
 *     (1, 64) succeeds; a size that is not a multiple is accepted.
 * 13  memalign rounds a non-power-of-two alignment up; a > SIZE_MAX/2+1 ->
 *     EINVAL; (8, -1), (4096, -4096) -> ENOMEM.
 * 14  valloc / pvalloc: page aligned; (0) non-NULL; (-1), (-pagesize) ->
 *     NULL + ENOMEM.
 * 15  alignments 16 B .. 1 GiB give aligned memory or ENOMEM and free
 *     cleanly; a 2 MiB-aligned malloc/free loop reuses memory (RSS and VM do
 *     not grow); a 4096-aligned 4096-byte block has usable size 4096. */
#include "api.h"

static const size_t classes[] = {
    16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,   192,   208,
    224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,   640,   704,
    768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,
    4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568,
    14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
#define NCLASSES (sizeof classes / sizeof classes[0])

static size_t page;

static void test_malloc_alignment(void) {
  check_section("malloc alignment");
  enum { K = 12 }; /* several live blocks per size, so every slot parity shows */
  void *ps[K];
  int bad = 0;
  for (size_t n = 1; n <= 4096 + 64; n++) {
    size_t want = n >= 16 ? 16 : 8;
    for (int k = 0; k < K; k++) {
      ps[k] = T_malloc(opaque_size(n));
      if (ps[k] && ((uintptr_t)ps[k] & (want - 1)) && bad++ < 20)
        CHECK(0, "malloc(%zu): expected %zu-byte alignment, got %p", n, want, ps[k]);
    }
    for (int k = 0; k < K; k++)
      T_free(ps[k]);
  }
  for (size_t c = 0; c < NCLASSES; c++) {
    for (size_t d = 0; d < 3; d++) {
      size_t n = classes[c] - d * 7;
      if (n < 16)
        continue;
      for (int k = 0; k < K; k++) {
        ps[k] = T_malloc(opaque_size(n));
        if (ps[k] && ((uintptr_t)ps[k] & 15) && bad++ < 20)
          CHECK(0, "malloc(%zu): expected 16-byte alignment, got %p", n, ps[k]);
      }
      for (int k = 0; k < K; k++)
        T_free(ps[k]);
    }
  }
  const size_t glibc_sizes[] = {2, 8, 13, 16, 23, 43, 123}; /* tst-mallocalign1 */
  for (size_t i = 0; i < 7; i++) {
    size_t n = glibc_sizes[i];
    void *p = T_malloc(opaque_size(n));
    size_t want = n >= 16 ? 16 : 8;
    CHECK(p && ((uintptr_t)p & (want - 1)) == 0, "malloc(%zu): expected %zu-aligned, got %p", n,
          want, p);
    T_free(p);
  }
  CHECK(bad == 0, "malloc alignment: expected no misaligned block, got %d", bad);

  check_section("calloc/realloc alignment");
  bad = 0;
  for (size_t n = 16; n <= 2048; n += 8) {
    for (int k = 0; k < K; k++) {
      ps[k] = T_calloc(1, opaque_size(n));
      if (ps[k] && ((uintptr_t)ps[k] & 15) && bad++ < 20)
        CHECK(0, "calloc(1, %zu): expected 16-byte alignment, got %p", n, ps[k]);
    }
    for (int k = 0; k < K; k++) {
      void *q = T_realloc(ps[k], opaque_size(n + 8));
      if (q) {
        ps[k] = q;
        if (((uintptr_t)q & 15) && bad++ < 20)
          CHECK(0, "realloc(p, %zu): expected 16-byte alignment, got %p", n + 8, q);
      }
    }
    for (int k = 0; k < K; k++)
      T_free(ps[k]);
  }
  CHECK(bad == 0, "calloc/realloc alignment: expected no misaligned block, got %d", bad);
}

static void pm_expect(size_t a, size_t n, int want_rc) {
  void *p = (void *)0x5eed;
  errno_sentinel();
  int rc = T_posix_memalign(&p, opaque_size(a), opaque_size(n));
  if (want_rc == 0) {
    CHECK(rc == 0 && p != (void *)0x5eed && p != NULL,
          "posix_memalign(a=0x%zx, n=0x%zx): expected 0 and a block, got %d (%s) and %p", a, n, rc,
          errno_name(rc), p);
    if (rc == 0) {
      CHECK(((uintptr_t)p & (a - 1)) == 0, "posix_memalign(0x%zx, %zu): got misaligned %p", a, n, p);
      T_free(p);
    }
  } else {
    CHECK(rc == want_rc && p == (void *)0x5eed,
          "posix_memalign(a=0x%zx, n=0x%zx): expected %s with *p unchanged (0x5eed), got %s (%d) "
          "with *p=%p",
          a, n, errno_name(want_rc), errno_name(rc), rc, p);
  }
}

static void test_posix_memalign(void) {
  check_section("posix_memalign");
  const size_t bad_a[] = {0, 1, 2, 3, 4, 5, 12, 24, 0x300, 4097, SIZE_MAX / 2 + 2, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad_a / sizeof bad_a[0]; i++) {
    pm_expect(bad_a[i], 10, EINVAL);
    pm_expect(bad_a[i], 0, EINVAL);
  }
  pm_expect(8, SIZE_MAX, ENOMEM);
  pm_expect(8, SIZE_MAX - 7, ENOMEM);
  pm_expect(4096, (size_t)0 - 4096, ENOMEM);
  pm_expect(4096, (size_t)PTRDIFF_MAX + 1, ENOMEM);
  pm_expect(SIZE_MAX / 2 + 1, 10, ENOMEM);
  pm_expect(8, 0, 0);
  pm_expect(16, 0, 0);
  pm_expect(8, 10, 0);
  pm_expect(256, 10, 0);
  pm_expect(4096, 1, 0);
}

static void test_aligned_alloc(void) {
  check_section("aligned_alloc");
  CHECK_NULL_ERRNO(T_aligned_alloc(opaque_size(0), 64), EINVAL);
  CHECK_NULL_ERRNO(T_aligned_alloc(opaque_size(65), 64), EINVAL);
  CHECK_NULL_ERRNO(T_aligned_alloc(opaque_size(3), 64), EINVAL);
  CHECK_NULL_ERRNO(T_aligned_alloc(opaque_size(SIZE_MAX / 2 + 1), 64), EINVAL);
  CHECK_NULL_ERRNO(T_aligned_alloc(opaque_size(SIZE_MAX), 64), EINVAL);
  const size_t ok[][2] = {{1, 64}, {2, 64}, {8, 64}, {64, 64}, {64, 100}, {64, 1},
                          {4096, 10}, {4096, 4097}, {16, 0}, {1, 1}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t a = ok[i][0], n = ok[i][1];
    errno_sentinel();
    void *p = T_aligned_alloc(opaque_size(a), opaque_size(n));
    int e = errno;
    if (CHECK(p != NULL, "aligned_alloc(%zu, %zu): expected a block, got NULL (%s)", a, n,
              errno_name(e))) {
      CHECK(((uintptr_t)p & (a - 1)) == 0, "aligned_alloc(%zu, %zu): expected aligned, got %p", a,
            n, p);
      CHECK(T_usable(p) >= n, "aligned_alloc(%zu, %zu): usable %zu < %zu", a, n, T_usable(p), n);
      if (n)
        memset(p, 1, n);
      T_free(p);
    }
  }
}

static void test_memalign(void) {
  check_section("memalign");
  /* Non-power-of-two alignments are rounded up. */
  const size_t round[][2] = {{3, 4}, {5, 8}, {24, 32}, {0x300, 1024}, {1000, 1024}, {4097, 8192},
                             {3 * 1024 * 1024, 4 * 1024 * 1024}};
  for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) {
    size_t a = round[i][0], want = round[i][1];
    for (int k = 0; k < 4; k++) {
      void *p = T_memalign(opaque_size(a), 10);
      if (CHECK(p != NULL, "memalign(%zu, 10): expected a block, got NULL (%s)", a,
                errno_name(errno))) {
        CHECK(((uintptr_t)p & (want - 1)) == 0,
              "memalign(%zu, 10): expected rounded-up %zu alignment, got %p", a, want, p);
        T_free(p);
      }
    }
  }
  CHECK_NULL_ERRNO(T_memalign(opaque_size(SIZE_MAX / 2 + 2), 16), EINVAL);
  CHECK_NULL_ERRNO(T_memalign(opaque_size(SIZE_MAX), 16), EINVAL);
  CHECK_NULL_ERRNO(T_memalign(8, opaque_size(SIZE_MAX)), ENOMEM);
  CHECK_NULL_ERRNO(T_memalign(4096, opaque_size((size_t)0 - 4096)), ENOMEM);
  CHECK_NULL_ERRNO(T_memalign(page, opaque_size((size_t)0 - page)), ENOMEM);
  /* 2^63 is a power of two: not an EINVAL case for memalign, but it cannot
   * be satisfied. */
  errno_sentinel();
  void *p = T_memalign(opaque_size(SIZE_MAX / 2 + 1), 16);
  int e = errno;
  CHECK(p == NULL && (e == ENOMEM || e == EINVAL),
        "memalign(2^63, 16): expected NULL with ENOMEM (or EINVAL), got %p with %s", p,
        errno_name(e));
  if (p)
    T_free(p);
  p = T_memalign(8, opaque_size(0));
  CHECK(p != NULL, "memalign(8, 0): expected non-NULL, got NULL");
  T_free(p);
  p = T_memalign(256, 10);
  CHECK(p && ((uintptr_t)p & 255) == 0, "memalign(256, 10): expected 256-aligned, got %p", p);
  T_free(p);
}

static void test_valloc(void) {
  check_section("valloc/pvalloc");
  const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 100000, 5 * MiB + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    void *p = T_valloc(opaque_size(n));
    if (CHECK(p != NULL, "valloc(%zu): expected a block, got NULL", n)) {
      CHECK(((uintptr_t)p & (page - 1)) == 0, "valloc(%zu): expected page aligned, got %p", n, p);
      CHECK(T_usable(p) >= n, "valloc(%zu): usable %zu < %zu", n, T_usable(p), n);
      T_free(p);
    }
    p = T_pvalloc(opaque_size(n));
    if (CHECK(p != NULL, "pvalloc(%zu): expected a block, got NULL", n)) {
      size_t rounded = (n + page - 1) & ~(page - 1);
      CHECK(((uintptr_t)p & (page - 1)) == 0, "pvalloc(%zu): expected page aligned, got %p", n, p);
      CHECK(T_usable(p) >= rounded, "pvalloc(%zu): expected usable >= %zu (whole pages), got %zu",
            n, rounded, T_usable(p));
      memset(p, 1, rounded);
      T_free(p);
    }
  }
  CHECK_NULL_ERRNO(T_valloc(opaque_size(SIZE_MAX)), ENOMEM);
  CHECK_NULL_ERRNO(T_valloc(opaque_size((size_t)0 - page)), ENOMEM);
  CHECK_NULL_ERRNO(T_valloc(opaque_size((size_t)0 - page - 1)), ENOMEM);
  CHECK_NULL_ERRNO(T_pvalloc(opaque_size(SIZE_MAX)), ENOMEM);
  CHECK_NULL_ERRNO(T_pvalloc(opaque_size((size_t)0 - page)), ENOMEM);
  CHECK_NULL_ERRNO(T_pvalloc(opaque_size((size_t)0 - page + 1)), ENOMEM);
}

/* Every power-of-two alignment from 8 B to 1 GiB, with several sizes and
 * the three aligned functions: aligned memory or ENOMEM, clean free. */
static void one_aligned(const char *fn, size_t a, size_t n) {
  void *p = NULL;
  int e = 0;
  errno_sentinel();
  if (fn[0] == 'p') {
    int rc = T_posix_memalign(&p, a, n);
    if (rc)
      p = NULL;
    e = rc;
  } else if (fn[0] == 'a') {
    p = T_aligned_alloc(a, n);
    e = errno;
  } else {
    p = T_memalign(a, n);
    e = errno;
  }
  if (!p) {
    CHECK(e == ENOMEM, "%s(align %zu, size %zu): failed, expected ENOMEM, got %s (%d)", fn, a, n,
          errno_name(e), e);
    return;
  }
  CHECK(((uintptr_t)p & (a - 1)) == 0, "%s(align %zu, size %zu): expected aligned, got %p", fn, a,
        n, p);
  size_t u = T_usable(p);
  CHECK(u >= n, "%s(align %zu, size %zu): expected usable >= %zu, got %zu", fn, a, n, n, u);
  unsigned char *b = p;
  b[0] = 1;
  if (n) {
    b[n - 1] = 2;
    b[n / 2] = 3;
  }
  CHECK(T_usable(p) == u, "%s(align %zu, size %zu): usable changed %zu -> %zu", fn, a, n, u,
        T_usable(p));
  T_free(p);
}

static void test_all_alignments(void) {
  check_section("alignments 8 B .. 1 GiB");
  const char *fns[] = {"posix_memalign", "aligned_alloc", "memalign"};
  for (size_t a = 8; a <= GiB; a <<= 1) {
    const size_t sizes[] = {1, 16, a / 2, a - 1, a, a + 1, 3 * a};
    for (size_t f = 0; f < 3; f++) {
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        if (n == 0 || n > GiB + 1)
          continue;
        one_aligned(fns[f], a, n);
      }
    }
    /* Several live at once (alignment must not hold by luck). */
    if (a <= 64 * MiB) {
      void *ps[8];
      for (int k = 0; k < 8; k++) {
        ps[k] = T_aligned_alloc(a, 24);
        if (ps[k])
          CHECK(((uintptr_t)ps[k] & (a - 1)) == 0,
                "aligned_alloc(%zu, 24) live #%d: expected aligned, got %p", a, k, ps[k]);
        else
          CHECK(errno == ENOMEM, "aligned_alloc(%zu, 24): NULL with errno %s", a,
                errno_name(errno));
      }
      for (int k = 0; k < 8; k++)
        T_free(ps[k]);
    }
  }
  /* Interleaved with small blocks and other alignments. */
  check_section("mixed aligned");
  enum { N = 2000 };
  static void *ps[N];
  static size_t al[N];
  for (int i = 0; i < N; i++) {
    size_t a = (size_t)16 << (i % 13);
    al[i] = a;
    ps[i] = (i % 3 == 0) ? T_malloc((size_t)i * 3 + 1) : T_aligned_alloc(a, (size_t)(i % 97) + 1);
    if (ps[i] && i % 3 != 0)
      CHECK(((uintptr_t)ps[i] & (a - 1)) == 0, "aligned_alloc(%zu, %d): got %p", a, i % 97 + 1,
            ps[i]);
    if (i % 5 == 4) {
      T_free(ps[i - 2]);
      ps[i - 2] = NULL;
    }
  }
  (void)al;
  for (int i = 0; i < N; i++)
    T_free(ps[i]);
}

static void test_page_block_usable(void) {
  check_section("4096-aligned 4096");
  for (int k = 0; k < 16; k++) {
    void *p = T_aligned_alloc(4096, 4096);
    if (CHECK(p != NULL, "aligned_alloc(4096, 4096): expected a block, got NULL")) {
      CHECK(((uintptr_t)p & 4095) == 0, "aligned_alloc(4096, 4096): misaligned %p", p);
      CHECK_EQ_SZ(T_usable(p), 4096);
      T_free(p);
    }
    void *q = NULL;
    int rc = T_posix_memalign(&q, 4096, 4096);
    if (CHECK(rc == 0, "posix_memalign(4096, 4096): expected 0, got %d", rc)) {
      CHECK_EQ_SZ(T_usable(q), 4096);
      T_free(q);
    }
    p = T_memalign(4096, 4096);
    if (CHECK(p != NULL, "memalign(4096, 4096): expected a block, got NULL")) {
      CHECK_EQ_SZ(T_usable(p), 4096);
      T_free(p);
    }
    if (page == 4096) {
      p = T_valloc(4096);
      if (CHECK(p != NULL, "valloc(4096): expected a block, got NULL")) {
        CHECK_EQ_SZ(T_usable(p), 4096);
        T_free(p);
      }
    }
  }
}

/* jemalloc PR #1096: a 2 MiB-aligned malloc/free loop never reused memory. */
static void test_2mib_loop(void) {
  check_section("2 MiB aligned loop");
  enum { ITERS = 2000, KEEP = 16 };
  void *seen[KEEP];
  int nseen = 0, extra = 0;
  static void *smalls[ITERS];
  /* Warm up. */
  for (int i = 0; i < 10; i++) {
    void *p = T_aligned_alloc(2 * MiB, 2 * MiB);
    if (p)
      memset(p, 1, 2 * MiB);
    T_free(p);
  }
  size_t rss0 = rss_bytes(), vsz0 = vsz_bytes();
  for (int i = 0; i < ITERS; i++) {
    void *p = T_aligned_alloc(2 * MiB, 2 * MiB);
    if (!CHECK(p != NULL, "aligned_alloc(2 MiB, 2 MiB) #%d: expected a block, got NULL", i))
      break;
    CHECK(((uintptr_t)p & (2 * MiB - 1)) == 0, "aligned_alloc(2 MiB): misaligned %p", p);
    memset(p, (int)i, 2 * MiB);
    int found = 0;
    for (int k = 0; k < nseen; k++)
      found |= seen[k] == p;
    if (!found) {
      if (nseen < KEEP)
        seen[nseen++] = p;
      else
        extra++;
    }
    T_free(p);
    smalls[i] = T_malloc((size_t)(i % 200) + 1); /* interleaved small blocks */
  }
  size_t rss1 = rss_bytes(), vsz1 = vsz_bytes();
  CHECK(extra == 0, "2 MiB-aligned loop: expected <= %d distinct addresses, got %d more", KEEP,
        extra);
  CHECK(rss1 <= rss0 + 24 * MiB, "2 MiB-aligned loop: expected RSS growth <= 24 MiB, got %zu MiB",
        rss1 > rss0 ? (rss1 - rss0) / MiB : 0);
  CHECK(vsz1 <= vsz0 + 256 * MiB, "2 MiB-aligned loop: expected VM growth <= 256 MiB, got %zu MiB",
        vsz1 > vsz0 ? (vsz1 - vsz0) / MiB : 0);
  for (int i = 0; i < ITERS; i++)
    T_free(smalls[i]);

  /* The same through posix_memalign with a size that is not a multiple. */
  rss0 = rss_bytes();
  vsz0 = vsz_bytes();
  for (int i = 0; i < ITERS; i++) {
    void *p = NULL;
    if (T_posix_memalign(&p, 2 * MiB, 1 * MiB + 12345) != 0) {
      CHECK(0, "posix_memalign(2 MiB, 1 MiB+12345) #%d: expected 0, got failure", i);
      break;
    }
    memset(p, 2, 1 * MiB + 12345);
    T_free(p);
  }
  rss1 = rss_bytes();
  vsz1 = vsz_bytes();
  CHECK(rss1 <= rss0 + 24 * MiB, "posix_memalign 2 MiB loop: RSS grew by %zu MiB (limit 24)",
        rss1 > rss0 ? (rss1 - rss0) / MiB : 0);
  CHECK(vsz1 <= vsz0 + 256 * MiB, "posix_memalign 2 MiB loop: VM grew by %zu MiB (limit 256)",
        vsz1 > vsz0 ? (vsz1 - vsz0) / MiB : 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  page = (size_t)sysconf(_SC_PAGESIZE);
  printf("test_align (%s API)\n", API_NAME);
  test_malloc_alignment();
  test_posix_memalign();
  test_aligned_alloc();
  test_memalign();
  test_valloc();
  test_page_block_usable();
  test_all_alignments();
  test_2mib_loop();
  return check_summary();
}
