/* gc_boehm.c: libgomalloc-gc, Boehm GC's calls (include/gomalloc-gc/gc.h)
 * on gomalloc's collected heap: allocation, collection, finalization and
 * threads (gc_boehm_misc.c: settings, statistics, the other headers). A
 * library of its own, so that libgomalloc never exports GC_* names:
 * preloaded into a program that uses Boehm GC, it must serve malloc, not
 * take over the program's collector.
 *
 * After a collection, the next GC_* allocation runs the queued finalizers
 * (Boehm's GC_notify_or_invoke_finalizers), unless GC_finalize_on_demand
 * is set, in which case GC_finalizer_notifier is called instead and the
 * program calls GC_invoke_finalizers. The check is one load of
 * gm_gc_epoch per allocation; a finalizer that allocates does not run
 * others from inside itself (Boehm's GC_finalizer_nested). */
#define _GNU_SOURCE
#define GC_BUILD
#define GC_THREADS
#include "gc_boehm.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

GC_word GC_gc_no;
GC_oom_func GC_oom_fn;
GC_finalizer_notifier_proc GC_finalizer_notifier;
int GC_dont_gc;
int GC_finalize_on_demand;
int GC_java_finalization = 1;

static int disabled;
static int saved_percent = 100;

/* GC_dont_gc as the program last set it, and what we did about it. */
static int dont_gc_seen;
static __attribute__((noinline)) void sync_dont_gc(void) {
  int v = __atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED);
  if ((v != 0) != (dont_gc_seen != 0)) {
    if (v)
      GC_disable();
    else
      GC_enable();
  }
  dont_gc_seen = v;
}

/* ---- after a collection: GC_gc_no, finalizers ------------------------------- */

/* The fast path's one test covers three rare events: GC_dont_gc changed, a
 * collection happened (gm_gc_epoch moved), an out-of-memory handler is set
 * (expect_epoch is then ~0, which never matches). Measured with callgrind
 * on a GC_MALLOC(16) loop: checking each after the allocation cost 14
 * instructions a call more than the v1 layer (20 against 6 in GC_malloc);
 * the one test before a tail call costs 3. A collection started by this
 * very allocation is noticed at the next one. */
static uint64_t epoch_seen, expect_epoch;
static __thread int in_finalizers;

static void set_expect(void) {
  uint64_t e = __atomic_load_n(&epoch_seen, __ATOMIC_RELAXED);
  bool slow = __atomic_load_n(&GC_oom_fn, __ATOMIC_ACQUIRE) ||
              __atomic_load_n(&gm_boehm_builtin_disclaim, __ATOMIC_ACQUIRE);
  __atomic_store_n(&expect_epoch, slow ? ~(uint64_t)0 : e, __ATOMIC_RELAXED);
}

GM_BOEHM_HIDDEN void gm_boehm_after_cycle(void) {
  uint64_t e = gm_gc_epoch;
  __atomic_store_n(&epoch_seen, e, __ATOMIC_RELAXED);
  __atomic_store_n(&GC_gc_no, (GC_word)e, __ATOMIC_RELAXED);
  set_expect(); /* also notices a GC_oom_fn assigned directly */
  static uint64_t toggled_at; /* once a cycle, not at each GC_get_gc_no */
  if (!in_finalizers && __atomic_exchange_n(&toggled_at, e, __ATOMIC_RELAXED) != e) {
    /* Boehm calls it as a collection starts; the pause here runs no
     * program code, so it is told once the cycle is over (Guile's
     * after-gc hook, which empties its weak tables, hangs off it). */
    GC_start_callback_proc start = GC_get_start_callback();
    if (start)
      start();
    gm_boehm_togglerefs();
  }
  if (!gm_gc_finalizers_pending())
    return;
  if (__atomic_load_n(&GC_finalize_on_demand, __ATOMIC_RELAXED)) {
    GC_finalizer_notifier_proc n = __atomic_load_n(&GC_finalizer_notifier, __ATOMIC_ACQUIRE);
    if (n)
      n();
  } else if (!in_finalizers) {
    GC_invoke_finalizers();
  }
}
GM_BOEHM_HIDDEN void gm_boehm_oom_fn_changed(void) { set_expect(); }

#define FAST_OK()                                                                                    __builtin_expect(((uint64_t)(unsigned)(__atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED) ^                                                 dont_gc_seen) |                                                               (gm_gc_epoch ^ __atomic_load_n(&expect_epoch, __ATOMIC_RELAXED))) == 0,                           1)

static void *alloc_kind(size_t n, unsigned kind) {
  switch (kind) {
  case 0:
    return gm_gc_malloc(n);
  case 1:
    return gm_gc_malloc_noscan(n);
  default:
    return gm_gc_malloc_uncollectable(n);
  }
}

static __attribute__((noinline)) void bookkeeping(void) {
  if (__atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED) != dont_gc_seen)
    sync_dont_gc();
  if (gm_gc_epoch != __atomic_load_n(&epoch_seen, __ATOMIC_RELAXED))
    gm_boehm_after_cycle();
}

static __attribute__((noinline)) void *alloc_slow(size_t n, unsigned kind) {
  bookkeeping();
  void *p = alloc_kind(n, kind);
  if (p && __atomic_load_n(&gm_boehm_builtin_disclaim, __ATOMIC_RELAXED))
    p = gm_boehm_disclaim_arm(p, kind);
  if (!p) {
    GC_oom_func oom = __atomic_load_n(&GC_oom_fn, __ATOMIC_ACQUIRE);
    if (oom)
      return oom(n);
  }
  return p;
}

/* ---- allocation ------------------------------------------------------------- */

void GC_init(void) { gm_gc_register_thread(); }

void *GC_malloc(size_t n) {
  if (!FAST_OK())
    return alloc_slow(n, 0);
  return gm_gc_malloc(n);
}
/* Boehm does not clear atomic objects either. */
void *GC_malloc_atomic(size_t n) {
  if (!FAST_OK())
    return alloc_slow(n, 1);
  return gm_gc_malloc_noscan(n);
}
void *GC_malloc_uncollectable(size_t n) {
  if (!FAST_OK())
    return alloc_slow(n, 2);
  return gm_gc_malloc_uncollectable(n);
}
/* Scanned all the same: harmless, and rare. */
void *GC_malloc_atomic_uncollectable(size_t n) { return GC_malloc_uncollectable(n); }
void *GC_malloc_ignore_off_page(size_t n) { return GC_malloc(n); }
void *GC_malloc_atomic_ignore_off_page(size_t n) { return GC_malloc_atomic(n); }
void *GC_malloc_stubborn(size_t n) { return GC_malloc(n); }
void *GC_realloc(void *p, size_t n) {
  if (!FAST_OK())
    bookkeeping();
  void *q = gm_gc_realloc(p, n);
  if (!q && n) {
    GC_oom_func oom = __atomic_load_n(&GC_oom_fn, __ATOMIC_ACQUIRE);
    if (oom)
      return oom(n);
  }
  return q;
}
void GC_free(void *p) {
  gm_boehm_forget_proc_object(p);
  gm_gc_free(p);
}

char *GC_strdup(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = GC_malloc_atomic(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

char *GC_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = GC_malloc_atomic(len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = 0;
  }
  return d;
}

/* Blocks of a power-of-two size class up to a page are aligned to their
 * size (spans start on page boundaries); a larger alignment gets a block
 * with room to spare and a pointer inside it, which keeps the block alive
 * as any interior pointer does (GC_free wants the block's start: GC_base). */
void *GC_memalign(size_t align, size_t n) {
  if (align <= 16)
    return GC_malloc(n);
  if (align & (align - 1)) {
    errno = EINVAL;
    return NULL;
  }
  size_t want = n < align ? align : n;
  if (want <= 8192) {
    size_t pow = 1;
    while (pow < want)
      pow <<= 1;
    void *p = GC_malloc(pow);
    if (!p || ((uintptr_t)p & (align - 1)) == 0)
      return p;
  }
  if (n > SIZE_MAX - align) {
    errno = ENOMEM;
    return NULL;
  }
  char *p = GC_malloc(n + align);
  if (!p)
    return NULL;
  return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

int GC_posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)))
    return EINVAL;
  void *p = GC_memalign(align, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

/* Boehm returns a list to take small objects from; here a list of a few
 * objects serves as well. */
void *GC_malloc_many(size_t n) {
  if (n < sizeof(void *))
    n = sizeof(void *);
  void *head = NULL;
  for (int i = 0; i < 16; i++) {
    void *p = GC_malloc(n);
    if (!p)
      break;
    GC_NEXT(p) = head;
    head = p;
  }
  return head;
}

void *GC_base(void *p) { return gm_gc_base(p); }
size_t GC_size(const void *p) {
  void *b = gm_gc_base(p);
  return b ? gm_gc_size(b) : 0;
}
int GC_is_heap_ptr(const void *p) { return gm_gc_base(p) != NULL; }

/* ---- collection ------------------------------------------------------------- */

void GC_gcollect(void) {
  if (__atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED) != dont_gc_seen)
    sync_dont_gc();
  if (!__atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED) && !GC_is_disabled()) {
    gm_boehm_togglerefs(); /* Boehm asks at the start of a collection */
    gm_gc_collect();
  }
  gm_boehm_after_cycle();
}
void GC_gcollect_and_unmap(void) { GC_gcollect(); }
int GC_try_to_collect(GC_stop_func stop) {
  (void)stop;
  GC_gcollect();
  return 1;
}
int GC_collect_a_little(void) {
  if (gm_gc_epoch != __atomic_load_n(&epoch_seen, __ATOMIC_RELAXED))
    gm_boehm_after_cycle();
  return 0;
}

/* GC_disable nests, as Boehm's does. */
void GC_disable(void) {
  if (__atomic_fetch_add(&disabled, 1, __ATOMIC_ACQ_REL) == 0)
    saved_percent = gm_gc_set_percent(-1);
}
void GC_enable(void) {
  if (__atomic_sub_fetch(&disabled, 1, __ATOMIC_ACQ_REL) == 0)
    gm_gc_set_percent(saved_percent);
}
int GC_is_disabled(void) { return __atomic_load_n(&disabled, __ATOMIC_ACQUIRE) != 0; }

GC_word GC_get_gc_no(void) {
  gm_boehm_after_cycle_check();
  return (GC_word)gm_gc_epoch;
}

/* ---- finalization and disappearing links ------------------------------------ */

static void reg(void *p, GC_finalization_proc f, void *d, GC_finalization_proc *ofn, void **ocd,
                int order) {
  gm_gc_finalizer_fn o = NULL;
  gm_gc_set_finalizer(p, (gm_gc_finalizer_fn)f, d, order, &o, ocd);
  if (ofn)
    *ofn = (GC_finalization_proc)o;
}
void GC_register_finalizer(void *p, GC_finalization_proc f, void *d, GC_finalization_proc *ofn,
                           void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_ORDERED);
}
void GC_register_finalizer_ignore_self(void *p, GC_finalization_proc f, void *d,
                                       GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_IGNORE_SELF);
}
void GC_register_finalizer_no_order(void *p, GC_finalization_proc f, void *d,
                                    GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_NO_ORDER);
}
void GC_register_finalizer_unreachable(void *p, GC_finalization_proc f, void *d,
                                       GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_UNREACHABLE);
}
/* Debug objects have no header here: the same calls. */
void GC_debug_register_finalizer(void *p, GC_finalization_proc f, void *d,
                                 GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_ORDERED);
}
void GC_debug_register_finalizer_ignore_self(void *p, GC_finalization_proc f, void *d,
                                             GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_IGNORE_SELF);
}
void GC_debug_register_finalizer_no_order(void *p, GC_finalization_proc f, void *d,
                                          GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_NO_ORDER);
}
void GC_debug_register_finalizer_unreachable(void *p, GC_finalization_proc f, void *d,
                                             GC_finalization_proc *ofn, void **ocd) {
  reg(p, f, d, ofn, ocd, GM_GC_FINAL_UNREACHABLE);
}

int GC_should_invoke_finalizers(void) { return gm_gc_finalizers_pending(); }
int GC_invoke_finalizers(void) {
  in_finalizers++;
  int n = gm_gc_run_finalizers();
  in_finalizers--;
  return n;
}
void GC_set_finalizer_notifier(GC_finalizer_notifier_proc p) {
  __atomic_store_n(&GC_finalizer_notifier, p, __ATOMIC_RELEASE);
}
GC_finalizer_notifier_proc GC_get_finalizer_notifier(void) {
  return __atomic_load_n(&GC_finalizer_notifier, __ATOMIC_ACQUIRE);
}

static int link_rc(int rc) {
  if (rc >= 0)
    return rc; /* GC_SUCCESS, GC_DUPLICATE */
  return errno == ENOMEM ? GC_NO_MEMORY : GC_UNIMPLEMENTED;
}
int GC_register_disappearing_link(void **link) {
  return GC_general_register_disappearing_link(link, GC_base(*link));
}
int GC_general_register_disappearing_link(void **link, const void *obj) {
  return link_rc(gm_gc_register_link(link, obj, 0));
}
int GC_register_long_link(void **link, const void *obj) {
  return link_rc(gm_gc_register_link(link, obj, 1));
}
int GC_unregister_disappearing_link(void **link) { return gm_gc_unregister_link(link, 0); }
int GC_unregister_long_link(void **link) { return gm_gc_unregister_link(link, 1); }
static int move_rc(int rc) { return rc < 0 ? GC_NOT_FOUND : rc ? GC_DUPLICATE : GC_SUCCESS; }
int GC_move_disappearing_link(void **link, void **new_link) {
  return move_rc(gm_gc_move_link(link, new_link, 0));
}
int GC_move_long_link(void **link, void **new_link) {
  return move_rc(gm_gc_move_link(link, new_link, 1));
}

/* ---- threads ---------------------------------------------------------------- */

/* Registration is automatic; these exist for programs written for Boehm. */
static __thread int registered;
void GC_allow_register_threads(void) { gm_gc_register_thread(); }
int GC_register_my_thread(const struct GC_stack_base *sb) {
  (void)sb;
  if (registered)
    return GC_DUPLICATE;
  gm_gc_register_thread();
  registered = 1;
  return GC_SUCCESS;
}
int GC_unregister_my_thread(void) {
  gm_gc_unregister_thread();
  registered = 0;
  return GC_SUCCESS;
}
int GC_thread_is_registered(void) { return registered; }
void GC_use_threads_discovery(void) {}
void GC_register_altstack(void *a, GC_word b, void *c, GC_word d) { (void)a, (void)b, (void)c, (void)d; }

int GC_get_stack_base(struct GC_stack_base *sb) {
  pthread_attr_t a;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a) != 0)
    return GC_UNIMPLEMENTED;
  pthread_attr_getstack(&a, &addr, &size);
  pthread_attr_destroy(&a);
  sb->mem_base = (char *)addr + size;
  return GC_SUCCESS;
}

void *GC_call_with_stack_base(GC_stack_base_func fn, void *arg) {
  struct GC_stack_base sb;
  sb.mem_base = __builtin_frame_address(0);
  return fn(&sb, arg);
}
void *GC_get_my_stackbottom(struct GC_stack_base *sb) {
  GC_get_stack_base(sb);
  return NULL;
}
void GC_set_stackbottom(void *t, const struct GC_stack_base *sb) { (void)t, (void)sb; }
/* The stop signal reaches a thread anywhere, blocked in a call or not. */
void *GC_do_blocking(GC_fn_type fn, void *cd) { return fn(cd); }
void *GC_call_with_gc_active(GC_fn_type fn, void *cd) { return fn(cd); }

/* GC_THREADS: the new thread registers before it runs the start routine.
 * Its argument travels in an uncollectable block until then, so that a
 * collected object passed as the argument is never held only by a thread
 * the collector does not know yet. */
struct start {
  void *(*fn)(void *);
  void *arg;
};

static void *trampoline(void *p) {
  gm_gc_register_thread();
  registered = 1;
  struct start s = *(struct start *)p;
  gm_gc_free(p);
  return s.fn(s.arg);
}

int GC_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  struct start *s = gm_gc_malloc_uncollectable(sizeof *s);
  if (!s)
    return EAGAIN;
  s->fn = fn;
  s->arg = arg;
  int rc = pthread_create(t, attr, trampoline, s);
  if (rc)
    gm_gc_free(s);
  return rc;
}

int GC_pthread_join(pthread_t t, void **ret) { return pthread_join(t, ret); }
int GC_pthread_detach(pthread_t t) { return pthread_detach(t); }
int GC_pthread_cancel(pthread_t t) { return pthread_cancel(t); }
void GC_pthread_exit(void *ret) { pthread_exit(ret); }
void *GC_dlopen(const char *path, int mode) { return dlopen(path, mode); }
