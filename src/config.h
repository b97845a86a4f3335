/* config.h: the fixed numbers of the heap, after Go's malloc.go and mheap.go.
 *
 * Everything here is a compile-time constant; build variants (GM_DEBUG) are
 * switched by the build system, never by runtime flags on the fast path. */
#ifndef GM_CONFIG_H
#define GM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "gomalloc supports 64-bit Linux on x86-64 and aarch64"
#endif

/* Runtime page (Go's _PageShift): spans are runs of these; independent of
 * the OS page (4 KiB on x86-64, up to 64 KiB on aarch64). */
#define GM_PAGE_SHIFT 13
#define GM_PAGE_SIZE ((size_t)1 << GM_PAGE_SHIFT)
#define GM_PAGE_MASK (GM_PAGE_SIZE - 1)

/* Heap arenas (Go's heapArenaBytes): address space is reserved 64 MiB at a
 * time and each arena has an out-of-line page -> span table. */
#define GM_ARENA_SHIFT 26
#define GM_ARENA_BYTES ((size_t)1 << GM_ARENA_SHIFT)
#define GM_PAGES_PER_ARENA (GM_ARENA_BYTES >> GM_PAGE_SHIFT) /* 8192 */

/* Page-allocator chunk (Go's pallocChunkPages): the heap grows and is
 * summarised in units of 512 pages = 4 MiB. */
#define GM_CHUNK_PAGES 512
#define GM_CHUNK_SHIFT (GM_PAGE_SHIFT + 9)
#define GM_CHUNK_BYTES ((size_t)1 << GM_CHUNK_SHIFT)

/* User address space we manage: 48 bits (x86-64 4-level paging, aarch64). */
#define GM_ADDR_BITS 48

/* Largest size-classed object; bigger requests get their own span. */
#define GM_MAX_SMALL_SIZE 32768

/* 68 size classes (0 = large), two span classes each (scan / noscan). */
#define GM_NUM_CLASSES 68
#define GM_NUM_SPAN_CLASSES (GM_NUM_CLASSES << 1)

/* The most objects a span holds (class 1: 8 B x 1024 in one page), and so
 * the most 64-bit words one of its bitmaps needs. */
#define GM_MAX_OBJS_PER_SPAN 1024
#define GM_MAX_BITMAP_WORDS (GM_MAX_OBJS_PER_SPAN / 64)

/* Cache line, for padding shared structures apart. */
#define GM_CACHE_LINE 64

/* Distance that keeps two threads' hot data from slowing each other: the
 * L2 prefetchers move neighbouring lines between cores in groups of up to
 * 256 bytes (measured: mheap.h). For per-thread data allocated side by
 * side: span metadata, mcaches. */
#define GM_PREFETCH_BLOCK 256

/* Above this many spans the heap map draws one summary per 4 MiB chunk
 * (GOMALLOC_HEAPMAP_MAX_SPANS overrides it; heapmap.c). */
#define GM_HEAPMAP_MAX_SPANS 20000

/* Debug builds fill freed small slots, and fresh spans made from used
 * pages, with this byte (debugheap.c checks it on reuse). */
#define GM_DBG_FREE_BYTE 0xdf

#ifndef GM_DEBUG
#define GM_DEBUG 0
#endif

#endif /* GM_CONFIG_H */
