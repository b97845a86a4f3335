/* gc.h: gomalloc's Boehm-Demers-Weiser compatible interface to its
 * collected heap (gomalloc-gc.h). A program written for Boehm GC builds
 * unchanged with
 *   cc $(pkg-config --cflags gomalloc-gc) prog.c $(pkg-config --libs gomalloc-gc)
 * The calls covered are listed below; README ("The collected heap") lists
 * those that are not (disappearing links, typed allocation, ...): a program
 * using them fails to link rather than misbehave. Finalizers are accepted
 * and never run.
 *
 * Differences a Boehm user may notice: no byte is added to each object (a
 * pointer one past an object's end does not keep it alive);
 * GC_enable_incremental and GC_set_free_space_divisor are accepted and do
 * nothing (GOMALLOC_GC_PERCENT sets the pace); any thread that calls a
 * GC_* allocation function registers itself, GC_THREADS or not. */
#ifndef GOMALLOC_BOEHM_GC_H
#define GOMALLOC_BOEHM_GC_H

#include <stddef.h>

#include <gomalloc-gc.h>

#define GC_H /* what some programs test for */
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2
#define GOMALLOC_GC_COMPAT 1

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

typedef unsigned long GC_word;
typedef long GC_signed_word;
typedef void *GC_PTR; /* old name */

#define GC_SUCCESS 0
#define GC_DUPLICATE 1
#define GC_NO_THREADS 2
#define GC_UNIMPLEMENTED 3
#define GC_NOT_FOUND 4

struct GC_stack_base {
  void *mem_base; /* the stack's hot end (its highest address on x86-64) */
};

GC_API void GC_CALL GC_init(void);
GC_API void *GC_CALL GC_malloc(size_t);
GC_API void *GC_CALL GC_malloc_atomic(size_t);
GC_API void *GC_CALL GC_malloc_uncollectable(size_t);
GC_API void *GC_CALL GC_malloc_atomic_uncollectable(size_t);
GC_API void *GC_CALL GC_malloc_ignore_off_page(size_t);
GC_API void *GC_CALL GC_malloc_atomic_ignore_off_page(size_t);
GC_API void *GC_CALL GC_realloc(void *, size_t);
GC_API void GC_CALL GC_free(void *);
GC_API char *GC_CALL GC_strdup(const char *);
GC_API char *GC_CALL GC_strndup(const char *, size_t);
GC_API void *GC_CALL GC_base(void *);
GC_API size_t GC_CALL GC_size(const void *);
GC_API int GC_CALL GC_is_heap_ptr(const void *);

GC_API void GC_CALL GC_gcollect(void);
GC_API void GC_CALL GC_gcollect_and_unmap(void);
GC_API int GC_CALL GC_try_to_collect(int (*)(void));
GC_API void GC_CALL GC_disable(void);
GC_API void GC_CALL GC_enable(void);
GC_API int GC_CALL GC_is_disabled(void);
GC_API void GC_CALL GC_enable_incremental(void);
GC_API int GC_CALL GC_is_incremental_mode(void);
GC_API void GC_CALL GC_set_free_space_divisor(GC_word);
GC_API GC_word GC_CALL GC_get_free_space_divisor(void);
GC_API int GC_CALL GC_expand_hp(size_t);
GC_API void GC_CALL GC_set_max_heap_size(GC_word);
GC_API void GC_CALL GC_set_all_interior_pointers(int);
GC_API int GC_CALL GC_get_all_interior_pointers(void);
GC_API int GC_CALL GC_get_parallel(void);

GC_API size_t GC_CALL GC_get_heap_size(void);
GC_API size_t GC_CALL GC_get_free_bytes(void);
GC_API size_t GC_CALL GC_get_bytes_since_gc(void);
GC_API size_t GC_CALL GC_get_total_bytes(void);
GC_API GC_word GC_CALL GC_get_gc_no(void);
/* Boehm's is a variable; here it reads the count (programs only read it). */
#define GC_gc_no (GC_get_gc_no())

GC_API void GC_CALL GC_add_roots(void *, void *);
GC_API void GC_CALL GC_remove_roots(void *, void *);

GC_API void GC_CALL GC_allow_register_threads(void);
GC_API int GC_CALL GC_register_my_thread(const struct GC_stack_base *);
GC_API int GC_CALL GC_unregister_my_thread(void);
GC_API int GC_CALL GC_thread_is_registered(void);
GC_API int GC_CALL GC_get_stack_base(struct GC_stack_base *);

/* Boehm's tuning variables, for programs that set them: accepted and, but
 * for GC_dont_gc (collections off while non-zero, checked at each
 * allocation) without effect. */
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
GC_API GC_word GC_max_retries;
GC_API GC_word GC_non_gc_bytes;
GC_API unsigned long GC_time_limit;
GC_API char *GC_stackbottom;
#define GC_TIME_UNLIMITED 999999
GC_API void GC_CALL GC_set_dont_expand(int);
GC_API void GC_CALL GC_set_full_freq(int);
GC_API void GC_CALL GC_set_time_limit(unsigned long);
GC_API void GC_CALL GC_set_java_finalization(int);
GC_API void GC_CALL GC_set_finalize_on_demand(int);
GC_API void GC_CALL GC_set_max_retries(GC_word);
GC_API void GC_CALL GC_set_dont_precollect(int);
GC_API void GC_CALL GC_set_no_dls(int);

/* Finalizers are accepted and never run (Boehm does not promise to run
 * them either): *ofn and *ocd, when given, come back NULL. */
typedef void(GC_CALLBACK *GC_finalization_proc)(void *obj, void *client_data);
GC_API void GC_CALL GC_register_finalizer(void *, GC_finalization_proc, void *,
                                          GC_finalization_proc *, void **);
GC_API void GC_CALL GC_register_finalizer_ignore_self(void *, GC_finalization_proc, void *,
                                                      GC_finalization_proc *, void **);
GC_API void GC_CALL GC_register_finalizer_no_order(void *, GC_finalization_proc, void *,
                                                   GC_finalization_proc *, void **);
GC_API int GC_CALL GC_should_invoke_finalizers(void);
GC_API int GC_CALL GC_invoke_finalizers(void);
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od)                                         \
  GC_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od)                                            \
  GC_register_finalizer_no_order(p, f, d, of, od)

#define GC_INIT() GC_init()
#define GC_MALLOC(sz) GC_malloc(sz)
#define GC_MALLOC_ATOMIC(sz) GC_malloc_atomic(sz)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_malloc_uncollectable(sz)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_malloc_atomic_uncollectable(sz)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_malloc_ignore_off_page(sz)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_malloc_atomic_ignore_off_page(sz)
#define GC_REALLOC(old, sz) GC_realloc(old, sz)
#define GC_FREE(p) GC_free(p)
#define GC_STRDUP(s) GC_strdup(s)
#define GC_STRNDUP(s, n) GC_strndup(s, n)
#define GC_NEW(t) ((t *)GC_MALLOC(sizeof(t)))
#define GC_NEW_ATOMIC(t) ((t *)GC_MALLOC_ATOMIC(sizeof(t)))
#define GC_NEW_UNCOLLECTABLE(t) ((t *)GC_MALLOC_UNCOLLECTABLE(sizeof(t)))

#if defined(GC_THREADS) || defined(GC_PTHREADS) || defined(GC_LINUX_THREADS)
#include <pthread.h>
GC_API int GC_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
GC_API int GC_pthread_join(pthread_t, void **);
GC_API int GC_pthread_detach(pthread_t);
GC_API void GC_pthread_exit(void *) __attribute__((noreturn));
#if !defined(GC_NO_THREAD_REDIRECTS) && !defined(GC_BUILD)
#undef pthread_create
#undef pthread_join
#undef pthread_detach
#undef pthread_exit
#define pthread_create GC_pthread_create
#define pthread_join GC_pthread_join
#define pthread_detach GC_pthread_detach
#define pthread_exit GC_pthread_exit
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_BOEHM_GC_H */
