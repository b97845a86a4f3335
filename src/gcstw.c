/* gcstw.c: registered threads, and stopping them (Go's stopTheWorld; the
 * signal and its retry are Go's async preemption).
 *
 * A thread registers on its first gm_gc_* call (or gm_gc_register_thread)
 * and is unregistered by a pthread key destructor at exit. Its record holds
 * its stack bounds (pthread_getattr_np) and its GC cache; records are
 * mapped memory, reused, never malloc'd.
 *
 * To stop the world the collector (holding gm_gc.lock) makes stw_gen odd
 * and sends each other registered thread the stop signal (a real-time
 * signal, SIGRTMIN+7 unless GOMALLOC_GC_SIGNAL says otherwise: Boehm's
 * SIGPWR and SIGXCPU clash with Mono's and JSC's). The handler saves the
 * interrupted registers and stack pointer from its ucontext, acknowledges
 * and sleeps on a futex until stw_gen changes. A thread caught inside a
 * busy section (an allocation fast path of malloc or of the GC heap) is
 * not at a safe point: the handler returns at once asking to be signalled
 * again, and the collector does so until it is acknowledged. Signals
 * interrupt system calls, so a blocked thread stops too (the call may
 * return EINTR where SA_RESTART does not apply). A thread that blocks the
 * signal stalls the collection, as it does under Boehm. */
#include "gc.h"

#include "error.h"
#include "gomalloc-gc.h"
#include "options.h"
#include "os.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

__thread gm_gc_thread_t *gm_gc_self __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_key;
static gm_gc_thread_t *pool; /* unregistered records, for reuse (lock) */

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void thread_exit(void *arg) {
  (void)arg;
  gm_gc_thread_unregister();
}

gm_gc_thread_t *gm_gc_thread_register(void) {
  gm_gc_init();
  gm_gc_thread_t *t = gm_gc_self;
  if (t)
    return t;
  void *addr = NULL;
  size_t size = 0;
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
  }
  gm_gc_lock();
  t = pool;
  if (t)
    pool = t->next;
  else if (!(t = gm_sys_alloc(sizeof *t)))
    gm_fatal("gm_gc: cannot map a thread record", NULL, "out of memory");
  memset(t, 0, sizeof *t);
  t->stack_lo = (uintptr_t)addr;
  t->stack_hi = (uintptr_t)addr + size;
  t->tid = (pid_t)syscall(SYS_gettid);
  t->next = gm_gc.threads;
  if (t->next)
    t->next->prev = t;
  gm_gc.threads = t;
  gm_gc.nthreads++;
  gm_gc_self = t;
  gm_unlock(&gm_gc.lock);
  pthread_setspecific(thread_key, t);
  return t;
}

static void unlink_locked(gm_gc_thread_t *t) {
  gm_gc_flush_thread_locked(t);
  if (t->prev)
    t->prev->next = t->next;
  else
    gm_gc.threads = t->next;
  if (t->next)
    t->next->prev = t->prev;
  gm_gc.nthreads--;
  t->prev = NULL;
  t->next = pool;
  pool = t;
}

void gm_gc_thread_unregister(void) {
  gm_gc_thread_t *t = gm_gc_self;
  if (!t)
    return;
  gm_gc_lock();
  unlink_locked(t);
  gm_gc_self = NULL;
  gm_unlock(&gm_gc.lock);
  pthread_setspecific(thread_key, NULL);
}

/* ---- the stop signal ---------------------------------------------------- */

static uint32_t nacks; /* futex the collector waits on */

static void stop_handler(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)si;
  int saved = errno;
  gm_gc_thread_t *t = gm_gc_self;
  uint32_t gen = gm_load_acquire(&gm_gc.stw_gen);
  if (!t || !(gen & 1) || gm_load_relaxed(&t->acked) == gen) {
    errno = saved;
    return; /* late or repeated: nothing to do */
  }
  if (gm_tls_busy) {
    /* Inside an allocation fast path: let it finish (see above). */
    gm_store_release(&t->resend, 1u);
    gm_fetch_add_relaxed(&nacks, 1u);
    futex(&nacks, FUTEX_WAKE_PRIVATE, 1, NULL);
    errno = saved;
    return;
  }
  ucontext_t *uc = ctx;
#if defined(__SANITIZE_THREAD__)
  /* TSan runs the handler late, at the thread's next intercepted call,
   * with the context of the signal's arrival: the thread has moved on
   * since. Its registers and stack now are here. */
  ucontext_t here;
  getcontext(&here);
  uc = &here;
#endif
  size_t n = sizeof uc->uc_mcontext < sizeof t->regs ? sizeof uc->uc_mcontext : sizeof t->regs;
  memcpy(t->regs, &uc->uc_mcontext, n);
#if defined(__SANITIZE_THREAD__)
  t->sp = (uintptr_t)&here;
#elif defined(__x86_64__)
  /* The interrupted sp, less the red zone a leaf function may use; the
   * signal frame may be on an alternate stack. */
  t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128;
#else
  t->sp = (uintptr_t)__builtin_frame_address(0);
#endif
  gm_store_release(&t->acked, gen);
  gm_fetch_add_relaxed(&nacks, 1u);
  futex(&nacks, FUTEX_WAKE_PRIVATE, 1, NULL);
  while (gm_load_acquire(&gm_gc.stw_gen) == gen)
    futex(&gm_gc.stw_gen, FUTEX_WAIT_PRIVATE, gen, NULL);
  errno = saved;
}

/* gm_gc_set_signal before the collector starts (Boehm's
 * GC_set_suspend_signal, which must come before GC_INIT); 0: none. */
static int signal_wanted;

GM_GC_API int gm_gc_set_signal(int sig) {
  if (sig < 1 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) {
    errno = EINVAL;
    return -1;
  }
  if (gm_load_acquire(&gm_gc.signo)) {
    errno = EBUSY; /* the handler is installed already */
    return -1;
  }
  gm_store_release(&signal_wanted, sig);
  return 0;
}

GM_GC_API int gm_gc_signal(void) {
  int sig = gm_load_acquire(&gm_gc.signo);
  if (sig)
    return sig;
  sig = gm_load_acquire(&signal_wanted);
  if (sig)
    return sig;
  return gm_options.gc_signal ? (int)gm_options.gc_signal : SIGRTMIN + 7;
}

void gm_gc_stw_init(void) {
  if (pthread_key_create(&thread_key, thread_exit) != 0)
    gm_fatal("gm_gc: cannot create the thread-exit key", NULL, "pthread_key_create failed");
  int sig = signal_wanted ? signal_wanted
                          : gm_options.gc_signal ? (int)gm_options.gc_signal : SIGRTMIN + 7;
  if (sig < 1 || sig > SIGRTMAX)
    gm_fatal("gm_gc: GOMALLOC_GC_SIGNAL out of range", NULL, "not a signal number");
  gm_store_release(&gm_gc.signo, sig);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = stop_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
#if defined(__SANITIZE_THREAD__)
  /* TSan runs a handler when the thread leaves its next intercepted call;
   * a read() it restarts never leaves, and the collection waited for ever
   * (tests/gc/test_fork's threads, blocked on a pipe). Without SA_RESTART
   * the call returns EINTR, and the handler runs then. */
  sa.sa_flags &= ~SA_RESTART;
#endif
  sigfillset(&sa.sa_mask); /* a stopped thread runs no other handler */
  if (sigaction(sig, &sa, NULL) != 0)
    gm_fatal("gm_gc: cannot install the stop signal handler", NULL, "sigaction failed");
  pthread_atfork(gm_gc_fork_prepare, gm_gc_fork_parent, gm_gc_fork_child);
}

/* A running thread answers the signal in a few microseconds; sleeping on
 * the futex instead costs the collector a wake-up on top. Spin that long
 * first, no longer: a thread that must be scheduled to answer needs the
 * CPU. Measured only on a loaded machine (2 cores, load ~25, gcthreads-2,
 * GOMALLOC_GC_TRACE stop per cycle): p25 0.029 -> 0.019 ms, but p50 0.067
 * -> 0.091 ms; mean 2.3 -> 0.9 ms (fewer long stops). */
static bool spin_for_acks(uint32_t seen) {
  uint64_t until = gm_sys_now_ns() + 30000;
  for (unsigned i = 1;; i++) {
    if (gm_load_acquire(&nacks) != seen)
      return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 32 == 0 && gm_sys_now_ns() > until)
      return false;
  }
}

void gm_gc_stop_world(void) {
  gm_gc_thread_t *self = gm_gc_self;
  uint32_t gen = gm_gc.stw_gen + 1;
  gm_store_seqcst(&gm_gc.stw_gen, gen);
  pid_t pid = getpid();
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next) {
    if (t == self)
      continue;
    gm_store_relaxed(&t->resend, 0u);
    if (syscall(SYS_tgkill, pid, t->tid, gm_gc.signo) != 0) {
      /* Gone without unregistering (no destructor ran): nothing to scan. */
      t->sp = t->stack_hi;
      memset(t->regs, 0, sizeof t->regs);
      gm_store_release(&t->acked, gen);
    }
  }
  for (unsigned round = 0;; round++) {
    uint32_t seen = gm_load_acquire(&nacks);
    size_t pending = 0;
    for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next) {
      if (t == self || gm_load_acquire(&t->acked) == gen)
        continue;
      pending++;
      if (gm_exchange_acqrel(&t->resend, 0u))
        syscall(SYS_tgkill, pid, t->tid, gm_gc.signo); /* it was busy: again */
    }
    if (!pending)
      break;
    if (round == 0 && spin_for_acks(seen))
      continue; /* an answer came: count again */
    struct timespec ts = {0, round < 100 ? 100000 : 10000000};
    futex(&nacks, FUTEX_WAIT_PRIVATE, seen, &ts);
    if (round == 1000)
      gm_warn("gm_gc: a registered thread does not answer the stop signal (blocked?)");
  }
}

void gm_gc_start_world(void) {
  gm_store_release(&gm_gc.stw_gen, gm_gc.stw_gen + 1);
  futex(&gm_gc.stw_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* ---- fork ------------------------------------------------------------------ */

/* Taken first (registered after gomalloc's own handlers, so run before
 * them): the order is gm_gc.lock, then the heap's. */
void gm_gc_fork_prepare(void) { gm_lock_for_fork(&gm_gc.lock); }
void gm_gc_fork_parent(void) { gm_unlock_after_fork(&gm_gc.lock); }

/* The child has one thread: every other record goes, its spans to the
 * central lists. */
void gm_gc_fork_child(void) {
  gm_lock_reinit(&gm_gc.lock);
  gm_gc_mark_fork_child();
  gm_gc_thread_t *self = gm_gc_self, *next;
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = next) {
    next = t->next;
    if (t != self)
      unlink_locked(t);
  }
  if (self)
    self->tid = (pid_t)syscall(SYS_gettid);
}
