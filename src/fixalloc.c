/* fixalloc.c: see fixalloc.h. */
#include "fixalloc.h"

#include "os.h"
#include "vg.h"

#include <string.h>

#define GM_FIXALLOC_CHUNK ((size_t)128 << 10)

void gm_fixalloc_init(gm_fixalloc_t *f, size_t size, size_t link_offset) {
  memset(f, 0, sizeof *f);
  /* Whole cache lines: span structs and mcaches of different threads are
   * written by their owners on every malloc and free, so two of them must
   * never share a line (false sharing doubled the cost of a free). */
  f->size = GM_ALIGN_UP(size, (size_t)GM_CACHE_LINE);
  f->link_offset = link_offset;
}

void *gm_fixalloc_alloc(gm_fixalloc_t *f) {
  if (f->free_list) {
    char *p = f->free_list;
    memcpy(&f->free_list, p + f->link_offset, sizeof(void *));
    f->inuse++;
    return p;
  }
  if (f->chunk_left < f->size) {
    size_t n = f->size > GM_FIXALLOC_CHUNK ? f->size : GM_FIXALLOC_CHUNK;
    char *c = gm_sys_alloc(n);
    if (!c)
      return NULL;
    /* Valgrind builds: span structs hold block addresses (s->base), which
     * memcheck's leak checker would take for pointers to the blocks. */
    GM_VG_HIDE(c, n);
    f->sys_bytes += n;
    f->chunk = c;
    f->chunk_left = n;
  }
  char *p = f->chunk;
  f->chunk += f->size;
  f->chunk_left -= f->size;
  f->inuse++;
  return p;
}

void gm_fixalloc_free(gm_fixalloc_t *f, void *p) {
  memcpy((char *)p + f->link_offset, &f->free_list, sizeof(void *));
  f->free_list = p;
  f->inuse--;
}
