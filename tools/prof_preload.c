/* prof_preload.c: libgomalloc_prof.so, the profiler `gomalloc run --profile
 * DIR` preloads in front of libgomalloc.so (the files it writes are in
 * docs/profile-format.md; the sampler and the files are in prof_sampler.c).
 *
 * Why a library of its own: the profile must cost nothing when it is off.
 * A flag tested in gomalloc's malloc would cost every program an instruction
 * on the fast path (make icount); a build variant would have to be
 * installed next to the real one. Preloaded first, this library's malloc is
 * the one every object binds to: it counts the request and calls gm_malloc.
 * Runs without it execute exactly the library they always did.
 *
 * The counters: each thread owns a block of 32769 + 2 * 196 uint64_t (one
 * per request size 0..32 KiB, and count and bytes of each quarter-power-of-
 * two bucket above), mapped from the OS on the thread's first request (the
 * recorder calls no malloc). The owner increments with relaxed atomic
 * loads and stores, plain movs on x86: no lock prefix, no sharing. A
 * thread that exits puts its block on a free list, counts kept, for the
 * next new thread; the exit handler sums every block ever made. So
 * merging costs nothing while the program runs, and the memory is bounded
 * by the most threads alive at once. A thread's mallocs after its key
 * destructor ran (other TLS destructors) go to one shared block with
 * atomic adds.
 *
 * free is not wrapped: the histogram counts requests, and the bytes in use
 * come from gm_stats. */
#define _GNU_SOURCE
#include "prof.h"

#include "gomalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static prof_block_t *all_blocks;  /* every block made, pushed with CAS */
static prof_block_t *free_blocks; /* blocks of exited threads, under free_lock */
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static prof_block_t late_block;   /* requests after a thread's key destructor */
static pthread_key_t block_key;
static int key_made;

/* 0 undecided, 1 counting, -1 not profiling this process. Decided on the
 * first request (which can come before our constructor, from another
 * library's) by prof_decide: environment only, no side effect. */
static int state;

static __thread prof_block_t *tl_block __attribute__((tls_model("initial-exec")));
static __thread int tl_dead __attribute__((tls_model("initial-exec")));

/* ---- recording --------------------------------------------------------------------- */

static inline void bump(uint64_t *c, uint64_t by) {
  __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static void add_large(prof_block_t *b, size_t n, int shared) {
  unsigned i = prof_bucket(n);
  if (shared) {
    __atomic_fetch_add(&b->large_count[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&b->large_bytes[i], n, __ATOMIC_RELAXED);
  } else {
    bump(&b->large_count[i], 1);
    bump(&b->large_bytes[i], n);
  }
}

static void thread_gone(void *arg) {
  prof_block_t *b = arg;
  tl_block = NULL;
  tl_dead = 1;
  pthread_mutex_lock(&free_lock);
  b->next_free = free_blocks;
  free_blocks = b;
  pthread_mutex_unlock(&free_lock);
}

static prof_block_t *new_block(void) {
  prof_block_t *b = NULL;
  pthread_mutex_lock(&free_lock);
  if (free_blocks) {
    b = free_blocks;
    free_blocks = b->next_free;
  }
  pthread_mutex_unlock(&free_lock);
  if (b)
    return b;
  void *m = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return NULL;
  b = m;
  prof_block_t *head = __atomic_load_n(&all_blocks, __ATOMIC_RELAXED);
  do
    b->next_all = head;
  while (!__atomic_compare_exchange_n(&all_blocks, &head, b, 1, __ATOMIC_RELEASE,
                                      __ATOMIC_RELAXED));
  return b;
}

static __attribute__((noinline, cold)) void record_slow(size_t n) {
  int st = __atomic_load_n(&state, __ATOMIC_RELAXED);
  if (st == 0) { /* racing threads decide the same */
    st = prof_decide() ? 1 : -1;
    __atomic_store_n(&state, st, __ATOMIC_RELAXED);
  }
  if (st < 0)
    return;
  prof_block_t *b = NULL;
  if (!tl_dead && __atomic_load_n(&key_made, __ATOMIC_ACQUIRE) && (b = new_block()) != NULL) {
    tl_block = b;
    pthread_setspecific(block_key, b); /* key < 32: no malloc in glibc */
  }
  if (!b) { /* after this thread's destructor, before the constructor, or out of memory */
    if (n <= PROF_SMALL_MAX)
      __atomic_fetch_add(&late_block.small[n], 1, __ATOMIC_RELAXED);
    else
      add_large(&late_block, n, 1);
    return;
  }
  if (n <= PROF_SMALL_MAX)
    bump(&b->small[n], 1);
  else
    add_large(b, n, 0);
}

static inline void record(size_t n) {
  prof_block_t *b = tl_block;
  if (__builtin_expect(b == NULL, 0))
    record_slow(n);
  else if (__builtin_expect(n <= PROF_SMALL_MAX, 1))
    bump(&b->small[n], 1);
  else
    add_large(b, n, 0);
}

/* A fork while another thread holds free_lock must not leave it held in
 * the child, whose new threads take it for their first request. */
static void fork_prepare(void) { pthread_mutex_lock(&free_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&free_lock); }
static void fork_child(void) { pthread_mutex_init(&free_lock, NULL); }

void prof_counters_init(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  if (pthread_key_create(&block_key, thread_gone) == 0)
    __atomic_store_n(&key_made, 1, __ATOMIC_RELEASE);
}

static void add_block(prof_block_t *out, prof_block_t *b) {
  for (size_t i = 0; i <= PROF_SMALL_MAX; i++)
    out->small[i] += __atomic_load_n(&b->small[i], __ATOMIC_RELAXED);
  for (size_t i = 0; i < PROF_LARGE_BUCKETS; i++) {
    out->large_count[i] += __atomic_load_n(&b->large_count[i], __ATOMIC_RELAXED);
    out->large_bytes[i] += __atomic_load_n(&b->large_bytes[i], __ATOMIC_RELAXED);
  }
}

/* Threads still running add while we read: their last few requests may
 * be missed, never counted twice. */
void prof_counters_sum(prof_block_t *out) {
  memset(out, 0, sizeof *out);
  add_block(out, &late_block);
  for (prof_block_t *b = __atomic_load_n(&all_blocks, __ATOMIC_ACQUIRE); b; b = b->next_all)
    add_block(out, b);
}

/* ---- the C allocation calls ----------------------------------------------------------- */

/* malloc's common case has no call but gm_malloc's, so no register is
 * saved: 12 instructions in front of gm_malloc, its PLT jump included
 * (callgrind, a 64-byte malloc/free loop), where record() inline took 16. */
static __attribute__((noinline)) void *malloc_slow(size_t n) {
  record(n);
  return gm_malloc(n);
}

EXPORT void *malloc(size_t n) {
  prof_block_t *b = tl_block;
  if (__builtin_expect(b == NULL || n > PROF_SMALL_MAX, 0))
    return malloc_slow(n);
  bump(&b->small[n], 1);
  return gm_malloc(n);
}

EXPORT void *calloc(size_t a, size_t b) {
  size_t n;
  if (!__builtin_mul_overflow(a, b, &n))
    record(n);
  return gm_calloc(a, b);
}

EXPORT void *realloc(void *p, size_t n) {
  if (n || !p)
    record(n);
  return gm_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t a, size_t b) {
  size_t n;
  if (!__builtin_mul_overflow(a, b, &n) && (n || !p))
    record(n);
  return gm_reallocarray(p, a, b);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  record(n);
  return gm_posix_memalign(out, align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  record(n);
  return gm_aligned_alloc(align, n);
}

EXPORT void *memalign(size_t align, size_t n) {
  record(n);
  return gm_memalign(align, n);
}

EXPORT void *valloc(size_t n) {
  record(n);
  return gm_valloc(n);
}

EXPORT void *pvalloc(size_t n) {
  record(n);
  return gm_pvalloc(n);
}

/* ---- C++ operator new ------------------------------------------------------------------
 * Passed on to the next definition (libgomalloc.so's), which calls the
 * new-handler and throws std::bad_alloc as the standard asks: C cannot. */

#define NEW_FORMS(X)                                                                               \
  X(_Znwm, (size_t n), (n))                                                                        \
  X(_Znam, (size_t n), (n))                                                                        \
  X(_ZnwmRKSt9nothrow_t, (size_t n, const void *t), (n, t))                                        \
  X(_ZnamRKSt9nothrow_t, (size_t n, const void *t), (n, t))                                        \
  X(_ZnwmSt11align_val_t, (size_t n, size_t a), (n, a))                                            \
  X(_ZnamSt11align_val_t, (size_t n, size_t a), (n, a))                                            \
  X(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t))            \
  X(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const void *t), (n, a, t))

/* The next definition, looked up once (racing threads find the same one). */
static void *next_fn(void **slot, const char *name) {
  void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!f) {
    f = dlsym(RTLD_NEXT, name);
    if (!f) {
      static const char msg[] = "gomalloc profile: operator new not found after the profiler\n";
      (void)!write(2, msg, sizeof msg - 1);
      abort();
    }
    __atomic_store_n(slot, f, __ATOMIC_RELEASE);
  }
  return f;
}

#define NEW_WRAPPER(name, params, args)                                                            \
  static void *next_##name;                                                                        \
  EXPORT void *name params;                                                                        \
  void *name params {                                                                              \
    record(n);                                                                                     \
    void *(*f) params = (void *(*)params)next_fn(&next_##name, #name);                             \
    return f args;                                                                                 \
  }
NEW_FORMS(NEW_WRAPPER)

void prof_resolve_new(void) {
#define RESOLVE(name, params, args) (void)next_fn(&next_##name, #name);
  NEW_FORMS(RESOLVE)
}
