/* private/gc_atomic_ops.h: not Boehm's (which wraps libatomic_ops), but
 * the AO_ calls its public tests use (subthreadcreate.c,
 * disclaim_weakmap_test.c), on the compiler's __atomic builtins, so that
 * they build unchanged. */
#ifndef GOMALLOC_GC_PRIVATE_ATOMIC_OPS_H
#define GOMALLOC_GC_PRIVATE_ATOMIC_OPS_H

#include <stddef.h>

typedef size_t AO_t;
typedef unsigned char AO_TS_t;
#define AO_TS_INITIALIZER 0
#define AO_TS_CLEAR 0
#define AO_TS_SET 1

#define AO_HAVE_load
#define AO_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define AO_HAVE_load_acquire
#define AO_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define AO_HAVE_store
#define AO_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define AO_HAVE_store_release
#define AO_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define AO_HAVE_fetch_and_add
#define AO_fetch_and_add(p, v) __atomic_fetch_add((p), (AO_t)(v), __ATOMIC_SEQ_CST)
#define AO_HAVE_fetch_and_add1
#define AO_fetch_and_add1(p) __atomic_fetch_add((p), (AO_t)1, __ATOMIC_SEQ_CST)
#define AO_HAVE_fetch_and_sub1
#define AO_fetch_and_sub1(p) __atomic_fetch_sub((p), (AO_t)1, __ATOMIC_SEQ_CST)
#define AO_HAVE_compare_and_swap
#define AO_compare_and_swap(p, o, n)                                                               \
  __extension__({                                                                                  \
    AO_t gm_ao_old_ = (o);                                                                         \
    __atomic_compare_exchange_n((p), &gm_ao_old_, (n), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);     \
  })
#define AO_HAVE_test_and_set_acquire
#define AO_test_and_set_acquire(p) __atomic_exchange_n((p), (AO_TS_t)AO_TS_SET, __ATOMIC_ACQUIRE)
#define AO_HAVE_CLEAR
#define AO_CLEAR(p) __atomic_store_n((p), (AO_TS_t)AO_TS_CLEAR, __ATOMIC_RELEASE)
#define AO_HAVE_nop_full
#define AO_nop_full() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif /* GOMALLOC_GC_PRIVATE_ATOMIC_OPS_H */
