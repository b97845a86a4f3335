/* test_fork.c: fork (checklist items 26 and 27).
 *
 * threads      fork while 4 other threads allocate in loops (small, large,
 *              cross-thread exchange, malloc_trim, stdio that mallocs under
 *              its own lock): the child frees the parent's blocks (also the
 *              ones other threads owned), mallocs, starts a thread, forks
 *              again, and exits 0. Many rounds; each child has a deadline,
 *              so a deadlock fails the test instead of hanging it.
 * two_forkers  two threads fork at the same time while others allocate
 *              (jemalloc test/unit/fork.c).
 * signal       fork from a signal handler in a single-threaded process that
 *              is inside malloc/free loops (glibc tst-mallocfork2): no
 *              self-deadlock. Runs in a child process with a deadline. */
#include "api.h"

#include <pthread.h>

enum { NSLOTS = 256 };
static _Atomic(void *) slots[NSLOTS];
static atomic_int stop_workers;
static atomic_long worker_ops;

static unsigned long next_rand(unsigned long *s) {
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  return *s >> 17;
}

static void *worker(void *arg) {
  unsigned long s = (unsigned long)(uintptr_t)arg * 0x9e3779b97f4a7c15UL;
  void *local[32] = {0};
  while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
    unsigned long r = next_rand(&s);
    int k = (int)(r % 32);
    T_free(local[k]);
    size_t n = (r >> 8) % 200 == 0 ? 64 * KiB + (r >> 16) % (2 * MiB) : 1 + (r >> 16) % 4000;
    local[k] = (r >> 12) % 50 == 0 ? T_aligned_alloc(4096, n) : T_malloc(n);
    if (local[k])
      memset(local[k], 0x11, n < 512 ? n : 512);
    /* Cross-thread exchange. */
    if ((r >> 5) % 4 == 0) {
      void *mine = T_malloc(1 + (r >> 20) % 600);
      void *old = atomic_exchange(&slots[(r >> 24) % NSLOTS], mine);
      T_free(old);
    }
    if ((r >> 7) % 5000 == 0)
      T_trim();
    if ((r >> 3) % 1000 == 0) {
      /* malloc under the stdio lock (tst-malloc-fork-deadlock). */
      char *buf = NULL;
      size_t len = 0;
      FILE *f = open_memstream(&buf, &len);
      if (f) {
        fprintf(f, "%lu %s", r, "some text to make the stream grow a little");
        fclose(f);
      }
#if defined(GM_TEST_API_GM)
      free(buf); /* open_memstream's buffer comes from the process malloc */
#else
      T_free(buf);
#endif
    }
    atomic_fetch_add_explicit(&worker_ops, 1, memory_order_relaxed);
  }
  for (int k = 0; k < 32; k++)
    T_free(local[k]);
  return NULL;
}

/* Blocks the forking thread owns, with known contents. */
enum { NPARENT = 64 };
static unsigned char *parent_blocks[NPARENT];
static size_t parent_sizes[NPARENT];

static void make_parent_blocks(unsigned round) {
  for (int i = 0; i < NPARENT; i++) {
    size_t n = (i % 8 == 7) ? 300 * KiB + (size_t)i : (size_t)(i * 97 % 5000) + 1;
    parent_sizes[i] = n;
    parent_blocks[i] = (i % 5 == 4) ? T_aligned_alloc(64, n) : T_malloc(n);
    if (parent_blocks[i])
      pattern_fill(parent_blocks[i], n < 4096 ? n : 4096, round + (unsigned)i);
  }
}

static void free_parent_blocks(void) {
  for (int i = 0; i < NPARENT; i++) {
    T_free(parent_blocks[i]);
    parent_blocks[i] = NULL;
  }
}

static void *child_thread(void *arg) {
  (void)arg;
  void *ps[100];
  for (int i = 0; i < 100; i++)
    ps[i] = T_malloc((size_t)i * 71 + 1);
  int ok = 1;
  for (int i = 0; i < 100; i++) {
    ok &= ps[i] != NULL;
    T_free(ps[i]);
  }
  return ok ? (void *)1 : NULL;
}

/* What the child does after fork. Returns the exit code; no stdio (the
 * parent's stdout lock state is whatever it was). */
static int child_work(unsigned round, int depth) {
  int bad = 0;
  /* The parent's blocks are intact and can be freed here. */
  for (int i = 0; i < NPARENT; i++) {
    if (!parent_blocks[i])
      continue;
    size_t n = parent_sizes[i] < 4096 ? parent_sizes[i] : 4096;
    if (pattern_find_bad(parent_blocks[i], n, round + (unsigned)i) != n)
      bad |= 1;
  }
  if (depth == 0)
    free_parent_blocks();
  /* Blocks other threads left in the exchange slots (their owners do not
   * exist in the child). */
  for (int i = 0; i < NSLOTS; i++)
    T_free(atomic_exchange(&slots[i], NULL));
  /* malloc, calloc, realloc, large. */
  void *ps[200];
  for (int i = 0; i < 200; i++) {
    ps[i] = (i % 50 == 0) ? T_malloc(1 * MiB) : T_calloc(1, (size_t)i * 33 + 1);
    if (!ps[i])
      bad |= 2;
    else if (i % 50 && first_nonzero(ps[i], (size_t)i * 33 + 1) != (size_t)i * 33 + 1)
      bad |= 2;
  }
  for (int i = 0; i < 200; i++) {
    void *q = T_realloc(ps[i], (size_t)i * 50 + 10);
    T_free(q ? q : ps[i]);
  }
  /* A thread. */
  pthread_t t;
  void *tr = NULL;
  if (pthread_create(&t, NULL, child_thread, NULL) != 0)
    bad |= 4;
  else if (pthread_join(t, &tr) != 0 || tr == NULL)
    bad |= 4;
  /* Fork again. */
  if (depth == 0) {
    pid_t g = fork();
    if (g == 0) {
      alarm(20);
      _exit(child_work(round, 1));
    }
    if (g < 0) {
      bad |= 8;
    } else {
      int st = 0;
      pid_t w = waitpid(g, &st, 0);
      if (w != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        bad |= 16;
        char msg[160];
        int len = snprintf(msg, sizeof msg,
                           "round %u: grandchild failed: waitpid %d, %s %d (exit bits as above)\n",
                           round, (int)w, WIFSIGNALED(st) ? "signal" : "exit",
                           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        if (len > 0 && write(2, msg, (size_t)len) < 0)
          bad |= 32;
      }
    }
  }
  return bad;
}

/* Waits for pid at most timeout seconds; kills it on timeout. */
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

static int report_child(const char *what, int round, int rc, int st) {
  if (rc == 1)
    return CHECK(0, "%s round %d: child deadlocked (killed after the deadline)", what, round);
  if (rc < 0)
    return CHECK(0, "%s round %d: waitpid failed: %s", what, round, strerror(errno));
  if (WIFSIGNALED(st))
    return CHECK(0, "%s round %d: expected exit 0, child killed by signal %d (%s)", what, round,
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
  return CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "%s round %d: expected exit 0, got exit %d (bits: 1 parent data, 2 malloc, 4 thread, "
               "8 fork, 16 grandchild)",
               what, round, WEXITSTATUS(st));
}

static void start_workers(pthread_t *t, int n) {
  atomic_store(&stop_workers, 0);
  for (int i = 0; i < n; i++)
    pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  /* Let them get going. */
  long start = atomic_load(&worker_ops);
  while (atomic_load(&worker_ops) < start + 1000)
    usleep(100);
}

static void stop_all_workers(pthread_t *t, int n) {
  atomic_store(&stop_workers, 1);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < NSLOTS; i++)
    T_free(atomic_exchange(&slots[i], NULL));
}

static void test_fork_with_threads(void) {
  check_section("fork while threads allocate");
  pthread_t t[4];
  start_workers(t, 4);
  /* Fewer rounds under a sanitizer, where each fork costs ~10x more. */
  int rounds = GM_TEST_SANITIZED ? 100 : 300, failures = 0;
  double t0 = now_seconds();
  for (int round = 0; round < rounds && failures < 3; round++) {
    make_parent_blocks((unsigned)round);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(30);
      _exit(child_work((unsigned)round, 0));
    }
    if (!CHECK(pid > 0, "fork: expected a child, got %d (%s)", (int)pid, strerror(errno))) {
      free_parent_blocks();
      break;
    }
    int st = 0;
    int rc = wait_deadline(pid, 30, &st);
    if (!report_child("fork with threads", round, rc, st))
      failures++;
    /* The parent's blocks are still fine here too. */
    for (int i = 0; i < NPARENT; i++) {
      size_t n = parent_sizes[i] < 4096 ? parent_sizes[i] : 4096;
      if (parent_blocks[i] && pattern_find_bad(parent_blocks[i], n, (unsigned)round + (unsigned)i) != n) {
        CHECK(0, "round %d: parent block %d changed across fork", round, i);
        break;
      }
    }
    free_parent_blocks();
  }
  stop_all_workers(t, 4);
  printf("fork with threads: %d rounds in %.1f s, %ld worker operations\n", rounds,
         now_seconds() - t0, atomic_load(&worker_ops));
}

static atomic_int forker_failures;
static char first_failure[128];
static void *forker(void *arg) {
  int id = (int)(uintptr_t)arg;
  for (int i = 0; i < 100; i++) {
    void *mine = T_malloc(1000 + (size_t)id);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(20);
      int bad = 0;
      T_free(mine);
      for (int k = 0; k < 1000; k++) {
        void *p = T_malloc((size_t)k * 3 + 1);
        if (!p)
          bad = 1;
        T_free(p);
      }
      _exit(bad);
    }
    if (pid < 0) {
      atomic_fetch_add(&forker_failures, 1);
      T_free(mine);
      continue;
    }
    int st = 0;
    int rc = wait_deadline(pid, 30, &st);
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      if (atomic_fetch_add(&forker_failures, 1) == 0)
        snprintf(first_failure, sizeof first_failure, "forker %d, fork %d: %s %d", id, i,
                 rc == 1 ? "deadlock (killed after 30 s), status" : WIFSIGNALED(st) ? "signal"
                                                                                   : "exit",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    T_free(mine);
  }
  return NULL;
}

static void test_two_forkers(void) {
  check_section("two threads fork at once");
  pthread_t t[3], f[2];
  start_workers(t, 3);
  for (int i = 0; i < 2; i++)
    pthread_create(&f[i], NULL, forker, (void *)(uintptr_t)i);
  for (int i = 0; i < 2; i++)
    pthread_join(f[i], NULL);
  stop_all_workers(t, 3);
  CHECK(atomic_load(&forker_failures) == 0,
        "two forkers: expected every child to exit 0 in time, %d did not (first: %s)",
        atomic_load(&forker_failures), first_failure);
}

/* ---- fork from a signal handler --------------------------------------------------------- */

static volatile sig_atomic_t forks_done, fork_errors;

static volatile sig_atomic_t forking = 1;

/* One-shot timer, re-armed after each fork: a periodic one starves the
 * interrupted thread when a fork takes longer than the period (its next
 * store faults on the pages the fork made copy-on-write, the pending
 * signal forks again, and so on), which says nothing about the allocator. */
static void arm_fork_timer(void) {
  struct itimerval it = {{0, 0}, {0, forking ? 500 : 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void fork_handler(int sig) {
  (void)sig;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  if (pid < 0)
    fork_errors++;
  else
    forks_done++;
  arm_fork_timer();
  errno = saved;
}

/* Runs in a single-threaded child process. */
static int signal_fork_child(void *arg) {
  (void)arg;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fork_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  arm_fork_timer();
  void *keep[64] = {0};
  unsigned long s = 12345;
  double end = now_seconds() + 4.0;
  long iters = 0;
  while (now_seconds() < end || forks_done < 200) {
    for (int i = 0; i < 1000; i++) {
      unsigned long r = next_rand(&s);
      int k = (int)(r % 64);
      T_free(keep[k]);
      size_t n = (r >> 8) % 100 == 0 ? 100 * KiB : 1 + (r >> 16) % 2000;
      switch ((r >> 4) % 4) {
      case 0: keep[k] = T_malloc(n); break;
      case 1: keep[k] = T_calloc(1, n); break;
      case 2: keep[k] = T_realloc(T_malloc(16), n); break;
      default: keep[k] = T_aligned_alloc(64, n); break;
      }
      iters++;
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (now_seconds() > end + 30)
      break;
  }
  forking = 0;
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  while (waitpid(-1, NULL, 0) > 0) {
  }
  for (int k = 0; k < 64; k++)
    T_free(keep[k]);
  printf("signal forks: %d forks, %d fork errors, %ld allocations\n", (int)forks_done,
         (int)fork_errors, iters);
  return forks_done >= 200 ? 0 : 3;
}

static child_result_t res;

static void test_fork_in_signal_handler(void) {
  check_section("fork from a signal handler");
  if (run_child(signal_fork_child, NULL, NULL, NULL, 60, &res) != 0) {
    CHECK(0, "could not start the child");
    return;
  }
  char st[128];
  int ok = CHECK(child_exited_ok(&res),
                 "fork from a signal handler: expected exit 0 within 60 s, got %s "
                 "(timed out = deadlock)",
                 child_status_text(&res, st, sizeof st));
  if (!ok)
    child_dump("signal fork", &res);
  else
    printf("%s", res.out);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_fork (%s API)\n", API_NAME);
  test_fork_in_signal_handler(); /* first: the process is still single-threaded */
  test_fork_with_threads();
  test_two_forkers();
  return check_summary();
}
