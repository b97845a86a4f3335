/* gc_boehm_ext.c: the part of libgomalloc-gc with state of its own: object
 * kinds (GC_new_kind, gc_mark.h), disclaim procedures and
 * GC_finalized_malloc (gc_disclaim.h), mark bits (GC_is_marked and
 * friends), toggle-refs, the stop signal (GC_set_suspend_signal) and
 * GC_wcsdup.
 *
 * Disclaim procedures run on gomalloc's finalizers (gcfinal.c). An object
 * of a kind with a disclaim procedure gets a finalizer when allocated:
 * ORDERED when the procedure was registered with mark_from_all (what the
 * object reaches stays alive until the procedure ran: Boehm's
 * GC_push_unconditionally; long chains take a cycle a link, as there),
 * NO_ORDER otherwise. Where we leave Boehm: Boehm calls the procedure from
 * its sweep, allocation lock held, and reclaims the object in that cycle;
 * here it runs where finalizers run (the first GC_* allocation after the
 * cycle, outside every lock), and an object it returned 0 for is freed by
 * the next cycle, once nothing reaches it. Non-zero keeps the object: its
 * finalizer is set again. Why: our sweep holds gm_gc.lock, where a
 * procedure calling GC_base or taking the program's own locks would
 * deadlock, and a hook per freed slot would cost every sweep; the
 * finalizers already keep the order disclaim needs. A program's own
 * GC_register_finalizer on an object of such a kind replaces its disclaim. */
#define _GNU_SOURCE
#define GC_BUILD
#define GC_THREADS
#define GC_REQUIRE_WCSDUP
#include "gc_boehm.h"
#include "gc_disclaim.h"
#include "gc_inline.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- kinds -------------------------------------------------------------- */

/* Boehm's own four first (GC_I_PTRFREE, _NORMAL, _UNCOLLECTABLE,
 * _AUNCOLLECTABLE), then GC_new_kind's. Written once, before the kind's
 * first allocation; read without a lock. */
#define MAX_KINDS 64
typedef struct kind {
  bool scanned, clear, uncollectable;
  bool mark_all;
  GC_disclaim_proc disclaim;
  GC_word descr; /* GC_DS_PROC: calls procs[] on each object */
  bool proc;
} kind_t;
static kind_t kinds[MAX_KINDS] = {
    [GC_I_PTRFREE] = {false, false, false, false, NULL, 0, false},
    [GC_I_NORMAL] = {true, true, false, false, NULL, 0, false},
    [GC_I_UNCOLLECTABLE] = {true, true, true, false, NULL, 0, false},
    [GC_I_AUNCOLLECTABLE] = {true, true, true, false, NULL, 0, false},
};
static unsigned nkinds = 4;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static GC_mark_proc procs[GC_MAX_MARK_PROCS];
static unsigned nprocs;

/* GC_MARK_AND_PUSH compares with these; gm_gc_mark_ptr filters again. */
void *GC_least_plausible_heap_addr = (void *)1;
void *GC_greatest_plausible_heap_addr = (void *)UINTPTR_MAX;

/* Boehm's free lists are not used: a list of the right shape (one entry a
 * granule size) is returned for programs that keep it. */
void **GC_new_free_list_inner(void) { return calloc(129, sizeof(void *)); /* MAXOBJGRANULES+1 */ }
void **GC_new_free_list(void) { return GC_new_free_list_inner(); }

/* A kind scans its objects whole, conservatively, unless its descriptor
 * says they hold no pointer (length 0 not adjusted to the size, or an
 * empty bitmap) or names a mark procedure (GC_DS_PROC). A procedure kind's
 * objects are not scanned: as in Boehm, the procedure alone marks from
 * them, called from the collector's mark hook on each of its objects
 * still allocated (procs_hook below). Guile's threads mark their VM
 * stacks (mapped by Guile, outside the heap) that way, and its weak
 * tables skip their keys. Where we leave Boehm: the procedure runs for
 * every allocated object of the kind, reachable or not (one pass, no
 * fixpoint; what an unreachable one reaches is kept a cycle longer), on
 * the collecting thread. Per-object descriptors (GC_DS_PER_OBJECT) are
 * not read: those objects are scanned whole. */
unsigned GC_new_kind_inner(void **fl, GC_word descr, int adjust, int clear) {
  (void)fl;
  bool ptrfree = (descr == GC_DS_LENGTH && !adjust) || descr == GC_DS_BITMAP;
  bool proc = (descr & GC_DS_TAGS) == GC_DS_PROC;
  unsigned k = __atomic_load_n(&nkinds, __ATOMIC_ACQUIRE);
  if (k >= MAX_KINDS) {
    fprintf(stderr, "gomalloc-gc: GC_new_kind: more than %d kinds\n", MAX_KINDS);
    abort();
  }
  kinds[k] = (kind_t){!ptrfree && !proc, clear != 0, false, false, NULL, descr, proc};
  __atomic_store_n(&nkinds, k + 1, __ATOMIC_RELEASE);
  return k;
}
unsigned GC_new_kind(void **fl, GC_word descr, int adjust, int clear) {
  pthread_mutex_lock(&kinds_lock);
  unsigned k = GC_new_kind_inner(fl, descr, adjust, clear);
  pthread_mutex_unlock(&kinds_lock);
  return k;
}
unsigned GC_new_proc_inner(GC_mark_proc p) {
  if (nprocs >= GC_MAX_MARK_PROCS) {
    fprintf(stderr, "gomalloc-gc: GC_new_proc: more than %d procedures\n", GC_MAX_MARK_PROCS);
    abort();
  }
  procs[nprocs] = p;
  return nprocs++;
}
unsigned GC_new_proc(GC_mark_proc p) {
  pthread_mutex_lock(&kinds_lock);
  unsigned i = GC_new_proc_inner(p);
  pthread_mutex_unlock(&kinds_lock);
  return i;
}
/* ---- mark procedures: called from the collector's mark hook ----------------- */

/* Objects of GC_DS_PROC kinds, in slots that never move (chunks of their
 * own, plain malloc: not scanned, a slot keeps nothing alive). Each slot
 * carries a short disappearing link, so the collector empties it in the
 * pause that finds its object dead: the hook, which runs before links
 * are cleared, may call the procedure of an object dying in this very
 * pause (it is still allocated: only what it reaches is kept a cycle
 * longer), never of a freed one. The hook runs with the world stopped and
 * takes no lock: chunks are published with release stores. */
typedef struct pslot {
  void *obj;
  unsigned kind;
} pslot_t;
#define PCHUNK 1024
#define PCHUNKS 4096
static pslot_t *pchunks[PCHUNKS];
static size_t pcursor; /* where the next search for an empty slot starts */
static pthread_mutex_t procs_lock = PTHREAD_MUTEX_INITIALIZER;
static bool in_procs_hook;
static struct GC_ms_entry fake_stack[64];

/* Only while the hook runs (the collector's thread, world stopped). */
struct GC_ms_entry *GC_mark_and_push(void *obj, struct GC_ms_entry *sp,
                                     struct GC_ms_entry *lim, void **src) {
  (void)lim, (void)src;
  if (in_procs_hook)
    gm_gc_mark_ptr(obj);
  return sp;
}

static bool have_proc_objects;

/* GC_free of a tracked object: forget it before its block is reused. */
GM_BOEHM_HIDDEN void gm_boehm_forget_proc_object(void *p) {
  if (!__atomic_load_n(&have_proc_objects, __ATOMIC_ACQUIRE) || !p)
    return;
  pthread_mutex_lock(&procs_lock);
  for (size_t c = 0; c < PCHUNKS && pchunks[c]; c++)
    for (size_t i = 0; i < PCHUNK; i++)
      if (__atomic_load_n(&pchunks[c][i].obj, __ATOMIC_ACQUIRE) == p) {
        gm_gc_unregister_link(&pchunks[c][i].obj, 0);
        __atomic_store_n(&pchunks[c][i].obj, NULL, __ATOMIC_RELEASE);
      }
  pthread_mutex_unlock(&procs_lock);
}

static void procs_hook(void) {
  in_procs_hook = true;
  for (size_t c = 0; c < PCHUNKS; c++) {
    pslot_t *chunk = __atomic_load_n(&pchunks[c], __ATOMIC_ACQUIRE);
    if (!chunk)
      break;
    for (size_t i = 0; i < PCHUNK; i++) {
      void *obj = __atomic_load_n(&chunk[i].obj, __ATOMIC_ACQUIRE);
      if (!obj)
        continue;
      GC_word d = kinds[chunk[i].kind].descr;
      GC_mark_proc proc = procs[(d >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1)];
      if (proc)
        proc(obj, fake_stack, fake_stack + 64, d >> (GC_DS_TAG_BITS + GC_LOG_MAX_MARK_PROCS));
    }
  }
  in_procs_hook = false;
}

static int track_proc_object(void *p, unsigned k) {
  static bool hooked;
  pthread_mutex_lock(&procs_lock);
  if (!hooked) {
    gm_gc_set_mark_hook(procs_hook);
    __atomic_store_n(&have_proc_objects, true, __ATOMIC_RELEASE);
    hooked = true;
  }
  pslot_t *slot = NULL;
  size_t total = PCHUNKS * (size_t)PCHUNK;
  for (size_t n = 0; n < total && !slot; n++) {
    size_t at = (pcursor + n) % total;
    pslot_t *chunk = pchunks[at / PCHUNK];
    if (!chunk) {
      chunk = calloc(PCHUNK, sizeof *chunk);
      if (!chunk)
        break;
      __atomic_store_n(&pchunks[at / PCHUNK], chunk, __ATOMIC_RELEASE);
    }
    if (!__atomic_load_n(&chunk[at % PCHUNK].obj, __ATOMIC_ACQUIRE)) {
      slot = &chunk[at % PCHUNK];
      pcursor = at + 1;
    }
  }
  int rc = -1;
  if (slot) {
    slot->kind = k;
    __atomic_store_n(&slot->obj, p, __ATOMIC_RELEASE);
    rc = gm_gc_register_link(&slot->obj, p, 0) < 0 ? -1 : 0;
    if (rc)
      __atomic_store_n(&slot->obj, NULL, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&procs_lock);
  return rc;
}

static kind_t *kind_of(int k) {
  if (k < 0 || (unsigned)k >= __atomic_load_n(&nkinds, __ATOMIC_ACQUIRE))
    return NULL;
  return &kinds[k];
}

/* ---- disclaim --------------------------------------------------------------- */

static void disclaim_fin(void *obj, void *arg);
static bool mark_take(void *base);

static int arm(void *p, unsigned k) {
  int order = kinds[k].mark_all ? GM_GC_FINAL_ORDERED : GM_GC_FINAL_NO_ORDER;
  return gm_gc_set_finalizer(p, disclaim_fin, (void *)(uintptr_t)k, order, NULL, NULL);
}

/* The object whose disclaim procedure runs on this thread (GC_is_marked
 * answers 0 for it). */
static __thread void *disclaiming;

static void disclaim_fin(void *obj, void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg;
  GC_disclaim_proc proc = __atomic_load_n(&kinds[k].disclaim, __ATOMIC_ACQUIRE);
  /* GC_set_mark_bit since the cycle found it: the program took it back
   * (a weak table's lookup); Boehm's sweep would not disclaim it. */
  bool keep = mark_take(obj);
  if (!keep && proc) {
    void *outer = disclaiming;
    disclaiming = obj;
    keep = proc(obj) != 0;
    disclaiming = outer;
    keep |= mark_take(obj);
  }
  if (keep)
    arm(obj, k);
}

/* Set while a built-in kind (GC_I_NORMAL, GC_I_PTRFREE) has a procedure:
 * every GC_malloc then takes the slow path, which arms its objects. */
int gm_boehm_builtin_disclaim;

GM_BOEHM_HIDDEN void *gm_boehm_disclaim_arm(void *p, unsigned alloc_kind) {
  unsigned k = alloc_kind == 0 ? GC_I_NORMAL : alloc_kind == 1 ? GC_I_PTRFREE : GC_I_UNCOLLECTABLE;
  if (p && kinds[k].disclaim && arm(p, k) != 0)
    return NULL; /* no memory for the record: Boehm's allocation fails too */
  return p;
}

void GC_register_disclaim_proc(int k, GC_disclaim_proc proc, int mark_from_all) {
  kind_t *kd = kind_of(k);
  if (!kd) {
    fprintf(stderr, "gomalloc-gc: GC_register_disclaim_proc: no kind %d\n", k);
    abort();
  }
  if (kd->uncollectable)
    return; /* never reclaimed: nothing to disclaim */
  kd->mark_all = mark_from_all != 0;
  __atomic_store_n(&kd->disclaim, proc, __ATOMIC_RELEASE);
  if (k == GC_I_NORMAL || k == GC_I_PTRFREE) {
    __atomic_store_n(&gm_boehm_builtin_disclaim, 1, __ATOMIC_RELEASE);
    gm_boehm_oom_fn_changed(); /* recompute the fast path's test */
  }
}

/* Allocation by kind (gc_mark.h): Boehm's four, then custom kinds. */
void *GC_generic_malloc(size_t n, int k) {
  switch (k) {
  case GC_I_PTRFREE:
    return GC_malloc_atomic(n);
  case GC_I_NORMAL:
    return GC_malloc(n);
  case GC_I_UNCOLLECTABLE:
  case GC_I_AUNCOLLECTABLE:
    return GC_malloc_uncollectable(n);
  }
  kind_t *kd = kind_of(k);
  if (!kd) {
    errno = EINVAL;
    return NULL;
  }
  void *p = kd->scanned ? GC_malloc(n) : GC_malloc_atomic(n);
  if (!p)
    return NULL;
  /* A procedure kind's objects are cleared even when the kind does not
   * ask: the hook calls the procedure on every allocated object, possibly
   * before the program has filled it in. */
  if (!kd->scanned && (kd->clear || kd->proc))
    memset(p, 0, n);
  if ((__atomic_load_n(&kd->disclaim, __ATOMIC_ACQUIRE) && arm(p, (unsigned)k) != 0) ||
      (kd->proc && track_proc_object(p, (unsigned)k) != 0)) {
    GC_free(p);
    return NULL;
  }
  return p;
}

/* A list of objects of kind k linked through their first word (the
 * refill of gc_inline.h's GC_FAST_MALLOC_GRANS: Guile's inline allocation
 * calls it). Objects of a pointer-free kind are made scanned here: the
 * caller keeps only the head where the collector sees it, and the rest of
 * the list hangs off link words that a pointer-free object would hide
 * (the cost: their contents are scanned too, conservatively). */
void GC_generic_malloc_many(size_t n, int k, void **result) {
  kind_t *kd = kind_of(k);
  if (n < sizeof(void *))
    n = sizeof(void *);
  size_t count = n >= 4096 ? 1 : 4096 / n > 64 ? 64 : 4096 / n;
  void *head = NULL;
  *result = NULL;
  for (size_t i = 0; i < count; i++) {
    void *p = kd && kd->scanned ? GC_generic_malloc(n, k) : GC_malloc(n);
    if (p && kd && !kd->scanned && ((kd->disclaim && arm(p, (unsigned)k) != 0) ||
                                    (kd->proc && track_proc_object(p, (unsigned)k) != 0)))
      p = NULL;
    if (!p)
      break;
    *(void **)p = head;
    head = p;
    *result = head; /* seen by the collector at every step */
  }
}

/* GC_finalized_malloc: a finalizer with the closure as its argument (a
 * root while registered, so a closure on the heap stays alive, as Boehm
 * promises). No header word: GC_base(p) == p, GC_size(p) the block's. */
void GC_init_finalized_malloc(void) {}

static void finalized_fin(void *obj, void *arg) {
  const struct GC_finalizer_closure *fc = arg;
  fc->proc(obj, fc->cd);
}

void *GC_finalized_malloc(size_t n, const struct GC_finalizer_closure *fc) {
  void *p = GC_malloc(n);
  if (p && gm_gc_set_finalizer(p, finalized_fin, (void *)fc, GM_GC_FINAL_ORDERED, NULL, NULL)) {
    GC_free(p);
    return NULL;
  }
  return p;
}

/* ---- mark bits ---------------------------------------------------------------- */

/* The collector's mark bits are cleared by the sweep, so Boehm's calls are
 * answered from this layer's own table of marks set by GC_set_mark_bit,
 * by block start. A mark lasts for the cycle it was set in and the next
 * (Boehm's lives until the next collection clears it; one more cycle
 * covers a disclaim that a collection on another thread delayed). The
 * table is plain malloc memory: never scanned, a mark keeps nothing
 * alive. GC_is_marked is best effort: 1 for a mark in the table, 0 for
 * the object whose disclaim procedure is running, 1 for any other live
 * block (it survived the last mark or was allocated since), 0 otherwise. */
typedef struct mark {
  uintptr_t base;
  uint64_t epoch;
} mark_t;
static mark_t *marks;
static size_t marks_cap, marks_n;
static pthread_mutex_t marks_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t mslot(uintptr_t b) {
  return (size_t)(((uint64_t)(b >> 3) * 0x9E3779B97F4A7C15ULL) >> 32) & (marks_cap - 1);
}
static bool mark_live(const mark_t *m) { return m->base && m->epoch + 1 >= gm_gc_epoch; }

static mark_t *mark_find(uintptr_t b) {
  if (!marks_cap)
    return NULL;
  for (size_t i = mslot(b);; i = (i + 1) & (marks_cap - 1)) {
    if (!marks[i].base)
      return NULL;
    if (marks[i].base == b)
      return &marks[i];
  }
}

/* Rebuild without the expired marks, growing when still half full. */
static bool marks_rehash(void) {
  size_t live = 0;
  for (size_t i = 0; i < marks_cap; i++)
    live += marks[i].base && mark_live(&marks[i]);
  size_t cap = marks_cap ? marks_cap : 64;
  while (live * 2 >= cap)
    cap *= 2;
  mark_t *old = marks, *nm = calloc(cap, sizeof *nm);
  if (!nm)
    return false;
  size_t oldcap = marks_cap;
  marks = nm;
  marks_cap = cap;
  marks_n = 0;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].base && mark_live(&old[i])) {
      size_t j = mslot(old[i].base);
      while (marks[j].base)
        j = (j + 1) & (cap - 1);
      marks[j] = old[i];
      marks_n++;
    }
  free(old);
  return true;
}

static void mark_delete(mark_t *m) {
  /* Backward-shift deletion keeps the probe chains whole. */
  size_t i = (size_t)(m - marks);
  for (size_t j = (i + 1) & (marks_cap - 1); marks[j].base; j = (j + 1) & (marks_cap - 1)) {
    size_t home = mslot(marks[j].base);
    if (((j - home) & (marks_cap - 1)) >= ((j - i) & (marks_cap - 1))) {
      marks[i] = marks[j];
      i = j;
    }
  }
  marks[i].base = 0;
  marks_n--;
}

/* Consume base's mark: was one set and still in force? */
static bool mark_take(void *base) {
  if (!__atomic_load_n(&marks_n, __ATOMIC_RELAXED))
    return false;
  pthread_mutex_lock(&marks_lock);
  mark_t *m = mark_find((uintptr_t)base);
  bool live = m && mark_live(m);
  if (m)
    mark_delete(m);
  pthread_mutex_unlock(&marks_lock);
  return live;
}

void GC_set_mark_bit(const void *p) {
  uintptr_t b = (uintptr_t)gm_gc_base(p);
  if (!b)
    return;
  pthread_mutex_lock(&marks_lock);
  mark_t *m = mark_find(b);
  if (!m && (marks_n + 1) * 2 > marks_cap && !marks_rehash()) {
    pthread_mutex_unlock(&marks_lock);
    return; /* no memory: the mark is lost, as a best effort may */
  }
  if (!m) {
    size_t j = mslot(b);
    while (marks[j].base)
      j = (j + 1) & (marks_cap - 1);
    m = &marks[j];
    m->base = b;
    marks_n++;
  }
  m->epoch = gm_gc_epoch;
  pthread_mutex_unlock(&marks_lock);
}

void GC_clear_mark_bit(const void *p) {
  void *b = gm_gc_base(p);
  if (b)
    (void)mark_take(b);
}

int GC_is_marked(const void *p) {
  void *b = gm_gc_base(p);
  if (!b)
    return 0;
  if (__atomic_load_n(&marks_n, __ATOMIC_RELAXED)) {
    pthread_mutex_lock(&marks_lock);
    mark_t *m = mark_find((uintptr_t)b);
    bool live = m && mark_live(m);
    pthread_mutex_unlock(&marks_lock);
    if (live)
      return 1;
  }
  return b != disclaiming;
}

/* ---- toggle-refs ---------------------------------------------------------------- */

/* Each registered object is held strongly or weakly, as the program's
 * callback decides. Boehm asks the callback at the start of each
 * collection; here before GC_gcollect's and at the first GC_* allocation
 * after any other (gm_boehm_after_cycle), so an automatic cycle acts on
 * the answers given after the one before. A strong entry holds the object
 * in an uncollectable chunk (a root); a weak one holds it hidden, with a
 * short disappearing link that the collector clears when it dies. Entries
 * never move (chunks of their own), so links need no moving. */
typedef struct tref {
  void *strong;
  GC_hidden_pointer weak; /* hidden, or 0: dead (link cleared) or unused */
  int used;
} tref_t;
#define TREF_CHUNK 256
static tref_t **tchunks; /* plain malloc: the chunks are roots themselves */
static size_t ntchunks, ntrefs;
static GC_toggleref_func toggle_fn;
static pthread_mutex_t toggle_lock = PTHREAD_MUTEX_INITIALIZER;

void GC_set_toggleref_func(GC_toggleref_func f) {
  pthread_mutex_lock(&toggle_lock);
  toggle_fn = f;
  pthread_mutex_unlock(&toggle_lock);
}
GC_toggleref_func GC_get_toggleref_func(void) {
  pthread_mutex_lock(&toggle_lock);
  GC_toggleref_func f = toggle_fn;
  pthread_mutex_unlock(&toggle_lock);
  return f;
}

static void tref_set(tref_t *e, void *obj, int strong) {
  if (strong) {
    if (e->weak)
      gm_gc_unregister_link((void **)&e->weak, 0);
    e->weak = 0;
    e->strong = obj;
  } else {
    e->strong = NULL;
    e->weak = GC_HIDE_POINTER(obj);
    gm_gc_register_link((void **)&e->weak, obj, 0);
  }
}

static void tref_drop(tref_t *e) {
  if (e->weak)
    gm_gc_unregister_link((void **)&e->weak, 0);
  *e = (tref_t){NULL, 0, 0};
  ntrefs--;
}

int GC_toggleref_add(void *obj, int is_strong) {
  int rc = GC_SUCCESS;
  pthread_mutex_lock(&toggle_lock);
  if (!toggle_fn)
    goto out; /* Boehm: registered only once there is a callback */
  tref_t *e = NULL;
  for (size_t c = 0; c < ntchunks && !e && ntrefs < ntchunks * TREF_CHUNK; c++)
    for (size_t i = 0; i < TREF_CHUNK; i++)
      if (!tchunks[c][i].used) {
        e = &tchunks[c][i];
        break;
      }
  if (!e) {
    tref_t **nc = realloc(tchunks, (ntchunks + 1) * sizeof *nc);
    tref_t *chunk = nc ? gm_gc_malloc_uncollectable(TREF_CHUNK * sizeof *chunk) : NULL;
    if (nc)
      tchunks = nc;
    if (!chunk) {
      rc = GC_NO_MEMORY;
      goto out;
    }
    tchunks[ntchunks++] = chunk;
    e = &chunk[0];
  }
  e->used = 1;
  ntrefs++;
  tref_set(e, obj, is_strong);
out:
  pthread_mutex_unlock(&toggle_lock);
  return rc;
}

/* Ask the callback about every entry (Boehm's GC_process_togglerefs). */
GM_BOEHM_HIDDEN void gm_boehm_togglerefs(void) {
  if (!__atomic_load_n(&ntrefs, __ATOMIC_RELAXED))
    return;
  pthread_mutex_lock(&toggle_lock);
  for (size_t c = 0; c < ntchunks; c++)
    for (size_t i = 0; i < TREF_CHUNK; i++) {
      tref_t *e = &tchunks[c][i];
      if (!e->used)
        continue;
      void *obj = e->strong ? e->strong : e->weak ? GC_REVEAL_POINTER(e->weak) : NULL;
      if (!obj) {
        tref_drop(e); /* collected while weak */
        continue;
      }
      switch (toggle_fn ? toggle_fn(obj) : GC_TOGGLE_REF_DROP) {
      case GC_TOGGLE_REF_STRONG:
        if (!e->strong)
          tref_set(e, obj, 1);
        break;
      case GC_TOGGLE_REF_WEAK:
        if (e->strong)
          tref_set(e, obj, 0);
        break;
      default:
        tref_drop(e);
      }
    }
  pthread_mutex_unlock(&toggle_lock);
}

/* ---- the stop signal -------------------------------------------------------------- */

/* Boehm's suspend signal is gomalloc's stop signal (gm_gc_set_signal: no
 * effect once the collector has started, as Boehm's after GC_init). There
 * is no restart signal (stopped threads wait on a futex): the getter
 * answers what was set, else the stop signal, so that a program keeping
 * "the restart signal" unblocked keeps ours unblocked. */
static int restart_signal;
void GC_set_suspend_signal(int sig) { (void)gm_gc_set_signal(sig); }
int GC_get_suspend_signal(void) { return gm_gc_signal(); }
void GC_set_thr_restart_signal(int sig) { __atomic_store_n(&restart_signal, sig, __ATOMIC_RELAXED); }
int GC_get_thr_restart_signal(void) {
  int sig = __atomic_load_n(&restart_signal, __ATOMIC_RELAXED);
  return sig ? sig : gm_gc_signal();
}

/* A thread that blocks the stop signal would stall every collection:
 * like Boehm's, the wrapper never blocks it. */
int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  if (set && (how == SIG_BLOCK || how == SIG_SETMASK)) {
    sigset_t s = *set;
    sigdelset(&s, gm_gc_signal());
    return pthread_sigmask(how, &s, old);
  }
  return pthread_sigmask(how, set, old);
}

/* ---- GC_wcsdup ------------------------------------------------------------------- */
wchar_t *GC_wcsdup(const wchar_t *s) {
  size_t n = (wcslen(s) + 1) * sizeof(wchar_t);
  wchar_t *d = GC_malloc_atomic(n);
  if (d)
    memcpy(d, s, n);
  return d;
}
wchar_t *GC_debug_wcsdup(const wchar_t *str, GC_EXTRA_PARAMS) {
#ifdef GC_ADD_CALLER
  (void)ra;
#endif
  (void)s, (void)i;
  return GC_wcsdup(str);
}
