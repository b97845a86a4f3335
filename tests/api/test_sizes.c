/* test_sizes.c: sizes, overflow and errno (checklist items 1-4 and 36).
 *
 *  1  malloc(0) is unique, non-NULL, freeable.
 *  2  huge sizes (SIZE_MAX-k, PTRDIFF_MAX+k, msbs<<50 with/without low bits)
 *     fail with NULL + ENOMEM in every allocation function, also right after
 *     a small malloc/free (no stale block comes back).
 *  3  the small/large boundary (32768/32769), 8 KiB +- 1, 64 MiB +- 8 KiB and
 *     several arenas' worth succeed with usable >= n.
 *  4  calloc overflow in both orders -> NULL + ENOMEM; calloc(0, x) and
 *     calloc(x, 0) behave as malloc(0).
 * 36  errno = ENOMEM on every out-of-memory NULL. */
#include "api.h"

static void test_malloc_zero(void) {
  check_section("malloc(0)");
  enum { N = 1000 };
  static void *ps[N];
  void *a = T_malloc(opaque_size(0));
  void *b = T_malloc(opaque_size(0));
  CHECK(a != NULL, "malloc(0): expected non-NULL, got NULL (errno %d)", errno);
  CHECK(b != NULL, "malloc(0): expected non-NULL, got NULL (errno %d)", errno);
  CHECK(a != b, "two malloc(0): expected different pointers, got %p twice", a);
  T_free(a);
  T_free(b);
  /* Many live ones: all distinct. */
  for (int i = 0; i < N; i++)
    ps[i] = T_malloc(opaque_size(0));
  int nulls = 0, dups = 0;
  for (int i = 0; i < N; i++) {
    if (!ps[i])
      nulls++;
    for (int j = i + 1; j < N; j++)
      if (ps[i] && ps[i] == ps[j])
        dups++;
  }
  CHECK(nulls == 0, "%d live malloc(0): expected 0 NULL results, got %d", N, nulls);
  CHECK(dups == 0, "%d live malloc(0): expected all distinct, got %d duplicate pairs", N, dups);
  for (int i = 0; i < N; i++)
    T_free(ps[i]);
}

/* Every allocation function with size n must fail with ENOMEM. stale is a
 * block just freed that must not come back. */
static void huge_all_functions(size_t n, void *stale) {
  char what[64];
  snprintf(what, sizeof what, "huge size 0x%zx", n);
  check_section(what);
  errno_sentinel();
  void *p = T_malloc(n);
  int e = errno;
  CHECK(p == NULL && e == ENOMEM, "malloc(0x%zx): expected NULL/ENOMEM, got %p/%s (stale %p)", n, p,
        errno_name(e), stale);
  if (p)
    T_free(p);
  CHECK_NULL_ERRNO(T_calloc(1, n), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(n, 1), ENOMEM);
  CHECK_NULL_ERRNO(T_memalign(16, n), ENOMEM);
  CHECK_NULL_ERRNO(T_memalign(4096, n), ENOMEM);
  CHECK_NULL_ERRNO(T_aligned_alloc(16, n), ENOMEM);
  CHECK_NULL_ERRNO(T_aligned_alloc(4096, n), ENOMEM);
  CHECK_NULL_ERRNO(T_valloc(n), ENOMEM);
  CHECK_NULL_ERRNO(T_pvalloc(n), ENOMEM);
  CHECK_NULL_ERRNO(T_realloc(NULL, n), ENOMEM);
  CHECK_NULL_ERRNO(T_reallocarray(NULL, 1, n), ENOMEM);
  CHECK_NULL_ERRNO(T_reallocarray(NULL, n, 1), ENOMEM);
  void *out = (void *)0x1234;
  int rc = T_posix_memalign(&out, 16, n);
  CHECK(rc == ENOMEM && out == (void *)0x1234,
        "posix_memalign(16, 0x%zx): expected ENOMEM with *p unchanged, got %d with *p=%p", n, rc,
        out);
  out = (void *)0x1234;
  rc = T_posix_memalign(&out, 4096, n);
  CHECK(rc == ENOMEM && out == (void *)0x1234,
        "posix_memalign(4096, 0x%zx): expected ENOMEM with *p unchanged, got %d with *p=%p", n, rc,
        out);
  /* realloc of a live block: NULL + ENOMEM and the block stays intact. */
  unsigned char *q = T_malloc(64);
  if (q) {
    memset(q, 0xa5, 64);
    CHECK_NULL_ERRNO(T_realloc(opaque_ptr(q), n), ENOMEM);
    CHECK_NULL_ERRNO(T_reallocarray(opaque_ptr(q), 1, n), ENOMEM);
    CHECK(q[0] == 0xa5 && q[63] == 0xa5, "block after failed realloc: expected intact, got %02x %02x",
          q[0], q[63]);
    T_free(q);
  }
}

static void test_huge(void) {
  /* Prime the heap so a freed block is available for reuse (glibc bugs
   * 22375/22343: padding overflow returned a stale block). */
  void *stale = T_malloc(opaque_size(64));
  T_free(stale);
  for (size_t k = 0; k < ((size_t)1 << 14); k++) {
    huge_all_functions(opaque_size(SIZE_MAX - k), stale);
    huge_all_functions(opaque_size((size_t)PTRDIFF_MAX + 1 + k), stale);
  }
  for (size_t msbs = 1; msbs < ((size_t)1 << 14); msbs += 7) {
    huge_all_functions(opaque_size(msbs << 50), stale);
    huge_all_functions(opaque_size((msbs << 50) | (((size_t)1 << 50) - 1)), stale);
  }
  /* Right after a small malloc/free, each time. */
  check_section("huge after small free");
  for (int i = 0; i < 1000; i++) {
    void *s = T_malloc(opaque_size((size_t)(i % 64) * 16 + 1));
    T_free(s);
    errno_sentinel();
    void *p = T_malloc(opaque_size(SIZE_MAX - (size_t)i));
    int e = errno;
    CHECK(p == NULL && e == ENOMEM, "malloc(SIZE_MAX-%d) after free(%p): expected NULL/ENOMEM, got %p/%s",
          i, s, p, errno_name(e));
    if (p)
      T_free(p);
    errno_sentinel();
    p = T_malloc(opaque_size((size_t)1 << 50));
    e = errno;
    CHECK(p == NULL && e == ENOMEM, "malloc(1<<50): expected NULL/ENOMEM, got %p/%s", p, errno_name(e));
    if (p)
      T_free(p);
  }
}

static void boundary(size_t n) {
  char what[64];
  snprintf(what, sizeof what, "boundary %zu", n);
  check_section(what);
  unsigned char *p = T_malloc(opaque_size(n));
  if (!CHECK(p != NULL, "malloc(%zu): expected a block, got NULL (errno %s)", n, errno_name(errno)))
    return;
  size_t u = T_usable(p);
  CHECK(u >= n, "malloc(%zu): expected usable >= %zu, got %zu", n, n, u);
  /* README ("Behaviour follows glibc", "Where gomalloc leaves Go"):
   * 16-byte alignment for requests of 16 bytes or more; 9-15 byte ones
   * get the 16-byte class, so 16 too; 1-8 byte ones use Go's 8-byte
   * class, 8-byte aligned, which is all C asks of a block that small.
   * That malloc(1) and malloc(8) came out 16-byte aligned here before was
   * the order slots were handed out in; with hot reuse a freed 8-byte slot
   * (every other one is 8 mod 16) is handed out again at once. */
  size_t align = n <= 8 ? 8 : 16;
  CHECK(((uintptr_t)p & (align - 1)) == 0, "malloc(%zu): expected %zu-byte alignment, got %p", n,
        align, (void *)p);
  /* The whole usable size may be written; touch one byte per page. */
  for (size_t i = 0; i < u; i += 4096)
    p[i] = (unsigned char)i;
  p[u - 1] = 0x77;
  CHECK(T_usable(p) == u, "malloc(%zu): usable size changed from %zu to %zu", n, u, T_usable(p));
  T_free(p);
  /* calloc and realloc of the same size. */
  p = T_calloc(1, opaque_size(n));
  if (CHECK(p != NULL, "calloc(1, %zu): expected a block, got NULL (errno %s)", n,
            errno_name(errno))) {
    size_t z = first_nonzero(p, n);
    CHECK(z == n, "calloc(1, %zu): expected all zero, got byte %zu = 0x%02x", n, z, z < n ? p[z] : 0);
    T_free(p);
  }
}

static void test_boundaries(void) {
  const size_t sizes[] = {1,
                          8,
                          15,
                          16,
                          17,
                          24,
                          25,
                          1024,
                          8 * KiB - 1,
                          8 * KiB,
                          8 * KiB + 1,
                          32767,
                          32768,
                          32769,
                          32 * KiB + 8 * KiB,
                          64 * KiB,
                          1 * MiB,
                          4 * MiB - 1,
                          4 * MiB,
                          4 * MiB + 1,
                          64 * MiB - 8 * KiB,
                          64 * MiB - 1,
                          64 * MiB,
                          64 * MiB + 1,
                          64 * MiB + 8 * KiB,
                          3 * 64 * MiB + 12345,
                          512 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    boundary(sizes[i]);
  /* Several large blocks live at once across arenas. */
  check_section("several arenas live");
  void *ps[6];
  for (int i = 0; i < 6; i++) {
    ps[i] = T_malloc(opaque_size(48 * MiB + (size_t)i * 8 * KiB));
    CHECK(ps[i] != NULL, "malloc(48 MiB + %d pages) #%d: expected a block, got NULL", i, i);
    if (ps[i])
      memset(ps[i], i + 1, 4096);
  }
  for (int i = 0; i < 6; i++) {
    for (int j = 0; j < i; j++)
      if (ps[i] && ps[j]) {
        uintptr_t a = (uintptr_t)ps[i], b = (uintptr_t)ps[j];
        CHECK(a >= b + 48 * MiB || b >= a + 48 * MiB, "live large blocks overlap: %p and %p",
              ps[i], ps[j]);
      }
    if (ps[i])
      CHECK(((unsigned char *)ps[i])[4095] == i + 1, "large block %d: content lost", i);
    T_free(ps[i]);
  }
  /* Every size from 0 to 70,000 (the whole small range and the switch):
   * usable >= n. Stop reporting after the first mismatch per range. */
  check_section("sizes 0..70000");
  int bad = 0;
  for (size_t n = 0; n <= 70000; n++) {
    void *p = T_malloc(opaque_size(n));
    if (!p) {
      if (!bad++)
        CHECK(0, "malloc(%zu): expected a block, got NULL", n);
      continue;
    }
    size_t u = T_usable(p);
    if (u < n && !bad++)
      CHECK(0, "malloc(%zu): expected usable >= %zu, got %zu", n, n, u);
    if (n)
      ((unsigned char *)p)[n - 1] = 1;
    T_free(p);
  }
  CHECK(bad == 0, "sizes 0..70000: expected no failures, got %d", bad);
}

static void test_calloc_overflow(void) {
  check_section("calloc overflow");
  const size_t M = SIZE_MAX;
  CHECK_NULL_ERRNO(T_calloc(opaque_size(M / 2), 3), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(3, opaque_size(M / 2)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size(M), 2), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(2, opaque_size(M)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size(65537), opaque_size(M / 65537 + 1)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size(M / 65537 + 1), opaque_size(65537)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size((size_t)1 << 32), opaque_size((size_t)1 << 32)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size(((size_t)1 << 32) + 1), opaque_size((size_t)1 << 32)),
                   ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size((size_t)1 << 25), opaque_size((size_t)1 << 25)), ENOMEM);
  CHECK_NULL_ERRNO(T_calloc(opaque_size(M), opaque_size(M)), ENOMEM);
  /* Products just over and just under the limit of size_t. */
  for (size_t a = 2; a < 1000; a += 37) {
    size_t b = M / a + 1;
    CHECK_NULL_ERRNO(T_calloc(opaque_size(a), opaque_size(b)), ENOMEM);
    CHECK_NULL_ERRNO(T_calloc(opaque_size(b), opaque_size(a)), ENOMEM);
  }

  check_section("calloc zero");
  const size_t zs[][2] = {{0, 0}, {0, 1}, {1, 0}, {0, SIZE_MAX}, {SIZE_MAX, 0}, {0, 4096},
                          {(size_t)UINT32_MAX, 0}, {0, (size_t)UINT32_MAX}};
  void *got[sizeof zs / sizeof zs[0]];
  for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
    errno_sentinel();
    got[i] = T_calloc(opaque_size(zs[i][0]), opaque_size(zs[i][1]));
    CHECK(got[i] != NULL, "calloc(%zu, %zu): expected non-NULL (as malloc(0)), got NULL errno %s",
          zs[i][0], zs[i][1], errno_name(errno));
    for (size_t j = 0; j < i; j++)
      if (got[i])
        CHECK(got[i] != got[j], "calloc zero-size #%zu and #%zu: expected distinct, got %p twice", i,
              j, got[i]);
  }
  for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
    T_free(got[i]);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_sizes (%s API)\n", API_NAME);
  test_malloc_zero();
  test_calloc_overflow();
  test_boundaries();
  test_huge();
  return check_summary();
}
