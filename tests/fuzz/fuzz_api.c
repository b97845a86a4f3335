/* fuzz_api.c: a fuzzer for the gm_* API (libFuzzer), and the same harness
 * as a plain program that replays inputs (regression runs under CTest).
 *
 * Each input is a program: one byte picks an operation (every call of
 * gomalloc.h and gomalloc-stats.h), the following bytes its sizes (tiny,
 * every size-class boundary +-1, page multiples +-1, large, huge,
 * impossible, overflowing counts), alignments (valid and invalid), which
 * live block it acts on, and whether it runs on this thread or on a
 * persistent second thread. That thread takes commands from a FIFO queue:
 * frees (asynchronous, so remote frees race the main thread's
 * allocations) and calls whose result the main thread waits for (blocks
 * allocated there and freed here, reallocs of blocks owned elsewhere).
 *
 * The model checks what the header and README promise:
 *   - contents: every block is filled with a pattern of its own when it is
 *     allocated (all of its usable size when small; head, tail and sampled
 *     words when large) and verified before it is freed or reallocated;
 *     realloc keeps the prefix; calloc's memory reads zero;
 *   - alignment: 16 bytes for requests of 16 or more, else 8; the asked
 *     alignment for aligned_alloc, posix_memalign, memalign (rounded up),
 *     the page for valloc and pvalloc;
 *   - usable size >= request (pvalloc: whole pages), stable while live;
 *   - failures: NULL with errno ENOMEM, EINVAL for a bad alignment;
 *     posix_memalign returns the error, leaves *out and errno alone;
 *     realloc's and reallocarray's failures leave the block intact;
 *     realloc(p, 0) frees and returns NULL; requests that cannot fit in
 *     the address space fail, modest ones (<= 256 MiB) must not;
 *   - no overlap: live blocks' usable ranges, kept in a sorted array;
 *   - statistics: with the second thread idle, gm_stats' live objects
 *     equal the model's, and its documented sums hold.
 *
 * What it leaves out by default: sizes between 16 GiB (1 GiB in debug and
 * TSan builds) and the cap (2^46), and alignments from 4 GiB (1 GiB) to
 * it. gomalloc reserves address space for them and commits
 * span metadata in proportion (about 1.1 GiB of RSS per TiB reserved,
 * kept after free), so one such request can exhaust the machine instead of
 * failing with ENOMEM; see tests/fuzz/crashes/README.md.
 * GM_FUZZ_CAP=1 lets them through.
 *
 * replay.c turns the harness into a plain program (fuzz_api_replay) that
 * replays files and random inputs. GM_FUZZ_TRACE=1 prints every operation
 * to stderr. */
#include "fuzz_api.h"
#include "gomalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

#define SLOTS 256            /* live blocks of the main thread's model */
#define FULL_FILL (64 * KiB) /* blocks up to this usable size are filled whole */
#define HEAD_FILL (16 * KiB) /* larger ones: head, tail and sampled words */
#define TAIL_FILL (4 * KiB)
#define SAMPLES 8
#define MUST_OK (256 * MiB) /* requests up to this (and align <= 1 GiB) must succeed */
#define IMPOSSIBLE_FROM ((size_t)1 << 47) /* > user address space: must fail */
/* Debug builds check the page allocator's invariants by walking the
 * whole heap; ThreadSanitizer shadows every byte the harness or a copy
 * touches, for good. Both get smaller huge blocks and copies. */
#if defined(__SANITIZE_THREAD__)
#define GM_FUZZ_LIGHT 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GM_FUZZ_LIGHT 1
#endif
#endif
#if GM_DEBUG || GM_FUZZ_LIGHT
#define HUGE_MAX (1 * GiB + 8 * KiB) /* largest size tried unless GM_FUZZ_CAP */
#define LIVE_MAX (4 * GiB)           /* live bytes the model allows at once */
#define ALIGN_MAX ((size_t)1 << 30)  /* largest alignment tried unless GM_FUZZ_CAP */
#define CALLOC_MAX (4 * MiB)         /* calloc may clear all of it */
#define COPY_MAX (8 * MiB)           /* realloc may copy this much */
#else
#define HUGE_MAX (16 * GiB + 8 * KiB)
#define LIVE_MAX (20 * GiB)
#define ALIGN_MAX ((size_t)1 << 32)
#define CALLOC_MAX (64 * MiB)
#define COPY_MAX (256 * MiB)
#endif
#define CAP_TOP ((size_t)1 << 47) /* tamed range ends here */
#define ERRNO_SENTINEL 0x5eed
#define OUT_SENTINEL ((void *)0x5eed0)

/* Size classes of gomalloc (Go's table up to 32 KiB). */
static const size_t classes[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,  160,   176,   192,
    208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,  512,   576,   640,
    704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304, 2688,  3072,  3200,
    3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728, 10240, 10880, 12288,
    13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
#define NCLASSES (sizeof classes / sizeof classes[0])

/* ---- options -------------------------------------------------------------- */

static bool cap_mode;  /* GM_FUZZ_CAP=1: sizes and alignments up to the cap */
static bool align8;    /* GOMALLOC_ALIGN8=1: 17-24 byte requests 8-aligned */
static size_t page;    /* the OS page (valloc, pvalloc) */
static bool trace_ops; /* GM_FUZZ_TRACE=1: print every operation */
int fuzz_corrupt;      /* see fuzz_api.h */
bool fuzz_expect_failure;
static FILE *devnull;

/* ---- failure reports ---------------------------------------------------- */

/* The last operations, printed with a failure. */
#define TRACE 24
static struct {
  const char *op;
  int slot;
  size_t a, b, c;
  const void *ret;
} trace[TRACE];
static unsigned long op_count; /* operations of this input so far */
static unsigned long inputs;   /* inputs run */

static void note(const char *op, int slot, size_t a, size_t b, size_t c) {
  unsigned i = (unsigned)(op_count % TRACE);
  trace[i].op = op;
  trace[i].slot = slot;
  trace[i].a = a;
  trace[i].b = b;
  trace[i].c = c;
  trace[i].ret = NULL;
  if (trace_ops)
    fprintf(stderr, "fuzz: #%lu %s slot %d args 0x%zx 0x%zx 0x%zx\n", op_count, op, slot, a, b, c);
  op_count++;
}

static void note_ret(const void *r) {
  trace[(op_count + TRACE - 1) % TRACE].ret = r;
  if (trace_ops)
    fprintf(stderr, "fuzz:   -> %p\n", r);
}

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  pthread_mutex_lock(&fail_lock);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz: FAILED (input %lu, op %lu): ", inputs, op_count);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fprintf(stderr, "fuzz: last operations (oldest first):\n");
  unsigned long first = op_count > TRACE ? op_count - TRACE : 0;
  for (unsigned long k = first; k < op_count; k++) {
    unsigned i = (unsigned)(k % TRACE);
    fprintf(stderr, "  #%lu %s slot %d args 0x%zx 0x%zx 0x%zx -> %p\n", k, trace[i].op,
            trace[i].slot, trace[i].a, trace[i].b, trace[i].c, trace[i].ret);
  }
  if (fuzz_expect_failure) {
    fprintf(stderr, "fuzz: the failure was expected (--expect-failure): ok\n");
    fflush(stderr);
    _exit(0);
  }
  abort();
}

/* ---- the pattern --------------------------------------------------------- */

/* Word k of a block with this seed: distinct per block and per position,
 * so a block that overlaps another or moves without its contents shows. */
static inline uint64_t pattern_word(uint64_t seed, size_t k) {
  uint64_t x = seed ^ ((uint64_t)k * 0x9e3779b97f4a7c15ull);
  return x ^ (x >> 31);
}

static inline unsigned char pattern_byte(uint64_t seed, size_t i) {
  return (unsigned char)(pattern_word(seed, i >> 3) >> ((i & 7) * 8));
}

static void fill_range(unsigned char *p, uint64_t seed, size_t a, size_t b) {
  size_t i = a;
  for (; i < b && (i & 7); i++)
    p[i] = pattern_byte(seed, i);
  for (; i + 8 <= b; i += 8) {
    uint64_t w = pattern_word(seed, i >> 3);
    __builtin_memcpy(p + i, &w, 8);
  }
  for (; i < b; i++)
    p[i] = pattern_byte(seed, i);
}

/* First offset in [a, b) that breaks the pattern (zero == true: that is
 * not zero), or b. */
static size_t check_range(const unsigned char *p, uint64_t seed, size_t a, size_t b, bool zero) {
  size_t i = a;
  for (; i < b && (i & 7); i++)
    if (p[i] != (zero ? 0 : pattern_byte(seed, i)))
      return i;
  for (; i + 8 <= b; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    if (w != (zero ? 0 : pattern_word(seed, i >> 3)))
      break;
  }
  for (; i < b; i++)
    if (p[i] != (zero ? 0 : pattern_byte(seed, i)))
      return i;
  return b;
}

/* The parts of a block of n requested and u usable bytes that carry the
 * pattern: all of it up to FULL_FILL; else the head, the last TAIL_FILL
 * bytes of the request and the first of the slack, and sampled words. */
typedef struct {
  size_t a[SAMPLES + 2], b[SAMPLES + 2];
  int count;
} regions_t;

static void regions_of(size_t n, size_t u, regions_t *r) {
  r->count = 0;
  if (u <= FULL_FILL) {
    r->a[0] = 0;
    r->b[0] = u;
    r->count = 1;
    return;
  }
  size_t head = n < HEAD_FILL ? n : HEAD_FILL;
  r->a[r->count] = 0;
  r->b[r->count++] = head;
  size_t ta = n > TAIL_FILL ? n - TAIL_FILL : 0;
  size_t tb = u - n > TAIL_FILL ? n + TAIL_FILL : u;
  if (ta < head)
    ta = head;
  r->a[r->count] = ta;
  r->b[r->count++] = tb;
  for (int j = 1; j <= SAMPLES; j++) {
    size_t off = (n / (SAMPLES + 1) * (size_t)j) & ~(size_t)7;
    if (off >= head && off + 8 <= ta) {
      r->a[r->count] = off;
      r->b[r->count++] = off + 8;
    }
  }
}

/* ---- live blocks and their ranges ------------------------------------- */

enum { K_MALLOC, K_CALLOC, K_REALLOC, K_ALIGNED, K_POSIX, K_MEMALIGN, K_VALLOC, K_PVALLOC };
static const char *const kind_name[] = {"malloc",         "calloc",   "realloc", "aligned_alloc",
                                        "posix_memalign", "memalign", "valloc",  "pvalloc"};

typedef struct {
  unsigned char *p;
  size_t n;      /* requested bytes */
  size_t u;      /* gm_usable_size when allocated */
  size_t align;  /* the alignment for free_aligned_sized, 0 if none */
  uint64_t seed; /* of its pattern */
  int kind;
} block_t;

static block_t slots[SLOTS];
static int live_count;    /* blocks in slots */
static size_t live_bytes; /* their usable bytes */

/* Usable ranges of every live block (also those queued for a remote free
 * until the second thread frees them), sorted by start. */
typedef struct {
  uintptr_t a, b;
} range_t;
#define MAX_RANGES (SLOTS + 1024 + 16)
static range_t ranges[MAX_RANGES];
static int nranges;
static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;

static int range_find(uintptr_t a) { /* first index with start >= a */
  int lo = 0, hi = nranges;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (ranges[mid].a < a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void range_insert(const void *p, size_t u, const char *what) {
  uintptr_t a = (uintptr_t)p, b = a + (u ? u : 1);
  pthread_mutex_lock(&ranges_lock);
  int i = range_find(a);
  if (i > 0 && ranges[i - 1].b > a)
    fail("%s returned %p (usable %zu), which overlaps the live block [0x%lx, 0x%lx)", what, p, u,
         (unsigned long)ranges[i - 1].a, (unsigned long)ranges[i - 1].b);
  if (i < nranges && ranges[i].a < b)
    fail("%s returned %p (usable %zu), which overlaps the live block [0x%lx, 0x%lx)", what, p, u,
         (unsigned long)ranges[i].a, (unsigned long)ranges[i].b);
  if (nranges == MAX_RANGES)
    fail("harness: range table full");
  memmove(&ranges[i + 1], &ranges[i], (size_t)(nranges - i) * sizeof ranges[0]);
  ranges[i].a = a;
  ranges[i].b = b;
  nranges++;
  pthread_mutex_unlock(&ranges_lock);
}

static void range_remove(const void *p) {
  pthread_mutex_lock(&ranges_lock);
  int i = range_find((uintptr_t)p);
  if (i == nranges || ranges[i].a != (uintptr_t)p)
    fail("harness: no range for %p", p);
  memmove(&ranges[i], &ranges[i + 1], (size_t)(nranges - i - 1) * sizeof ranges[0]);
  nranges--;
  pthread_mutex_unlock(&ranges_lock);
}

/* Check b's contents (the pattern up to limit bytes of it) and usable size. */
static void verify_block(const block_t *b, const char *when, size_t limit) {
  size_t u = gm_usable_size(b->p);
  if (u != b->u)
    fail("%s: gm_usable_size(%p) of a live %s(%zu) block changed from %zu to %zu", when, b->p,
         kind_name[b->kind], b->n, b->u, u);
  regions_t r;
  regions_of(b->n, b->u, &r);
  for (int k = 0; k < r.count; k++) {
    size_t hi = r.b[k] < limit ? r.b[k] : limit;
    if (r.a[k] >= hi)
      continue;
    size_t at = check_range(b->p, b->seed, r.a[k], hi, false);
    if (at != hi)
      fail("%s: block %p from %s(%zu), usable %zu: byte %zu is 0x%02x, expected 0x%02x", when, b->p,
           kind_name[b->kind], b->n, b->u, at, b->p[at], pattern_byte(b->seed, at));
  }
}

/* ---- the second thread ---------------------------------------------------- */

/* One gm_* call, run on either thread; err is errno just after it. */
enum {
  F_MALLOC,
  F_CALLOC,
  F_REALLOC,
  F_REALLOCARRAY,
  F_ALIGNED,
  F_POSIX,
  F_MEMALIGN,
  F_VALLOC,
  F_PVALLOC
};
typedef struct {
  int fn;
  void *p; /* realloc's block */
  size_t a, b;
  void *ret;
  int rc, err;
} call_t;

static void do_call(call_t *c) {
  c->rc = 0;
  errno = ERRNO_SENTINEL;
  switch (c->fn) {
  case F_MALLOC:
    c->ret = gm_malloc(c->a);
    break;
  case F_CALLOC:
    c->ret = gm_calloc(c->a, c->b);
    break;
  case F_REALLOC:
    c->ret = gm_realloc(c->p, c->a);
    break;
  case F_REALLOCARRAY:
    c->ret = gm_reallocarray(c->p, c->a, c->b);
    break;
  case F_ALIGNED:
    c->ret = gm_aligned_alloc(c->a, c->b);
    break;
  case F_POSIX: {
    void *out = OUT_SENTINEL;
    c->rc = gm_posix_memalign(&out, c->a, c->b);
    c->ret = out;
    break;
  }
  case F_MEMALIGN:
    c->ret = gm_memalign(c->a, c->b);
    break;
  case F_VALLOC:
    c->ret = gm_valloc(c->a);
    break;
  case F_PVALLOC:
    c->ret = gm_pvalloc(c->a);
    break;
  }
  c->err = errno;
}

/* How a block is freed: free, free_sized, free_aligned_sized (aligned
 * blocks), realloc(p, 0), reallocarray(p, 0, n). */
enum { V_FREE, V_SIZED, V_ALIGNED_SIZED, V_REALLOC0, V_REALLOCARRAY0, NVARIANTS };

static void free_block(const block_t *b, int variant) {
  switch (variant) {
  case V_SIZED:
    gm_free_sized(b->p, b->n);
    break;
  case V_ALIGNED_SIZED:
    if (b->align)
      gm_free_aligned_sized(b->p, b->align, b->n);
    else
      gm_free_sized(b->p, b->n);
    break;
  case V_REALLOC0:
  case V_REALLOCARRAY0: {
    void *r = variant == V_REALLOC0 ? gm_realloc(b->p, 0) : gm_reallocarray(b->p, 0, b->n | 1);
    if (r != NULL)
      fail("%s(%p, 0) of a live block: expected NULL (it frees), got %p",
           variant == V_REALLOC0 ? "realloc" : "reallocarray", b->p, r);
    break;
  }
  default:
    gm_free(b->p);
    break;
  }
}

enum { CMD_FREE, CMD_CALL, CMD_FLUSH, CMD_EXIT };
typedef struct {
  int kind;
  int variant;
  block_t blk;
  call_t *call;
} cmd_t;

#define QLEN 1024
static cmd_t queue[QLEN];
static unsigned long q_head, q_tail; /* pushed, popped (and done) */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER; /* both directions */
static pthread_t remote;
static bool remote_running;

static void *remote_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&q_lock);
    while (q_tail == q_head)
      pthread_cond_wait(&q_cond, &q_lock);
    cmd_t c = queue[q_tail % QLEN];
    pthread_mutex_unlock(&q_lock);
    switch (c.kind) {
    case CMD_FREE:
      verify_block(&c.blk, "remote free", SIZE_MAX);
      range_remove(c.blk.p); /* before the free: then the block may come back */
      free_block(&c.blk, c.variant);
      break;
    case CMD_CALL:
      do_call(c.call);
      break;
    case CMD_FLUSH:
      gm_thread_flush();
      break;
    default:
      break;
    }
    pthread_mutex_lock(&q_lock);
    q_tail++;
    pthread_cond_broadcast(&q_cond);
    pthread_mutex_unlock(&q_lock);
    if (c.kind == CMD_EXIT)
      return NULL;
  }
}

static void remote_start(void) {
  if (pthread_create(&remote, NULL, remote_main, NULL) != 0)
    fail("harness: pthread_create failed");
  remote_running = true;
}

/* Queue c; with wait, return once it is done (and everything before it). */
static void remote_push(cmd_t c, bool wait) {
  pthread_mutex_lock(&q_lock);
  while (q_head - q_tail == QLEN)
    pthread_cond_wait(&q_cond, &q_lock);
  unsigned long mine = q_head++;
  queue[mine % QLEN] = c;
  pthread_cond_broadcast(&q_cond);
  if (wait)
    while (q_tail <= mine)
      pthread_cond_wait(&q_cond, &q_lock);
  pthread_mutex_unlock(&q_lock);
}

static void remote_drain(void) {
  pthread_mutex_lock(&q_lock);
  while (q_tail != q_head)
    pthread_cond_wait(&q_cond, &q_lock);
  pthread_mutex_unlock(&q_lock);
}

static void remote_restart(void) {
  remote_push((cmd_t){.kind = CMD_EXIT}, true);
  pthread_join(remote, NULL); /* its cache goes back at thread exit */
  remote_start();
}

static void run_call(call_t *c, bool on_remote) {
  if (on_remote)
    remote_push((cmd_t){.kind = CMD_CALL, .call = c}, true);
  else
    do_call(c);
}

/* ---- reading the input ------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t n, i;
  uint64_t rng; /* block seeds: a function of the input, so runs repeat */
} reader_t;

static uint8_t u8(reader_t *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static uint16_t u16(reader_t *r) { return (uint16_t)(u8(r) | u8(r) << 8); }
static uint32_t u32(reader_t *r) { return (uint32_t)u16(r) | (uint32_t)u16(r) << 16; }
static uint64_t u64(reader_t *r) { return (uint64_t)u32(r) | (uint64_t)u32(r) << 32; }

static uint64_t next_seed(reader_t *r) {
  r->rng ^= r->rng << 13;
  r->rng ^= r->rng >> 7;
  r->rng ^= r->rng << 17;
  return r->rng;
}

/* Keep a request away from the sizes that exhaust the machine instead of
 * failing (see the top of the file), and the live total bounded. */
static size_t tame_size(size_t n) {
  if (!cap_mode && n > HUGE_MAX && n <= CAP_TOP)
    n = HUGE_MAX / 4 + (n & 0xffff); /* HUGE_MAX itself stays rare: it grows the heap */
  if (!cap_mode && n > 64 * MiB && n < IMPOSSIBLE_FROM && live_bytes + n > LIVE_MAX)
    n &= 64 * MiB - 1;
  return n;
}

static size_t tame_align(size_t a) {
  if (cap_mode || a <= ALIGN_MAX || a > CAP_TOP)
    return a;
  /* memalign rounds up: keep the rounded value in range too. */
  return ALIGN_MAX;
}

static size_t rd_size(reader_t *r) {
  static const size_t big[] = {1 * MiB,       2 * MiB - 1,      2 * MiB,   2 * MiB + 1,
                               4 * MiB + 1,   64 * MiB - 1,     64 * MiB,  64 * MiB + 1,
                               8 * KiB * 255, 128 * MiB + 8193, 256 * MiB, MUST_OK + 1};
  static const size_t huge[] = {1 * GiB,         1 * GiB + 1,        4 * GiB - 1,
                                4 * GiB,         16 * GiB + 8 * KiB, ((size_t)1 << 46) - 1,
                                (size_t)1 << 46, 1024 * GiB};
  static const size_t impossible[] = {((size_t)1 << 46) + 1,
                                      (size_t)1 << 47,
                                      (size_t)1 << 48,
                                      PTRDIFF_MAX,
                                      (size_t)PTRDIFF_MAX + 1,
                                      SIZE_MAX - 2 * 8192 + 1,
                                      SIZE_MAX - 8191,
                                      SIZE_MAX - 4095,
                                      SIZE_MAX - 15,
                                      SIZE_MAX - 1,
                                      SIZE_MAX};
  size_t n;
  uint8_t k = u8(r);
  switch (k % 16) {
  case 0:
  case 1:
  case 2:
  case 3:
    n = u8(r) % 33;
    break;
  case 4:
  case 5:
  case 6: {
    uint16_t v = u16(r);
    n = classes[v % NCLASSES] + (size_t)(v / NCLASSES % 3) - 1;
    break;
  }
  case 7:
  case 8:
    n = u16(r) % (32 * KiB + 1);
    break;
  case 9:
  case 10: {
    uint16_t v = u16(r);
    n = (size_t)(1 + v % 1024) * 8 * KiB + (size_t)(v / 1024 % 3) - 1;
    break;
  }
  case 11:
    n = 32 * KiB + 1 + u32(r) % (8 * MiB);
    break;
  case 12:
    n = big[u8(r) % (sizeof big / sizeof big[0])];
    break;
  case 13:
    n = huge[u8(r) % (sizeof huge / sizeof huge[0])];
    break;
  case 14:
    n = impossible[u8(r) % (sizeof impossible / sizeof impossible[0])];
    break;
  default:
    n = (size_t)u64(r);
    break;
  }
  return tame_size(n);
}

/* count and size for calloc and reallocarray: some overflow. */
static void rd_count_size(reader_t *r, size_t *count, size_t *size) {
  uint8_t k = u8(r);
  switch (k % 8) {
  case 0: /* overflowing products */
    *count = ((size_t)1 << (32 + u8(r) % 32)) + u8(r);
    *size = ((size_t)1 << (32 + u8(r) % 32)) + u8(r);
    break;
  case 1:
    *count = SIZE_MAX / (2 + u8(r) % 255);
    *size = 3 + u8(r) % 250;
    break;
  case 2:
    *count = 0;
    *size = rd_size(r);
    break;
  case 3:
    *count = rd_size(r);
    *size = 0;
    break;
  case 4:
    *count = 1 + u8(r) % 64;
    *size = u16(r) % 2049;
    break;
  default:
    *count = 1 + u8(r) % 4;
    *size = rd_size(r);
    break;
  }
  size_t n;
  if (!__builtin_mul_overflow(*count, *size, &n) && n != tame_size(n)) {
    *count = 1;
    *size = tame_size(n);
  }
}

static size_t rd_align(reader_t *r) {
  static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 0x300, 1000, 4097, 8191, 65537, 3 * MiB};
  static const size_t far[] = {(size_t)1 << 46,  (size_t)1 << 47, (size_t)1 << 48,
                               (size_t)1 << 62,  (size_t)1 << 63, ((size_t)1 << 63) + 1,
                               SIZE_MAX / 2 + 2, SIZE_MAX - 1,    SIZE_MAX};
  uint8_t k = u8(r);
  size_t a;
  switch (k % 8) {
  case 0:
  case 1:
  case 2:
    a = (size_t)1 << (u8(r) % 13);
    break;
  case 3:
    a = (size_t)1 << (u8(r) % 35);
    break;
  case 4:
    a = bad[u8(r) % (sizeof bad / sizeof bad[0])];
    break;
  case 5:
    a = far[u8(r) % (sizeof far / sizeof far[0])];
    break;
  case 6:
    a = (size_t)u64(r);
    break;
  default:
    a = (size_t)1 << (u8(r) % 64);
    break;
  }
  return tame_align(a);
}

/* ---- the model's expectations ------------------------------------------- */

static bool is_pow2(size_t a) { return a && !(a & (a - 1)); }

static size_t round_pow2(size_t a) { /* a <= 2^63 */
  size_t p = 1;
  while (p < a)
    p <<= 1;
  return p;
}

/* What a call may do: ok (must succeed), errors it may fail with. */
typedef struct {
  bool must_ok;
  bool may_ok;
  bool enomem, einval; /* allowed errno values on failure */
} expect_t;

static expect_t expect_size(size_t n) {
  expect_t e = {.must_ok = n <= MUST_OK && live_bytes <= LIVE_MAX,
                .may_ok = n < IMPOSSIBLE_FROM,
                .enomem = true};
  return e;
}

/* Alignment a for the aligned calls (rounded already for memalign). */
static expect_t expect_aligned(size_t a, size_t n) {
  expect_t e = expect_size(n);
  if (a > GiB)
    e.must_ok = false;
  if (a >= IMPOSSIBLE_FROM) {
    e.may_ok = false;
    e.einval = true; /* beyond what can ever be satisfied: invalid or too large */
  }
  return e;
}

/* The default alignment of a block of n requested bytes. */
static size_t default_align(size_t n) {
  if (n >= 16 && !(align8 && n <= 24))
    return 16;
  return 8;
}

/* Check a call's outcome; true if it returned a block to take over. */
static bool outcome(const char *what, size_t a, size_t b, expect_t e, void *ret, int err) {
  if (ret) {
    if (!e.may_ok)
      fail("%s(0x%zx, 0x%zx): expected failure, got %p", what, a, b, ret);
    return true;
  }
  if (e.must_ok)
    fail("%s(0x%zx, 0x%zx): expected a block, got NULL with errno %d (a modest request: a bug "
         "unless the machine is out of memory, e.g. under vm.overcommit_memory=2)",
         what, a, b, err);
  if (!((e.enomem && err == ENOMEM) || (e.einval && err == EINVAL)))
    fail("%s(0x%zx, 0x%zx): NULL with errno %d, expected %s", what, a, b, err,
         e.enomem && e.einval ? "ENOMEM or EINVAL"
         : e.einval           ? "EINVAL"
                              : "ENOMEM");
  return false;
}

/* ---- operations --------------------------------------------------------- */

static int free_slot(int from) {
  for (int k = 0; k < SLOTS; k++) {
    int i = (from + k) % SLOTS;
    if (!slots[i].p)
      return i;
  }
  return -1;
}

static int used_slot(int from) {
  for (int k = 0; k < SLOTS; k++) {
    int i = (from + k) % SLOTS;
    if (slots[i].p)
      return i;
  }
  return -1;
}

/* Take over a new block: alignment, usable size, overlap, calloc's zeros;
 * then fill it. */
static void adopt(int slot, void *p, size_t n, size_t align, size_t need_align, size_t need_usable,
                  int kind, bool zero, uint64_t seed, const char *what) {
  if ((uintptr_t)p & (need_align - 1))
    fail("%s(%zu) returned %p, expected %zu-byte alignment", what, n, p, need_align);
  size_t u = gm_usable_size(p);
  if (u < need_usable)
    fail("%s(%zu) returned %p with usable size %zu < %zu", what, n, p, u, need_usable);
  range_insert(p, u, what);
  if (fuzz_corrupt == 2 && op_count > 20) { /* harness self-test: record it twice */
    fuzz_corrupt = 0;
    range_insert(p, u, what);
  }
  block_t *b = &slots[slot];
  *b = (block_t){.p = p, .n = n, .u = u, .align = align, .seed = seed, .kind = kind};
  regions_t r;
  regions_of(n, u, &r);
  for (int k = 0; k < r.count; k++) {
    if (zero) {
      size_t hi = r.b[k] < n ? r.b[k] : n;
      size_t at = r.a[k] < hi ? check_range(b->p, 0, r.a[k], hi, true) : hi;
      if (at != hi)
        fail("calloc: block %p of %zu bytes: byte %zu is 0x%02x, expected 0", p, n, at, b->p[at]);
    }
    fill_range(b->p, seed, r.a[k], r.b[k]);
  }
  live_count++;
  live_bytes += u;
}

/* Drop slot's block from the model (it is about to be freed or moved). */
static block_t release(int slot) {
  block_t b = slots[slot];
  slots[slot].p = NULL;
  live_count--;
  live_bytes -= b.u;
  return b;
}

static void op_free(int slot, int variant) {
  block_t *b = &slots[slot];
  note(variant == V_FREE            ? "free"
       : variant == V_SIZED         ? "free_sized"
       : variant == V_ALIGNED_SIZED ? "free_aligned_sized"
       : variant == V_REALLOC0      ? "realloc(p, 0)"
                                    : "reallocarray(p, 0, n)",
       slot, (size_t)(uintptr_t)b->p, b->n, b->align);
  verify_block(b, "free", SIZE_MAX);
  block_t old = release(slot);
  range_remove(old.p);
  free_block(&old, variant);
}

static void op_remote_free(int slot, int variant) {
  note("remote free", slot, (size_t)(uintptr_t)slots[slot].p, slots[slot].n, (size_t)variant);
  block_t old = release(slot); /* op_stats waits for the queue to empty */
  remote_push((cmd_t){.kind = CMD_FREE, .variant = variant, .blk = old}, false);
}

/* A new block from call c, into a free slot from `from`. */
static void op_alloc(reader_t *r, int fn, bool on_remote) {
  int slot = free_slot(u8(r));
  call_t c = {.fn = fn};
  size_t n = 0, align = 0, need_align = 8, need_usable;
  int kind = K_MALLOC;
  expect_t e;
  const char *what;
  switch (fn) {
  case F_MALLOC:
    c.a = n = rd_size(r);
    e = expect_size(n);
    what = "malloc";
    break;
  case F_CALLOC: {
    rd_count_size(r, &c.a, &c.b);
    bool ovf = __builtin_mul_overflow(c.a, c.b, &n);
    if (!ovf && n > CALLOC_MAX && n < IMPOSSIBLE_FROM) { /* calloc may clear all of it */
      c.a = 1;
      c.b = n %= CALLOC_MAX;
    }
    e = expect_size(ovf ? SIZE_MAX : n);
    kind = K_CALLOC;
    what = "calloc";
    break;
  }
  case F_ALIGNED:
    c.a = align = rd_align(r);
    c.b = n = rd_size(r);
    if (!is_pow2(align) || align >= (size_t)1 << 63) {
      e = (expect_t){.einval = true, .enomem = n >= IMPOSSIBLE_FROM};
    } else {
      e = expect_aligned(align, n);
    }
    kind = K_ALIGNED;
    what = "aligned_alloc";
    break;
  case F_POSIX:
    c.a = align = rd_align(r);
    c.b = n = rd_size(r);
    if (!is_pow2(align) || align % sizeof(void *)) {
      e = (expect_t){.einval = true};
    } else {
      e = expect_aligned(align, n);
      e.einval = false; /* a valid alignment too large to satisfy: ENOMEM */
    }
    kind = K_POSIX;
    what = "posix_memalign";
    break;
  case F_MEMALIGN:
    c.a = rd_align(r);
    c.b = n = rd_size(r);
    if (c.a > ((size_t)1 << 63)) {
      e = (expect_t){.einval = true, .enomem = n >= IMPOSSIBLE_FROM};
    } else {
      align = round_pow2(c.a ? c.a : 1);
      e = expect_aligned(align, n);
      if (align == (size_t)1 << 63)
        e.einval = true;
    }
    kind = K_MEMALIGN;
    what = "memalign";
    break;
  case F_VALLOC:
    c.a = n = rd_size(r);
    e = expect_size(n);
    align = page;
    kind = K_VALLOC;
    what = "valloc";
    break;
  default: /* F_PVALLOC */
    c.a = n = rd_size(r);
    e = expect_size(n);
    align = page;
    kind = K_PVALLOC;
    what = "pvalloc";
    break;
  }
  if (slot < 0) {
    note("(no free slot)", -1, n, 0, 0);
    return;
  }
  note(on_remote ? "remote call" : what, slot, c.a, c.b, 0);
  int saved = ERRNO_SENTINEL;
  run_call(&c, on_remote);
  if (fn == F_POSIX) {
    /* Returns the error; *out and errno stay as they were. */
    if (c.err != saved)
      fail("posix_memalign(0x%zx, 0x%zx): changed errno to %d (returned %d)", c.a, c.b, c.err,
           c.rc);
    if (c.rc != 0) {
      if (c.ret != OUT_SENTINEL)
        fail("posix_memalign(0x%zx, 0x%zx): returned %d but set *out to %p", c.a, c.b, c.rc, c.ret);
      c.ret = NULL;
      c.err = c.rc;
    } else if (c.ret == OUT_SENTINEL || c.ret == NULL) {
      fail("posix_memalign(0x%zx, 0x%zx): returned 0 but *out is %p", c.a, c.b, c.ret);
    }
  }
  note_ret(c.ret);
  if (!outcome(what, c.a, c.b, e, c.ret, c.err))
    return;
  need_usable = n;
  if (fn == F_PVALLOC)
    need_usable = (n ? (n + page - 1) : page) & ~(page - 1);
  need_align = default_align(n);
  if (fn == F_ALIGNED || fn == F_POSIX || fn == F_MEMALIGN || fn == F_VALLOC || fn == F_PVALLOC)
    need_align = align; /* valloc, pvalloc: page */
  size_t free_align = (fn == F_ALIGNED || fn == F_POSIX || fn == F_MEMALIGN) ? align : 0;
  adopt(slot, c.ret, n, free_align, need_align, need_usable, kind, fn == F_CALLOC, next_seed(r),
        what);
}

/* realloc or reallocarray of slot (or of NULL when slot < 0). */
static void op_realloc(reader_t *r, int slot, bool array, bool on_remote) {
  call_t c = {.fn = array ? F_REALLOCARRAY : F_REALLOC};
  size_t n;
  bool ovf = false;
  if (array) {
    rd_count_size(r, &c.a, &c.b);
    ovf = __builtin_mul_overflow(c.a, c.b, &n);
  } else {
    c.a = n = rd_size(r);
  }
  block_t old = {0};
  if (slot >= 0) {
    old = slots[slot];
    /* Keep the copy bounded: realloc copies min(usable, n). */
    if (!ovf && old.u > COPY_MAX && n > COPY_MAX && n < IMPOSSIBLE_FROM) {
      n = n % COPY_MAX;
      if (array) {
        c.a = 1;
        c.b = n;
      } else {
        c.a = n;
      }
    }
    verify_block(&old, array ? "reallocarray" : "realloc", SIZE_MAX);
    c.p = old.p;
  } else {
    slot = free_slot(u8(r));
    if (slot < 0)
      return;
  }
  const char *what = array ? "reallocarray" : "realloc";
  note(on_remote ? (array ? "remote reallocarray" : "remote realloc") : what, slot,
       (size_t)(uintptr_t)c.p, c.a, c.b);
  if (old.p) {
    release(slot);
    range_remove(old.p);
  }
  run_call(&c, on_remote);
  note_ret(c.ret);
  if (old.p && !ovf && n == 0) { /* realloc(p, 0): frees, returns NULL */
    if (c.ret)
      fail("%s(%p, 0): expected NULL (it frees), got %p", what, old.p, c.ret);
    return;
  }
  expect_t e = expect_size(ovf ? SIZE_MAX : n);
  if (!outcome(what, c.a, c.b, e, c.ret, c.err)) {
    if (old.p) { /* the block is untouched */
      slots[slot] = old;
      live_count++;
      live_bytes += old.u;
      range_insert(old.p, old.u, "(the block realloc failed to move)");
      verify_block(&old, "after a failed realloc", SIZE_MAX);
    }
    return;
  }
  unsigned char *q = c.ret;
  if (old.p) { /* the prefix moved with it */
    size_t keep = old.n < n ? old.n : n;
    regions_t rg;
    regions_of(old.n, old.u, &rg);
    for (int k = 0; k < rg.count; k++) {
      size_t hi = rg.b[k] < keep ? rg.b[k] : keep;
      if (rg.a[k] >= hi)
        continue;
      size_t at = check_range(q, old.seed, rg.a[k], hi, false);
      if (at != hi)
        fail("%s(%p from %s(%zu), %zu) -> %p: byte %zu is 0x%02x, expected 0x%02x (prefix lost)",
             what, old.p, kind_name[old.kind], old.n, n, q, at, q[at], pattern_byte(old.seed, at));
    }
  }
  adopt(slot, q, n, 0, default_align(n), n, K_REALLOC, false, old.p ? old.seed : next_seed(r),
        what);
}

/* gm_stats with the second thread idle: the model's live blocks, and the
 * sums gomalloc-stats.h documents. */
static void op_stats(void) {
  note("stats", -1, 0, 0, 0);
  remote_drain();
  struct gm_stats st;
  memset(&st, 0xa5, sizeof st);
  st.size = sizeof st;
  if (gm_stats(&st) != 0)
    fail("gm_stats: returned an error (errno %d)", errno);
  if (st.size != sizeof st || st.version != GM_STATS_VERSION)
    fail("gm_stats: size %u version %u, expected %zu and %d", st.size, st.version, sizeof st,
         GM_STATS_VERSION);
  if (st.objects != (uint64_t)live_count)
    fail("gm_stats: %llu live objects, the model has %d", (unsigned long long)st.objects,
         live_count);
  if (st.allocs - st.frees != st.objects)
    fail("gm_stats: allocs %llu - frees %llu != objects %llu", (unsigned long long)st.allocs,
         (unsigned long long)st.frees, (unsigned long long)st.objects);
#if !GM_DEBUG /* debug blocks carry a trailer: usable is the request there */
  if (st.object_bytes != live_bytes)
    fail("gm_stats: object bytes %llu, the model's usable bytes %zu",
         (unsigned long long)st.object_bytes, live_bytes);
#endif
  if (st.spans != st.small_spans + st.large_spans ||
      st.small_spans != st.cached_spans + st.partial_spans + st.full_spans ||
      st.mapped_bytes != st.span_bytes + st.free_bytes || st.released_bytes > st.free_bytes)
    fail("gm_stats: sums do not hold: spans %llu = %llu small + %llu large; small = %llu cached "
         "+ %llu partial + %llu full; mapped %llu = %llu span + %llu free; released %llu",
         (unsigned long long)st.spans, (unsigned long long)st.small_spans,
         (unsigned long long)st.large_spans, (unsigned long long)st.cached_spans,
         (unsigned long long)st.partial_spans, (unsigned long long)st.full_spans,
         (unsigned long long)st.mapped_bytes, (unsigned long long)st.span_bytes,
         (unsigned long long)st.free_bytes, (unsigned long long)st.released_bytes);
  uint64_t objs = 0;
  for (int c = 0; c < GM_STATS_NUM_CLASSES; c++)
    objs += st.classes[c].objects;
  if (objs != st.objects)
    fail("gm_stats: classes hold %llu objects, the total says %llu", (unsigned long long)objs,
         (unsigned long long)st.objects);
  errno = ERRNO_SENTINEL;
  if (gm_stats(NULL) != -1 || errno != EINVAL)
    fail("gm_stats(NULL): expected -1 with EINVAL");
  struct gm_stats tiny = {.size = 4};
  errno = ERRNO_SENTINEL;
  if (gm_stats(&tiny) != -1 || errno != EINVAL)
    fail("gm_stats(size 4): expected -1 with EINVAL");
}

static bool dumped_this_input, printed_this_input;

static void op_misc(reader_t *r) {
  uint8_t k = u8(r);
  switch (k % 12) {
  case 0:
    note("thread_flush", -1, 0, 0, 0);
    gm_thread_flush();
    break;
  case 1:
    note("remote thread_flush", -1, 0, 0, 0);
    remote_push((cmd_t){.kind = CMD_FLUSH}, false);
    break;
  case 2:
    note("release", -1, 0, 0, 0);
    (void)gm_release();
    break;
  case 3:
    op_stats();
    break;
  case 4:
    if (printed_this_input || u8(r) % 16) /* costly (68 classes' floats): rarely */
      break;
    printed_this_input = true;
    note("print_stats", -1, 0, 0, 0);
    if (gm_print_stats_fd(fileno(devnull)) != 0 || gm_print_stats_json_fd(fileno(devnull)) != 0)
      fail("gm_print_stats_fd to /dev/null: error");
    break;
  case 5:
    if (dumped_this_input || u8(r) % 64) /* writes the whole heap: rarely */
      break;
    dumped_this_input = true;
    note("write_heap_dump", -1, 0, 0, 0);
    if (gm_write_heap_dump(fileno(devnull)) != 0)
      fail("gm_write_heap_dump(/dev/null): error %d", errno);
    break;
  case 6: {
    note("NULL calls", -1, 0, 0, 0);
    gm_free(NULL);
    gm_free_sized(NULL, u8(r));
    gm_free_aligned_sized(NULL, 64, u8(r));
    if (gm_usable_size(NULL) != 0)
      fail("gm_usable_size(NULL): expected 0");
    const char *v = gm_version();
    if (!v || strcmp(v, "0.1.0") != 0)
      fail("gm_version: got %s", v ? v : "NULL");
    break;
  }
  case 7:
    note("remote restart", -1, 0, 0, 0);
    remote_restart();
    break;
  case 8: {
    note("verify all", -1, 0, 0, 0);
    for (int i = 0; i < SLOTS; i++)
      if (slots[i].p)
        verify_block(&slots[i], "verify", SIZE_MAX);
    break;
  }
  default:
    note("sync", -1, 0, 0, 0);
    remote_drain();
    break;
  }
}

/* Operation table: the first byte's low 5 bits; common ones repeat. */
enum {
  O_MALLOC,
  O_CALLOC,
  O_REALLOC,
  O_REALLOCARRAY,
  O_FREE,
  O_ALIGNED,
  O_POSIX,
  O_MEMALIGN,
  O_VALLOC,
  O_PVALLOC,
  O_VERIFY,
  O_REMOTE_FREE,
  O_BATCH_ALLOC,
  O_BATCH_FREE,
  O_CHAIN,
  O_MISC
};
static const uint8_t optable[32] = {
    O_MALLOC,      O_MALLOC,      O_MALLOC,     O_MALLOC,       O_CALLOC,      O_CALLOC,
    O_REALLOC,     O_REALLOC,     O_REALLOC,    O_REALLOCARRAY, O_FREE,        O_FREE,
    O_FREE,        O_FREE,        O_ALIGNED,    O_ALIGNED,      O_POSIX,       O_MEMALIGN,
    O_VALLOC,      O_PVALLOC,     O_VERIFY,     O_REMOTE_FREE,  O_REMOTE_FREE, O_REMOTE_FREE,
    O_BATCH_ALLOC, O_BATCH_ALLOC, O_BATCH_FREE, O_CHAIN,        O_CHAIN,       O_MISC,
    O_MISC,        O_MISC};

static void step(reader_t *r) {
  uint8_t op = u8(r);
  bool on_remote = (op & 0xe0) == 0xe0; /* an eighth of the calls */
  int variant = (op >> 5) % NVARIANTS;
  switch (optable[op & 31]) {
  case O_MALLOC:
    op_alloc(r, F_MALLOC, on_remote);
    break;
  case O_CALLOC:
    op_alloc(r, F_CALLOC, on_remote);
    break;
  case O_ALIGNED:
    op_alloc(r, F_ALIGNED, on_remote);
    break;
  case O_POSIX:
    op_alloc(r, F_POSIX, on_remote);
    break;
  case O_MEMALIGN:
    op_alloc(r, F_MEMALIGN, on_remote);
    break;
  case O_VALLOC:
    op_alloc(r, F_VALLOC, on_remote);
    break;
  case O_PVALLOC:
    op_alloc(r, F_PVALLOC, on_remote);
    break;
  case O_REALLOC:
  case O_REALLOCARRAY: {
    uint8_t s = u8(r);
    int slot = s == 255 ? -1 : used_slot(s); /* 255: realloc(NULL, n) */
    op_realloc(r, slot, optable[op & 31] == O_REALLOCARRAY, on_remote);
    break;
  }
  case O_CHAIN: { /* a run of reallocs of one block */
    int slot = used_slot(u8(r));
    int len = 1 + u8(r) % 8;
    for (int k = 0; k < len && slot >= 0 && slots[slot].p; k++)
      op_realloc(r, slot, false, on_remote && (k & 1));
    break;
  }
  case O_FREE: {
    int slot = used_slot(u8(r));
    if (slot >= 0)
      op_free(slot, variant);
    break;
  }
  case O_REMOTE_FREE: {
    int slot = used_slot(u8(r));
    if (slot >= 0)
      op_remote_free(slot, variant);
    break;
  }
  case O_VERIFY: {
    int slot = used_slot(u8(r));
    if (slot >= 0) {
      note("usable_size", slot, (size_t)(uintptr_t)slots[slot].p, slots[slot].n, 0);
      verify_block(&slots[slot], "usable_size", SIZE_MAX);
    }
    break;
  }
  case O_BATCH_ALLOC: { /* fill spans: many blocks of one size */
    int count = 1 + u8(r) % 64;
    size_t n = rd_size(r);
    if (n > 256 * KiB && n < IMPOSSIBLE_FROM)
      n %= 256 * KiB;
    int fn = (op >> 5) & 1 ? F_CALLOC : F_MALLOC;
    for (int k = 0; k < count; k++) {
      int slot = free_slot(k * 7);
      if (slot < 0)
        break;
      call_t c = {.fn = fn, .a = fn == F_CALLOC ? 1 : n, .b = n};
      note("batch alloc", slot, n, (size_t)k, 0);
      run_call(&c, on_remote && (k & 1));
      note_ret(c.ret);
      if (outcome(fn == F_CALLOC ? "calloc" : "malloc", c.a, c.b, expect_size(n), c.ret, c.err))
        adopt(slot, c.ret, n, 0, default_align(n), n, fn == F_CALLOC ? K_CALLOC : K_MALLOC,
              fn == F_CALLOC, next_seed(r), "batch malloc");
    }
    break;
  }
  case O_BATCH_FREE: { /* empty spans: free a run of blocks, some remotely */
    int from = u8(r), count = 1 + u8(r) % 64;
    uint8_t mask = u8(r);
    for (int k = 0; k < count; k++) {
      int slot = used_slot(from + k);
      if (slot < 0)
        break;
      if (mask >> (k & 7) & 1)
        op_remote_free(slot, (variant + k) % NVARIANTS);
      else
        op_free(slot, (variant + k) % NVARIANTS);
    }
    break;
  }
  default:
    op_misc(r);
    break;
  }
  if (fuzz_corrupt == 1 && op_count > 20) { /* harness self-test: break a live block */
    for (int i = 0; i < SLOTS; i++) {
      if (slots[i].p && slots[i].n > 0) {
        slots[i].p[0] ^= 0x40;
        fprintf(stderr, "fuzz: --corrupt=content: flipped byte 0 of %p (slot %d)\n", slots[i].p, i);
        fuzz_corrupt = 0;
        break;
      }
    }
  }
}

/* ---- entry points ------------------------------------------------------ */

static void init_once(void) {
  static bool done;
  if (done)
    return;
  done = true;
  const char *s = getenv("GM_FUZZ_CAP");
  cap_mode = s && *s == '1';
  s = getenv("GM_FUZZ_TRACE");
  trace_ops = s && *s == '1';
  s = getenv("GOMALLOC_ALIGN8");
  align8 = s && *s == '1';
  page = (size_t)sysconf(_SC_PAGESIZE);
  devnull = fopen("/dev/null", "w");
  if (!devnull)
    fail("harness: cannot open /dev/null");
  remote_start();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  init_once();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_once();
  inputs++;
  op_count = 0;
  dumped_this_input = printed_this_input = false;
  reader_t r = {.p = data, .n = size, .rng = 0x9e3779b97f4a7c15ull};
  while (r.i < r.n)
    step(&r);
  /* Empty the model: every block verified and freed. */
  remote_drain();
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p)
      op_free(i, i % NVARIANTS);
  if (live_count != 0 || nranges != 0)
    fail("harness: %d blocks, %d ranges left after the input", live_count, nranges);
  /* gm_stats walks every arena's span table: after one input in 64 (picked
   * by its contents, so that a replay repeats it). */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 16777619u;
  if (h % 64 == 0)
    op_stats();
  return 0;
}
