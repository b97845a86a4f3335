/* gc.h: gomalloc's Boehm-Demers-Weiser compatible interface to its
 * collected heap (gomalloc-gc.h). A program written for Boehm GC builds
 * unchanged with
 *   cc $(pkg-config --cflags gomalloc-gc) prog.c $(pkg-config --libs gomalloc-gc)
 * and <gc.h>, <gc/gc.h>, gc_typed.h, gc_mark.h (its allocation calls),
 * gc_backptr.h, leak_detector.h, gc_allocator.h and gc_cpp.h are found the
 * same way. Names, types and macros are Boehm 8.2's, so that object code
 * built against Boehm's own header links too. README ("The collected heap")
 * lists what is covered and what is not: a call not declared here fails to
 * build rather than misbehave.
 *
 * Differences a Boehm user may notice: no byte is added to each object (a
 * pointer one past an object's end does not keep it alive); GC_DEBUG
 * objects carry no header (GC_debug_* are the plain calls); incremental
 * mode, the free space divisor, the heap limit, the time limit and
 * displacements are accepted and do nothing (GOMALLOC_GC_PERCENT sets the
 * pace; every interior pointer counts anyway); any thread that calls a GC_* allocation
 * function registers itself, GC_THREADS or not; GC_find_leak (leak
 * detection) is accepted and reports nothing: objects are collected. */
#ifndef GOMALLOC_BOEHM_GC_H
#define GOMALLOC_BOEHM_GC_H

#include <stddef.h>

#include <gomalloc-gc.h>

#define GC_H /* what some programs test for */
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2
#define GC_VERSION_VAL_T ((GC_VERSION_MAJOR << 16) | (GC_VERSION_MINOR << 8) | GC_VERSION_MICRO)
#define GOMALLOC_GC_COMPAT 1

#if defined(GC_PTHREADS) || defined(GC_LINUX_THREADS) || defined(_REENTRANT) && 0
#ifndef GC_THREADS
#define GC_THREADS
#endif
#endif
#if defined(GC_THREADS) && !defined(GC_PTHREADS)
#define GC_PTHREADS
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GC_API
#define GC_API extern __attribute__((visibility("default")))
#endif
#ifndef GC_CALL
#define GC_CALL
#endif
#ifndef GC_CALLBACK
#define GC_CALLBACK
#endif
#ifndef GC_ATTR_MALLOC
#define GC_ATTR_MALLOC __attribute__((__malloc__))
#endif
#ifndef GC_ATTR_ALLOC_SIZE
#define GC_ATTR_ALLOC_SIZE(n) __attribute__((__alloc_size__(n)))
#endif
#ifndef GC_ATTR_NONNULL
#define GC_ATTR_NONNULL(n) __attribute__((__nonnull__(n)))
#endif
#ifndef GC_ATTR_DEPRECATED
#define GC_ATTR_DEPRECATED /* Boehm marks its variables; we do not warn */
#endif
#ifndef GC_ATTR_CONST
#define GC_ATTR_CONST __attribute__((__const__))
#endif
#define GC_RETURN_ADDR (GC_word) __builtin_return_address(0)
#define GC_RETURN_ADDR_PARENT (GC_word) __builtin_extract_return_addr(__builtin_return_address(1))

typedef unsigned long GC_word;
typedef long GC_signed_word;
typedef uintptr_t GC_uintptr_t; /* Boehm 8.4's, which newer clients use */
typedef void *GC_PTR; /* old name */

#define GC_SUCCESS 0
#define GC_DUPLICATE 1
#define GC_NO_THREADS 2
#define GC_NO_MEMORY 2
#define GC_UNIMPLEMENTED 3
#define GC_NOT_FOUND 4

GC_API unsigned GC_CALL GC_get_version(void);

/* ---- Boehm's variables: real, so that code built against Boehm's header
 * links. GC_gc_no counts collections (refreshed at each GC_* allocation
 * and collection call); GC_dont_gc stops collections while non-zero
 * (checked at each allocation); GC_finalize_on_demand and
 * GC_finalizer_notifier work as Boehm's; GC_oom_fn is called when an
 * allocation fails. The others are accepted without effect. */
typedef void *(GC_CALLBACK *GC_oom_func)(size_t);
typedef void(GC_CALLBACK *GC_finalizer_notifier_proc)(void);
GC_API GC_word GC_gc_no;
GC_API GC_oom_func GC_oom_fn;
GC_API GC_finalizer_notifier_proc GC_finalizer_notifier;
GC_API GC_word GC_free_space_divisor;
GC_API int GC_full_freq;
GC_API int GC_dont_gc;
GC_API int GC_dont_expand;
GC_API int GC_use_entire_heap;
GC_API int GC_all_interior_pointers;
GC_API int GC_java_finalization;
GC_API int GC_finalize_on_demand;
GC_API int GC_dont_precollect;
GC_API int GC_no_dls;
GC_API int GC_find_leak;
GC_API int GC_quiet;
GC_API int GC_parallel;
GC_API GC_word GC_max_retries;
GC_API GC_word GC_non_gc_bytes;
GC_API unsigned long GC_time_limit;
GC_API char *GC_stackbottom;
#define GC_TIME_UNLIMITED 999999

/* ---- initialisation ------------------------------------------------------- */
GC_API void GC_CALL GC_init(void);
GC_API int GC_CALL GC_is_init_called(void);
GC_API void GC_CALL GC_deinit(void);
#define GC_INIT() GC_init()
#define GC_INIT_CONF_ROOTS /* nothing: data segments are found at each cycle */

/* ---- allocation ----------------------------------------------------------- */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_atomic(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_uncollectable(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_atomic_uncollectable(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_ignore_off_page(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_malloc_atomic_ignore_off_page(size_t);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_malloc_stubborn(size_t);
GC_API GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_realloc(void *, size_t);
GC_API void GC_CALL GC_free(void *);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_strdup(const char *);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_strndup(const char *, size_t) GC_ATTR_NONNULL(1);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_memalign(size_t, size_t);
GC_API int GC_CALL GC_posix_memalign(void **, size_t, size_t) GC_ATTR_NONNULL(1);
/* A list of objects of size lb linked through their first word. */
GC_API GC_ATTR_MALLOC void *GC_CALL GC_malloc_many(size_t);
#define GC_NEXT(p) (*(void **)(p))
GC_API void GC_CALL GC_change_stubborn(const void *);
GC_API void GC_CALL GC_end_stubborn_change(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_ptr_store_and_dirty(void *, const void *);

GC_API void *GC_CALL GC_base(void *);
GC_API int GC_CALL GC_is_heap_ptr(const void *);
GC_API size_t GC_CALL GC_size(const void *) GC_ATTR_NONNULL(1);
/* Pointer checks (Boehm's debugging aids): they return their argument. */
GC_API void *GC_CALL GC_same_obj(void *, void *);
GC_API void *GC_CALL GC_pre_incr(void **, ptrdiff_t) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_post_incr(void **, ptrdiff_t) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_is_visible(void *);
GC_API void *GC_CALL GC_is_valid_displacement(void *);
GC_API void GC_CALL GC_noop1(GC_word);
#define GC_reachable_here(ptr) GC_noop1((GC_word)(ptr))
#define GC_PTR_ADD3(x, n, type_of_result) ((type_of_result)GC_same_obj((x) + (n), (x)))
#define GC_PRE_INCR3(x, n, type_of_result)                                                         \
  ((type_of_result)GC_pre_incr((void **)(&(x)), (n) * sizeof(*x)))
#define GC_POST_INCR3(x, n, type_of_result)                                                        \
  ((type_of_result)GC_post_incr((void **)(&(x)), (n) * sizeof(*x)))
#define GC_PTR_ADD(x, n) ((x) + (n))
#define GC_PRE_INCR(x, n) ((x) += (n))
#define GC_POST_INCR(x) ((x)++)
#define GC_POST_DECR(x) ((x)--)
#define GC_PTR_STORE(p, q) (*(p) = (q))
#define GC_PTR_STORE_AND_DIRTY(p, q) GC_ptr_store_and_dirty(p, q)

/* Debugging allocation (GC_DEBUG): file and line are accepted and not
 * kept; the objects are plain ones. */
#ifdef GC_ADD_CALLER
#define GC_EXTRAS GC_RETURN_ADDR, __FILE__, __LINE__
#define GC_EXTRA_PARAMS GC_word ra, const char *s, int i
#else
#define GC_EXTRAS __FILE__, __LINE__
#define GC_EXTRA_PARAMS const char *s, int i
#endif
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_malloc(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_malloc_atomic(size_t,
                                                                              GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_uncollectable(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_atomic_uncollectable(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_ignore_off_page(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_malloc_atomic_ignore_off_page(size_t, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_malloc_stubborn(size_t,
                                                                                GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_debug_strdup(const char *, GC_EXTRA_PARAMS);
GC_API GC_ATTR_MALLOC char *GC_CALL GC_debug_strndup(const char *, size_t, GC_EXTRA_PARAMS)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_free(void *);
GC_API GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_debug_realloc(void *, size_t, GC_EXTRA_PARAMS);
GC_API void GC_CALL GC_debug_change_stubborn(const void *);
GC_API void GC_CALL GC_debug_end_stubborn_change(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_ptr_store_and_dirty(void *, const void *);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_debug_malloc_replacement(size_t);
GC_API GC_ATTR_ALLOC_SIZE(2) void *GC_CALL GC_debug_realloc_replacement(void *, size_t);

/* ---- collection ----------------------------------------------------------- */
typedef int(GC_CALLBACK *GC_stop_func)(void);
GC_API void GC_CALL GC_gcollect(void);
GC_API void GC_CALL GC_gcollect_and_unmap(void);
/* A full collection; the stop function is not consulted (a cycle is one
 * pause). Returns 1. */
GC_API int GC_CALL GC_try_to_collect(GC_stop_func);
GC_API void GC_CALL GC_set_stop_func(GC_stop_func) GC_ATTR_NONNULL(1);
GC_API GC_stop_func GC_CALL GC_get_stop_func(void);
/* Returns 0: no incremental work is ever pending. */
GC_API int GC_CALL GC_collect_a_little(void);
GC_API void GC_CALL GC_disable(void);
GC_API void GC_CALL GC_enable(void);
GC_API int GC_CALL GC_is_disabled(void);
GC_API void GC_CALL GC_enable_incremental(void);
GC_API int GC_CALL GC_is_incremental_mode(void);
#define GC_PROTECTS_NONE 0
GC_API int GC_CALL GC_incremental_protection_needs(void);
GC_API void GC_CALL GC_start_incremental_collection(void);
GC_API int GC_CALL GC_expand_hp(size_t);
GC_API void GC_CALL GC_set_max_heap_size(GC_word);
GC_API void GC_CALL GC_set_all_interior_pointers(int);
GC_API int GC_CALL GC_get_all_interior_pointers(void);
/* Every interior pointer keeps its object alive here, whatever the
 * displacement: nothing to register. */
GC_API void GC_CALL GC_register_displacement(size_t);
GC_API void GC_CALL GC_debug_register_displacement(size_t);
GC_API int GC_CALL GC_get_parallel(void);
GC_API void GC_CALL GC_set_markers_count(unsigned);
GC_API void GC_CALL GC_start_mark_threads(void);

GC_API void GC_CALL GC_set_free_space_divisor(GC_word);
GC_API GC_word GC_CALL GC_get_free_space_divisor(void);
GC_API void GC_CALL GC_set_dont_expand(int);
GC_API int GC_CALL GC_get_dont_expand(void);
GC_API void GC_CALL GC_set_full_freq(int);
GC_API int GC_CALL GC_get_full_freq(void);
GC_API void GC_CALL GC_set_time_limit(unsigned long);
GC_API unsigned long GC_CALL GC_get_time_limit(void);
GC_API void GC_CALL GC_set_java_finalization(int);
GC_API int GC_CALL GC_get_java_finalization(void);
GC_API void GC_CALL GC_set_finalize_on_demand(int);
GC_API int GC_CALL GC_get_finalize_on_demand(void);
GC_API void GC_CALL GC_set_max_retries(GC_word);
GC_API GC_word GC_CALL GC_get_max_retries(void);
GC_API void GC_CALL GC_set_dont_precollect(int);
GC_API int GC_CALL GC_get_dont_precollect(void);
GC_API void GC_CALL GC_set_no_dls(int);
GC_API int GC_CALL GC_get_no_dls(void);
GC_API void GC_CALL GC_set_find_leak(int);
GC_API int GC_CALL GC_get_find_leak(void);
GC_API void GC_CALL GC_set_pages_executable(int);
GC_API int GC_CALL GC_get_pages_executable(void);
GC_API void GC_CALL GC_set_force_unmap_on_gcollect(int);
GC_API int GC_CALL GC_get_force_unmap_on_gcollect(void);
GC_API void GC_CALL GC_set_handle_fork(int);
GC_API void GC_CALL GC_atfork_prepare(void);
GC_API void GC_CALL GC_atfork_parent(void);
GC_API void GC_CALL GC_atfork_child(void);
GC_API void GC_CALL GC_set_oom_fn(GC_oom_func) GC_ATTR_NONNULL(1);
GC_API GC_oom_func GC_CALL GC_get_oom_fn(void);
typedef void(GC_CALLBACK *GC_warn_proc)(char *msg, GC_word arg);
GC_API void GC_CALL GC_set_warn_proc(GC_warn_proc) GC_ATTR_NONNULL(1);
GC_API GC_warn_proc GC_CALL GC_get_warn_proc(void);
GC_API void GC_CALLBACK GC_ignore_warn_proc(char *, GC_word);
typedef void(GC_CALLBACK *GC_abort_func)(const char *);
GC_API void GC_CALL GC_set_abort_func(GC_abort_func) GC_ATTR_NONNULL(1);
GC_API GC_abort_func GC_CALL GC_get_abort_func(void);
typedef void(GC_CALLBACK *GC_start_callback_proc)(void);
/* Called once after each collection, by the first GC_* allocation or
 * collection call (Boehm: as it starts, inside it). */
GC_API void GC_CALL GC_set_start_callback(GC_start_callback_proc);
GC_API GC_start_callback_proc GC_CALL GC_get_start_callback(void);

/* ---- statistics ----------------------------------------------------------- */
GC_API size_t GC_CALL GC_get_heap_size(void);
GC_API size_t GC_CALL GC_get_free_bytes(void);
GC_API size_t GC_CALL GC_get_unmapped_bytes(void);
GC_API size_t GC_CALL GC_get_bytes_since_gc(void);
GC_API size_t GC_CALL GC_get_expl_freed_bytes_since_gc(void);
GC_API size_t GC_CALL GC_get_total_bytes(void);
GC_API size_t GC_CALL GC_get_obtained_from_os_bytes(void);
GC_API size_t GC_CALL GC_get_memory_use(void);
GC_API GC_word GC_CALL GC_get_gc_no(void);
GC_API void GC_CALL GC_get_heap_usage_safe(GC_word *pheap_size, GC_word *pfree_bytes,
                                           GC_word *punmapped_bytes, GC_word *pbytes_since_gc,
                                           GC_word *ptotal_bytes);
struct GC_prof_stats_s {
  GC_word heapsize_full;
  GC_word free_bytes_full;
  GC_word unmapped_bytes;
  GC_word bytes_allocd_since_gc;
  GC_word allocd_bytes_before_gc;
  GC_word non_gc_bytes;
  GC_word gc_no;
  GC_word markers_m1;
  GC_word bytes_reclaimed_since_gc;
  GC_word reclaimed_bytes_before_gc;
  GC_word expl_freed_bytes_since_gc;
  GC_word obtained_from_os_bytes;
};
GC_API size_t GC_CALL GC_get_prof_stats(struct GC_prof_stats_s *, size_t);
GC_API size_t GC_CALL GC_get_prof_stats_unsafe(struct GC_prof_stats_s *, size_t);
GC_API void GC_CALL GC_start_performance_measurement(void);
GC_API unsigned long GC_CALL GC_get_full_gc_total_time(void);
GC_API void GC_CALL GC_dump(void);
GC_API void GC_CALL GC_dump_named(const char *);
GC_API void GC_CALL GC_dump_finalization(void);

/* ---- roots ---------------------------------------------------------------- */
GC_API void GC_CALL GC_add_roots(void *, void *);
GC_API void GC_CALL GC_remove_roots(void *, void *);
/* Forgets the ranges given to GC_add_roots (the data segments stay). */
GC_API void GC_CALL GC_clear_roots(void);
/* [lo, hi) of a program's or library's data or bss is never scanned
 * (gm_gc_exclude_roots): for big tables without pointers to the heap. */
GC_API void GC_CALL GC_exclude_static_roots(void *, void *);
typedef int(GC_CALLBACK *GC_has_static_roots_func)(const char *, void *, size_t);
GC_API void GC_CALL GC_register_has_static_roots_callback(GC_has_static_roots_func);

/* ---- finalization and disappearing links (gomalloc-gc.h has the rules) -- */
typedef void(GC_CALLBACK *GC_finalization_proc)(void *obj, void *client_data);
GC_API void GC_CALL GC_register_finalizer(void *, GC_finalization_proc, void *,
                                          GC_finalization_proc *, void **) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_ignore_self(void *, GC_finalization_proc, void *,
                                                      GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_no_order(void *, GC_finalization_proc, void *,
                                                   GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_register_finalizer_unreachable(void *, GC_finalization_proc, void *,
                                                      GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer(void *, GC_finalization_proc, void *,
                                                GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_ignore_self(void *, GC_finalization_proc, void *,
                                                            GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_no_order(void *, GC_finalization_proc, void *,
                                                         GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_debug_register_finalizer_unreachable(void *, GC_finalization_proc, void *,
                                                            GC_finalization_proc *, void **)
    GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_should_invoke_finalizers(void);
GC_API int GC_CALL GC_invoke_finalizers(void);
GC_API void GC_CALL GC_set_finalizer_notifier(GC_finalizer_notifier_proc);
GC_API GC_finalizer_notifier_proc GC_CALL GC_get_finalizer_notifier(void);
GC_API int GC_CALL GC_register_disappearing_link(void **) GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_general_register_disappearing_link(void **, const void *)
    GC_ATTR_NONNULL(1) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_move_disappearing_link(void **, void **) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_unregister_disappearing_link(void **);
GC_API int GC_CALL GC_register_long_link(void **, const void *)
    GC_ATTR_NONNULL(1) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_move_long_link(void **, void **) GC_ATTR_NONNULL(2);
GC_API int GC_CALL GC_unregister_long_link(void **);

typedef GC_word GC_hidden_pointer;
#define GC_HIDE_POINTER(p) (~(GC_hidden_pointer)(p))
#define GC_REVEAL_POINTER(p) ((void *)GC_HIDE_POINTER(p))
#if defined(I_HIDE_POINTERS) || defined(GC_I_HIDE_POINTERS)
#define HIDE_POINTER(p) GC_HIDE_POINTER(p)
#define REVEAL_POINTER(p) GC_REVEAL_POINTER(p)
#endif

/* Toggle-refs: each registered object is held strongly or weakly as the
 * callback decides. Asked before GC_gcollect's collections and after
 * every collection (Boehm: at the start of each), so an automatic cycle
 * acts on the answers given after the one before. */
typedef enum { GC_TOGGLE_REF_DROP, GC_TOGGLE_REF_STRONG, GC_TOGGLE_REF_WEAK } GC_ToggleRefStatus;
typedef GC_ToggleRefStatus(GC_CALLBACK *GC_toggleref_func)(void *obj);
GC_API void GC_CALL GC_set_toggleref_func(GC_toggleref_func);
GC_API GC_toggleref_func GC_CALL GC_get_toggleref_func(void);
GC_API int GC_CALL GC_toggleref_add(void *obj, int is_strong) GC_ATTR_NONNULL(1);

/* ---- calls under the allocator's lock, stacks ----------------------------- */
typedef void *(GC_CALLBACK *GC_fn_type)(void *);
/* fn runs under a lock of the Boehm layer's own (not gomalloc's, which
 * collections hold): it serialises with other such calls only. */
GC_API void *GC_CALL GC_call_with_alloc_lock(GC_fn_type, void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_alloc_lock(void);
GC_API void GC_CALL GC_alloc_unlock(void);
struct GC_stack_base {
  void *mem_base; /* the stack's hot end (its highest address on x86-64) */
};
typedef void *(GC_CALLBACK *GC_stack_base_func)(struct GC_stack_base *, void *);
GC_API void *GC_CALL GC_call_with_stack_base(GC_stack_base_func, void *) GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_get_stack_base(struct GC_stack_base *) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_do_blocking(GC_fn_type, void *) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_call_with_gc_active(GC_fn_type, void *) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_get_my_stackbottom(struct GC_stack_base *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_stackbottom(void *, const struct GC_stack_base *) GC_ATTR_NONNULL(2);

/* ---- threads -------------------------------------------------------------- */
GC_API void GC_CALL GC_allow_register_threads(void);
GC_API int GC_CALL GC_register_my_thread(const struct GC_stack_base *) GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_unregister_my_thread(void);
GC_API int GC_CALL GC_thread_is_registered(void);
GC_API void GC_CALL GC_use_threads_discovery(void);
GC_API void GC_CALL GC_register_altstack(void *, GC_word, void *, GC_word);

/* Boehm-style convenience macros (after the declarations they expand to). */
#if defined(GC_DEBUG_REPLACEMENT)
#define GC_MALLOC(sz) GC_debug_malloc_replacement(sz)
#define GC_REALLOC(old, sz) GC_debug_realloc_replacement(old, sz)
#elif defined(GC_DEBUG)
#define GC_MALLOC(sz) GC_debug_malloc(sz, GC_EXTRAS)
#define GC_REALLOC(old, sz) GC_debug_realloc(old, sz, GC_EXTRAS)
#else
#define GC_MALLOC(sz) GC_malloc(sz)
#define GC_REALLOC(old, sz) GC_realloc(old, sz)
#endif
#ifdef GC_DEBUG
#define GC_MALLOC_ATOMIC(sz) GC_debug_malloc_atomic(sz, GC_EXTRAS)
#define GC_STRDUP(s) GC_debug_strdup(s, GC_EXTRAS)
#define GC_STRNDUP(s, sz) GC_debug_strndup(s, sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_debug_malloc_atomic_uncollectable(sz, GC_EXTRAS)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_debug_malloc_uncollectable(sz, GC_EXTRAS)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_ignore_off_page(sz, GC_EXTRAS)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_debug_malloc_atomic_ignore_off_page(sz, GC_EXTRAS)
#define GC_FREE(p) GC_debug_free(p)
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_debug_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od)                                         \
  GC_debug_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od)                                            \
  GC_debug_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od)                                         \
  GC_debug_register_finalizer_unreachable(p, f, d, of, od)
#define GC_CHANGE_STUBBORN(p) GC_debug_change_stubborn(p)
#define GC_END_STUBBORN_CHANGE(p) GC_debug_end_stubborn_change(p)
#define GC_GENERAL_REGISTER_DISAPPEARING_LINK(link, obj)                                           \
  GC_general_register_disappearing_link(link, GC_base((void *)(obj)))
#define GC_REGISTER_LONG_LINK(link, obj) GC_register_long_link(link, GC_base((void *)(obj)))
#define GC_REGISTER_DISPLACEMENT(n) GC_debug_register_displacement(n)
#else
#define GC_MALLOC_ATOMIC(sz) GC_malloc_atomic(sz)
#define GC_STRDUP(s) GC_strdup(s)
#define GC_STRNDUP(s, sz) GC_strndup(s, sz)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_malloc_atomic_uncollectable(sz)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_malloc_uncollectable(sz)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_malloc_ignore_off_page(sz)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_malloc_atomic_ignore_off_page(sz)
#define GC_FREE(p) GC_free(p)
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od)                                         \
  GC_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od)                                            \
  GC_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od)                                         \
  GC_register_finalizer_unreachable(p, f, d, of, od)
#define GC_CHANGE_STUBBORN(p) GC_change_stubborn(p)
#define GC_END_STUBBORN_CHANGE(p) GC_end_stubborn_change(p)
#define GC_GENERAL_REGISTER_DISAPPEARING_LINK(link, obj)                                           \
  GC_general_register_disappearing_link(link, obj)
#define GC_REGISTER_LONG_LINK(link, obj) GC_register_long_link(link, obj)
#define GC_REGISTER_DISPLACEMENT(n) GC_register_displacement(n)
#endif
#ifdef GC_REQUIRE_WCSDUP
GC_API GC_ATTR_MALLOC wchar_t *GC_CALL GC_wcsdup(const wchar_t *) GC_ATTR_NONNULL(1);
GC_API GC_ATTR_MALLOC wchar_t *GC_CALL GC_debug_wcsdup(const wchar_t *, GC_EXTRA_PARAMS)
    GC_ATTR_NONNULL(1);
#ifdef GC_DEBUG
#define GC_WCSDUP(s) GC_debug_wcsdup(s, GC_EXTRAS)
#else
#define GC_WCSDUP(s) GC_wcsdup(s)
#endif
#endif
#define GC_NEW(t) ((t *)GC_MALLOC(sizeof(t)))
#define GC_NEW_ATOMIC(t) ((t *)GC_MALLOC_ATOMIC(sizeof(t)))
#define GC_MALLOC_STUBBORN(sz) GC_MALLOC(sz)
#define GC_NEW_STUBBORN(t) GC_NEW(t)
#define GC_NEW_UNCOLLECTABLE(t) ((t *)GC_MALLOC_UNCOLLECTABLE(sizeof(t)))

#if defined(GC_THREADS)
#include <pthread.h>
#include <signal.h>
GC_API int GC_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
GC_API int GC_pthread_join(pthread_t, void **);
GC_API int GC_pthread_detach(pthread_t);
GC_API int GC_pthread_cancel(pthread_t);
#if defined(_GNU_SOURCE) || defined(_DEFAULT_SOURCE) || _POSIX_C_SOURCE >= 199506L ||           \
    _XOPEN_SOURCE >= 500
#define GC_PTHREAD_SIGMASK_DECLARED
GC_API int GC_pthread_sigmask(int, const sigset_t *, sigset_t *);
#endif
GC_API void GC_pthread_exit(void *) __attribute__((noreturn));
/* Boehm's suspend signal is gomalloc's stop signal (GOMALLOC_GC_SIGNAL);
 * set it before the first GC_* call. There is no restart signal: its
 * getter answers the stop signal unless one was set. GC_pthread_sigmask
 * never blocks the stop signal. */
GC_API void GC_CALL GC_set_suspend_signal(int);
GC_API void GC_CALL GC_set_thr_restart_signal(int);
GC_API int GC_CALL GC_get_suspend_signal(void);
GC_API int GC_CALL GC_get_thr_restart_signal(void);
GC_API void *GC_dlopen(const char *, int);
#include "gc_pthread_redirects.h"
#endif

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_BOEHM_GC_H */
