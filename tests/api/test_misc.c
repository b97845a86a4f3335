/* test_misc.c: the non-fatal halves of checklist items 16, 17, 20, 21.
 *
 * 16  free(NULL) is a no-op; every free preserves errno (small, large,
 *     huge, aligned, NULL, sized frees), also when the process has used up
 *     its VMA limit so munmap/madvise inside free may fail.
 * 17  user data that looks like allocator metadata (pointers to freed
 *     blocks, the block's own address, zeros, all-ones) never triggers a
 *     fault (glibc tst-tcfree3).
 * 20  malloc_usable_size(NULL) == 0; usable >= request and stable for the
 *     object's life (across other allocations, frees, release, threads).
 * 21  free_sized(NULL, 0) is fine; free_sized / free_aligned_sized with the
 *     right size free the block (memory is reused, nothing accumulates). */
#include "api.h"

#include <pthread.h>
#include <sys/mman.h>

static void test_free_null(void) {
  check_section("free(NULL)");
  for (int i = 0; i < 1000; i++) {
    errno_sentinel();
    T_free(opaque_ptr(NULL));
    if (!CHECK(errno == ERRNO_SENTINEL, "free(NULL): expected errno 1789 kept, got %d", errno))
      break;
  }
  CHECK_EQ_SZ(T_usable(opaque_ptr(NULL)), 0);
}

static void free_keeps_errno(const char *what, size_t n) {
  void *p = T_malloc(n);
  if (!CHECK(p != NULL, "%s: malloc(%zu): expected a block, got NULL", what, n))
    return;
  memset(p, 1, n < 8192 ? n : 8192);
  errno_sentinel();
  T_free(p);
  int e = errno;
  CHECK(e == ERRNO_SENTINEL, "%s: free(malloc(%zu)): expected errno 1789 kept, got %d (%s)", what,
        n, e, errno_name(e));
}

static void test_free_errno(void) {
  check_section("free keeps errno");
  const size_t sizes[] = {1, 16, 100, 4096, 32768, 32769, 1 * MiB, 64 * MiB, 300 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (int r = 0; r < 3; r++)
      free_keeps_errno("plain", sizes[i]);
  /* Many large frees in a row, which give pages back to the OS at some
   * point (munmap / madvise paths). */
  void *ps[64];
  for (int i = 0; i < 64; i++)
    ps[i] = T_malloc((size_t)(i + 1) * 512 * KiB);
  for (int i = 0; i < 64; i++) {
    errno_sentinel();
    T_free(ps[i]);
    CHECK(errno == ERRNO_SENTINEL, "free of large block #%d: expected errno 1789 kept, got %d", i,
          errno);
  }
  /* Aligned blocks. */
  const size_t aligns[] = {16, 64, 4096, 8192, 65536, 2 * MiB, 64 * MiB};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    void *p = T_aligned_alloc(aligns[i], 1000);
    if (!p)
      continue;
    errno_sentinel();
    T_free(p);
    CHECK(errno == ERRNO_SENTINEL, "free(aligned_alloc(%zu)): expected errno 1789 kept, got %d",
          aligns[i], errno);
  }
  /* errno is kept also across malloc_trim / gm_release. */
  errno_sentinel();
  T_trim();
  CHECK(errno == ERRNO_SENTINEL, "malloc_trim/gm_release: expected errno 1789 kept, got %d", errno);
}

/* glibc tst-free-errno: fill the VMA limit (vm.max_map_count) so that any
 * munmap that splits a mapping, or mprotect, fails with ENOMEM; free must
 * still keep errno and the heap must keep working. */
static void test_free_errno_vma_limit(void) {
  check_section("free keeps errno at the VMA limit");
  if (GM_TEST_SANITIZED) {
    printf("skipped: VMA exhaustion under a sanitizer\n");
    return;
  }
  enum { NBIG = 48, NSMALL = 20000 };
  static void *big[NBIG];
  static void *small[NSMALL];
  for (int i = 0; i < NBIG; i++) {
    big[i] = T_malloc((size_t)(i % 12 + 1) * 3 * MiB + 4096);
    if (big[i])
      memset(big[i], 7, (size_t)(i % 12 + 1) * 3 * MiB + 4096);
  }
  for (int i = 0; i < NSMALL; i++) {
    small[i] = T_malloc((size_t)(i % 500) * 16 + 1);
    if (small[i])
      memset(small[i], 1, (size_t)(i % 500) * 16 + 1);
  }
  /* Fill the map count with 1-page mappings of alternating protection (so
   * they cannot merge). No stdio from here until they are gone. */
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  enum { MAXMAPS = 1 << 20 };
  void **maps = mmap(NULL, MAXMAPS * sizeof(void *), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (maps == MAP_FAILED) {
    CHECK(0, "mmap for the map table failed: errno %d", errno);
    return;
  }
  size_t nmaps = 0;
  while (nmaps < MAXMAPS) {
    void *m = mmap(NULL, pg, (nmaps & 1) ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0);
    if (m == MAP_FAILED)
      break;
    maps[nmaps++] = m;
  }
  int bad_big = -1, bad_small = -1, bad_trim = 0;
  int err_big = 0, err_small = 0;
  /* Free every other small block (holes in spans), then the large ones. */
  for (int i = 0; i < NSMALL; i += 2) {
    errno_sentinel();
    T_free(small[i]);
    small[i] = NULL;
    if (errno != ERRNO_SENTINEL && bad_small < 0) {
      bad_small = i;
      err_small = errno;
    }
  }
  for (int i = 0; i < NBIG; i++) {
    errno_sentinel();
    T_free(big[i]);
    big[i] = NULL;
    if (errno != ERRNO_SENTINEL && bad_big < 0) {
      bad_big = i;
      err_big = errno;
    }
  }
  errno_sentinel();
  T_trim();
  if (errno != ERRNO_SENTINEL)
    bad_trim = errno;
  for (int i = 1; i < NSMALL; i += 2) {
    errno_sentinel();
    T_free(small[i]);
    small[i] = NULL;
    if (errno != ERRNO_SENTINEL && bad_small < 0) {
      bad_small = i;
      err_small = errno;
    }
  }
  for (size_t i = 0; i < nmaps; i++)
    munmap(maps[i], pg);
  munmap(maps, MAXMAPS * sizeof(void *));
  CHECK(nmaps > 1000, "VMA fill: expected to create many mappings, got %zu", nmaps);
  CHECK(bad_small < 0, "free of small block #%d at the VMA limit: expected errno 1789 kept, got %d",
        bad_small, err_small);
  CHECK(bad_big < 0, "free of large block #%d at the VMA limit: expected errno 1789 kept, got %d",
        bad_big, err_big);
  CHECK(bad_trim == 0, "malloc_trim at the VMA limit: expected errno 1789 kept, got %d", bad_trim);
  /* The heap still works. */
  for (int i = 0; i < NBIG; i++) {
    big[i] = T_malloc(2 * MiB);
    CHECK(big[i] != NULL, "malloc(2 MiB) after the VMA limit was lifted: expected a block, got NULL");
  }
  for (int i = 0; i < NBIG; i++)
    T_free(big[i]);
}

/* tst-tcfree3 and friends: user bytes that look like metadata. */
static void test_user_data_like_metadata(void) {
  check_section("user data like metadata");
  const size_t sizes[] = {8, 16, 24, 32, 48, 64, 128, 256, 1024, 4096, 8192, 32768, 40000, 1 * MiB};
  enum { K = 64 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    void *ps[K];
    for (int k = 0; k < K; k++)
      ps[k] = T_malloc(n);
    /* Free half; the other half hold pointers to the freed ones, to
     * themselves, to their neighbours and special words. */
    void *freed[K / 2];
    for (int k = 0; k < K / 2; k++) {
      freed[k] = ps[2 * k];
      T_free(ps[2 * k]);
      ps[2 * k] = NULL;
    }
    for (int k = 1; k < K; k += 2) {
      uintptr_t *w = ps[k];
      if (!w)
        continue;
      size_t words = T_usable(w) / sizeof(uintptr_t);
      for (size_t i = 0; i < words; i++) {
        switch ((i + (size_t)k) % 6) {
        case 0: w[i] = (uintptr_t)freed[(i + (size_t)k) % (K / 2)]; break;
        case 1: w[i] = (uintptr_t)w; break;
        case 2: w[i] = 0; break;
        case 3: w[i] = ~(uintptr_t)0; break;
        case 4: w[i] = (uintptr_t)ps[(k + 2) % K]; break;
        default: w[i] = (uintptr_t)w ^ 0xdeadbeefcafef00dULL; break;
        }
      }
    }
    /* Reallocate the freed slots and put metadata-like data there too. */
    for (int k = 0; k < K / 2; k++) {
      uintptr_t *w = T_malloc(n);
      ps[2 * k] = w;
      if (!w)
        continue;
      size_t words = T_usable(w) / sizeof(uintptr_t);
      for (size_t i = 0; i < words; i++)
        w[i] = (i & 1) ? (uintptr_t)freed[(size_t)k] : (uintptr_t)ps[(2 * k + 1) % K];
    }
    for (int k = 0; k < K; k++)
      T_free(ps[k]);
    CHECK(1, "survived");
  }
  /* tst-tcfree3: the same two blocks freed and reallocated many times while
   * holding each other's addresses. */
  for (int r = 0; r < 10000; r++) {
    uintptr_t *a = T_malloc(32), *b = T_malloc(32);
    if (!a || !b) {
      T_free(a);
      T_free(b);
      continue;
    }
    a[0] = (uintptr_t)b;
    a[1] = (uintptr_t)a;
    b[0] = (uintptr_t)a;
    b[1] = (uintptr_t)b;
    T_free(b);
    T_free(a);
  }
  CHECK(1, "survived");
}

struct usable_rec {
  void *p;
  size_t n, u;
};

static void *churn_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    void *p = T_malloc((size_t)(i % 3000) + 1);
    T_free(p);
  }
  return NULL;
}

/* 0x5a over the whole block if small, else its first and last 16 KiB. */
static void fill_edges(unsigned char *p, size_t u) {
  if (u <= 64 * KiB) {
    memset(p, 0x5a, u);
  } else {
    memset(p, 0x5a, 16 * KiB);
    memset(p + u - 16 * KiB, 0x5a, 16 * KiB);
  }
}
/* First offset that lost its 0x5a, or u. */
static size_t edges_bad(const unsigned char *p, size_t u) {
  for (size_t i = 0; i < u; i++) {
    if (u > 64 * KiB && i == 16 * KiB)
      i = u - 16 * KiB;
    if (p[i] != 0x5a)
      return i;
  }
  return u;
}

static void test_usable(void) {
  check_section("usable size");
  CHECK_EQ_SZ(T_usable(NULL), 0);
  enum { N = 2200 };
  static struct usable_rec rec[N];
  for (int i = 0; i < N; i++) {
    size_t n = i < 2000 ? (size_t)i * 17 : (size_t)(i - 1999) * 37 * KiB;
    rec[i].n = n;
    rec[i].p = T_malloc(n);
    if (!rec[i].p)
      continue;
    rec[i].u = T_usable(rec[i].p);
    CHECK(rec[i].u >= n, "malloc(%zu): expected usable >= %zu, got %zu", n, n, rec[i].u);
    fill_edges(rec[i].p, rec[i].u);
  }
  /* Disturb the heap: free every third block, allocate more, release,
   * other threads. */
  for (int i = 0; i < N; i += 3) {
    T_free(rec[i].p);
    rec[i].p = NULL;
  }
  void *more[1000];
  for (int i = 0; i < 1000; i++)
    more[i] = T_malloc((size_t)i * 61);
  T_trim();
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, churn_thread, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    if (!rec[i].p)
      continue;
    size_t u = T_usable(rec[i].p);
    if (u != rec[i].u && bad++ < 10)
      CHECK(0, "usable size of malloc(%zu) changed from %zu to %zu", rec[i].n, rec[i].u, u);
    size_t z = edges_bad(rec[i].p, rec[i].u);
    if (z != rec[i].u && bad++ < 10)
      CHECK(0, "block malloc(%zu): contents up to the usable size %zu changed at %zu", rec[i].n,
            rec[i].u, z);
    T_free(rec[i].p);
  }
  CHECK(bad == 0, "usable sizes stable: expected 0 changes, got %d", bad);
  for (int i = 0; i < 1000; i++)
    T_free(more[i]);
}

static void test_sized_free(void) {
  check_section("sized free");
  if (!CHECK(T_HAVE_SIZED_FREE, "free_sized / free_aligned_sized: expected exported, got missing"))
    return;
  T_free_sized(NULL, 0);
  T_free_sized(opaque_ptr(NULL), 0);
  T_free_aligned_sized(NULL, 64, 0);
  CHECK(1, "free_sized(NULL, 0) survived");
  const size_t sizes[] = {1, 8, 16, 24, 100, 4096, 32768, 32769, 100000, 1 * MiB, 16 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    for (int r = 0; r < 100; r++) {
      void *p = T_malloc(n);
      if (!p)
        break;
      memset(p, 1, n);
      errno_sentinel();
      T_free_sized(p, n);
      if (!CHECK(errno == ERRNO_SENTINEL, "free_sized(p, %zu): expected errno kept, got %d", n,
                 errno))
        break;
    }
  }
  const size_t aligns[] = {16, 64, 256, 4096, 8192, 65536, 2 * MiB};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    size_t a = aligns[i];
    for (size_t n = a / 2 + 1; n <= 4 * a; n *= 2) {
      void *p = T_aligned_alloc(a, n);
      if (!CHECK(p != NULL, "aligned_alloc(%zu, %zu): expected a block, got NULL", a, n))
        continue;
      memset(p, 2, n);
      errno_sentinel();
      T_free_aligned_sized(p, a, n);
      CHECK(errno == ERRNO_SENTINEL, "free_aligned_sized(p, %zu, %zu): expected errno kept, got %d",
            a, n, errno);
    }
  }
  /* The sized frees really free: 20,000 x 8 MiB must not accumulate. */
  size_t vsz0 = vsz_bytes(), rss0 = rss_bytes();
  for (int i = 0; i < 20000; i++) {
    unsigned char *p = T_malloc(8 * MiB);
    if (!p) {
      CHECK(0, "malloc(8 MiB) #%d in the free_sized loop: expected a block, got NULL", i);
      break;
    }
    p[0] = p[8 * MiB - 1] = 1;
    if (i & 1)
      T_free_sized(p, 8 * MiB);
    else {
      T_free(p);
      p = T_aligned_alloc(4096, 8 * MiB);
      if (p) {
        p[0] = 1;
        T_free_aligned_sized(p, 4096, 8 * MiB);
      }
    }
  }
  for (int i = 0; i < 100000; i++) {
    void *p = T_malloc((size_t)(i % 1000) + 1);
    if (p)
      T_free_sized(p, (size_t)(i % 1000) + 1);
  }
  size_t vsz1 = vsz_bytes(), rss1 = rss_bytes();
  CHECK(vsz1 <= vsz0 + 1 * GiB, "sized-free loop: expected VM growth <= 1 GiB, got %zu MiB",
        vsz1 > vsz0 ? (vsz1 - vsz0) / MiB : 0);
  CHECK(rss1 <= rss0 + 64 * MiB, "sized-free loop: expected RSS growth <= 64 MiB, got %zu MiB",
        rss1 > rss0 ? (rss1 - rss0) / MiB : 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_misc (%s API)\n", API_NAME);
  test_free_null();
  test_free_errno();
  test_user_data_like_metadata();
  test_usable();
  test_sized_free();
  test_free_errno_vma_limit();
  return check_summary();
}
