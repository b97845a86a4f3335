/* gc_pthread_redirects.h: with GC_THREADS, gc.h sends the program's
 * pthread_create (and join, detach, cancel, exit, sigmask) and dlopen
 * through the GC_* wrappers, as Boehm's header does. The wrappers register
 * the new thread before it runs; the others are the plain calls. Define
 * GC_NO_THREAD_REDIRECTS to keep the plain names. */
#ifndef GOMALLOC_GC_PTHREAD_REDIRECTS_H
#define GOMALLOC_GC_PTHREAD_REDIRECTS_H

#if defined(GC_THREADS) && !defined(GC_NO_THREAD_REDIRECTS) && !defined(GC_BUILD)
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#undef pthread_create
#undef pthread_join
#undef pthread_detach
#undef pthread_cancel
#undef pthread_exit
#undef pthread_sigmask
#undef dlopen
#define pthread_create GC_pthread_create
#define pthread_join GC_pthread_join
#define pthread_detach GC_pthread_detach
#define pthread_cancel GC_pthread_cancel
#define pthread_exit GC_pthread_exit
#ifdef GC_PTHREAD_SIGMASK_DECLARED
#define pthread_sigmask GC_pthread_sigmask
#endif
#define dlopen GC_dlopen
#endif

#endif /* GOMALLOC_GC_PTHREAD_REDIRECTS_H */
