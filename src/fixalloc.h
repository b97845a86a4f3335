/* fixalloc.h: a free-list allocator for fixed-size metadata objects (span
 * structs, mcaches), carved from chunks of OS memory (Go's fixalloc).
 * Memory is never returned to the OS, so a stale pointer to a freed object
 * still points at an object of the same type: span lookups rely on it. The
 * caller serialises access (each fixalloc is used under one lock). */
#ifndef GM_FIXALLOC_H
#define GM_FIXALLOC_H

#include "internal.h"

typedef struct gm_fixalloc {
  size_t size;     /* object size, a multiple of the cache line */
  void *free_list; /* freed objects, linked through link_offset */
  size_t link_offset; /* where the free-list link lives inside an object */
  char *chunk;     /* bump region */
  size_t chunk_left;
  size_t inuse;    /* objects handed out */
  size_t sys_bytes; /* bytes taken from the OS */
} gm_fixalloc_t;

void gm_fixalloc_init(gm_fixalloc_t *f, size_t size, size_t link_offset);
/* A zero-filled object on first use; a recycled one keeps its old contents
 * (but for the link). NULL + ENOMEM when the OS refuses memory. */
void *gm_fixalloc_alloc(gm_fixalloc_t *f);
void gm_fixalloc_free(gm_fixalloc_t *f, void *p);

#endif
