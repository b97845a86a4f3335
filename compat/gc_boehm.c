/* gc_boehm.c: libgomalloc-gc, Boehm GC's calls (include/gomalloc-gc/gc.h)
 * on gomalloc's collected heap. A library of its own, so that libgomalloc
 * never exports GC_* names: preloaded into a program that uses Boehm GC,
 * it must serve malloc, not take over the program's collector. */
#define _GNU_SOURCE
#define GC_BUILD
#define GC_THREADS
#include "gc.h"

#include <string.h>

static int disabled;
static int saved_percent = 100;

GC_word GC_free_space_divisor = 3;
int GC_full_freq = 19;
int GC_dont_gc;
int GC_dont_expand;
int GC_use_entire_heap;
int GC_all_interior_pointers = 1;
int GC_java_finalization = 1;
int GC_finalize_on_demand;
int GC_dont_precollect;
int GC_no_dls;
GC_word GC_max_retries;
GC_word GC_non_gc_bytes;
unsigned long GC_time_limit = GC_TIME_UNLIMITED;
char *GC_stackbottom;

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
#define CHECK_DONT_GC()                                                                            \
  do {                                                                                             \
    if (__builtin_expect(__atomic_load_n(&GC_dont_gc, __ATOMIC_RELAXED) != dont_gc_seen, 0))       \
      sync_dont_gc();                                                                              \
  } while (0)

void GC_init(void) { gm_gc_register_thread(); }

void *GC_malloc(size_t n) {
  CHECK_DONT_GC();
  return gm_gc_malloc(n);
}
void *GC_malloc_atomic(size_t n) {
  CHECK_DONT_GC();
  return gm_gc_malloc_noscan(n);
}
void *GC_malloc_uncollectable(size_t n) { return gm_gc_malloc_uncollectable(n); }
/* Scanned all the same: harmless, and rare. */
void *GC_malloc_atomic_uncollectable(size_t n) { return GC_malloc_uncollectable(n); }
void *GC_malloc_ignore_off_page(size_t n) { return GC_malloc(n); }
void *GC_malloc_atomic_ignore_off_page(size_t n) { return GC_malloc_atomic(n); }
void *GC_realloc(void *p, size_t n) { return gm_gc_realloc(p, n); }
void GC_free(void *p) { gm_gc_free(p); }

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

void *GC_base(void *p) { return gm_gc_base(p); }
size_t GC_size(const void *p) { return gm_gc_base(p) ? gm_gc_size(gm_gc_base(p)) : 0; }
int GC_is_heap_ptr(const void *p) { return gm_gc_base(p) != NULL; }

void GC_gcollect(void) {
  CHECK_DONT_GC();
  if (!GC_dont_gc)
    gm_gc_collect();
}
void GC_gcollect_and_unmap(void) { gm_gc_collect(); }
int GC_try_to_collect(int (*stop)(void)) {
  (void)stop;
  gm_gc_collect();
  return 1;
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

void GC_enable_incremental(void) {}
int GC_is_incremental_mode(void) { return 0; }
void GC_set_free_space_divisor(GC_word d) { GC_free_space_divisor = d ? d : 1; }
GC_word GC_get_free_space_divisor(void) { return GC_free_space_divisor; }
void GC_set_dont_expand(int v) { GC_dont_expand = v; }
void GC_set_full_freq(int v) { GC_full_freq = v; }
void GC_set_time_limit(unsigned long v) { GC_time_limit = v; }
void GC_set_java_finalization(int v) { GC_java_finalization = v; }
void GC_set_finalize_on_demand(int v) { GC_finalize_on_demand = v; }
void GC_set_max_retries(GC_word v) { GC_max_retries = v; }
void GC_set_dont_precollect(int v) { GC_dont_precollect = v; }
void GC_set_no_dls(int v) { GC_no_dls = v; }

static void no_finalizer(GC_finalization_proc *ofn, void **ocd) {
  if (ofn)
    *ofn = 0;
  if (ocd)
    *ocd = 0;
}
void GC_register_finalizer(void *p, GC_finalization_proc f, void *d, GC_finalization_proc *ofn,
                           void **ocd) {
  (void)p, (void)f, (void)d;
  no_finalizer(ofn, ocd);
}
void GC_register_finalizer_ignore_self(void *p, GC_finalization_proc f, void *d,
                                       GC_finalization_proc *ofn, void **ocd) {
  (void)p, (void)f, (void)d;
  no_finalizer(ofn, ocd);
}
void GC_register_finalizer_no_order(void *p, GC_finalization_proc f, void *d,
                                    GC_finalization_proc *ofn, void **ocd) {
  (void)p, (void)f, (void)d;
  no_finalizer(ofn, ocd);
}
int GC_should_invoke_finalizers(void) { return 0; }
int GC_invoke_finalizers(void) { return 0; }
int GC_expand_hp(size_t n) {
  (void)n;
  return 1;
}
void GC_set_max_heap_size(GC_word n) { (void)n; }
void GC_set_all_interior_pointers(int on) { (void)on; }
int GC_get_all_interior_pointers(void) { return 1; }
int GC_get_parallel(void) { return 0; }

static struct gm_gc_stats stats(void) {
  struct gm_gc_stats st;
  memset(&st, 0, sizeof st);
  gm_gc_stats(&st, sizeof st);
  return st;
}
size_t GC_get_heap_size(void) { return (size_t)stats().heap_bytes; }
size_t GC_get_free_bytes(void) {
  struct gm_gc_stats st = stats();
  return st.heap_bytes > st.heap_live ? (size_t)(st.heap_bytes - st.heap_live) : 0;
}
size_t GC_get_bytes_since_gc(void) {
  struct gm_gc_stats st = stats();
  return st.heap_live > st.live_after_mark ? (size_t)(st.heap_live - st.live_after_mark) : 0;
}
size_t GC_get_total_bytes(void) { return (size_t)stats().total_alloc_bytes; }
GC_word GC_get_gc_no(void) { return (GC_word)stats().collections; }

void GC_add_roots(void *lo, void *hi) { gm_gc_add_roots(lo, hi); }
void GC_remove_roots(void *lo, void *hi) { gm_gc_remove_roots(lo, hi); }

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
    return 11; /* EAGAIN */
  s->fn = fn;
  s->arg = arg;
  int rc = pthread_create(t, attr, trampoline, s);
  if (rc)
    gm_gc_free(s);
  return rc;
}

int GC_pthread_join(pthread_t t, void **ret) { return pthread_join(t, ret); }
int GC_pthread_detach(pthread_t t) { return pthread_detach(t); }
void GC_pthread_exit(void *ret) { pthread_exit(ret); }
