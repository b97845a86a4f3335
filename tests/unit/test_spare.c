/* test_spare.c: spare caches (mcache_registry.c). An exiting thread's cache
 * is kept whole and the next new thread takes it:
 *   1. handover: a thread allocates blocks of several classes and exits;
 *      the next thread gets its cache (same struct, spans still owned by
 *      it), frees the blocks as owner frees, and every span is owned once;
 *   2. remote: blocks of a parked cache freed by another thread while it
 *      waits, then its successor frees the rest: nothing leaks;
 *   3. a chain of threads that each take over the live blocks of the one
 *      before and replace them (the handoff bench's pattern);
 *   4. the reclaim: a spare nobody takes is flushed after two reclaim
 *      rounds, and malloc_trim flushes every spare;
 *   5. fork: the child keeps the parent's spare, and a thread of the child
 *      takes it;
 *   6. the orphan cache (mallocs from TLS destructors that run after the
 *      thread's cache is gone), which enters the refill with its current
 *      span's cache word not used up, as a taken spare does: no slot may be
 *      skipped (each malloc there used to lose the rest of the word).
 * Every part ends with a clean census: no live object, no cached span but
 * those of caches (each counted once), and pages accounted. */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "stats.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NB = 600 };
static void *blocks[NB];
static size_t sizes[NB];
static gm_mcache_t *seen_cache;

static size_t size_of(unsigned i) { return 8 + (i * 37) % 1000; }

static void fill(void *p, size_t n, unsigned key) { memset(p, (int)(key & 0xff), n); }
static int intact(const void *p, size_t n, unsigned key) {
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != (unsigned char)(key & 0xff))
      return 0;
  return 1;
}

static void run(void *(*fn)(void *), void *arg) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, fn, arg) == 0, "pthread_create");
  pthread_join(t, NULL);
}

/* Spans cached by the registered caches (current and listed), each counted
 * once per cache that holds it: the census counts each cached span once,
 * so a span two caches hold shows up as a difference. */
static void count_cache(gm_mcache_t *c, void *arg) {
  size_t *n = arg;
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    if (c->alloc[i] != &gm_empty_span) {
      CHECK(c->alloc[i]->owner == c, "current span of class %u not owned by its cache", i);
      (*n)++;
    }
    for (gm_mspan_t *s = c->full[i]; s; s = s->next, (*n)++)
      CHECK(s->owner == c, "full span of class %u not owned by its cache", i);
    for (gm_mspan_t *s = c->ready[i]; s; s = s->next, (*n)++)
      CHECK(s->owner == c, "ready span of class %u not owned by its cache", i);
  }
}

static void census_clean(const char *when) {
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  size_t held = 0;
  gm_mcache_for_each(count_cache, &held);
  CHECK(c.error == NULL, "%s: census: %s", when, c.error ? c.error : "");
  CHECK(c.live_objects == 0, "%s: %zu live objects after everything was freed", when,
        c.live_objects);
  CHECK(c.cached_spans == held, "%s: %zu cached spans, the caches hold %zu", when, c.cached_spans,
        held);
  CHECK(c.span_pages + c.free_pages == c.total_pages, "%s: pages unaccounted", when);
}

static void *alloc_all(void *arg) {
  (void)arg;
  for (unsigned i = 0; i < NB; i++) {
    sizes[i] = size_of(i);
    blocks[i] = gm_malloc(sizes[i]);
    fill(blocks[i], sizes[i], i);
  }
  seen_cache = gm_tls_mcache;
  return NULL;
}

/* Frees every other block from start, checking each; owner counts how many
 * of them were in spans this thread's cache owns. */
typedef struct {
  unsigned start, step, owner_frees;
  gm_mcache_t *cache;
} free_req_t;

static void free_range(free_req_t *r) {
  for (unsigned i = r->start; i < NB; i += r->step) {
    CHECK(intact(blocks[i], sizes[i], i), "block %u damaged", i);
    gm_mspan_t *s = gm_span_of((uintptr_t)blocks[i]);
    if (s && s->owner == gm_tls_mcache)
      r->owner_frees++;
    gm_free(blocks[i]);
    blocks[i] = NULL;
  }
}

static void *successor(void *arg) {
  free_req_t *r = arg;
  void *p = gm_malloc(16); /* the first malloc takes a cache */
  r->cache = gm_tls_mcache;
  free_range(r);
  gm_free(p);
  return NULL;
}

static void test_handover(void) {
  size_t spares0 = gm_mcache_spare_count(), threads0 = gm_mcache_count();
  run(alloc_all, NULL);
  CHECK(gm_mcache_spare_count() == spares0 + 1, "the exited thread's cache is not a spare (%zu)",
        gm_mcache_spare_count());
  CHECK(gm_mcache_count() == threads0, "a spare counted as a thread");
  free_req_t r = {0, 1, 0, NULL};
  run(successor, &r);
  CHECK(r.cache == seen_cache, "the next thread did not take the exited thread's cache");
  CHECK(r.owner_frees > NB / 2, "only %u of %u frees were owner frees", r.owner_frees, NB);
  census_clean("handover");
}

static void test_remote(void) {
  run(alloc_all, NULL);
  free_req_t mine = {1, 2, 0, NULL}, succ = {0, 2, 0, NULL};
  free_range(&mine); /* this thread's frees into the parked cache: remote */
  CHECK(mine.owner_frees == 0, "%u frees into a parked cache were owner frees", mine.owner_frees);
  run(successor, &succ);
  CHECK(succ.cache == seen_cache, "the next thread did not take the exited thread's cache");
  census_clean("remote");
}

/* 3. A chain: each thread checks and replaces the live blocks of the one
 * before, then exits. */
static unsigned long long chain_seed;
static void *chain_step(void *arg) {
  int left = (int)(intptr_t)arg;
  for (unsigned k = 0; k < 3 * NB; k++) {
    unsigned i = (unsigned)(unit_rand(&chain_seed) % NB);
    if (blocks[i]) {
      CHECK(intact(blocks[i], sizes[i], i + sizes[i]), "chain: block %u damaged", i);
      gm_free(blocks[i]);
    }
    sizes[i] = 8 + unit_rand(&chain_seed) % 1000;
    blocks[i] = gm_malloc(sizes[i]);
    fill(blocks[i], sizes[i], (unsigned)(i + sizes[i]));
  }
  if (left > 0)
    run(chain_step, (void *)(intptr_t)(left - 1));
  return NULL;
}

static void test_chain(void) {
  chain_seed = unit_seed();
  memset(blocks, 0, sizeof blocks);
  run(chain_step, (void *)(intptr_t)30);
  for (unsigned i = 0; i < NB; i++)
    if (blocks[i]) {
      CHECK(intact(blocks[i], sizes[i], i + sizes[i]), "chain: block %u damaged", i);
      gm_free(blocks[i]);
      blocks[i] = NULL;
    }
  census_clean("chain");
}

static void *alloc_free(void *arg) {
  (void)arg;
  alloc_all(NULL);
  for (unsigned i = 0; i < NB; i++)
    gm_free(blocks[i]);
  return NULL;
}

static void test_reclaim(void) {
  gm_release(); /* no spare left */
  CHECK(gm_mcache_spare_count() == 0, "malloc_trim left %zu spares", gm_mcache_spare_count());
  run(alloc_free, NULL);
  CHECK(gm_mcache_spare_count() == 1, "no spare after an exit");
  gm_mcache_reclaim_idle(false);
  CHECK(gm_mcache_spare_count() == 1, "a spare flushed after one round");
  gm_mcache_reclaim_idle(false);
  CHECK(gm_mcache_spare_count() == 0, "a spare not flushed after two rounds");
  census_clean("reclaim");
  gm_census_t c;
  gm_heap_census(&c);
  size_t held = 0;
  gm_mcache_for_each(count_cache, &held);
  run(alloc_free, NULL);
  CHECK(gm_mcache_spare_count() == 1, "no spare after an exit");
  gm_release();
  CHECK(gm_mcache_spare_count() == 0, "malloc_trim left a spare");
  census_clean("trim");
}

static void test_fork(void) {
  run(alloc_all, NULL);
  CHECK(gm_mcache_spare_count() == 1, "no spare before fork");
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    int bad = gm_mcache_spare_count() != 1;
    free_req_t r = {0, 1, 0, NULL};
    run(successor, &r);
    bad |= r.cache != seen_cache;
    gm_thread_flush();
    gm_census_t c;
    gm_heap_census(&c);
    bad |= c.error != NULL || c.live_objects != 0;
    _exit(bad ? 1 : 0);
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/waitpid");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: spare not taken or heap not clean (%d)",
        st);
  free_req_t r = {0, 1, 0, NULL};
  run(successor, &r);
  census_clean("fork");
}

static pthread_key_t late_key;
static void late_destructor(void *arg) {
  (void)arg;
  for (int i = 0; i < 40; i++) {
    void *p = gm_malloc(8);
    CHECK(p != NULL, "orphan malloc");
    gm_free(p);
  }
}
static void *late_thread(void *arg) {
  (void)arg;
  gm_free(gm_malloc(8));
  pthread_setspecific(late_key, (void *)1); /* runs after gomalloc's exit hook */
  return NULL;
}

static void test_orphan(void) {
  CHECK(pthread_key_create(&late_key, late_destructor) == 0, "pthread_key_create");
  for (int i = 0; i < 4; i++)
    run(late_thread, NULL);
  census_clean("orphan");
}

int main(void) {
  gm_free(gm_malloc(1)); /* the main thread's cache first */
  gm_release();
  test_handover();
  test_remote();
  test_chain();
  test_reclaim();
  test_fork();
  test_orphan();
  return check_summary();
}
