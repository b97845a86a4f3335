/* test_atfork.c: fork handlers that allocate (issue 15 item 2).
 *
 * A library that registers pthread_atfork handlers before the allocator
 * initialises (its constructor runs first, the usual order under
 * LD_PRELOAD) has its prepare handler run after ours (glibc runs prepare
 * handlers in reverse order of registration) and its parent and child
 * handlers before ours (in order): inside the window where our prepare
 * handler holds every allocator lock. glibc's malloc works there, so ours
 * must too.
 *
 * early  registered from .preinit_array, which runs before every shared
 *        library's constructor (so before gomalloc's, linked or preloaded);
 * late   registered from main, after gomalloc's.
 * Each prepare, parent and child handler mallocs, callocs, reallocs and
 * frees blocks of small and large sizes, and carries one block from prepare
 * into parent or child, where it is checked and freed. Many forks while
 * other threads allocate; each child allocates and exits 0. A fork that
 * hangs (prepare or parent handler) is caught by alarm in the parent, a
 * hanging child by a deadline. */
#include "api.h"

#include <pthread.h>

static atomic_int handlers_on; /* off outside the test proper */
static atomic_int handler_bad; /* bits: which handler saw a failure */
static atomic_int handler_runs;

static const size_t sizes[] = {8, 24, 100, 1000, 3000, 20000, 40000, 300 * KiB, 2 * MiB};
enum { NSIZES = sizeof sizes / sizeof sizes[0] };

/* Allocate, fill, check and free one block of each size, plus calloc,
 * realloc and an aligned block. Returns 0 if all went well. */
static int churn(unsigned seed) {
  void *ps[NSIZES];
  int bad = 0;
  for (int i = 0; i < NSIZES; i++) {
    ps[i] = T_malloc(sizes[i]);
    if (!ps[i])
      bad = 1;
    else
      pattern_fill(ps[i], sizes[i] < 4096 ? sizes[i] : 4096, seed + (unsigned)i);
  }
  void *z = T_calloc(1, 5000);
  if (!z || first_nonzero(z, 5000) != 5000)
    bad = 1;
  void *r = T_realloc(T_malloc(50), 70000);
  if (!r)
    bad = 1;
  /* Past the current span of a class (four 2 KiB blocks a span): the
   * cache's slow path, under the cache lock. */
  void *many[16];
  for (int i = 0; i < 16; i++)
    if (!(many[i] = T_malloc(2048)))
      bad = 1;
  for (int i = 0; i < 16; i++)
    T_free(many[i]);
  void *a = T_aligned_alloc(4096, 1000);
  if (!a || ((uintptr_t)a & 4095))
    bad = 1;
  for (int i = 0; i < NSIZES; i++) {
    size_t n = sizes[i] < 4096 ? sizes[i] : 4096;
    if (ps[i] && pattern_find_bad(ps[i], n, seed + (unsigned)i) != n)
      bad = 1;
    T_free(ps[i]);
  }
  T_free(z);
  T_free(r);
  T_free(a);
  return bad;
}

/* A block made in prepare and checked and freed in parent or child. */
static void *carried[2];
enum { CARRY_SMALL = 777, CARRY_LARGE = 500 * KiB };

static void carry_make(int who) {
  carried[who] = T_malloc(who ? CARRY_LARGE : CARRY_SMALL);
  if (carried[who])
    pattern_fill(carried[who], CARRY_SMALL, 99u + (unsigned)who);
}
static int carry_drop(int who) {
  int bad = !carried[who] || pattern_find_bad(carried[who], CARRY_SMALL, 99u + (unsigned)who) !=
                                 CARRY_SMALL;
  T_free(carried[who]);
  carried[who] = NULL;
  return bad;
}

/* who: 0 early, 1 late. Bits: 1 early prepare, 2 early parent, 4 early
 * child, 8 late prepare, 16 late parent, 32 late child. */
static void handler(int who, int phase) {
  if (!atomic_load_explicit(&handlers_on, memory_order_relaxed))
    return;
  int bad = churn((unsigned)(who * 3 + phase));
  if (phase == 0)
    carry_make(who);
  else
    bad |= carry_drop(who);
  if (bad)
    atomic_fetch_or(&handler_bad, 1 << (who * 3 + phase));
  atomic_fetch_add(&handler_runs, 1);
}
static void early_prepare(void) { handler(0, 0); }
static void early_parent(void) { handler(0, 1); }
static void early_child(void) { handler(0, 2); }
static void late_prepare(void) { handler(1, 0); }
static void late_parent(void) { handler(1, 1); }
static void late_child(void) { handler(1, 2); }

/* Before any shared library's constructor: gomalloc has not registered its
 * handlers yet (glibc keeps the first 48 registrations in static storage,
 * so this does not allocate). */
static int early_rc = -1;
static void register_early(void) { early_rc = pthread_atfork(early_prepare, early_parent, early_child); }
__attribute__((section(".preinit_array"), used)) static void (*const preinit_hook)(void) =
    register_early;

static atomic_int stop_workers;
static atomic_long worker_ops, trims;

static void *worker(void *arg) {
  unsigned long s = (unsigned long)(uintptr_t)arg * 0x9e3779b97f4a7c15UL;
  void *local[32] = {0};
  while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
    s = s * 6364136223846793005UL + 1442695040888963407UL;
    unsigned long r = s >> 17;
    int k = (int)(r % 32);
    T_free(local[k]);
    size_t n = (r >> 8) % 100 == 0 ? 64 * KiB + (r >> 16) % MiB : 1 + (r >> 16) % 4000;
    local[k] = T_malloc(n);
    if (local[k])
      memset(local[k], 0x22, n < 256 ? n : 256);
    if ((r >> 7) % 3000 == 0)
      T_trim();
    atomic_fetch_add_explicit(&worker_ops, 1, memory_order_relaxed);
  }
  for (int k = 0; k < 32; k++)
    T_free(local[k]);
  return NULL;
}

/* Takes spans out of every other thread's cache, holding each cache's
 * lock a while (membarrier, then the wait for its owner), the forking
 * thread's among them: its fork handlers' allocations must not find that
 * cache still held (see also unit.test_fork_cache). */
static void *trimmer(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
    T_trim();
    atomic_fetch_add_explicit(&trims, 1, memory_order_relaxed);
  }
  return NULL;
}

static void on_deadline(int sig) {
  (void)sig;
  static const char msg[] = "FAIL atfork: fork did not return within 30 s (a prepare or parent "
                            "handler hung in the allocator)\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(2);
}

static int wait_deadline(pid_t pid, double timeout, int *status) {
  double end = now_seconds() + timeout;
  for (;;) {
    pid_t w = waitpid(pid, status, WNOHANG);
    if (w == pid)
      return 0;
    if (w < 0 && errno != EINTR)
      return -1;
    if (now_seconds() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      return 1;
    }
    usleep(500);
  }
}

static void test_allocating_handlers(void) {
  check_section("fork handlers that allocate, registered before and after the allocator's");
  CHECK(early_rc == 0, "pthread_atfork from .preinit_array: expected 0, got %d", early_rc);
  CHECK(pthread_atfork(late_prepare, late_parent, late_child) == 0, "pthread_atfork from main");
  signal(SIGALRM, on_deadline);
  enum { NWORKERS = 3 };
  pthread_t t[NWORKERS];
  for (int i = 0; i < NWORKERS; i++)
    pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  pthread_t tt;
  pthread_create(&tt, NULL, trimmer, NULL);
  while (atomic_load(&worker_ops) < 1000)
    usleep(100);
  atomic_store(&handlers_on, 1);
  int rounds = GM_TEST_SANITIZED ? 60 : 200, failures = 0;
  double t0 = now_seconds();
  for (int round = 0; round < rounds && failures < 3; round++) {
    atomic_store(&handler_bad, 0);
    atomic_store(&handler_runs, 0);
    /* Spans on this thread's cache lists, for the trimmer to take. */
    void *kept[64];
    for (int i = 0; i < 64; i++)
      kept[i] = T_malloc(i % 2 ? 2048 : 1024);
    fflush(stdout);
    alarm(30);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(20); /* a child that hangs dies */
      /* No stdio: the exit code says it all (handler bits as below, 64 not
       * every handler ran, 128 the child's own allocations failed). */
      int bad = atomic_load(&handler_bad);
      if (atomic_load(&handler_runs) != 4)
        bad |= 64;
      if (churn(1000u + (unsigned)round))
        bad |= 128;
      _exit(bad);
    }
    alarm(0);
    for (int i = 0; i < 64; i++)
      T_free(kept[i]);
    if (!CHECK(pid > 0, "fork: expected a child, got %d (%s)", (int)pid, strerror(errno)))
      break;
    int bad = atomic_load(&handler_bad), runs = atomic_load(&handler_runs);
    int ok = CHECK(bad == 0 && runs == 4,
                   "round %d parent: handler failures 0x%x (1/2/4 early prepare/parent/child, "
                   "8/16/32 late), %d of 4 handlers ran",
                   round, bad, runs);
    int st = 0;
    int rc = wait_deadline(pid, 30, &st);
    if (rc == 1)
      ok &= CHECK(0, "round %d: child hung (killed after 30 s)", round);
    else
      ok &= CHECK(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "round %d: child expected exit 0, got %s %d (bits: handlers as above, 64 not "
                  "all ran, 128 child malloc)",
                  round,
                  WIFSIGNALED(st) ? "signal" : "exit",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    if (!ok)
      failures++;
  }
  atomic_store(&handlers_on, 0);
  atomic_store(&stop_workers, 1);
  for (int i = 0; i < NWORKERS; i++)
    pthread_join(t[i], NULL);
  pthread_join(tt, NULL);
  printf("allocating fork handlers: %d forks in %.1f s, %ld worker operations, %ld trims\n",
         rounds, now_seconds() - t0, atomic_load(&worker_ops), atomic_load(&trims));
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_atfork (%s API)\n", API_NAME);
  test_allocating_handlers();
  return check_summary();
}
