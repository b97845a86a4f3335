/* internal.h: small helpers shared by every file of the allocator:
 * branch hints, bit operations, atomics with the memory order in the name,
 * and the lock type. See malloc.c for the overview of the design. */
#ifndef GM_INTERNAL_H
#define GM_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_LIKELY(x) __builtin_expect(!!(x), 1)
#define GM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GM_INLINE static inline __attribute__((always_inline))
#define GM_NOINLINE __attribute__((noinline))
#define GM_COLD __attribute__((cold))
#define GM_HIDDEN __attribute__((visibility("hidden")))
#define GM_ALIGNED(n) __attribute__((aligned(n)))

#define GM_ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define GM_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))

GM_INLINE unsigned gm_ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); }
/* The same for x != 0, as a 64-bit value: the builtin's int result costs
 * the malloc fast path a sign extension and a dependency-breaking xor.
 * tzcnt is encoded as rep bsf, so CPUs without BMI1 run it as bsf, which
 * agrees for x != 0. */
GM_INLINE uint64_t gm_ctz64_nz(uint64_t x) {
#if defined(__x86_64__)
  uint64_t r;
  __asm__("tzcnt %1, %0" : "=r"(r) : "rm"(x) : "cc");
  return r;
#else
  return (uint64_t)__builtin_ctzll(x);
#endif
}
/* Bit idx % 64 of x (bt), and x with that bit set (bts) or clear (btr). The register
 * forms take the index mod 64 themselves; in C that is a mask and a
 * shifted one, two more instructions on free's fast path. */
GM_INLINE bool gm_bit_test(uint64_t x, uint64_t idx) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool c;
  __asm__("btq %2, %1" : "=@ccc"(c) : "r"(x), "r"(idx));
  return c;
#else
  return (x >> (idx & 63)) & 1;
#endif
}
GM_INLINE uint64_t gm_bit_set(uint64_t x, uint64_t idx) {
#if defined(__x86_64__)
  __asm__("btsq %1, %0" : "+r"(x) : "r"(idx) : "cc");
  return x;
#else
  return x | (1ULL << (idx & 63));
#endif
}
GM_INLINE uint64_t gm_bit_clear(uint64_t x, uint64_t idx) {
#if defined(__x86_64__)
  __asm__("btrq %1, %0" : "+r"(x) : "r"(idx) : "cc");
  return x;
#else
  return x & ~(1ULL << (idx & 63));
#endif
}
/* Without -mpopcnt the builtin becomes a libgcc call; the SWAR form is a
 * dozen inline instructions on any x86-64 (the instruction is used when
 * the target has it). */
GM_INLINE unsigned gm_popcount64(uint64_t x) {
#if defined(__POPCNT__) || defined(__aarch64__)
  return (unsigned)__builtin_popcountll(x);
#else
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return (unsigned)((x * 0x0101010101010101ULL) >> 56);
#endif
}
GM_INLINE bool gm_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Atomics on plain fields (GCC/Clang builtins), so a field can be written
 * plainly by its owner and read racily-but-defined by others. */
#define gm_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define gm_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define gm_load_seqcst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define gm_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define gm_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define gm_store_seqcst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define gm_fetch_or_seqcst(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define gm_fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define gm_fetch_sub_relaxed(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define gm_exchange_acqrel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define gm_cas_seqcst(p, expp, v)                                                                  \
  __atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

/* Locks are glibc mutexes: uncontended lock/unlock is one atomic each, they
 * sleep in the kernel under contention (spinning is wrong with more threads
 * than cores), and they never allocate. Every lock is taken in fork's
 * prepare handler (init.c), in the order documented there. */
/* A lock remembers its holder, so that fork's prepare handler can tell a
 * lock held by the forking thread itself (a signal handler that forks
 * while its thread was inside malloc) from one held by another thread,
 * and skip it instead of deadlocking, as glibc does for its own locks.
 *
 * Fork handlers of other libraries run inside our window: glibc runs
 * prepare handlers in reverse order of registration and parent/child ones
 * in order, so a handler registered before ours (a constructor that ran
 * before gomalloc initialised) runs after our prepare took every lock and
 * before our parent/child handler gives them back. glibc's malloc takes
 * its locks after every prepare handler and drops them before the first
 * parent/child one, so such a handler may allocate; to allow the same,
 * a lock prepare took is marked fork_held, and while it is, its holder
 * (the forking thread, in the parent and in the child) passes gm_lock
 * without waiting and gm_unlock leaves it held. That is sound because
 * prepare took it at a quiescent point: its holder was not inside the
 * critical section, so what it guards is consistent, and every other
 * thread still waits. Locks prepare skipped are not marked: the
 * interrupted code is inside that section. Cost: none on gm_lock unless
 * the lock is contended (trylock first), one load on gm_unlock. */
typedef struct gm_lock {
  pthread_mutex_t m;
  const void *owner; /* gm_self() of the holder, or NULL */
  bool fork_skipped; /* prepare did not take it (held by the forking thread) */
  bool fork_held;    /* prepare took it; its holder may re-enter (written by the holder) */
} gm_lock_t;
#define GM_LOCK_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, false, false}
extern __thread char gm_self_marker __attribute__((tls_model("initial-exec")));
/* The lock this thread is between taking (or releasing) and recording (or
 * clearing) as its own: a signal can land in that window, and a fork from
 * its handler must not wait for this lock either. */
extern __thread gm_lock_t *gm_tls_lock_transit __attribute__((tls_model("initial-exec")));
GM_INLINE const void *gm_self(void) { return &gm_self_marker; }
/* The previous marker is restored, not cleared: the fork handlers take
 * locks themselves while an interrupted transit is still pending. */
GM_INLINE void gm_lock(gm_lock_t *l) {
  gm_lock_t *prev = gm_tls_lock_transit;
  gm_tls_lock_transit = l;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (GM_UNLIKELY(pthread_mutex_trylock(&l->m) != 0)) {
    if (gm_load_relaxed(&l->fork_held) && gm_load_relaxed(&l->owner) == gm_self()) {
      gm_tls_lock_transit = prev; /* a fork handler's allocation: see above */
      return;
    }
    pthread_mutex_lock(&l->m);
  }
  gm_store_relaxed(&l->owner, gm_self());
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  gm_tls_lock_transit = prev;
}
GM_INLINE void gm_unlock(gm_lock_t *l) {
  /* Only the holder unlocks, and only the holder writes fork_held. */
  if (GM_UNLIKELY(gm_load_relaxed(&l->fork_held)))
    return; /* re-entered in the fork window; fork's parent or child handler releases it */
  gm_lock_t *prev = gm_tls_lock_transit;
  gm_tls_lock_transit = l;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  gm_store_relaxed(&l->owner, (const void *)NULL);
  pthread_mutex_unlock(&l->m);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  gm_tls_lock_transit = prev;
}
GM_INLINE void gm_lock_reinit(gm_lock_t *l) {
  pthread_mutex_init(&l->m, NULL);
  l->owner = NULL;
  l->fork_skipped = false;
  gm_store_relaxed(&l->fork_held, false);
}
/* Fork: take l unless this very thread holds it already. */
GM_INLINE void gm_lock_for_fork(gm_lock_t *l) {
  if (gm_load_relaxed(&l->owner) == gm_self() || gm_tls_lock_transit == l) {
    l->fork_skipped = true;
  } else {
    gm_lock(l);
    gm_store_relaxed(&l->fork_held, true);
  }
}
GM_INLINE void gm_unlock_after_fork(gm_lock_t *l) {
  if (l->fork_skipped) {
    l->fork_skipped = false;
  } else {
    gm_store_relaxed(&l->fork_held, false);
    gm_unlock(l);
  }
}

#if GM_DEBUG
#include "error.h"
#define GM_ASSERT(c)                                                                               \
  do {                                                                                             \
    if (GM_UNLIKELY(!(c)))                                                                         \
      gm_fatal("internal assertion failed", NULL, #c " at " __FILE__);                             \
  } while (0)
#else
#define GM_ASSERT(c) ((void)0)
#endif

/* Process-wide one-time setup (init.c); called from every slow path that
 * may be the first call into the allocator. */
void gm_init(void);
/* gm_init_state: NONE, then RUNNING while one thread initialises, then
 * DONE once gm_init has finished its core part. An int, for the atomics. */
enum { GM_INIT_NONE, GM_INIT_RUNNING, GM_INIT_DONE };
extern int gm_init_state;

/* Options: gm_options (options.h), read once from GOMALLOC_* at start. */

#endif /* GM_INTERNAL_H */
