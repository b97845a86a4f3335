/* mallinfo.h: glibc's introspection and tuning API (mallinfo, mallinfo2,
 * malloc_stats, malloc_info, mallopt) on gomalloc's statistics. See
 * mallinfo.c; the public gm_ forms are in gomalloc.h, the libc names in
 * override.c. */
#ifndef GM_MALLINFO_H
#define GM_MALLINFO_H

#include <malloc.h>
#include <stddef.h>

/* glibc's figures for gomalloc's heap, from one gm_stats walk (all zero
 * if the statistics cannot be taken). */
void gm_mallinfo2_fill(struct mallinfo2 *mi);
/* The same in struct mallinfo's int fields, each clamped at INT_MAX. */
void gm_mallinfo_fill(struct mallinfo *mi);
/* v as an int, INT_MAX if it does not fit. */
int gm_mallinfo_clamp(size_t v);

#endif
