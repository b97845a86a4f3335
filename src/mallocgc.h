/* mallocgc.h: the malloc fast path (named after Go's mallocgc), inline so
 * that both the gm_* entry points (malloc.c) and the libc names
 * (override.c) compile to the whole fast path with no extra call.
 * Everything unusual goes out of line. Every user of it also frees, so the
 * free fast path (free.h) comes with it. */
#ifndef GM_MALLOCGC_H
#define GM_MALLOCGC_H

#include "debugheap.h"
#include "free.h"
#include "mcache.h"
#include "vg.h"

/* Largest request we try to satisfy: 1 TiB, 1/128 of the 47-bit user
 * address space. glibc refuses only above PTRDIFF_MAX and leaves the rest to
 * the kernel's commit check; we map what we hand out the same way (os.h),
 * but a block also costs metadata written under the heap lock, one span
 * pointer per 8 KiB page: 1 GiB and seconds for 1 TiB, stalling every
 * other thread's slow path. 2^40 keeps that bounded and still lets a
 * machine with over a terabyte of RAM + swap use one block of most of it.
 * (It was 2^46: the fuzzer's malloc(2^46 - 1) ran the machine out of memory
 * on metadata.) */
#define GM_MAX_ALLOC ((size_t)1 << 40)

void *gm_malloc_large(size_t size, size_t align_pages);

/* A block of size bytes, not yet announced to memcheck (vg.h). */
GM_INLINE void *gm_malloc_raw(size_t size) {
#if GM_DEBUG
  return gm_dbg_malloc(size, 0);
#endif
  if (GM_LIKELY(size <= GM_MAX_SMALL_SIZE))
    return gm_mcache_alloc_small(size);
  return gm_malloc_large(size, 1);
}

GM_INLINE void *gm_malloc_impl(size_t size) {
  void *p = gm_malloc_raw(size);
  GM_VG_MALLOC(p, size, 0);
  return p;
}

#endif
