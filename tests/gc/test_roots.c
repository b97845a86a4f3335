/* test_roots.c MODE: one object, reachable only through one kind of root,
 * survives collections, its pattern intact, and its slot is not handed out
 * again. MODE is the root kind:
 *   stack     another thread's stack (its registers scrubbed, it sleeps in
 *             a system call)
 *   regs      another thread's register (r12, x86-64: it spins in asm;
 *             skipped under TSan, which never signals such a thread)
 *   data      a global of the program (bss)
 *   dlopen    a global of a library loaded with dlopen after start
 *   uncoll    a gm_gc_malloc_uncollectable block, itself only in malloc memory
 *   interior  a global holding a pointer into the object's middle
 *   explicit  malloc memory given to gm_gc_add_roots (after
 *             gm_gc_remove_roots the object must be collected)
 * CMake runs each mode again with GOMALLOC_GC_TEST_NOROOTS set to turn
 * that root kind off (src/gc.h): the test must then report the object
 * collected, which shows that it tests what it says.
 *
 * The object is handed around XOR-encoded, which no scan takes for a
 * pointer, so that the root under test holds its only copy. "Collected" is
 * seen directly: the collector is paced off (only gm_gc_collect runs), and
 * after the collections gm_gc_base must still find the block live, and
 * 8192 new blocks of its class must not include its slot. */
#include "gc_test.h"

#include <dlfcn.h>
#include <pthread.h>
#include <time.h>

#define SIZE 48
#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)
#define PROBES 8192

static volatile uintptr_t handoff; /* encoded */
static volatile int phase;         /* 1: the thread holds it; 2: give it back */
void *volatile gc_test_global_slot;
char *volatile gc_test_global_interior;

static void fill(unsigned char *p, unsigned char v) { memset(p, v, SIZE); }
static int intact(const unsigned char *p, unsigned char v) {
  for (int i = 0; i < SIZE; i++)
    if (p[i] != v)
      return 0;
  return 1;
}

/* A new object with the pattern, known to the caller only encoded. */
static __attribute__((noinline)) uintptr_t make_object(void) {
  unsigned char *p = gm_gc_malloc(SIZE);
  fill(p, 0xA5);
  return (uintptr_t)p ^ MASK;
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void *stack_thread(void *arg) {
  (void)arg;
  gm_gc_register_thread();
  volatile uintptr_t slot[1];
  slot[0] = handoff ^ MASK; /* the only copy: on this stack */
  handoff = 0;
#if defined(__x86_64__)
  __asm__ volatile("xor %%ebx, %%ebx; xor %%r12d, %%r12d; xor %%r13d, %%r13d; "
                   "xor %%r14d, %%r14d; xor %%r15d, %%r15d" ::: "rbx", "r12", "r13", "r14",
                   "r15", "memory");
#endif
  __atomic_store_n(&phase, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != 2)
    sleep_ms(1); /* in a system call when the signal comes */
  handoff = slot[0] ^ MASK;
  return NULL;
}

#if defined(__x86_64__)
static void *regs_thread(void *arg) {
  (void)arg;
  gm_gc_register_thread();
  uintptr_t enc = handoff, mask = MASK, out;
  handoff = 0;
  /* Decode into r12 only, scrub the other callee-saved registers, spin
   * until phase 2, then re-encode. */
  __asm__ volatile("mov %[enc], %%r12\n\t"
                   "xor %[mask], %%r12\n\t"
                   "xor %%ebx, %%ebx; xor %%r13d, %%r13d; xor %%r14d, %%r14d; xor %%r15d, %%r15d\n\t"
                   "xor %[enc], %[enc]\n\t"
                   "movl $1, %[ph]\n\t"
                   "1: pause\n\t"
                   "cmpl $2, %[ph]\n\t"
                   "jne 1b\n\t"
                   "mov %%r12, %[out]\n\t"
                   "xor %[mask], %[out]\n\t"
                   "xor %%r12d, %%r12d"
                   : [out] "=&r"(out), [enc] "+&r"(enc), [ph] "+m"(phase)
                   : [mask] "r"(mask)
                   : "rbx", "r12", "r13", "r14", "r15", "memory", "cc");
  handoff = out;
  return NULL;
}
#endif

/* Allocate PROBES blocks of the class; 1 if one of them is obj's slot. The
 * probes are filled with another pattern. */
static __attribute__((noinline)) int reused(uintptr_t enc) {
  void **probes = malloc(PROBES * sizeof *probes); /* not a root */
  int hit = 0;
  for (int i = 0; i < PROBES; i++) {
    probes[i] = gm_gc_malloc(SIZE);
    if (((uintptr_t)probes[i] ^ MASK) == enc)
      hit = 1;
    fill(probes[i], 0x11);
  }
  free(probes);
  return hit;
}

static __attribute__((noinline)) void collect(void) {
  gc_clear_stack();
  for (int i = 0; i < 3; i++)
    gm_gc_collect();
}

/* Collected: no longer a live block (gm_gc_base), or its slot reused. */
static __attribute__((noinline)) int collected(uintptr_t enc) {
  return gm_gc_base((void *)(enc ^ MASK)) != (void *)(enc ^ MASK) || reused(enc);
}

static __attribute__((noinline)) void report(const char *mode, uintptr_t enc) {
  int hit = collected(enc);
  CHECK(!hit, "%s: reused: the object was collected", mode);
  if (!hit)
    CHECK(intact((unsigned char *)(enc ^ MASK), 0xA5), "%s: the object's pattern changed", mode);
}

static __attribute__((noinline)) uintptr_t set_global(void) {
  uintptr_t enc = make_object();
  gc_test_global_slot = (void *)(enc ^ MASK);
  return enc;
}

static __attribute__((noinline)) uintptr_t set_interior(void) {
  uintptr_t enc = make_object();
  gc_test_global_interior = (char *)(enc ^ MASK) + SIZE / 2;
  return enc;
}

static __attribute__((noinline)) uintptr_t set_uncoll(void ***holder) {
  uintptr_t enc = make_object();
  void **u = gm_gc_malloc_uncollectable(64);
  u[3] = (void *)(enc ^ MASK);
  *holder = malloc(sizeof(void *)); /* u lives only in malloc memory */
  **holder = (void *)((uintptr_t)u ^ MASK);
  return enc;
}

static __attribute__((noinline)) uintptr_t set_explicit(void ***buf) {
  uintptr_t enc = make_object();
  *buf = malloc(16 * sizeof(void *));
  memset(*buf, 0, 16 * sizeof(void *));
  (*buf)[7] = (void *)(enc ^ MASK);
  gm_gc_add_roots(*buf, *buf + 16);
  return enc;
}

static __attribute__((noinline)) uintptr_t set_dl_slot(void *lib) {
  uintptr_t enc = make_object();
  *(void **)dlsym(lib, "gc_test_slot") = (void *)(enc ^ MASK);
  return enc;
}

static int thread_mode(const char *mode, void *(*fn)(void *)) {
  uintptr_t enc = make_object();
  handoff = enc;
  enc ^= 0; /* kept encoded here */
  pthread_t th;
  pthread_create(&th, NULL, fn, NULL);
  while (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != 1)
    sleep_ms(1);
  collect();
  int hit = collected(enc);
  __atomic_store_n(&phase, 2, __ATOMIC_SEQ_CST);
  pthread_join(th, NULL);
  CHECK(!hit, "%s: reused: the object was collected", mode);
  CHECK(handoff == enc, "%s: the thread gave back another pointer", mode);
  if (!hit)
    CHECK(intact((unsigned char *)(enc ^ MASK), 0xA5), "%s: the object's pattern changed", mode);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "data";
  gm_gc_set_percent(-1);
  if (!gm_gc_malloc(SIZE)) /* sets up this thread's cache of the class */
    return 1;
  if (!strcmp(mode, "stack")) {
    thread_mode(mode, stack_thread);
  } else if (!strcmp(mode, "regs")) {
#if defined(__SANITIZE_THREAD__)
    /* TSan runs a signal handler only when the thread enters or leaves an
     * intercepted call, and this one spins in asm, calling nothing: it
     * never stops, and the collection waits for it for ever. */
    (void)regs_thread;
    printf("regs: skipped under ThreadSanitizer (a thread that makes no intercepted call "
           "never runs the stop signal's handler)\n");
    return 77;
#elif defined(__x86_64__)
    thread_mode(mode, regs_thread);
#else
    printf("regs: x86-64 only, skipped\n");
#endif
  } else if (!strcmp(mode, "data")) {
    uintptr_t enc = set_global();
    collect();
    report(mode, enc);
    CHECK(gc_test_global_slot == (void *)(enc ^ MASK), "data: the global changed");
  } else if (!strcmp(mode, "interior")) {
    uintptr_t enc = set_interior();
    collect();
    report(mode, enc);
  } else if (!strcmp(mode, "uncoll")) {
    void **holder;
    uintptr_t enc = set_uncoll(&holder);
    collect();
    report(mode, enc);
    void **u = (void **)((uintptr_t)*holder ^ MASK);
    CHECK(u[3] == (void *)(enc ^ MASK), "uncoll: the uncollectable block changed");
    gm_gc_free(u);
    free(holder);
  } else if (!strcmp(mode, "explicit")) {
    void **buf;
    uintptr_t enc = set_explicit(&buf);
    collect();
    report(mode, enc);
    /* Removed, the range is no root: the object goes. */
    gm_gc_remove_roots(buf, buf + 16);
    collect();
    CHECK(collected(enc), "explicit: the object outlived gm_gc_remove_roots");
  } else if (!strcmp(mode, "dlopen")) {
    if (argc < 3) {
      printf("dlopen: no library given\n");
      return 1;
    }
    void *lib = dlopen(argv[2], RTLD_NOW);
    CHECK(lib != NULL, "dlopen %s: %s", argv[2], dlerror());
    if (!lib)
      return check_summary();
    uintptr_t enc = set_dl_slot(lib);
    collect();
    report(mode, enc);
  } else {
    printf("unknown mode %s\n", mode);
    return 1;
  }
  return check_summary();
}
