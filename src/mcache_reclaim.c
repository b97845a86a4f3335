/* mcache_reclaim.c: taking spans back out of caches and handing them to
 * mcentral: the owner's trim and flush, the trim of every other cache, the
 * release before an out-of-memory failure, and the reclaim from idle
 * threads, which takes a cache's spans while its owner may be running.
 *
 * Reclaim from idle threads. Go's mcaches are per P and are flushed while
 * the world is stopped; a C program's threads cannot be stopped, and a
 * thread blocked for an hour would keep every span it has listed pinned.
 * So the scavenger takes them back from a cache whose thread has not been
 * in its slow path for two rounds (a thread that still allocates trims its
 * own lists, see gm_mcache_alloc_slow):
 *   1. try the cache's lock (the owner's slow paths hold it; an
 *      asymmetric lock, mcache_internal.h);
 *   2. take every span: current spans become the empty span, so the
 *      owner's next malloc goes to its slow path (and waits for the lock);
 *      every span's owner is cleared, so its next free of one of them is a
 *      remote free; the spans wait in the cache's trim_taken lists;
 *   3. membarrier(): every thread of the process executes a full barrier,
 *      so an owner fast path that starts later sees step 2, and one that
 *      started earlier has published its gm_tls_busy count;
 *   4. wait until the owner's busy count is 0: no fast path still holds a
 *      taken span;
 *   5. hand the spans to mcentral, as the owner's own flush would.
 * The owner pays two one-instruction updates per malloc and free
 * (gm_busy_enter/exit) and two plain stores and a load per slow path. Without membarrier (old
 * kernels, some sandboxes) nothing is reclaimed from idle threads.
 *
 * Step 4 waits a bounded time (TRIM_WAIT_NS for the whole round), not for
 * ever: a thread may sit inside a fast path for as long as a signal handler
 * that interrupted it runs, and a stop-the-world collector parks threads in
 * such handlers; a handler that mallocs would even wait for the cache lock
 * this trimmer holds. Past the bound the trimmer puts every span back where
 * it was (gm_mcache_untake: same lists, same order, notify counts untouched,
 * since the owner may still be counting one down) and leaves the cache
 * alone this round; the owner then finds its cache as it left it, whatever
 * it saw meanwhile (an empty slot sends it to the slow path, which waits
 * for the lock; a cleared owner makes a free remote, which is right for a
 * span of any owner). Until its count is seen at 0 again, such a cache is
 * skipped without taking anything. This is not Go's design, which needs
 * neither: its mcaches are flushed with the world stopped. */
#include "mcache_internal.h"

#include "error.h"
#include "mcentral.h"
#include "os.h"
#include "scavenger.h"

#include <errno.h>
#include <sched.h>

/* Unlink listed span s of class spc from c (keep_notify: without resetting
 * its notify count, gm_clist_unlink, for a taker other than the owner),
 * clear its owner and push it on *to. */
static void detach_one(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s, gm_mspan_t **to,
                       bool keep_notify) {
  if (keep_notify)
    gm_clist_unlink(c, spc, s);
  else
    gm_clist_remove(c, spc, s);
  gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
  s->next = *to;
  *to = s;
}

/* Take spans out of c, clearing their owner, and push each on to[k], k
 * being where it was (GM_CLIST_NONE: current): the current spans if
 * current, and the listed spans that have been on their list for min_age
 * scavenger ticks or more (all if 0); keep_notify as detach_one. Returns
 * how many. The caller holds c's lock. */
static size_t detach_spans(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **to[3],
                           bool keep_notify) {
  uint32_t epoch = gm_load_relaxed(&gm_scav_epoch);
  size_t n = 0;
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_spanclass_t spc = (gm_spanclass_t)i;
    gm_mspan_t *s = c->alloc[i];
    if (current && s != &gm_empty_span) {
      gm_store_relaxed(&c->alloc[i], &gm_empty_span);
      gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
      s->next = *to[GM_CLIST_NONE];
      *to[GM_CLIST_NONE] = s;
      n++;
    }
    for (unsigned which = GM_CLIST_FULL; which <= GM_CLIST_READY; which++) {
      for (s = *gm_clist_head(c, spc, which); s;) {
        gm_mspan_t *next = s->next;
        if (min_age == 0 || epoch - s->partial_epoch >= min_age) {
          detach_one(c, spc, s, to[which], keep_notify);
          n++;
        }
        s = next;
      }
    }
    /* The owner's detach empties its hot stacks here; the reclaimer's
     * take leaves them to the owner's next slow path (hot_stale). */
    if (!keep_notify && (!current || min_age))
      gm_mcache_hot_drop_unowned(c, spc);
  }
  if (!keep_notify && current && !min_age)
    gm_mcache_hot_discard(c); /* every span went */
  return n;
}

/* Take spans out of c, clearing their owner, and link them through next
 * onto *list: the current spans if current, and the listed spans that have
 * been on their list for min_age scavenger ticks or more (all if 0).
 * Returns how many. The caller holds c's lock. */
size_t gm_mcache_detach(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **list) {
  gm_mspan_t **to[3] = {list, list, list};
  return detach_spans(c, current, min_age, to, false);
}

/* Hand detached spans back to their mcentrals. */
void gm_mcache_uncache_list(gm_mspan_t *list) {
  while (list) {
    gm_mspan_t *s = list;
    list = s->next;
    s->next = s->prev = NULL;
    gm_mcentral_uncache_span(s);
  }
}

/* A cache about to be parked keeps its current and full spans, whose
 * blocks its next thread frees as owner frees; of its ready spans (half
 * free or more, waiting for a refill) only the newest of each class: the
 * rest are better off in mcentral, where every thread's refills take
 * their free slots before growing the heap (mcache_registry.c). */
size_t gm_mcache_detach_spare_ready(gm_mcache_t *c, gm_mspan_t **list) {
  size_t n = 0;
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_spanclass_t spc = (gm_spanclass_t)i;
    gm_mspan_t *s = c->ready[i];
    if (!s)
      continue;
    for (s = s->next; s;) {
      gm_mspan_t *next = s->next;
      detach_one(c, spc, s, list, false);
      n++;
      s = next;
    }
    /* The exiting owner: its hot stacks forget the spans that went
     * (mcache_hot.c), or the successor would pop their slots after
     * mcentral swept them and handed them out again. */
    gm_mcache_hot_drop_unowned(c, spc);
  }
  return n;
}

void gm_mcache_release_all(gm_mcache_t *c) {
  gm_mspan_t *list = NULL;
  gm_cache_lock(c);
  gm_mcache_detach(c, true, 0, &list);
  gm_cache_unlock(c);
  gm_mcache_uncache_list(list);
}

/* The common part of reclaim and trim: take spans from each cache chosen
 * (see pick), under its lock, then fence once and wait for each owner to
 * leave its fast path, and give the spans on or put them back, all under
 * the registry lock: so a fork, whose prepare takes that lock first, never
 * finds a cache held by a trimmer. Its prepare waits at most the bounded
 * wait (an owner in a signal handler that forks is given up on), and the
 * forking thread's cache is then free for fork handlers that allocate,
 * which run inside the window (gm_lock_t); were the wait outside the lock,
 * such a handler would wait for its cache lock, and the trimmer, done
 * waiting, for the registry lock to put spans back: a deadlock. A cache
 * held locked cannot be destroyed meanwhile (its thread's exit takes the
 * lock first). Hands the spans to mcentral; returns how many caches gave
 * some. */
typedef struct take_req {
  bool idle_only, force, current;
  uint32_t min_age;
  size_t nspans;
} take_req_t;

/* The bound on waiting for owners to leave their fast paths, per round: a
 * fast path takes tens of ns, a thread preempted inside one a scheduler
 * slice (a few ms); a scavenger tick is 100 ms. */
#define TRIM_WAIT_NS (10u * 1000u * 1000u)

static bool pick(gm_mcache_t *c, take_req_t *rq) {
  if (!rq->idle_only)
    return true;
  uint32_t ns = gm_load_relaxed(&c->nslow);
  if (ns != c->seen_nslow) {
    c->seen_nslow = ns;
    c->idle_rounds = 0;
    if (!rq->force)
      return false;
  }
  return rq->force || ++c->idle_rounds >= 2;
}

/* Step 2: as gm_mcache_detach, but onto c->trim_taken, and the notify
 * counts are left alone: the owner may be counting one down right now. A
 * list is walked from its head and each span pushed on its trim_taken list,
 * so that untake, pushing them back in that order, rebuilds the list. */
static size_t take(gm_mcache_t *c, bool current, uint32_t min_age) {
  gm_mspan_t **to[3] = {&c->trim_taken[0], &c->trim_taken[1], &c->trim_taken[2]};
  size_t n = detach_spans(c, current, min_age, to, true);
  /* The hot stacks may name the spans taken: the owner's next slow path
   * empties them (mcache_hot.c). */
  if (n)
    c->hot_stale = 1;
  return n;
}

/* Step 5, the owner having left its fast paths: move what take took onto
 * *list for mcentral (one pointer store at a time, so that a fork child
 * sees c->trim_taken whole). Returns how many. */
static size_t give(gm_mcache_t *c, gm_mspan_t **list) {
  size_t n = 0;
  for (unsigned k = 0; k < 3; k++) {
    gm_mspan_t *s;
    while ((s = c->trim_taken[k]) != NULL) {
      c->trim_taken[k] = s->next;
      gm_span_set_notify(s, 0); /* no owner counts it any more */
      s->next = *list;
      *list = s;
      n++;
    }
  }
  return n;
}

void gm_mcache_untake(gm_mcache_t *c) {
  for (unsigned k = 0; k < 3; k++) {
    gm_mspan_t *s;
    while ((s = c->trim_taken[k]) != NULL) {
      c->trim_taken[k] = s->next;
      /* Owner first: a free between the two stores is then a local one. */
      gm_store_relaxed(&s->owner, c);
      if (k == GM_CLIST_NONE) {
        s->next = NULL;
        gm_store_relaxed(&c->alloc[s->spanclass], s);
      } else {
        gm_clist_link(c, s->spanclass, s, k);
      }
    }
  }
}

static unsigned take_from_caches(take_req_t *rq) {
  gm_mcache_t *self = gm_tls_mcache, *tried = NULL, *held = NULL;
  gm_mspan_t *list = NULL;
  unsigned ncaches = 0;
  rq->nspans = 0;
  gm_lock(&gm_mcache_registry_lock);
  /* Step 1, trylock, in two: announce to each cache chosen, one fence for
   * all of them (mcache_internal.h), then see whose owner is not in its
   * slow path. No cache chosen, no fence. */
  for (gm_mcache_t *c = gm_mcache_registry; c; c = c->next) {
    if (c == self || !pick(c, rq))
      continue;
    gm_cache_try_announce(c);
    c->trim_next = tried;
    tried = c;
  }
  bool fenced = tried && gm_sys_membarrier(); /* also registers on the first call */
  while (tried) {
    gm_mcache_t *c = tried;
    tried = c->trim_next;
    if (!fenced) {
      gm_cache_try_withdraw(c);
      continue;
    }
    if (!gm_cache_try_fenced(c))
      continue;
    /* Still inside the fast path it was last given up on (parked in a
     * signal handler, say): nothing to gain this round. */
    if ((c->gave_up && gm_load_relaxed(c->busy)) || !take(c, rq->current, rq->min_age)) {
      gm_cache_untry(c);
      continue;
    }
    c->trimming = 1;
    c->trim_next = held;
    held = c;
  }
  if (!held) {
    gm_unlock(&gm_mcache_registry_lock);
    return 0;
  }
  if (!gm_sys_membarrier())
    gm_fatal("membarrier failed", NULL, "it worked before: cannot fence an owner");
  /* Step 4: a count seen at 0 once after the fence is enough (later fast
   * paths see the cache taken). */
  uint64_t deadline = gm_sys_now_ns() + TRIM_WAIT_NS;
  for (gm_mcache_t *c = held; c; c = c->trim_next) {
    c->gave_up = 0;
    while (gm_load_acquire(c->busy)) {
      if (gm_sys_now_ns() >= deadline) {
        c->gave_up = 1;
        break;
      }
      sched_yield();
    }
  }
  /* Nothing holds the registry lock while it waits for a cache lock, so
   * holding it here costs others (thread start and exit, statistics, fork)
   * at most the bounded wait. A fork from a signal handler on this thread
   * skips the lock and sees the lists as this thread left them; its child
   * puts back what is still taken (gm_mcache_fork_child). */
  while (held) {
    gm_mcache_t *c = held;
    held = c->trim_next;
    if (c->gave_up) {
      gm_mcache_untake(c);
    } else {
      rq->nspans += give(c, &list);
      ncaches++;
    }
    c->trimming = 0;
    gm_cache_untry(c);
  }
  gm_unlock(&gm_mcache_registry_lock);
  gm_mcache_uncache_list(list);
  return ncaches;
}

unsigned gm_mcache_reclaim_idle(bool force) {
  gm_mcache_flush_spares(force); /* no membarrier needed: no thread owns them */
  take_req_t rq = {.idle_only = true, .force = force, .current = true};
  return take_from_caches(&rq);
}

/* Trim: the listed spans of every other cache, busy or not, that have
 * waited min_age ticks (gm_release and out of memory). The owner never
 * touches its lists outside its lock, but a free of its own may be writing
 * a detached span's bits, hence the same fence as the reclaim. */
size_t gm_mcache_trim(uint32_t min_age) {
  if (min_age == 0)
    gm_mcache_flush_spares(true);
  take_req_t rq = {.min_age = min_age};
  take_from_caches(&rq);
  return rq.nspans;
}

/* Out of memory (the heap could not grow): before failing, give back
 * what caches keep, since their spans may be all that stands between the
 * program and its request: the caller's own lists (the caller holds c's
 * lock if locked), every other cache's lists, and the empty spans waiting
 * on central lists. The orphan cache's users hold its lock, which ranks
 * below the registry lock, so they give back their own lists only. */
void gm_mcache_oom_release_from(gm_mcache_t *c, bool locked) {
  int saved = errno;
  if (c != &gm_empty_mcache) {
    gm_mspan_t *list = NULL;
    if (!locked)
      gm_cache_lock(c);
    gm_mcache_detach(c, false, 0, &list);
    if (!locked)
      gm_cache_unlock(c);
    gm_mcache_uncache_list(list);
  }
  if (c != &gm_mcache_orphan)
    gm_mcache_trim(0);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_mcentral_reclaim(&gm_central[i]);
  errno = saved;
}

void gm_mcache_oom_release(void) { gm_mcache_oom_release_from(gm_tls_mcache, false); }
