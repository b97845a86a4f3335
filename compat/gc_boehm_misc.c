/* gc_boehm_misc.c: the rest of libgomalloc-gc (gc_boehm.c has allocation,
 * collection, finalization and threads): Boehm's tuning variables and
 * their setters, statistics, roots, the debug allocation calls, and the
 * calls of gc_typed.h, gc_mark.h and gc_backptr.h. Settings gomalloc has
 * no use for are kept, so that a getter returns what was set. */
#define _GNU_SOURCE
#define GC_BUILD
#define GC_THREADS
#include "gc_boehm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

GC_word GC_free_space_divisor = 3;
int GC_full_freq = 19;
int GC_dont_expand;
int GC_use_entire_heap;
int GC_all_interior_pointers = 1;
int GC_dont_precollect;
int GC_no_dls;
int GC_find_leak;
int GC_quiet;
int GC_parallel;
GC_word GC_max_retries;
GC_word GC_non_gc_bytes;
unsigned long GC_time_limit = GC_TIME_UNLIMITED;
char *GC_stackbottom;

static int pages_executable, force_unmap;
static GC_stop_func stop_func;
static GC_start_callback_proc start_callback;
static GC_abort_func abort_func;

unsigned GC_get_version(void) { return GC_VERSION_VAL_T; }
/* The collected heap starts on first use: always initialised. */
int GC_is_init_called(void) { return 1; }
void GC_deinit(void) {}

/* ---- pointer checks and write barriers: nothing to check or record ------ */
void GC_change_stubborn(const void *p) { (void)p; }
void GC_end_stubborn_change(const void *p) { (void)p; }
void GC_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }
void *GC_same_obj(void *p, void *q) {
  (void)q;
  return p;
}
void *GC_pre_incr(void **p, ptrdiff_t n) { return *p = (char *)*p + n; }
void *GC_post_incr(void **p, ptrdiff_t n) {
  void *old = *p;
  *p = (char *)old + n;
  return old;
}
void *GC_is_visible(void *p) { return p; }
void *GC_is_valid_displacement(void *p) { return p; }
void GC_noop1(GC_word w) { __asm__ volatile("" : : "r"(w) : "memory"); }

/* ---- debug allocation: no header, the plain calls ------------------------ */
#ifdef GC_ADD_CALLER
#define UNUSED_EXTRAS (void)ra, (void)s, (void)i
#else
#define UNUSED_EXTRAS (void)s, (void)i
#endif
void *GC_debug_malloc(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc(n);
}
void *GC_debug_malloc_atomic(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc_atomic(n);
}
void *GC_debug_malloc_uncollectable(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc_uncollectable(n);
}
void *GC_debug_malloc_atomic_uncollectable(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc_atomic_uncollectable(n);
}
void *GC_debug_malloc_ignore_off_page(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc(n);
}
void *GC_debug_malloc_atomic_ignore_off_page(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc_atomic(n);
}
void *GC_debug_malloc_stubborn(size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_malloc(n);
}
char *GC_debug_strdup(const char *p, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_strdup(p);
}
char *GC_debug_strndup(const char *p, size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_strndup(p, n);
}
void GC_debug_free(void *p) { GC_free(p); }
void *GC_debug_realloc(void *p, size_t n, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_realloc(p, n);
}
void GC_debug_change_stubborn(const void *p) { (void)p; }
void GC_debug_end_stubborn_change(const void *p) { (void)p; }
void GC_debug_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }
void *GC_debug_malloc_replacement(size_t n) { return GC_malloc(n); }
void *GC_debug_realloc_replacement(void *p, size_t n) { return GC_realloc(p, n); }
void GC_debug_register_displacement(size_t n) { (void)n; }

/* ---- settings ---------------------------------------------------------------- */
void GC_set_stop_func(GC_stop_func f) { stop_func = f; }
GC_stop_func GC_get_stop_func(void) { return stop_func; }
void GC_enable_incremental(void) {}
int GC_is_incremental_mode(void) { return 0; }
int GC_incremental_protection_needs(void) { return GC_PROTECTS_NONE; }
void GC_start_incremental_collection(void) {}
int GC_expand_hp(size_t n) {
  (void)n;
  return 1;
}
void GC_set_max_heap_size(GC_word n) { (void)n; }
void GC_set_all_interior_pointers(int on) { (void)on; }
int GC_get_all_interior_pointers(void) { return 1; }
void GC_register_displacement(size_t n) { (void)n; }
int GC_get_parallel(void) { return 0; }
void GC_set_markers_count(unsigned n) { (void)n; }
void GC_start_mark_threads(void) {}

void GC_set_free_space_divisor(GC_word d) { GC_free_space_divisor = d ? d : 1; }
GC_word GC_get_free_space_divisor(void) { return GC_free_space_divisor; }
void GC_set_dont_expand(int v) { GC_dont_expand = v; }
int GC_get_dont_expand(void) { return GC_dont_expand; }
void GC_set_full_freq(int v) { GC_full_freq = v; }
int GC_get_full_freq(void) { return GC_full_freq; }
void GC_set_time_limit(unsigned long v) { GC_time_limit = v; }
unsigned long GC_get_time_limit(void) { return GC_time_limit; }
void GC_set_java_finalization(int v) { GC_java_finalization = v; }
int GC_get_java_finalization(void) { return GC_java_finalization; }
void GC_set_finalize_on_demand(int v) { __atomic_store_n(&GC_finalize_on_demand, v, __ATOMIC_RELAXED); }
int GC_get_finalize_on_demand(void) { return GC_finalize_on_demand; }
void GC_set_max_retries(GC_word v) { GC_max_retries = v; }
GC_word GC_get_max_retries(void) { return GC_max_retries; }
void GC_set_dont_precollect(int v) { GC_dont_precollect = v; }
int GC_get_dont_precollect(void) { return GC_dont_precollect; }
void GC_set_no_dls(int v) { GC_no_dls = v; }
int GC_get_no_dls(void) { return GC_no_dls; }
void GC_set_find_leak(int v) { GC_find_leak = v; }
int GC_get_find_leak(void) { return GC_find_leak; }
void GC_set_pages_executable(int v) { pages_executable = v; }
int GC_get_pages_executable(void) { return pages_executable; }
void GC_set_force_unmap_on_gcollect(int v) { force_unmap = v; }
int GC_get_force_unmap_on_gcollect(void) { return force_unmap; }
/* gomalloc's own fork handlers keep the collected heap consistent. */
void GC_set_handle_fork(int v) { (void)v; }
void GC_atfork_prepare(void) {}
void GC_atfork_parent(void) {}
void GC_atfork_child(void) {}
void GC_set_oom_fn(GC_oom_func f) {
  __atomic_store_n(&GC_oom_fn, f, __ATOMIC_RELEASE);
  gm_boehm_oom_fn_changed();
}
GC_oom_func GC_get_oom_fn(void) { return __atomic_load_n(&GC_oom_fn, __ATOMIC_ACQUIRE); }
/* Nothing here warns; the proc is kept for the getter. */
static GC_warn_proc warn_proc = GC_ignore_warn_proc;
void GC_ignore_warn_proc(char *msg, GC_word arg) { (void)msg, (void)arg; }
void GC_set_warn_proc(GC_warn_proc p) { warn_proc = p; }
GC_warn_proc GC_get_warn_proc(void) { return warn_proc; }
void GC_set_abort_func(GC_abort_func f) { abort_func = f; }
GC_abort_func GC_get_abort_func(void) { return abort_func; }
void GC_set_start_callback(GC_start_callback_proc f) {
  __atomic_store_n(&start_callback, f, __ATOMIC_RELEASE);
}
GC_start_callback_proc GC_get_start_callback(void) {
  return __atomic_load_n(&start_callback, __ATOMIC_ACQUIRE);
}

/* ---- statistics ---------------------------------------------------------------- */
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
size_t GC_get_unmapped_bytes(void) { return 0; }
size_t GC_get_bytes_since_gc(void) {
  struct gm_gc_stats st = stats();
  return st.heap_live > st.live_after_mark ? (size_t)(st.heap_live - st.live_after_mark) : 0;
}
size_t GC_get_expl_freed_bytes_since_gc(void) { return 0; }
size_t GC_get_total_bytes(void) { return (size_t)stats().total_alloc_bytes; }
size_t GC_get_obtained_from_os_bytes(void) { return GC_get_heap_size(); }
size_t GC_get_memory_use(void) {
  struct gm_gc_stats st = stats();
  return (size_t)(st.heap_live < st.heap_bytes ? st.heap_live : st.heap_bytes);
}
void GC_get_heap_usage_safe(GC_word *heap, GC_word *free_bytes, GC_word *unmapped,
                            GC_word *since_gc, GC_word *total) {
  struct gm_gc_stats st = stats();
  if (heap)
    *heap = st.heap_bytes;
  if (free_bytes)
    *free_bytes = st.heap_bytes > st.heap_live ? st.heap_bytes - st.heap_live : 0;
  if (unmapped)
    *unmapped = 0;
  if (since_gc)
    *since_gc = st.heap_live > st.live_after_mark ? st.heap_live - st.live_after_mark : 0;
  if (total)
    *total = st.total_alloc_bytes;
}
size_t GC_get_prof_stats(struct GC_prof_stats_s *out, size_t size) {
  struct GC_prof_stats_s ps;
  struct gm_gc_stats st = stats();
  memset(&ps, 0xff, sizeof ps); /* Boehm's "unknown" */
  ps.heapsize_full = st.heap_bytes;
  ps.free_bytes_full = st.heap_bytes > st.heap_live ? st.heap_bytes - st.heap_live : 0;
  ps.unmapped_bytes = 0;
  ps.bytes_allocd_since_gc = st.heap_live > st.live_after_mark ? st.heap_live - st.live_after_mark : 0;
  ps.non_gc_bytes = GC_non_gc_bytes;
  ps.gc_no = st.collections;
  ps.markers_m1 = 0;
  ps.expl_freed_bytes_since_gc = 0;
  ps.obtained_from_os_bytes = st.heap_bytes;
  if (size > sizeof ps)
    size = sizeof ps;
  memcpy(out, &ps, size);
  return size;
}
size_t GC_get_prof_stats_unsafe(struct GC_prof_stats_s *out, size_t size) {
  return GC_get_prof_stats(out, size);
}
void GC_start_performance_measurement(void) {}
unsigned long GC_get_full_gc_total_time(void) {
  return (unsigned long)(stats().total_pause_ns / 1000000);
}
void GC_dump_named(const char *name) {
  struct gm_gc_stats st = stats();
  printf("***gomalloc collected heap%s%s: %llu collections, %llu heap bytes, %llu live after "
         "the last mark, %llu threads\n",
         name ? " " : "", name ? name : "", (unsigned long long)st.collections,
         (unsigned long long)st.heap_bytes, (unsigned long long)st.live_after_mark,
         (unsigned long long)st.threads);
}
void GC_dump(void) { GC_dump_named(NULL); }
void GC_dump_finalization(void) {
  printf("***finalizers queued: %s\n", gm_gc_finalizers_pending() ? "yes" : "none");
}

/* ---- roots ----------------------------------------------------------------- */
void GC_add_roots(void *lo, void *hi) { gm_gc_add_roots(lo, hi); }
void GC_remove_roots(void *lo, void *hi) { gm_gc_remove_roots(lo, hi); }
void GC_clear_roots(void) { gm_gc_remove_roots(NULL, (void *)UINTPTR_MAX); }
void GC_exclude_static_roots(void *lo, void *hi) { gm_gc_exclude_roots(lo, hi); }
void GC_register_has_static_roots_callback(GC_has_static_roots_func f) { (void)f; }

/* ---- GC_call_with_alloc_lock: a lock of this layer's own --------------------- */
static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;
void GC_alloc_lock(void) { pthread_mutex_lock(&alloc_lock); }
void GC_alloc_unlock(void) { pthread_mutex_unlock(&alloc_lock); }
void *GC_call_with_alloc_lock(GC_fn_type fn, void *cd) {
  GC_alloc_lock();
  void *r = fn(cd);
  GC_alloc_unlock();
  return r;
}

/* ---- gc_typed.h: a descriptor records whether any word is a pointer ------ */
GC_descr GC_make_descriptor(const GC_word *bm, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (GC_get_bit(bm, i))
      return 1;
  return 0;
}
void *GC_malloc_explicitly_typed(size_t n, GC_descr d) {
  void *p = d ? GC_malloc(n) : GC_malloc_atomic(n);
  if (p && !d)
    memset(p, 0, n); /* Boehm clears typed objects */
  return p;
}
void *GC_malloc_explicitly_typed_ignore_off_page(size_t n, GC_descr d) {
  return GC_malloc_explicitly_typed(n, d);
}
void *GC_calloc_explicitly_typed(size_t n, size_t size, GC_descr d) {
  if (size && n > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return GC_malloc_explicitly_typed(n * size, d);
}

/* ---- gc_mark.h: allocation by kind ---------------------------------------- */
/* GC_generic_malloc: gc_boehm_ext.c (custom kinds). */
void *GC_generic_malloc_ignore_off_page(size_t n, int k) { return GC_generic_malloc(n, k); }
void *GC_generic_malloc_uncollectable(size_t n, int k) {
  (void)k;
  return GC_malloc_uncollectable(n);
}
void *GC_generic_or_special_malloc(size_t n, int k) { return GC_generic_malloc(n, k); }
void *GC_debug_generic_or_special_malloc(size_t n, int k, GC_EXTRA_PARAMS) {
  UNUSED_EXTRAS;
  return GC_generic_malloc(n, k);
}
/* Kind from what the block is: scanned or not, collected or not. Without
 * a cheap query for the kind, a block's kind is not known here: NORMAL. */
int GC_get_kind_and_size(const void *p, size_t *psize) {
  if (psize)
    *psize = GC_size(p);
  return GC_I_NORMAL;
}
size_t GC_get_debug_header_size(void) { return 0; }
void *GC_clear_stack(void *p) { return p; }

/* ---- gc_backptr.h ------------------------------------------------------------ */
GC_ref_kind GC_get_back_ptr_info(void *dest, void **base, size_t *offset) {
  (void)dest;
  if (base)
    *base = NULL;
  if (offset)
    *offset = 0;
  return GC_NO_SPACE;
}
void *GC_generate_random_heap_address(void) { return NULL; }
void *GC_generate_random_valid_address(void) { return NULL; }
void GC_generate_random_backtrace(void) {}
void GC_print_backtrace(void *p) { (void)p; }

/* ---- Boehm's private output calls (GC_API_PRIV): its test programs declare
 * and call them; exported, not declared in gc.h, as in Boehm. ------------ */
#include <stdarg.h>
GC_API void GC_printf(const char *fmt, ...);
GC_API void GC_err_printf(const char *fmt, ...);
GC_API void GC_log_printf(const char *fmt, ...);
void GC_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}
void GC_err_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}
void GC_log_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}
