/* threads_at_scale: thousands of short-lived threads that allocate, hand
 * blocks to each other and free them, under whatever malloc the process has
 * (CTest runs it with LD_PRELOAD=libgomalloc.so).
 *
 * Threads are started and joined in a ring: at most --alive at once, --threads
 * in total. Each does --ops operations on blocks of 8 B .. 64 KiB (malloc,
 * calloc, realloc, aligned_alloc, posix_memalign): every block is filled with
 * a pattern derived from its address and size and checked before it is
 * freed. A block is kept by its thread for a while, or swapped through a
 * shared array of atomic slots for a block some other (maybe dead) thread
 * made, which is checked and freed here. A thread frees what it kept before
 * it exits; the slots live on.
 *
 * RSS (from /proc/self/statm) is taken after a warm-up of --warmup threads
 * and at the end (same number of blocks live in the slots, all threads
 * joined): the end must be at most --rss-slack-mib above the warm-up, i.e.
 * the caches of the thousands of dead threads were given back.
 *
 * --expect-lib NAME: fail unless malloc resolves into a loaded object whose
 * path contains NAME (proof that the LD_PRELOAD took).
 *
 * Exit status 0 on success, 1 on a failed check (with a message on stderr).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- settings ------------------------------------------------------------------ */
static long opt_threads = 5000;
static long opt_alive = 64;
static long opt_ops = 500;
static long opt_warmup = 500;
static long opt_rss_slack_mib = 48;
static const char *opt_expect_lib;

enum { SLOTS = 1024, LOCAL_MAX = 32, MIN_SIZE = 8, MAX_SIZE = 64 * 1024 };

static _Atomic(uintptr_t) slots[SLOTS];
static atomic_long live_blocks;     /* allocated and not yet freed */
static atomic_long total_allocs;
static atomic_long total_handoffs;  /* blocks freed by another thread than their maker's */
static atomic_long alive_now, alive_peak;

/* ---- failure reporting -------------------------------------------------------------- */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("threads_at_scale: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  _exit(1);
}

/* ---- the pattern ------------------------------------------------------------------------ */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Word 0 holds the size, keyed by the address, so a block can be checked by a
 * thread that knows only its pointer; the rest is a cheap sequence from
 * mix(address, size). Sizes are at least 8. */
static uint64_t pattern_base(const void *p, size_t size) {
  return mix64((uint64_t)(uintptr_t)p * 31 + size);
}

static void fill(void *p, size_t size) {
  uint64_t base = pattern_base(p, size);
  unsigned char *b = p;
  uint64_t w0 = (uint64_t)size ^ mix64((uint64_t)(uintptr_t)p);
  memcpy(b, &w0, 8);
  size_t words = size / 8;
  for (size_t k = 1; k < words; k++) {
    uint64_t w = base ^ (k * 0x9e3779b97f4a7c15ULL);
    memcpy(b + 8 * k, &w, 8);
  }
  for (size_t t = words * 8; t < size; t++) b[t] = (unsigned char)((base >> ((t & 7) * 8)) ^ 0x5a);
}

/* Returns the block's size, or dies naming the first wrong byte. */
static size_t check(const void *p, const char *what) {
  const unsigned char *b = p;
  uint64_t w0;
  memcpy(&w0, b, 8);
  size_t size = (size_t)(w0 ^ mix64((uint64_t)(uintptr_t)p));
  if (size < MIN_SIZE || size > MAX_SIZE)
    die("%s: block %p: size word is garbage (0x%016" PRIx64 "): block overwritten or handed out twice", what, p,
        w0);
  uint64_t base = pattern_base(p, size);
  size_t words = size / 8;
  for (size_t k = 1; k < words; k++) {
    uint64_t w, want = base ^ (k * 0x9e3779b97f4a7c15ULL);
    memcpy(&w, b + 8 * k, 8);
    if (w != want)
      die("%s: block %p of %zu bytes: word at offset %zu is 0x%016" PRIx64 ", want 0x%016" PRIx64, what, p, size,
          8 * k, w, want);
  }
  for (size_t t = words * 8; t < size; t++)
    if (b[t] != (unsigned char)((base >> ((t & 7) * 8)) ^ 0x5a))
      die("%s: block %p of %zu bytes: tail byte at offset %zu is wrong", what, p, size, t);
  return size;
}

/* ---- per-thread work ---------------------------------------------------------------------- */
static uint64_t next_rand(uint64_t *s) {
  *s += 0x9e3779b97f4a7c15ULL;
  return mix64(*s);
}

/* 60% 8..256 B, 30% 257 B..4 KiB, 10% 4 KiB..64 KiB. */
static size_t random_size(uint64_t *rng) {
  uint64_t r = next_rand(rng);
  unsigned band = (unsigned)(r % 10);
  r >>= 8;
  if (band < 6) return MIN_SIZE + (size_t)(r % (256 - MIN_SIZE + 1));
  if (band < 9) return 257 + (size_t)(r % (4096 - 257 + 1));
  return 4097 + (size_t)(r % (MAX_SIZE - 4097 + 1));
}

static void *allocate(uint64_t *rng, size_t size) {
  void *p = NULL;
  unsigned kind = (unsigned)(next_rand(rng) % 16);
  if (kind == 0) {
    p = calloc(1, size);
    if (p) {
      const unsigned char *b = p;
      for (size_t i = 0; i < size; i++)
        if (b[i] != 0) die("calloc(1, %zu) = %p: byte %zu is 0x%02x, not zero", size, p, i, b[i]);
    }
  } else if (kind == 1) {
    size_t align = (size_t)16 << (next_rand(rng) % 9); /* 16 .. 4096 */
    size_t rounded = (size + align - 1) / align * align;
    p = aligned_alloc(align, rounded);
    if (p && ((uintptr_t)p & (align - 1)) != 0) die("aligned_alloc(%zu, %zu) = %p: misaligned", align, rounded, p);
    if (p) {
      fill(p, size); /* we only use `size` bytes of it */
      atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&total_allocs, 1, memory_order_relaxed);
      return p;
    }
  } else if (kind == 2) {
    size_t align = (size_t)8 << (next_rand(rng) % 10); /* 8 .. 4096 */
    int rc = posix_memalign(&p, align, size);
    if (rc != 0) die("posix_memalign(%zu, %zu) failed: %s", align, size, strerror(rc));
    if (((uintptr_t)p & (align - 1)) != 0) die("posix_memalign(%zu, %zu) = %p: misaligned", align, size, p);
  } else {
    p = malloc(size);
  }
  if (!p) die("allocation of %zu bytes failed: %s", size, strerror(errno));
  if (size >= 16 && ((uintptr_t)p & 15) != 0) die("block %p of %zu bytes is not 16-byte aligned", p, size);
  fill(p, size);
  atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&total_allocs, 1, memory_order_relaxed);
  return p;
}

static void release(void *p, const char *what) {
  check(p, what);
  free(p);
  atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
}

/* realloc keeps the bytes it keeps: check the old block, realloc, then check
 * the preserved prefix against the old pattern (moved along with it) and fill
 * the new block afresh. */
static void *resize(uint64_t *rng, void *p) {
  size_t old_size = check(p, "realloc source");
  size_t new_size = random_size(rng);
  unsigned char head[64];
  size_t keep = old_size < new_size ? old_size : new_size;
  size_t head_len = keep < sizeof head ? keep : sizeof head;
  memcpy(head, p, head_len);
  uintptr_t old_addr = (uintptr_t)p; /* for messages only: p is dead after realloc */
  void *q = realloc(p, new_size);
  if (!q) die("realloc(%#" PRIxPTR ", %zu) failed: %s", old_addr, new_size, strerror(errno));
  if (memcmp(q, head, head_len) != 0)
    die("realloc(%#" PRIxPTR " -> %p, %zu -> %zu) did not preserve the first %zu bytes", old_addr, q, old_size,
        new_size, head_len);
  fill(q, new_size);
  return q;
}

struct thread_arg {
  long index;
};

static void *worker(void *argp) {
  const struct thread_arg *arg = argp;
  uint64_t rng = 0x1234567ULL + (uint64_t)arg->index * 0x100000001b3ULL;
  void *local[LOCAL_MAX];
  int nlocal = 0;
  long alive = atomic_fetch_add(&alive_now, 1) + 1;
  long peak = atomic_load(&alive_peak);
  while (alive > peak && !atomic_compare_exchange_weak(&alive_peak, &peak, alive)) {
  }
  long ops = opt_ops / 2 + (long)(next_rand(&rng) % (uint64_t)(opt_ops + 1)); /* 0.5x .. 1.5x */
  for (long i = 0; i < ops; i++) {
    unsigned action = (unsigned)(next_rand(&rng) % 100);
    if (action < 40 || nlocal == 0) {
      void *p = allocate(&rng, random_size(&rng));
      if (nlocal < LOCAL_MAX) {
        local[nlocal++] = p;
      } else {
        unsigned victim = (unsigned)(next_rand(&rng) % LOCAL_MAX);
        release(local[victim], "free of a local block");
        local[victim] = p;
      }
    } else if (action < 75) {
      /* Hand a local block over; take whatever was in the slot. */
      unsigned which = (unsigned)(next_rand(&rng) % (unsigned)nlocal);
      void *mine = local[which];
      local[which] = local[--nlocal];
      unsigned slot = (unsigned)(next_rand(&rng) % SLOTS);
      void *theirs = (void *)atomic_exchange_explicit(&slots[slot], (uintptr_t)mine, memory_order_acq_rel);
      if (theirs) {
        release(theirs, "free of a block taken from a slot");
        atomic_fetch_add_explicit(&total_handoffs, 1, memory_order_relaxed);
      }
    } else if (action < 90) {
      unsigned which = (unsigned)(next_rand(&rng) % (unsigned)nlocal);
      release(local[which], "free of a local block");
      local[which] = local[--nlocal];
    } else {
      unsigned which = (unsigned)(next_rand(&rng) % (unsigned)nlocal);
      local[which] = resize(&rng, local[which]);
    }
  }
  while (nlocal > 0) release(local[--nlocal], "free at thread exit");
  atomic_fetch_sub(&alive_now, 1);
  return NULL;
}

/* ---- main ------------------------------------------------------------------------------------ */
static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) die("cannot open /proc/self/statm: %s", strerror(errno));
  long size = 0, resident = 0;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) die("cannot parse /proc/self/statm");
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--threads N] [--alive N] [--ops N] [--warmup N] [--rss-slack-mib N] [--expect-lib NAME]\n",
          argv0);
  exit(2);
}

static long parse_long(const char *s, const char *argv0) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 0) usage(argv0);
  return v;
}

static void check_malloc_source(void) {
  void *sym = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) die("cannot tell which object malloc comes from");
  if (!strstr(info.dli_fname, opt_expect_lib))
    die("malloc resolves into %s, not into an object named like '%s': the LD_PRELOAD did not take",
        info.dli_fname, opt_expect_lib);
  printf("malloc comes from %s\n", info.dli_fname);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage(argv[0]);
    const char *o = argv[i], *v = argv[++i];
    if (!strcmp(o, "--threads")) opt_threads = parse_long(v, argv[0]);
    else if (!strcmp(o, "--alive")) opt_alive = parse_long(v, argv[0]);
    else if (!strcmp(o, "--ops")) opt_ops = parse_long(v, argv[0]);
    else if (!strcmp(o, "--warmup")) opt_warmup = parse_long(v, argv[0]);
    else if (!strcmp(o, "--rss-slack-mib")) opt_rss_slack_mib = parse_long(v, argv[0]);
    else if (!strcmp(o, "--expect-lib")) opt_expect_lib = v;
    else usage(argv[0]);
  }
  if (opt_alive < 1 || opt_threads < 1 || opt_warmup > opt_threads) usage(argv[0]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (opt_expect_lib) check_malloc_source();

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t *ring = calloc((size_t)opt_alive, sizeof *ring);
  struct thread_arg *args = calloc((size_t)opt_threads, sizeof *args);
  if (!ring || !args) die("out of memory for the thread table");

  double t0 = now();
  long rss_start = rss_bytes(), rss_warm = 0;
  long started = 0, joined = 0;
  /* Runs threads [started, upto), at most opt_alive at once, and joins them all. */
  for (int phase = 0; phase < 2; phase++) {
    long upto = phase == 0 ? opt_warmup : opt_threads;
    for (; started < upto; started++) {
      long r = started % opt_alive;
      if (started - joined >= opt_alive) {
        int rc = pthread_join(ring[joined % opt_alive], NULL);
        if (rc) die("pthread_join: %s", strerror(rc));
        joined++;
      }
      args[started].index = started;
      int rc = pthread_create(&ring[r], &attr, worker, &args[started]);
      if (rc) die("pthread_create of thread %ld: %s", started, strerror(rc));
    }
    for (; joined < started; joined++) {
      int rc = pthread_join(ring[joined % opt_alive], NULL);
      if (rc) die("pthread_join: %s", strerror(rc));
    }
    if (phase == 0) {
      rss_warm = rss_bytes();
      printf("warm-up: %ld threads in %.2f s, RSS %.1f MiB (at start %.1f MiB), %ld blocks live\n", joined,
             now() - t0, rss_warm / 1048576.0, rss_start / 1048576.0, atomic_load(&live_blocks));
    }
  }
  long rss_end = rss_bytes();
  long live_in_slots = 0;
  for (int i = 0; i < SLOTS; i++)
    if (atomic_load(&slots[i])) live_in_slots++;
  printf("all: %ld threads (at most %ld alive, peak %ld working at once) in %.2f s, %ld allocations, %ld handed "
         "between threads\n",
         joined, opt_alive, atomic_load(&alive_peak), now() - t0, atomic_load(&total_allocs),
         atomic_load(&total_handoffs));
  printf("RSS at the end %.1f MiB, after warm-up %.1f MiB: growth %.1f MiB (bound %ld MiB); %ld blocks in slots\n",
         rss_end / 1048576.0, rss_warm / 1048576.0, (rss_end - rss_warm) / 1048576.0, opt_rss_slack_mib,
         live_in_slots);
  if (atomic_load(&live_blocks) != live_in_slots)
    die("%ld blocks live but %ld in the slots: the counts do not add up", atomic_load(&live_blocks), live_in_slots);

  for (int i = 0; i < SLOTS; i++) {
    void *p = (void *)atomic_exchange(&slots[i], (uintptr_t)0);
    if (p) release(p, "final drain of the slots");
  }
  if (atomic_load(&live_blocks) != 0) die("%ld blocks still live after the drain", atomic_load(&live_blocks));
  free(ring);
  free(args);
  pthread_attr_destroy(&attr);

  if (rss_end - rss_warm > opt_rss_slack_mib * 1048576L)
    die("RSS grew by %.1f MiB after the warm-up (bound %ld MiB): the caches of exited threads are not given back",
        (rss_end - rss_warm) / 1048576.0, opt_rss_slack_mib);
  printf("threads_at_scale: PASS\n");
  return 0;
}
