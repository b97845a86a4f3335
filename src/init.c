/* init.c: process start-up, options, the thread-exit hook and fork.
 *
 * Nothing here may call malloc: under LD_PRELOAD we are malloc. gm_init
 * runs from a library constructor and, in case something allocates even
 * earlier (another library's constructor), from the first slow path. It
 * only touches static memory; heap memory is reserved lazily by the first
 * allocation that needs it.
 *
 * Fork: the prepare handler takes every lock in one fixed order (mcache
 * registry, orphan cache, each mcentral in class order, the heap), so no
 * lock is held by a thread that will not exist in the child; the parent
 * releases them, the child re-initialises them and gives the vanished
 * threads' cached spans back. */
#include "background.h"
#include "error.h"
#include "internal.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "options.h"
#include "os.h"
#include "sizeclass.h"
#include "stats.h" /* stats hook: GOMALLOC_STATS / GOMALLOC_HEAPMAP */

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

int gm_init_state;
__thread char gm_self_marker __attribute__((tls_model("initial-exec")));
__thread gm_lock_t *gm_tls_lock_transit __attribute__((tls_model("initial-exec")));
pthread_key_t gm_thread_key;

static void fork_prepare(void) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    return;
  gm_mcache_fork_prepare();
  gm_mcentral_fork_prepare();
  gm_mheap_fork_prepare();
}

static void fork_parent(void) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    return;
  gm_mheap_fork_parent();
  gm_mcentral_fork_parent();
  gm_mcache_fork_parent();
}

static void fork_child(void) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    return;
  gm_mheap_fork_child();
  gm_mcentral_fork_child();
  gm_mcache_fork_child();
  gm_background_fork_child();
}

void gm_init(void) {
  int expected = GM_INIT_NONE;
  if (__atomic_compare_exchange_n(&gm_init_state, &expected, GM_INIT_RUNNING, false,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    gm_sys_page_size();
    gm_options_read(); /* every GOMALLOC_* variable, before anything reads one */
    gm_stats_env_init(); /* stats hook: report options; written by a destructor in stats.c */
    gm_sizeclass_init(gm_options.align8, gm_options.sizeclasses_file);
    gm_mcentral_init();
    gm_mheap_init();
    gm_store_relaxed(&gm_mheap_grow_hook, gm_background_poke);
    if (pthread_key_create(&gm_thread_key, gm_mcache_thread_exit) != 0)
      gm_fatal("cannot create the thread-exit key", NULL, "pthread_key_create failed");
    gm_store_release(&gm_init_state, GM_INIT_DONE);
    /* May allocate (glibc keeps atfork handlers in a growable array); the
     * heap is usable by now. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    return;
  }
  while (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    sched_yield();
}

__attribute__((constructor(101))) static void gm_init_constructor(void) { gm_init(); }
