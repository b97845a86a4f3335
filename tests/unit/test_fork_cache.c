/* test_fork_cache.c: fork handlers that allocate while a reclaimer holds
 * the forking thread's cache (issue 15 item 2).
 *
 * A handler registered before gomalloc's (here from .preinit_array, before
 * any constructor) runs its prepare after gomalloc's prepare took every
 * lock, and its parent and child handlers before gomalloc's give them
 * back. Each allocates past its current span of a class: the cache's slow
 * path, under the cache lock.
 *
 * The reclaimer (the scavenger, or another thread's malloc_trim) takes a
 * cache's spans under the cache lock, then waits a bounded 10 ms for the
 * owners' busy counts; past that it puts the spans back under the registry
 * lock. Here a "stuck" thread keeps its busy count up (as one parked in a
 * signal handler inside a fast path), so every round of a reclaimer thread
 * gives up on it, and the main thread forks right after the reclaimer took
 * its cache. If the reclaimer waited without the registry lock, the fork's
 * prepare would take that lock, its handler would wait for the cache lock,
 * and the reclaimer, done waiting, for the registry lock: a deadlock, in
 * the parent (and, in the child, a cache lock no one would release). A
 * hang is killed by alarm. (Not under ThreadSanitizer: the membarrier
 * handshake is invisible to it.) */
#include "unit.h"

#include "gomalloc.h"
#include "mcache_internal.h"
#include "os.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int handlers_on, handler_bad;

/* Past several 2 KiB spans (four blocks a span): the cache slow path. */
static int churn(void) {
  void *p[32];
  int bad = 0;
  for (int i = 0; i < 32; i++) {
    p[i] = gm_malloc(2048);
    if (!p[i])
      bad = 1;
    else
      memset(p[i], i, 2048);
  }
  for (int i = 0; i < 32; i++)
    gm_free(p[i]);
  return bad;
}

static void handler(int bit) {
  if (atomic_load(&handlers_on) && churn())
    atomic_fetch_or(&handler_bad, bit);
}
static void early_prepare(void) { handler(1); }
static void early_parent(void) { handler(2); }
static void early_child(void) {
  if (atomic_load(&handlers_on))
    alarm(10); /* pending alarms are not inherited: set here, before the risk */
  handler(4);
}
static int early_rc = -1;
static void register_early(void) {
  early_rc = pthread_atfork(early_prepare, early_parent, early_child);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_hook)(void) =
    register_early;

static atomic_int stop;
static atomic_long reclaims;

/* Keeps its busy count up, so that every reclaim round waits its 10 ms for
 * this cache and gives up; clears the give-up mark (under the cache lock,
 * as the reclaimer writes it) so the next round takes it again. */
static void *stuck(void *arg) {
  atomic_int *ready = arg;
  churn(); /* a cache with spans to take */
  gm_mcache_t *c = gm_tls_mcache;
  gm_busy_enter();
  atomic_store(ready, 1);
  while (!atomic_load(&stop)) {
    gm_cache_lock(c);
    c->gave_up = 0;
    gm_cache_unlock(c);
    usleep(1000);
  }
  gm_busy_exit();
  return NULL;
}

static void *reclaimer(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    gm_mcache_reclaim_idle(true);
    atomic_fetch_add(&reclaims, 1);
  }
  return NULL;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "FAIL test_fork_cache: hung (SIGALRM) in a fork handler's malloc\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(3);
}

int main(void) {
  if (UNDER_TSAN) {
    printf("skipped: the membarrier handshake is invisible to ThreadSanitizer\n");
    return check_summary();
  }
  if (!gm_sys_membarrier()) {
    printf("skipped: membarrier(2) is not available here, so nothing is reclaimed\n");
    return check_summary();
  }
  CHECK(early_rc == 0, "pthread_atfork from .preinit_array: expected 0, got %d", early_rc);
  CHECK(churn() == 0, "allocations before the fork");
  signal(SIGALRM, on_alarm);
  atomic_int ready = 0;
  pthread_t ts, tr;
  pthread_create(&ts, NULL, stuck, &ready);
  while (!atomic_load(&ready))
    usleep(100);
  pthread_create(&tr, NULL, reclaimer, NULL);
  gm_mcache_t *c = gm_tls_mcache;
  unsigned spc = gm_size_to_spanclass(2048);
  int taken_rounds = 0;
  atomic_store(&handlers_on, 1);
  for (int round = 0; round < 20; round++) {
    atomic_store(&handler_bad, 0);
    churn(); /* a current span for the reclaimer to take */
    /* Fork right after the reclaimer took this cache (its 2 KiB slot
     * empty), while it waits for the stuck thread. */
    double end = unit_now() + 1.0;
    while (gm_load_relaxed(&c->alloc[spc]) != &gm_empty_span && unit_now() < end)
      sched_yield();
    taken_rounds += gm_load_relaxed(&c->alloc[spc]) == &gm_empty_span;
    alarm(20);
    pid_t pid = fork();
    if (pid == 0) {
      int bad = atomic_load(&handler_bad);
      if (churn())
        bad |= 8;
      _exit(bad);
    }
    alarm(0);
    if (!CHECK(pid > 0, "fork failed"))
      break;
    CHECK(atomic_load(&handler_bad) == 0, "round %d: parent handlers failed: 0x%x", round,
          atomic_load(&handler_bad));
    int st = 0;
    alarm(20);
    waitpid(pid, &st, 0);
    alarm(0);
    if (!CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "round %d: child expected exit 0, got %s %d (1/2/4 the prepare/parent/child "
               "handler's malloc failed, 8 the child's own; 3 or SIGALRM: hung)",
               round, WIFSIGNALED(st) ? "signal" : "exit",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)))
      break;
    CHECK(churn() == 0, "round %d: parent allocations after the fork", round);
  }
  atomic_store(&handlers_on, 0);
  atomic_store(&stop, 1);
  pthread_join(tr, NULL);
  pthread_join(ts, NULL);
  /* Not a check (the timing is the scheduler's): how often the fork
   * landed with the cache taken. */
  printf("forks with the cache taken by the reclaimer: %d of 20; %ld reclaim rounds\n",
         taken_rounds, atomic_load(&reclaims));
  return check_summary();
}
