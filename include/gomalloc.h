/* gomalloc: a C memory allocator built on the design of Go's runtime
 * allocator (size classes, mspans with allocation bitmaps, per-thread
 * mcaches, mcentrals, a page heap with a radix tree of free-run summaries,
 * and a scavenger).
 *
 * Link with -lgomalloc (or LD_PRELOAD=libgomalloc.so) and the standard
 * names (malloc, free, ...) are served by gomalloc. The gm_* names below are
 * always available, also from libgomalloc_nooverride.a which leaves the libc
 * names alone.
 *
 * Errors: every allocation that fails returns NULL with errno = ENOMEM
 * (EINVAL for a bad alignment). Freeing a pointer gomalloc did not hand out,
 * an interior pointer, or a block twice aborts with one line on stderr:
 *   gomalloc: fatal: <fault> <pointer> (<detail>)
 */
#ifndef GOMALLOC_H
#define GOMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GM_API __attribute__((visibility("default")))
#define GM_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define GM_API
#define GM_MALLOC_ATTR
#endif

#define GOMALLOC_VERSION_MAJOR 0
#define GOMALLOC_VERSION_MINOR 1
#define GOMALLOC_VERSION_PATCH 0

/* ---- the C and POSIX allocation API ------------------------------------ */

/* Blocks of 16 bytes or more are 16-byte aligned (as glibc on x86-64);
 * smaller ones are 8-byte aligned. gm_malloc(0) returns a unique pointer. */
GM_API GM_MALLOC_ATTR void *gm_malloc(size_t size);
GM_API GM_MALLOC_ATTR void *gm_calloc(size_t count, size_t size);
/* realloc(NULL, n) = malloc(n); realloc(p, 0) frees p and returns NULL (glibc). */
GM_API void *gm_realloc(void *ptr, size_t size);
GM_API void *gm_reallocarray(void *ptr, size_t count, size_t size);
GM_API void gm_free(void *ptr);
/* C23 sized frees: checked against the block in debug builds. */
GM_API void gm_free_sized(void *ptr, size_t size);
GM_API void gm_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Any power-of-two alignment up to at least 1 GiB. */
GM_API GM_MALLOC_ATTR void *gm_aligned_alloc(size_t alignment, size_t size);
GM_API int gm_posix_memalign(void **out, size_t alignment, size_t size);
GM_API GM_MALLOC_ATTR void *gm_memalign(size_t alignment, size_t size);
GM_API GM_MALLOC_ATTR void *gm_valloc(size_t size);
GM_API GM_MALLOC_ATTR void *gm_pvalloc(size_t size);

/* The usable size of a block: its size class, or its whole pages for a
 * large block. 0 for NULL. */
GM_API size_t gm_usable_size(const void *ptr);

/* ---- heap control --------------------------------------------------------- */

/* Return every free page to the OS now (malloc_trim(0)). Returns the number
 * of bytes released. */
GM_API size_t gm_release(void);

/* The same, but keep about pad bytes of free heap pages resident
 * (malloc_trim(pad)): the free memory a program expects to reuse soon. */
GM_API size_t gm_trim(size_t pad);

/* glibc's tuning and introspection calls, on gomalloc's heap (the libc
 * names mallopt, malloc_stats, malloc_info, mallinfo and mallinfo2 are
 * served by the same code; see the README's table).
 * gm_mallopt takes glibc's M_* parameters from <malloc.h>: 1 on success,
 * 0 on error, as glibc. gm_malloc_stats prints glibc's summary to stderr.
 * gm_malloc_info writes glibc's XML to fp, a FILE * (kept opaque here so
 * this header needs no <stdio.h>); options must be 0, else it returns
 * EINVAL, as glibc. */
GM_API int gm_mallopt(int param, int value);
GM_API void gm_malloc_stats(void);
GM_API int gm_malloc_info(int options, void *fp);

/* Give the calling thread's cached spans back to the central lists. */
GM_API void gm_thread_flush(void);

/* "major.minor.patch" */
GM_API const char *gm_version(void);

#ifdef __cplusplus
}
#endif

/* Statistics, their printers and the heap dump (gm_stats, gm_print_stats_fd, ...). */
#include "gomalloc-stats.h"

#endif /* GOMALLOC_H */
