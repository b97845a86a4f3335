/* Shared helpers for the gomalloc benchmark workloads.
 *
 * Every workload is a stand-alone program that uses only the standard
 * allocation API (malloc/free/realloc/calloc), so the same binary runs under
 * any allocator brought in with LD_PRELOAD. Conventions:
 *   - arguments: [mode] SCALE THREADS  (SCALE is a float multiplier of the
 *     default amount of work, THREADS the number of worker threads; the total
 *     work is fixed by SCALE and split over the threads)
 *   - one line on stdout:  result name=... threads=... ops=... checksum=...
 *     time_s=... hwm_kb=... malloc_lib=... [more key=value]  (hwm_kb is the
 *     peak RSS, VmHWM, which the kernel resets at exec - unlike the
 *     ru_maxrss a parent gets from wait4, which carries over the RSS the
 *     process had before exec, e.g. a Python parent's)   (checksum never depends on addresses
 *     or scheduling, so it must be identical under every allocator)
 *   - data is filled with patterns and verified; on corruption the program
 *     prints "CORRUPTION: ..." on stderr and exits with status 3.
 */
#ifndef GM_BENCH_H
#define GM_BENCH_H

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_EXIT_CORRUPT 3
#define BENCH_EXIT_OOM 4
#define BENCH_EXIT_USAGE 2

#if defined(__GNUC__)
#define BENCH_UNUSED __attribute__((unused))
#define BENCH_NORETURN __attribute__((noreturn))
#define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BENCH_UNUSED
#define BENCH_NORETURN
#define BENCH_PRINTF(a, b)
#endif

/* Make the compiler believe p escapes and memory may be read through it, so a
 * malloc/free pair or a fill is never optimised away. */
static inline void bench_escape(const void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

/* ---- failure ---------------------------------------------------------- */

static BENCH_NORETURN BENCH_PRINTF(1, 2) BENCH_UNUSED void bench_corrupt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("CORRUPTION: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(BENCH_EXIT_CORRUPT);
}

static BENCH_NORETURN BENCH_UNUSED void bench_oom(size_t size)
{
    fprintf(stderr, "OUT OF MEMORY: allocation of %zu bytes failed\n", size);
    fflush(stderr);
    _exit(BENCH_EXIT_OOM);
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) bench_oom(n);
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (p == NULL) bench_oom(n);
    return p;
}

static inline void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p == NULL) bench_oom(count * size);
    return p;
}

/* ---- random numbers: splitmix64 seeding, xorshift64* stream ------------ */

typedef struct { uint64_t s; } rng_t;

static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed)
{
    r->s = splitmix64(seed) | 1;
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* uniform in [0, n) (n > 0), multiply-shift without division */
static inline uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* uniform in [lo, hi] */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi)
{
    return lo + (size_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/* uniform in [0, 1) */
static inline double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* roughly log-uniform in [lo, hi]: a uniform power-of-two bucket, then a
 * uniform size inside it. Many small blocks, few large, integers only. */
static inline size_t rng_logrange(rng_t *r, size_t lo, size_t hi)
{
    unsigned lb = 0, hb = 0;
    while (((size_t)2 << lb) <= lo) lb++;
    while (((size_t)2 << hb) <= hi) hb++;
    unsigned b = lb + (unsigned)rng_below(r, hb - lb + 1);
    size_t blo = (size_t)1 << b, bhi = ((size_t)2 << b) - 1;
    if (blo < lo) blo = lo;
    if (bhi > hi) bhi = hi;
    return rng_range(r, blo, bhi);
}

/* Fisher-Yates shuffle of an index array */
static inline void shuffle_u32(rng_t *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- block tagging: write a tag at both ends, check it before free ------ */

static inline uint64_t block_tag(uint64_t id, size_t size)
{
    return splitmix64(id * 0x100000001b3ull ^ (uint64_t)size);
}

/* one byte per 4 KiB page past the first (kept out of line: it only runs for
 * blocks over a page, and inlined into callers that know their sizes are
 * small it draws false -Warray-bounds warnings from gcc) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static BENCH_UNUSED void block_pages(unsigned char *c, size_t size, unsigned char v, int check, int *ok)
{
    for (size_t off = 4096; off < size - 1; off += 4096) {
        if (!check)
            c[off] = v;
        else if (c[off] != v)
            *ok = 0;
    }
}

/* Writes the tag at the start (up to 8 bytes) and one byte at the end; for
 * blocks larger than a page, also one byte per 4 KiB page (as a program that
 * really uses its memory would touch it). */
static inline void block_fill(void *p, size_t size, uint64_t tag)
{
    unsigned char *c = p;
    if (size >= 8) {
        memcpy(c, &tag, 8);
    } else {
        memcpy(c, &tag, size);
    }
    c[size - 1] = (unsigned char)(tag >> 56);
    if (size > 4096) block_pages(c, size, (unsigned char)(tag >> 48), 0, NULL);
}

static inline int block_check(const void *p, size_t size, uint64_t tag)
{
    const unsigned char *c = p;
    uint64_t got = 0;
    if (size >= 8) {
        memcpy(&got, c, 8);
        if (got != tag) return 0;
    } else {
        uint64_t want = 0;
        memcpy(&got, c, size);
        memcpy(&want, &tag, size);
        if (got != want) return 0;
    }
    if (c[size - 1] != (unsigned char)(tag >> 56)) return 0;
    int ok = 1;
    if (size > 4096) block_pages((unsigned char *)(uintptr_t)c, size, (unsigned char)(tag >> 48), 1, &ok);
    return ok;
}

/* ---- time, memory, arguments ------------------------------------------- */

static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static BENCH_UNUSED void sleep_sec(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* resident set size now, in KiB, from /proc/self/statm */
static BENCH_UNUSED long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    if (resident < 0) return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* peak resident set size (VmHWM) in KiB, from /proc/self/status */
static BENCH_UNUSED long rss_peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* The shared object that provides the malloc this process calls (the
 * preloaded allocator, or libc). */
static BENCH_UNUSED const char *malloc_provider(void)
{
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL) return "unknown";
    return info.dli_fname;
}

typedef struct {
    const char *mode; /* first argument for programs with modes, else NULL */
    double scale;
    int threads;
} bench_args_t;

/* Parses [mode] [scale] [threads]. */
static BENCH_UNUSED bench_args_t bench_parse(int argc, char **argv, int has_mode, const char *usage)
{
    bench_args_t a = {NULL, 1.0, 1};
    int i = 1;
    if (has_mode) {
        if (argc < 2) goto bad;
        a.mode = argv[i++];
    }
    if (i < argc) {
        char *end;
        a.scale = strtod(argv[i], &end);
        if (*end != '\0' || !(a.scale > 0)) goto bad;
        i++;
    }
    if (i < argc) {
        char *end;
        long t = strtol(argv[i], &end, 10);
        if (*end != '\0' || t < 1 || t > 1024) goto bad;
        a.threads = (int)t;
        i++;
    }
    if (i != argc) goto bad;
    return a;
bad:
    fprintf(stderr, "usage: %s %s\n", argv[0], usage);
    exit(BENCH_EXIT_USAGE);
}

/* n scaled, at least min */
static inline uint64_t scaled(double scale, double n, uint64_t min)
{
    double v = n * scale;
    return v < (double)min ? min : (uint64_t)v;
}

/* Prints the result line. extra is a preformatted " key=value ..." tail or "". */
static BENCH_UNUSED void bench_report(const char *name, int threads, uint64_t ops, uint64_t checksum,
                                      double seconds, const char *extra)
{
    printf("result name=%s threads=%d ops=%llu checksum=%016llx time_s=%.4f hwm_kb=%ld malloc_lib=%s%s\n", name,
           threads, (unsigned long long)ops, (unsigned long long)checksum, seconds, rss_peak_kb(), malloc_provider(),
           extra);
    fflush(stdout);
}

/* ---- threads ------------------------------------------------------------ */

typedef void *(*bench_thread_fn)(void *);

/* Runs fn(arg + i*stride) in n threads and joins them. */
static BENCH_UNUSED void run_threads(int n, bench_thread_fn fn, void *args, size_t stride)
{
    pthread_t *tid = xmalloc(sizeof(pthread_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int rc = pthread_create(&tid[i], NULL, fn, (char *)args + (size_t)i * stride);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            exit(1);
        }
    }
    for (int i = 0; i < n; i++) pthread_join(tid[i], NULL);
    free(tid);
}

/* share of total for thread i of n */
static inline uint64_t split_work(uint64_t total, int n, int i)
{
    uint64_t base = total / (uint64_t)n, rem = total % (uint64_t)n;
    return base + ((uint64_t)i < rem ? 1 : 0);
}


/* A working set of live tagged blocks of lo..hi bytes (uniform), replaced
 * one at a time at random: wl_replace and wl_workset. Sizes fit 16 bits. */
typedef struct {
    void **blk;
    uint16_t *size;
    uint64_t *tag;
    uint32_t live, lo, hi;
    uint64_t seed;
} rset_t;

static inline void rset_init(rset_t *ws, rng_t *r, uint32_t live, uint32_t lo, uint32_t hi,
                             uint64_t seed)
{
    ws->live = live, ws->lo = lo, ws->hi = hi, ws->seed = seed;
    ws->blk = xmalloc(sizeof(void *) * live);
    ws->size = xmalloc(sizeof(uint16_t) * live);
    ws->tag = xmalloc(sizeof(uint64_t) * live);
    for (uint32_t i = 0; i < live; i++) {
        ws->size[i] = (uint16_t)rng_range(r, lo, hi);
        ws->tag[i] = block_tag(i ^ (seed << 32), ws->size[i]);
        ws->blk[i] = xmalloc(ws->size[i]);
        block_fill(ws->blk[i], ws->size[i], ws->tag[i]);
    }
}

/* Check block i's tags (else report corruption in workload name) and free it. */
static inline void rset_free(rset_t *ws, uint32_t i, const char *name)
{
    if (!block_check(ws->blk[i], ws->size[i], ws->tag[i]))
        bench_corrupt("%s: block of %u bytes changed", name, ws->size[i]);
    free(ws->blk[i]);
}

/* steps random replacements; returns the checksum of the freed blocks' tags. */
static inline uint64_t rset_replace(rset_t *ws, rng_t *r, uint64_t steps, const char *name)
{
    uint64_t sum = 0;
    for (uint64_t s = 0; s < steps; s++) {
        uint64_t x = rng_next(r);
        uint32_t i = (uint32_t)(((x >> 32) * ws->live) >> 32);
        sum += ws->tag[i] & 0xffff;
        rset_free(ws, i, name);
        uint32_t sz = ws->lo + (uint32_t)(((x & 0xffffffffu) * (ws->hi - ws->lo + 1)) >> 32);
        ws->size[i] = (uint16_t)sz;
        ws->tag[i] = block_tag(s ^ (ws->seed << 32), sz);
        ws->blk[i] = malloc(sz);
        if (ws->blk[i] == NULL) bench_oom(sz);
        block_fill(ws->blk[i], sz, ws->tag[i]);
    }
    return sum;
}

static inline void rset_destroy(rset_t *ws)
{
    free(ws->blk);
    free(ws->size);
    free(ws->tag);
}

#endif
