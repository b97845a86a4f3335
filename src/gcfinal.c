/* gcfinal.c: finalizers and disappearing links (Go's specials and
 * finalizer queue, mfinal.go; the ordering is Boehm's finalize.c, which
 * the Boehm layer's users expect).
 *
 * Three hash tables of records, kept off the collected heap (fixalloc and
 * mapped bucket arrays: never scanned, so a record does not keep its object
 * alive): finalizers by object, short links and long links by the address
 * of the link. All changes happen under gm_gc.lock; the collector's hook
 * gm_gc_final_mark runs inside the pause, after the roots are marked:
 *
 *   1. Roots of our own: each finalizer's argument, and the objects (and
 *      arguments) of finalizers queued but not yet run (Boehm's fo_head and
 *      finalize_now are roots too).
 *   2. Short links whose object is unmarked are cleared (before any
 *      finalizer resurrects it: Boehm's order).
 *   3. For each finalizable object still unmarked, mark what it reaches,
 *      but not itself (ORDERED and UNREACHABLE: its contents; IGNORE_SELF:
 *      its words that do not point into it; NO_ORDER: nothing). An object
 *      reachable from another finalizable object is thereby marked and waits
 *      a cycle: if A points to B, A's finalizer runs first (topological
 *      order). A cycle of finalizable objects is never finalized (Boehm).
 *   4. Those still unmarked are taken off the table; NO_ORDER and
 *      UNREACHABLE ones get their contents marked now, the others their
 *      mark bit (they live until their finalizer has run). An UNREACHABLE
 *      object that this marking reached goes back on the table (Boehm's
 *      java_finalization post-pass, which is always on here); the rest are
 *      queued, and marked with all they reach.
 *   5. Long links to unmarked objects are cleared; links held in blocks
 *      that are now dead are forgotten (no write: their memory is freed).
 *
 * Queued finalizers run outside every lock, one at a time, on the thread
 * that calls gm_gc_run_finalizers (the Boehm layer calls it from its
 * allocation calls after a cycle, as Boehm does unless finalize_on_demand).
 * Go runs them on one finalizer goroutine instead; C has no such thread to
 * borrow, and Boehm's users expect the allocating thread. */
#include "gcfinal.h"

#include "error.h"
#include "gomalloc-gc.h"
#include "os.h"

#include <errno.h>
#include <string.h>

GM_GC_API volatile uint64_t gm_gc_epoch;

enum { FIN_ORDERED, FIN_IGNORE_SELF, FIN_NO_ORDER, FIN_UNREACHABLE };

typedef struct special {
  struct special *next; /* hash chain, or the queue */
  uintptr_t key;        /* object (finalizers), link address (links) */
  uintptr_t obj;        /* links: the object */
  gm_gc_finalizer_fn fn;
  void *arg;
  int order;
} special_t;

typedef struct table {
  special_t **b;
  size_t nb, n; /* buckets (a power of two), records */
} table_t;

static table_t fin, links[2]; /* links[0]: short, [1]: long */
static special_t *ready, **ready_tail = &ready;
static size_t nready;
static gm_fixalloc_t recalloc;
static bool recalloc_ready;

/* Fibonacci hashing takes the product's top bits: the middle bits used
 * before put blocks of one size class (keys a stride apart) on a fifth of
 * the buckets, and GC_finalized_malloc's registrations spent 70% of their
 * time walking chains (bdwgc's disclaim_test: 14 s, 2.9 s after). */
static size_t slot(const table_t *t, uintptr_t key) {
  return (size_t)(((uint64_t)(key >> 3) * 0x9E3779B97F4A7C15ULL) >>
                  (64 - __builtin_ctzll((unsigned long long)t->nb)));
}

static special_t **lookup(table_t *t, uintptr_t key) {
  if (!t->nb)
    return NULL;
  special_t **pp = &t->b[slot(t, key)];
  while (*pp && (*pp)->key != key)
    pp = &(*pp)->next;
  return *pp ? pp : NULL;
}

/* Room for one more record (lock held, world running): double at load 1. */
static bool reserve(table_t *t) {
  if (!recalloc_ready) {
    gm_fixalloc_init(&recalloc, sizeof(special_t), 0);
    recalloc_ready = true;
  }
  if (t->n < t->nb)
    return true;
  size_t nb = t->nb ? 2 * t->nb : 256;
  special_t **b = gm_sys_alloc(nb * sizeof *b);
  if (!b)
    return false;
  table_t nt = {b, nb, t->n};
  for (size_t i = 0; i < t->nb; i++)
    for (special_t *e = t->b[i], *next; e; e = next) {
      next = e->next;
      size_t j = slot(&nt, e->key);
      e->next = b[j];
      b[j] = e;
    }
  if (t->b)
    gm_sys_free(t->b, GM_ALIGN_UP(t->nb * sizeof *b, gm_sys_page_size()));
  *t = nt;
  return true;
}

static special_t *insert(table_t *t, uintptr_t key) {
  special_t *e = gm_fixalloc_alloc(&recalloc);
  if (!e)
    return NULL;
  memset(e, 0, sizeof *e);
  e->key = key;
  size_t j = slot(t, key);
  e->next = t->b[j];
  t->b[j] = e;
  gm_store_relaxed(&t->n, t->n + 1); /* read unlocked by gm_gc_final_forget */
  return e;
}

static void unlink_free(table_t *t, special_t **pp) {
  special_t *e = *pp;
  *pp = e->next;
  gm_store_relaxed(&t->n, t->n - 1);
  gm_fixalloc_free(&recalloc, e);
}

/* ---- blocks and their mark bits (lock held) --------------------------------- */

typedef struct block {
  gm_mspan_t *s;
  size_t idx;
} block_t;

/* The live block holding address a, if any. */
static bool find(uintptr_t a, block_t *b) {
  if (a - gm_gc.lo >= gm_gc.hi - gm_gc.lo)
    return false;
  gm_mspan_t *s = gm_span_of(a);
  if (!s)
    return false;
  uint8_t st = gm_load_relaxed(&s->state);
  if (st == GM_SPAN_GC_LARGE) {
    if (a - s->base >= s->elemsize)
      return false;
    *b = (block_t){s, 0};
    return true;
  }
  if (st != GM_SPAN_GC || a < s->base || a >= gm_span_limit(s))
    return false;
  size_t i = gm_span_obj_index(s, a - s->base);
  if (i >= s->nelems || !gm_gc_slot_live(s, i))
    return false;
  *b = (block_t){s, i};
  return true;
}

static uintptr_t base_of(block_t b) { return b.s->base + b.idx * b.s->elemsize; }

static bool marked(block_t b) {
  if (gm_gc_kind(b.s) == GM_GC_UNCOLL)
    return true;
  return (b.s->gcmark_bits[b.idx / 64] >> (b.idx % 64)) & 1;
}

/* Is a inside a GC span? gm_gc.lo and hi bound every GC span, but malloc
 * spans lie between them: a link held in malloc memory there was taken
 * for one held in a freed block, and forgotten instead of cleared. */
static bool in_gc_span(uintptr_t a) {
  if (a - gm_gc.lo >= gm_gc.hi - gm_gc.lo)
    return false;
  gm_mspan_t *s = gm_span_of(a);
  uint8_t st = s ? gm_load_relaxed(&s->state) : 0;
  return st == GM_SPAN_GC || st == GM_SPAN_GC_LARGE;
}

/* Is the object at a alive after this mark? Addresses outside the
 * collected heap always are; a freed block never is. */
static bool alive(uintptr_t a) {
  block_t b;
  if (find(a, &b))
    return marked(b);
  return !in_gc_span(a);
}

static void mark_value(uintptr_t v) {
  if (v - gm_gc.lo < gm_gc.hi - gm_gc.lo) {
    gm_gc_mark_object(v);
    gm_gc_drain();
  }
}

/* What the object reaches, itself left unmarked (Boehm's
 * GC_normal_finalize_mark_proc and _ignore_self_). */
static void mark_contents(block_t b, bool ignore_self) {
  if (gm_gc_kind(b.s) == GM_GC_NOSCAN)
    return;
  uintptr_t lo = base_of(b), hi = lo + b.s->elemsize;
  if (!ignore_self) {
    gm_gc_scan_range(lo, hi);
  } else {
    for (uintptr_t p = lo; p < hi; p += sizeof(uintptr_t)) {
      uintptr_t v = *(const uintptr_t *)p;
      if (v - lo >= hi - lo && v - gm_gc.lo < gm_gc.hi - gm_gc.lo)
        gm_gc_mark_object(v);
    }
  }
  gm_gc_drain();
}

/* ---- the cycle's hook (world stopped, lock held) ----------------------------- */

/* Short or long links: clear those whose object did not survive. */
static void clear_links(table_t *t) {
  for (size_t i = 0; i < t->nb; i++)
    for (special_t **pp = &t->b[i]; *pp;) {
      special_t *e = *pp;
      block_t holder;
      if (in_gc_span(e->key) && !find(e->key, &holder)) {
        unlink_free(t, pp); /* held in a freed block: nothing to write */
      } else if (!alive(e->obj)) {
        *(void **)e->key = NULL;
        unlink_free(t, pp);
      } else {
        pp = &e->next;
      }
    }
}

/* Forget links held in blocks that did not survive (Boehm's
 * GC_remove_dangling_disappearing_links). */
static void drop_dangling(table_t *t) {
  for (size_t i = 0; i < t->nb; i++)
    for (special_t **pp = &t->b[i]; *pp;) {
      if (!alive((*pp)->key))
        unlink_free(t, pp);
      else
        pp = &(*pp)->next;
    }
}

static void enqueue(special_t *e) {
  e->next = NULL;
  *ready_tail = e;
  ready_tail = &e->next;
  gm_store_relaxed(&nready, nready + 1); /* read unlocked: pending? */
}

void gm_gc_final_mark(void) {
  gm_store_relaxed(&gm_gc_epoch, gm_gc_epoch + 1);
  if (!fin.n && !links[0].n && !links[1].n && !ready)
    return;
  /* 1. Our roots. */
  for (size_t i = 0; i < fin.nb; i++)
    for (special_t *e = fin.b[i]; e; e = e->next)
      mark_value((uintptr_t)e->arg);
  for (special_t *e = ready; e; e = e->next) {
    mark_value(e->key);
    mark_value((uintptr_t)e->arg);
  }
  /* 2. Short links. */
  clear_links(&links[0]);
  /* 3. Mark from each unreachable finalizable object, not the object. */
  for (size_t i = 0; i < fin.nb; i++)
    for (special_t *e = fin.b[i]; e; e = e->next) {
      block_t b;
      if (find(e->key, &b) && !marked(b) && e->order != FIN_NO_ORDER)
        mark_contents(b, e->order == FIN_IGNORE_SELF);
    }
  /* 4. Still unmarked: off the table, onto a local list. A record whose
   * block is gone (freed, then the slot reused or not) is dropped. */
  special_t *list = NULL;
  for (size_t i = 0; i < fin.nb; i++)
    for (special_t **pp = &fin.b[i]; *pp;) {
      special_t *e = *pp;
      block_t b;
      bool found = find(e->key, &b);
      if (found && marked(b)) {
        pp = &e->next;
        continue;
      }
      if (!found) {
        unlink_free(&fin, pp);
        continue;
      }
      *pp = e->next;
      gm_store_relaxed(&fin.n, fin.n - 1);
      e->next = list;
      list = e;
    }
  for (special_t *e = list; e; e = e->next) {
    block_t b;
    find(e->key, &b);
    if (e->order == FIN_NO_ORDER || e->order == FIN_UNREACHABLE)
      mark_contents(b, false);
    if (e->order != FIN_UNREACHABLE)
      mark_value(e->key);
  }
  for (special_t *e = list, *next; e; e = next) {
    next = e->next;
    block_t b;
    find(e->key, &b);
    if (e->order == FIN_UNREACHABLE && marked(b)) {
      /* Reachable from an object finalized now: not yet (Boehm). */
      size_t j = slot(&fin, e->key);
      e->next = fin.b[j];
      fin.b[j] = e;
      gm_store_relaxed(&fin.n, fin.n + 1);
      continue;
    }
    mark_value(e->key);
    enqueue(e);
  }
  /* 5. Long links, then links in dead blocks. */
  clear_links(&links[1]);
  drop_dangling(&links[0]);
  drop_dangling(&links[1]);
}

/* ---- the API (world running) ---------------------------------------------- */

int gm_gc_set_finalizer(void *obj, gm_gc_finalizer_fn fn, void *arg, int order,
                        gm_gc_finalizer_fn *old_fn, void **old_arg) {
  gm_gc_finalizer_fn ofn = NULL;
  void *oarg = NULL;
  int rc = 0;
  if (order < FIN_ORDERED || order > FIN_UNREACHABLE) {
    errno = EINVAL;
    return -1;
  }
  gm_gc_thread_register();
  gm_gc_lock();
  block_t b;
  if (!obj || !find((uintptr_t)obj, &b)) {
    /* Not a collected block: Boehm ignores it too. */
    rc = -1;
    errno = EINVAL;
  } else {
    uintptr_t key = base_of(b);
    special_t **pp = lookup(&fin, key);
    if (pp) {
      ofn = (*pp)->fn;
      oarg = (*pp)->arg;
      if (!fn) {
        unlink_free(&fin, pp);
      } else {
        (*pp)->fn = fn;
        (*pp)->arg = arg;
        (*pp)->order = order;
      }
    } else if (fn) {
      special_t *e = reserve(&fin) ? insert(&fin, key) : NULL;
      if (!e) {
        rc = -1;
        errno = ENOMEM;
      } else {
        e->fn = fn;
        e->arg = arg;
        e->order = order;
      }
    }
  }
  gm_unlock(&gm_gc.lock);
  if (old_fn)
    *old_fn = ofn;
  if (old_arg)
    *old_arg = oarg;
  return rc;
}

void gm_gc_final_forget_locked(uintptr_t p, size_t size, bool large) {
  special_t **pp;
  if (fin.n && (pp = lookup(&fin, p)) != NULL)
    unlink_free(&fin, pp);
  if (!large)
    return; /* the slot is not reused before the next mark: it sees it free */
  for (unsigned l = 0; l < 2; l++)
    for (size_t i = 0; links[l].n && i < links[l].nb; i++)
      for (pp = &links[l].b[i]; *pp;) {
        special_t *e = *pp;
        if (e->key - p < size) {
          unlink_free(&links[l], pp); /* held in the block */
        } else if (e->obj - p < size) {
          block_t holder; /* as clear_links: no write into a freed block */
          if (!in_gc_span(e->key) || find(e->key, &holder))
            *(void **)e->key = NULL;
          unlink_free(&links[l], pp);
        } else {
          pp = &e->next;
        }
      }
}

int gm_gc_finalizers_pending(void) { return gm_load_relaxed(&nready) != 0; }

int gm_gc_run_finalizers(void) {
  int n = 0;
  if (!gm_load_relaxed(&nready))
    return 0;
  gm_gc_thread_register();
  for (;;) {
    gm_gc_lock();
    special_t *e = ready;
    if (!e) {
      gm_unlock(&gm_gc.lock);
      return n;
    }
    ready = e->next;
    if (!ready)
      ready_tail = &ready;
    gm_store_relaxed(&nready, nready - 1);
    gm_gc_finalizer_fn fn = e->fn;
    void *obj = (void *)e->key, *arg = e->arg;
    gm_fixalloc_free(&recalloc, e);
    gm_unlock(&gm_gc.lock);
    /* obj and arg live on this (registered) thread's stack meanwhile. */
    fn(obj, arg);
    n++;
  }
}

int gm_gc_register_link(void **link, const void *obj, int is_long) {
  if (!link || ((uintptr_t)link & (sizeof(void *) - 1)) || !obj) {
    errno = EINVAL;
    return -1;
  }
  table_t *t = &links[is_long != 0];
  int rc = 0;
  gm_gc_thread_register();
  gm_gc_lock();
  special_t **pp = lookup(t, (uintptr_t)link);
  if (pp) {
    (*pp)->obj = (uintptr_t)obj;
    rc = 1;
  } else {
    special_t *e = reserve(t) ? insert(t, (uintptr_t)link) : NULL;
    if (e) {
      e->obj = (uintptr_t)obj;
    } else {
      rc = -1;
      errno = ENOMEM;
    }
  }
  gm_unlock(&gm_gc.lock);
  return rc;
}

int gm_gc_unregister_link(void **link, int is_long) {
  table_t *t = &links[is_long != 0];
  gm_gc_thread_register();
  gm_gc_lock();
  special_t **pp = lookup(t, (uintptr_t)link);
  if (pp)
    unlink_free(t, pp);
  gm_unlock(&gm_gc.lock);
  return pp != NULL;
}

int gm_gc_move_link(void **link, void **new_link, int is_long) {
  if (!new_link || ((uintptr_t)new_link & (sizeof(void *) - 1))) {
    errno = EINVAL;
    return -1;
  }
  table_t *t = &links[is_long != 0];
  int rc = 0;
  gm_gc_thread_register();
  gm_gc_lock();
  special_t **pp = lookup(t, (uintptr_t)link);
  if (!pp) {
    rc = -1;
  } else if (link != new_link) {
    if (lookup(t, (uintptr_t)new_link)) {
      rc = 1;
    } else {
      special_t *e = *pp;
      *pp = e->next;
      e->key = (uintptr_t)new_link;
      size_t j = slot(t, e->key);
      e->next = t->b[j];
      t->b[j] = e;
    }
  }
  gm_unlock(&gm_gc.lock);
  return rc;
}
