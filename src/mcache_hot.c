/* mcache_hot.c: the hot stacks, an owner's recent frees handed out again
 * at once (the fast paths are in mcache.h and free.h; this file keeps the
 * stacks true when spans leave the cache).
 *
 * Where we leave Go. Go makes a freed slot allocatable only when the
 * sweeper folds the mark bits into allocBits, and so did we: the owner's
 * free set a local_free bit, and the slot came back at the span's next
 * sweep, in address order, long after its cache lines went cold. A
 * program that keeps a working set and replaces blocks at random (the
 * commonest pattern of all) paid for that: 2x tcmalloc's and mimalloc's
 * time, whose free lists hand the last freed block out first. So each
 * mcache keeps, per span class, a LIFO stack of the slots its owner freed:
 * free pushes the slot after its checks set the local_free bit, and malloc
 * pops it before looking at its span, clearing the bit again. Nothing is
 * written into the blocks, and the bitmaps stay the truth: a slot on a
 * stack is free in them (local_free set, counted in notify_ctr), so a
 * second free of it is caught as a double free, as before, and a sweep or
 * the stats see a plain free slot. An entry names the span and the slot
 * index; a span struct never moves, so popping costs no span lookup. A
 * stack's bottom entry names gm_empty_span, which no cache owns, so
 * malloc's one owner test also finds an empty stack. Popping does not
 * mark the span dirty (needzero): calloc takes no hot slots.
 *
 * The invariant: an entry naming a span this cache owns names a slot of
 * the stack's class whose local_free bit is set, not swept since the push.
 * Malloc checks the owner before it pops, and forgetting entries is always
 * safe (the bits stay set; the next sweep folds them in), so each way a
 * span is swept or leaves the cache drops what names it, or makes sure it
 * is dropped before the span can be ours again:
 *   - the owner's sweeps (mcache.c, sweep_owned) drop the span's entries;
 *     the class's stack is empty then anyway (malloc pops first), but for
 *     a signal handler's free in between;
 *   - the owner's hand-backs (retire, release_empty, gm_mcache_detach:
 *     flush, thread exit, trim, out of memory) drop the spans' entries
 *     before the spans go;
 *   - a reclaimer or trimmer (mcache_reclaim.c) may not write the stacks
 *     while the owner runs. It clears the spans' owner (step 2), so the
 *     owner's malloc no longer pops their entries (one that read the owner
 *     before finishes before the spans are given away: the busy count),
 *     and sets hot_stale: the owner's next slow path, before it can get a
 *     span back from mcentral, empties the stacks. A span it put back
 *     (gm_mcache_untake) was never swept: its entries stay good;
 *   - a stale entry that malloc finds on top sends it out of line, where
 *     the class's entries naming spans not ours are dropped;
 *   - thread exit and a fork child's other threads: their caches go.
 * A free that finds its stack full is counted and waits for a sweep, as
 * every free did before the stacks (tcmalloc's thread cache, too, lets go
 * of its newest frees when a list is over its length); so do the entries
 * of a class not allocated since the last refill that could grow the heap
 * (gm_mcache_hot_drop_idle).
 *
 * What it costs and buys (on by default; GOMALLOC_HOT=off for A/B, which
 * is no cheaper: the stack tests stay on the fast paths). Instructions
 * per call (icount, against main without stacks): malloc 24.8 -> 24.0
 * (a pop is no dearer than nextFreeFast), free 48 -> 57 (the push); per
 * loop total pairs64 90.6 -> 90.0, churn 123.9 -> 118.9, random 4000 x
 * 8-520 B 153.2 -> 118.7, batch 89.8 -> 102.3 (its mallocs find the stack
 * empty, +6, its frees find it full, +6). make bench, CPU time medians
 * of 9 interleaved runs on a loaded 2-core VM, hot / main: workset 0.53,
 * pairs-medium 0.57, replace 0.87, replace-mt 0.87, pairs-onesize 0.99,
 * server 0.99, churn 1.00, batch 1.00, pairs-small 1.01, churn-mt 1.05,
 * app 1.05, pairs-tiny 1.10; geomean 0.90 (an earlier run of 7: 0.89,
 * tiny 1.09, batch 1.08, small 1.04). cachegrind: D1 misses pairs-small
 * x0.13, churn x0.66, replace x0.84, workset x0.80; instructions workset
 * x0.49 (no sweeps). What tight pairs of random small sizes lose is
 * mostly not instructions (+4% in wl_pairs tiny): when malloc's class is
 * the class free just pushed to, the pop reads what that free is still
 * writing (its addresses wait on the span's class, three loads deep),
 * which the CPU cannot predict when sizes are random. A pairs loop of
 * 64-512 B at low load (wall, the earlier 27-instruction pop): random
 * classes 1.24-1.30x main, never the class just freed 1.11x, always it
 * 1.14-1.17x, GOMALLOC_HOT=off 1.08-1.12x. Two stacks per class (free pushes one, malloc
 * pops the other) avoid the coupling but ran dry every few mallocs:
 * slower everywhere (1a72d05). */
#include "mcache_internal.h"

#include "error.h"

#include <string.h>

/* The empty and orphan caches have no stacks, nor has any cache with
 * GOMALLOC_HOT=off: their tops are GM_HOT_NONE. */
static bool has_stacks(gm_mcache_t *c) { return c->hot_on; }

/* The bottom entry of class spc's stack, and its number of entries. */
static gm_hot_slot_t *bottom(gm_mcache_t *c, unsigned spc) { return c->hot[spc]; }
static bool started(gm_mcache_t *c, unsigned spc) { return c->hot_top[spc] != GM_HOT_NONE; }
static unsigned depth(gm_mcache_t *c, unsigned spc) {
  return started(c, spc) ? (unsigned)(c->hot_top[spc] - bottom(c, spc)) : 0;
}

/* A class's stack is set up when the cache first takes a span of the
 * class (every owner free of the class comes after that), not when the
 * cache is made: writing every class's bottom entry up front touched each
 * class's block of the stacks (136 x 512 B: 70 KiB per thread, and 0.2 MiB
 * more RSS for even the smallest program, make bench 2026-12-07). Until
 * then its top is GM_HOT_NONE, always empty and always full. Not in the
 * push: a call there, even on its full path, cost free 5 instructions of
 * register saves. */
void gm_mcache_hot_setup(gm_mcache_t *c, gm_spanclass_t spc) {
  if (!has_stacks(c) || started(c, spc))
    return;
  gm_hot_slot_t *h = bottom(c, spc);
  h[0] = (gm_hot_slot_t){.span = &gm_empty_span};
  c->hot_top[spc] = h;
}

/* An entry leaves a stack without being handed out: its free, which
 * waits for a sweep now, is counted if its span is still ours (a span
 * taken by a reclaimer is someone else's business). True if the count
 * reached its notify point (see gm_mcache_notify). Owner only, in its
 * busy section or under its cache lock. */
static bool count_dropped(gm_mcache_t *c, const gm_hot_slot_t *e) {
  gm_mspan_t *s = e->span;
  return gm_load_relaxed(&s->owner) == c && --s->notify_ctr == 0;
}

/* Keep the entries of class spc for which keep() holds, in their order;
 * count the others if count. */
static void filter(gm_mcache_t *c, unsigned spc, bool (*keep)(gm_mspan_t *, void *), void *arg,
                   bool count) {
  gm_hot_slot_t *h = bottom(c, spc);
  unsigned n = depth(c, spc), k = 0;
  for (unsigned i = 1; i <= n; i++) {
    if (keep(h[i].span, arg))
      h[++k] = h[i];
    else if (count && count_dropped(c, &h[i]))
      gm_fatal("hot stack inconsistent", (void *)h[i].span->base, "dropped from a listed span");
  }
  c->hot_top[spc] = &h[k];
}

static bool not_span(gm_mspan_t *s, void *arg) { return s != arg; }
static bool owned_by(gm_mspan_t *s, void *arg) { return gm_load_relaxed(&s->owner) == arg; }

void gm_mcache_hot_drop_span(gm_mcache_t *c, gm_mspan_t *s) {
  /* s is current or off its list (notify never), so counting it cannot
   * call for a notify. */
  if (depth(c, s->spanclass))
    filter(c, s->spanclass, not_span, s, true);
}

void gm_mcache_hot_drop_unowned(gm_mcache_t *c, gm_spanclass_t spc) {
  if (depth(c, spc))
    filter(c, spc, owned_by, c, false);
}

void gm_mcache_hot_discard(gm_mcache_t *c) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    if (started(c, i))
      c->hot_top[i] = bottom(c, i);
}

void gm_mcache_hot_restore(gm_mcache_t *c) {
  if (!c->hot_stale)
    return;
  c->hot_stale = 0;
  /* The spans a trimmer put back are ours and were not swept: count
   * their entries' frees before forgetting them. */
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    if (!started(c, i))
      continue;
    gm_hot_slot_t *h = bottom(c, i);
    for (unsigned k = 1; k <= depth(c, i); k++)
      if (count_dropped(c, &h[k]))
        gm_mcache_notify_locked(c, h[k].span);
    c->hot_top[i] = h;
  }
}

/* Entries wait on a class's stack until its next malloc, and their frees
 * are not counted meanwhile, so a span whose other slots are all free and
 * counted never counts as empty. When the program stops allocating a class
 * (strings grown by realloc move up through the classes), its last frees
 * stay on the stack for good, up to 15 spans a class kept from the heap:
 * wl_realloc's strings left 15 empty spans in each of the 19 classes they
 * had grown out of, and peak RSS was 26.0 MiB against 23.1 with
 * GOMALLOC_HOT=off. So before a refill that may grow the heap, the classes
 * not popped since the last such refill give their entries back to the
 * bitmaps, counted; spans that become empty go back to the heap with
 * release_empty (wl_realloc: 23.2 MiB). A class in use keeps its stack, and
 * a program that is not growing never gets here. A cap on each stack's
 * bytes (fewer entries for big classes) did not help: 26.0-27.6 MiB for
 * budgets of 1-64 KiB, as the spans held are of small classes. Cache lock
 * held (notify). */
void gm_mcache_hot_drop_idle(gm_mcache_t *c) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    unsigned n = depth(c, i);
    uint64_t pops = gm_mcache_hot_pops(c, i);
    bool idle = pops == c->hot_seen[i];
    c->hot_seen[i] = pops;
    if (!n || !idle)
      continue;
    gm_hot_slot_t *h = bottom(c, i);
    for (unsigned k = 1; k <= n; k++)
      if (count_dropped(c, &h[k]))
        gm_mcache_notify_locked(c, h[k].span);
    c->hot_top[i] = h;
  }
}

void *gm_mcache_alloc_stale(size_t size) {
  gm_mcache_t *c = gm_tls_mcache;
  unsigned spc = gm_size_to_spanclass(size);
  gm_mcache_hot_drop_unowned(c, (gm_spanclass_t)spc);
  return gm_mcache_alloc_span(c, spc, size);
}

uint64_t gm_mcache_hot_pops(gm_mcache_t *c, unsigned spc) { return gm_load_relaxed(&c->hot_pops[spc]); }

#if GM_DEBUG
void gm_mcache_hot_check(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_hot_slot_t *h = bottom(c, spc);
  if (GM_HOT_NONE->span != &gm_empty_span)
    gm_fatal("hot stack inconsistent", c, "the shared empty top was written");
  if (!has_stacks(c)) {
    if (started(c, spc))
      gm_fatal("hot stack inconsistent", c, "a cache without stacks has one");
    return;
  }
  if (!started(c, spc))
    return; /* set up with the class's first span */
  if (h[0].span != &gm_empty_span || depth(c, spc) > GM_HOT_CAP)
    gm_fatal("hot stack inconsistent", h, "bottom entry or top pointer overwritten");
  for (unsigned i = 1; i <= depth(c, spc); i++) {
    gm_mspan_t *s = h[i].span;
    size_t idx = h[i].idx;
    void *p = (void *)(s->base + idx * s->elemsize);
    if (s->owner != c) {
      if (c->hot_stale)
        continue; /* taken by a reclaimer: dropped at this slow path's start */
      gm_fatal("hot stack inconsistent", p, "entry names a span this cache does not own");
    }
    if (s->state != GM_SPAN_CACHED || s->spanclass != spc || idx >= s->nelems)
      gm_fatal("hot stack inconsistent", p, "entry names a slot of another class");
    if (!gm_bit_test(*gm_span_lfree(s, idx / 64), idx))
      gm_fatal("hot stack inconsistent", p, "entry names a slot that is not free");
  }
}
#endif
