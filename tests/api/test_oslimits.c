/* test_oslimits.c: running out of address space (checklist items 28, 29).
 *
 * For each mode the driver starts a child with setrlimit(RLIMIT_AS,
 * 256 MiB) and execs this program in it, so the allocator initialises
 * under the limit (no huge eager reservations). The child
 *   - checks its first allocations work;
 *   - allocates in a loop until the allocation fails: it must be NULL with
 *     errno ENOMEM (posix_memalign: ENOMEM returned, *p unchanged), not a
 *     crash or an abort;
 *   - frees everything and allocates again: the heap recovers (the second
 *     fill reaches at least half the first, and a mix of other sizes works).
 * Modes: malloc of small, large and mixed sizes, calloc (checked zero),
 * realloc growth, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * 4 threads filling at once, and 48 threads whose first malloc comes only
 * after the space ran out (no memory for their caches).
 *
 * Item 27 (in part): mode no_threads runs as user nobody with RLIMIT_NPROC 1,
 * so pthread_create fails (a background scavenger cannot start): the heap
 * must keep working and malloc_trim(0) / gm_release must still give freed
 * memory back (the scavenger thread is never the only path that frees). */
#include "api.h"

#include <grp.h>
#include <pthread.h>
#include <sys/mman.h>

#define AS_LIMIT (256 * MiB)
#define MAXBLOCKS (1 << 19)

static void **blocks;
static size_t nblocks;

typedef enum { A_MALLOC, A_CALLOC, A_PMEMALIGN, A_ALIGNED, A_MEMALIGN, A_VALLOC, A_PVALLOC } afn_t;

static const char *afn_name[] = {"malloc",        "calloc",   "posix_memalign", "aligned_alloc",
                                 "memalign",      "valloc",   "pvalloc"};

/* One allocation; on failure, *err holds errno (or the posix_memalign
 * return value) and *unchanged whether posix_memalign left *p alone. */
static void *alloc_one(afn_t f, size_t n, int *err, int *unchanged) {
  void *p = NULL;
  errno_sentinel();
  *unchanged = 1;
  switch (f) {
  case A_MALLOC: p = T_malloc(n); break;
  case A_CALLOC: p = T_calloc(n / 16, 16); break;
  case A_PMEMALIGN: {
    void *out = (void *)0x5eed;
    int rc = T_posix_memalign(&out, 4096, n);
    if (rc) {
      *err = rc;
      *unchanged = out == (void *)0x5eed;
      return NULL;
    }
    return out;
  }
  case A_ALIGNED: p = T_aligned_alloc(65536, n); break;
  case A_MEMALIGN: p = T_memalign(8192, n); break;
  case A_VALLOC: p = T_valloc(n); break;
  case A_PVALLOC: p = T_pvalloc(n); break;
  }
  *err = errno;
  return p;
}

/* Fill until failure; returns the bytes obtained. Checks the failure. */
static size_t fill(afn_t f, const size_t *sizes, int nsizes, const char *what) {
  size_t bytes = 0;
  int zero_bad = 0;
  for (size_t i = 0; nblocks < MAXBLOCKS; i++) {
    size_t n = sizes[i % (size_t)nsizes];
    int err = 0, unchanged = 1;
    void *p = alloc_one(f, n, &err, &unchanged);
    if (!p) {
      CHECK(err == ENOMEM, "%s: %s(%zu) failed after %zu MiB: expected ENOMEM, got %s (%d)", what,
            afn_name[f], n, bytes / MiB, errno_name(err), err);
      if (f == A_PMEMALIGN)
        CHECK(unchanged, "%s: posix_memalign failed and wrote *p", what);
      return bytes;
    }
    if (f == A_CALLOC && !zero_bad) {
      size_t z = first_nonzero(p, n / 16 * 16);
      if (z != n / 16 * 16) {
        zero_bad = 1;
        CHECK(0, "%s: calloc block of %zu not zero at %zu", what, n, z);
      }
    }
    /* Touch a little (RLIMIT_AS counts address space, not RSS). */
    ((unsigned char *)p)[0] = 1;
    blocks[nblocks++] = p;
    bytes += n;
  }
  CHECK(0, "%s: %s never failed within %d blocks under a %zu MiB limit", what, afn_name[f],
        MAXBLOCKS, AS_LIMIT / MiB);
  return bytes;
}

static void free_all(void) {
  for (size_t i = 0; i < nblocks; i++)
    T_free(blocks[i]);
  nblocks = 0;
}

static void fill_twice(afn_t f, const size_t *sizes, int nsizes, const char *what) {
  size_t first = fill(f, sizes, nsizes, what);
  free_all();
  size_t second = fill(f, sizes, nsizes, what);
  free_all();
  CHECK(first >= 64 * MiB, "%s: expected to get at least 64 MiB under a 256 MiB limit, got %zu MiB",
        what, first / MiB);
  CHECK(second >= first / 2,
        "%s: heap did not recover: first fill %zu MiB, second fill only %zu MiB", what,
        first / MiB, second / MiB);
  printf("%s: first fill %zu MiB, second fill %zu MiB\n", what, first / MiB, second / MiB);
}

/* After a fill of one size, other sizes work (freed space is reusable). */
static void other_sizes_work(const char *what) {
  const size_t sizes[] = {16, 1000, 32768, 40000, 1 * MiB, 16 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p = T_malloc(sizes[i]);
    CHECK(p != NULL, "%s: after the fills, malloc(%zu): expected a block, got NULL (%s)", what,
          sizes[i], errno_name(errno));
    T_free(p);
  }
}

static void mode_realloc(void) {
  /* One block grown until it fails: NULL + ENOMEM and the block intact. */
  size_t n = 1 * MiB;
  unsigned char *p = T_malloc(n);
  if (!CHECK(p != NULL, "realloc mode: first malloc failed"))
    return;
  memset(p, 0x5a, 4096);
  p[n - 1] = 0x77;
  for (;;) {
    size_t m = n + 3 * MiB;
    errno_sentinel();
    unsigned char *q = T_realloc(p, m);
    int e = errno;
    if (!q) {
      CHECK(e == ENOMEM, "realloc(%zu -> %zu) failed: expected ENOMEM, got %s", n, m, errno_name(e));
      CHECK(n >= 64 * MiB, "realloc growth: expected to reach 64 MiB, failed at %zu MiB", n / MiB);
      size_t z = 0;
      while (z < 4096 && p[z] == 0x5a)
        z++;
      CHECK(z == 4096 && p[n - 1] == 0x77, "failed realloc: expected the block intact");
      break;
    }
    p = q;
    n = m;
    p[n - 1] = 0x77;
  }
  T_free(p);
  /* Several blocks grown in turn until one fails. */
  unsigned char *bs[8];
  size_t ns[8];
  for (int i = 0; i < 8; i++) {
    ns[i] = 64 * KiB;
    bs[i] = T_malloc(ns[i]);
  }
  int failed = 0;
  for (int round = 0; round < 10000 && !failed; round++) {
    for (int i = 0; i < 8 && !failed; i++) {
      if (!bs[i])
        continue;
      size_t m = ns[i] + 1 * MiB + (size_t)i * 4096;
      errno_sentinel();
      unsigned char *q = T_realloc(bs[i], m);
      if (!q) {
        CHECK(errno == ENOMEM, "interleaved realloc failed: expected ENOMEM, got %s",
              errno_name(errno));
        failed = 1;
        break;
      }
      bs[i] = q;
      ns[i] = m;
      q[m - 1] = (unsigned char)i;
    }
  }
  CHECK(failed, "interleaved realloc: expected to run out under the limit");
  for (int i = 0; i < 8; i++) {
    if (bs[i])
      CHECK(bs[i][ns[i] - 1] == (unsigned char)i, "interleaved realloc: block %d lost its tail", i);
    T_free(bs[i]);
  }
  /* Recovery. */
  void *big = T_malloc(96 * MiB);
  CHECK(big != NULL, "after realloc growth: malloc(96 MiB) expected to work again, got NULL");
  T_free(big);
}

typedef struct thr {
  size_t bytes[2]; /* per fill */
  int bad_errno;
  void **mine;
  size_t n;
} thr_t;

static pthread_barrier_t barrier;

/* Two fills, all threads at once; everything is freed between them. */
static void *thread_fill(void *arg) {
  thr_t *t = arg;
  pthread_barrier_wait(&barrier);
  for (int round = 0; round < 2; round++) {
    t->n = 0;
    size_t got = 0;
    while (t->n < MAXBLOCKS / 8) {
      size_t sz = (t->n % 3 == 0) ? 256 * KiB : 4000;
      errno_sentinel();
      void *p = T_malloc(sz);
      if (!p) {
        if (errno != ENOMEM && !t->bad_errno)
          t->bad_errno = errno;
        break;
      }
      t->mine[t->n++] = p;
      got += sz;
    }
    t->bytes[round] = got;
    pthread_barrier_wait(&barrier);
    for (size_t i = 0; i < t->n; i++)
      T_free(t->mine[i]);
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

static void mode_threads(void) {
  enum { NT = 4 };
  thr_t t[NT];
  pthread_t th[NT];
  pthread_barrier_init(&barrier, NULL, NT);
  for (int i = 0; i < NT; i++) {
    t[i] = (thr_t){{0, 0}, 0, blocks + (size_t)i * (MAXBLOCKS / 8), 0};
    if (pthread_create(&th[i], NULL, thread_fill, &t[i]) != 0) {
      CHECK(0, "threads mode: pthread_create failed under the limit");
      return;
    }
  }
  size_t total[2] = {0, 0};
  for (int i = 0; i < NT; i++) {
    pthread_join(th[i], NULL);
    CHECK(t[i].bad_errno == 0, "thread %d: a failed malloc: expected errno ENOMEM, got %s (%d)", i,
          errno_name(t[i].bad_errno), t[i].bad_errno);
    total[0] += t[i].bytes[0];
    total[1] += t[i].bytes[1];
  }
  CHECK(total[0] >= 64 * MiB, "threads: expected >= 64 MiB in total under the limit, got %zu MiB",
        total[0] / MiB);
  CHECK(total[1] >= total[0] / 2,
        "threads: heap did not recover: first fill %zu MiB, second fill only %zu MiB",
        total[0] / MiB, total[1] / MiB);
  printf("threads: first fill %zu MiB, second fill %zu MiB (per thread: %zu/%zu %zu/%zu %zu/%zu "
         "%zu/%zu)\n",
         total[0] / MiB, total[1] / MiB, t[0].bytes[0] / MiB, t[0].bytes[1] / MiB,
         t[1].bytes[0] / MiB, t[1].bytes[1] / MiB, t[2].bytes[0] / MiB, t[2].bytes[1] / MiB,
         t[3].bytes[0] / MiB, t[3].bytes[1] / MiB);
}

/* Threads whose first malloc comes after the address space ran out: a
 * thread's cache is metadata (fixalloc chunks of 128 KiB), so past the
 * first few threads the cache itself cannot be made. Such a thread must
 * still get NULL with ENOMEM or a usable block (it used to crash: the slow
 * path locked the missing cache), and must work once memory is back. */
enum { NLATE = 48 };
static pthread_barrier_t late_go, late_done;
static int late_bad[NLATE];
static int late_got[NLATE];

static void *late_thread(void *arg) {
  int i = (int)(intptr_t)arg;
  pthread_barrier_wait(&late_go);
  for (int k = 0; k < 8; k++) {
    size_t n = 16 + (size_t)k * 100;
    errno_sentinel();
    unsigned char *p = T_malloc(n);
    if (!p) {
      if (errno != ENOMEM)
        late_bad[i] = errno ? errno : -1;
      continue;
    }
    memset(p, 0x5a, n);
    late_got[i]++;
    T_free(p);
  }
  pthread_barrier_wait(&late_done); /* the main thread frees everything */
  pthread_barrier_wait(&late_go);
  unsigned char *p = T_malloc(100); /* memory is back: must work now */
  if (!p)
    late_bad[i] = -2;
  else {
    memset(p, 0x33, 100);
    T_free(p);
  }
  return NULL;
}

static void mode_late_threads(void) {
  pthread_t th[NLATE];
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 64 * KiB);
  pthread_barrier_init(&late_go, NULL, NLATE + 1);
  pthread_barrier_init(&late_done, NULL, NLATE + 1);
  int nt = 0;
  for (; nt < NLATE; nt++)
    if (pthread_create(&th[nt], &at, late_thread, (void *)(intptr_t)nt) != 0)
      break;
  if (!CHECK(nt == NLATE, "late_threads: only %d of %d threads started", nt, NLATE))
    return;
  /* Use up the address space: large blocks, then small ones. */
  const size_t sizes[] = {1 * MiB, 64 * KiB, 4000, 100};
  nblocks = 0;
  for (int k = 0; k < 4; k++)
    while (nblocks < MAXBLOCKS) {
      void *p = T_malloc(sizes[k]);
      if (!p)
        break;
      blocks[nblocks++] = p;
    }
  size_t filled = nblocks;
  /* And the rest of it, outside the heap (the heap grows by whole arenas,
   * so address space is left that metadata could still use). */
  static void *maps[4096];
  static size_t mapsz[4096];
  int nmaps = 0;
  for (size_t sz = 1 * MiB; sz >= 4096; sz /= 4)
    while (nmaps < 4096) {
      void *m = mmap(NULL, sz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (m == MAP_FAILED)
        break;
      maps[nmaps] = m;
      mapsz[nmaps++] = sz;
    }
  pthread_barrier_wait(&late_go);
  pthread_barrier_wait(&late_done);
  while (nmaps > 0) {
    nmaps--;
    munmap(maps[nmaps], mapsz[nmaps]);
  }
  free_all();
  pthread_barrier_wait(&late_go);
  int got = 0;
  for (int i = 0; i < nt; i++) {
    pthread_join(th[i], NULL);
    CHECK(late_bad[i] == 0,
          "late thread %d: expected NULL with ENOMEM or a block, then a block once memory was "
          "freed; got %d",
          i, late_bad[i]);
    got += late_got[i];
  }
  printf("late_threads: %zu blocks filled the space; the threads then got %d of %d blocks\n",
         filled, got, nt * 8);
}

static void *noop_thread(void *arg) { return arg; }

static int child_no_threads(void) {
  printf("child no_threads\n");
  pthread_t t;
  int rc = pthread_create(&t, NULL, noop_thread, NULL);
  if (rc == 0) {
    pthread_join(t, NULL);
    printf("skipped: could not make pthread_create fail (not root?)\n");
    return check_summary();
  }
  printf("pthread_create fails with %d as intended\n", rc);
  size_t rss0 = rss_bytes();
  enum { NB = 64 };
  void *bs[NB];
  void *smalls[20000];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < NB; i++) {
      bs[i] = T_malloc(4 * MiB + (size_t)i * 8192);
      if (!CHECK(bs[i] != NULL, "no_threads: malloc(4 MiB) #%d failed", i))
        continue;
      memset(bs[i], 1, 4 * MiB);
    }
    for (int i = 0; i < 20000; i++) {
      smalls[i] = T_malloc((size_t)(i % 1000) * 8 + 1);
      if (smalls[i])
        memset(smalls[i], 2, (size_t)(i % 1000) * 8 + 1);
    }
    size_t rss_full = rss_bytes();
    for (int i = 0; i < NB; i++)
      T_free(bs[i]);
    for (int i = 0; i < 20000; i++)
      T_free(smalls[i]);
    T_trim();
    size_t rss_after = rss_bytes();
    CHECK(rss_after <= rss0 + 64 * MiB,
          "no_threads round %d: RSS %zu MiB with 256 MiB live, %zu MiB after free + malloc_trim: "
          "expected <= %zu MiB (released without any thread)",
          round, rss_full / MiB, rss_after / MiB, (rss0 + 64 * MiB) / MiB);
    printf("round %d: RSS start %zu MiB, full %zu MiB, after free+trim %zu MiB\n", round,
           rss0 / MiB, rss_full / MiB, rss_after / MiB);
  }
  other_sizes_work("no_threads");
  return check_summary();
}

static int child_main(const char *mode) {
  if (!strcmp(mode, "no_threads"))
    return child_no_threads();
  struct rlimit rl;
  getrlimit(RLIMIT_AS, &rl);
  CHECK(rl.rlim_cur == AS_LIMIT, "RLIMIT_AS in the child: expected %zu, got %llu", AS_LIMIT,
        (unsigned long long)rl.rlim_cur);
  /* stdio's buffer now, and the first allocations work. */
  printf("child %s\n", mode);
  void *a = T_malloc(16), *b = T_calloc(10, 10), *c = T_malloc(100000);
  CHECK(a && b && c, "first allocations under the limit: expected to work, got %p %p %p", a, b, c);
  T_free(a);
  T_free(b);
  T_free(c);
  blocks = mmap(NULL, MAXBLOCKS * sizeof(void *), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!CHECK(blocks != MAP_FAILED, "mmap of the block table failed"))
    return check_summary();
  const size_t small[] = {4000, 1000, 16000, 32768};
  const size_t large[] = {1 * MiB, 3 * MiB + 4096, 40000, 200 * KiB};
  const size_t mixed[] = {100, 4 * MiB, 3000, 70000, 24, 1 * MiB};
  if (!strcmp(mode, "malloc_small"))
    fill_twice(A_MALLOC, small, 4, mode);
  else if (!strcmp(mode, "malloc_large"))
    fill_twice(A_MALLOC, large, 4, mode);
  else if (!strcmp(mode, "malloc_mixed")) {
    fill_twice(A_MALLOC, mixed, 6, mode);
    fill_twice(A_MALLOC, small, 4, "mixed then small");
    fill_twice(A_MALLOC, large, 4, "mixed then large");
  } else if (!strcmp(mode, "calloc"))
    fill_twice(A_CALLOC, mixed, 6, mode);
  else if (!strcmp(mode, "realloc"))
    mode_realloc();
  else if (!strcmp(mode, "posix_memalign"))
    fill_twice(A_PMEMALIGN, large, 4, mode);
  else if (!strcmp(mode, "aligned_alloc"))
    fill_twice(A_ALIGNED, mixed, 6, mode);
  else if (!strcmp(mode, "memalign"))
    fill_twice(A_MEMALIGN, small, 4, mode);
  else if (!strcmp(mode, "valloc"))
    fill_twice(A_VALLOC, large, 4, mode);
  else if (!strcmp(mode, "pvalloc"))
    fill_twice(A_PVALLOC, small, 4, mode);
  else if (!strcmp(mode, "threads"))
    mode_threads();
  else if (!strcmp(mode, "late_threads"))
    mode_late_threads();
  else {
    printf("unknown mode %s\n", mode);
    return 2;
  }
  other_sizes_work(mode);
  return check_summary();
}

static void set_limit(void) {
  struct rlimit rl = {AS_LIMIT, AS_LIMIT};
  setrlimit(RLIMIT_AS, &rl);
}

/* As nobody with RLIMIT_NPROC 1: this process is nobody's only one, so
 * clone() fails. Without root the setuid fails and the child skips. */
static void set_no_threads(void) {
  if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0) {
    struct rlimit rl = {1, 1};
    setrlimit(RLIMIT_NPROC, &rl);
  }
}

static child_result_t res;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "child") == 0)
    return child_main(argv[2]);
  printf("test_oslimits (%s API)\n", API_NAME);
  const char *modes[] = {"malloc_small", "malloc_large", "malloc_mixed", "calloc",  "realloc",
                         "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
                         "threads", "late_threads", "no_threads"};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    check_section(modes[i]);
    char *args[] = {argv[0], "child", (char *)modes[i], NULL};
    int no_threads = !strcmp(modes[i], "no_threads");
    if (run_child(NULL, NULL, args, no_threads ? set_no_threads : set_limit, 60, &res) != 0) {
      CHECK(0, "%s: could not start the child", modes[i]);
      continue;
    }
    char st[128];
    int ok = CHECK(child_exited_ok(&res), "%s: expected exit 0, got %s", modes[i],
                   child_status_text(&res, st, sizeof st));
    ok &= CHECK(strstr(res.out, " passed, 0 failed") != NULL,
                "%s: expected the child's checks to pass", modes[i]);
    if (!ok)
      child_dump(modes[i], &res);
    else {
      printf("ok   %s\n", modes[i]);
      print_indented(res.out);
    }
  }
  return check_summary();
}
