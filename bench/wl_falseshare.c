/* Workload 8: false sharing.
 *
 *   wl_falseshare [SCALE] [THREADS]      (at least 2 threads run)
 *
 * Each round has two phases; in both, every thread ends up owning K small
 * blocks (8-64 B, the size changing from round to round) and then increments
 * a counter in each of its blocks WRITES times. If the allocator placed two
 * threads' blocks in the same 64-byte cache line, the line bounces between
 * cores and the writes get many times slower.
 *   active:  the threads allocate their own blocks, all at the same time.
 *   passive: the main thread allocates all blocks one after another and deals
 *            them out round-robin; each thread frees the blocks it was given
 *            and allocates K new ones of the same size for itself (as in
 *            Hoard's "cache-scratch" test: an allocator that hands the freed
 *            block straight back keeps the lines shared).
 * Besides the time, the program counts the cache lines that held blocks of
 * more than one thread: shared_lines_active=, shared_lines_passive= (summed
 * over rounds; 0 is ideal). Every counter is checked at the end of a phase:
 * a wrong count means two threads were given overlapping blocks.
 */
#include "bench.h"

#define K 4
#define ROUNDS 24.0
#define WRITES 800000

static int nthreads;
static uint64_t rounds;
static pthread_barrier_t barrier;
static void **objs;     /* [t * K + k] */
static size_t obj_size;
static uint64_t shared_active, shared_passive;
static uint64_t checksum;

struct worker {
    int id;
    char pad[64];
};

static void sync_all(void) { pthread_barrier_wait(&barrier); }

/* cache lines touched by more than one thread's blocks */
struct line_owner {
    uintptr_t line;
    int thread;
};

static int cmp_line(const void *a, const void *b)
{
    const struct line_owner *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return (x->thread > y->thread) - (x->thread < y->thread);
}

static uint64_t count_shared(void)
{
    size_t n = (size_t)nthreads * K, m = 0;
    struct line_owner *lo = xmalloc(sizeof *lo * n * 2);
    for (size_t i = 0; i < n; i++) {
        uintptr_t a0 = (uintptr_t)objs[i] >> 6, a1 = ((uintptr_t)objs[i] + obj_size - 1) >> 6;
        for (uintptr_t line = a0; line <= a1; line++) lo[m++] = (struct line_owner){line, (int)(i / K)};
    }
    qsort(lo, m, sizeof *lo, cmp_line);
    uint64_t shared = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        int multi = 0;
        while (j < m && lo[j].line == lo[i].line) {
            if (lo[j].thread != lo[i].thread) multi = 1;
            j++;
        }
        shared += (uint64_t)multi;
        i = j;
    }
    free(lo);
    return shared;
}

static void hammer(int t)
{
    volatile uint64_t *c[K];
    for (int k = 0; k < K; k++) {
        c[k] = objs[t * K + k];
        *c[k] = 0;
    }
    for (int w = 0; w < WRITES; w++)
        for (int k = 0; k < K; k++) *c[k] += 1;
}

static uint64_t verify(int t)
{
    uint64_t sum = 0;
    for (int k = 0; k < K; k++) {
        uint64_t v = *(volatile uint64_t *)objs[t * K + k];
        if (v != WRITES) bench_corrupt("falseshare: thread %d block %d counts %llu, expected %d", t, k, (unsigned long long)v, WRITES);
        sum += v;
    }
    return sum;
}

static void *work(void *arg)
{
    int t = ((struct worker *)arg)->id;
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        /* active */
        sync_all();
        for (int k = 0; k < K; k++) {
            objs[t * K + k] = malloc(obj_size);
            if (objs[t * K + k] == NULL) bench_oom(obj_size);
        }
        sync_all();
        if (t == 0) shared_active += count_shared();
        hammer(t);
        sync_all();
        sum += verify(t);
        for (int k = 0; k < K; k++) free(objs[t * K + k]);
        /* passive */
        sync_all();
        if (t == 0) {
            for (int k = 0; k < K; k++)
                for (int u = 0; u < nthreads; u++) {
                    objs[u * K + k] = malloc(obj_size);
                    if (objs[u * K + k] == NULL) bench_oom(obj_size);
                }
        }
        sync_all();
        for (int k = 0; k < K; k++) {
            free(objs[t * K + k]);
            objs[t * K + k] = malloc(obj_size);
            if (objs[t * K + k] == NULL) bench_oom(obj_size);
        }
        sync_all();
        if (t == 0) shared_passive += count_shared();
        hammer(t);
        sync_all();
        sum += verify(t);
        for (int k = 0; k < K; k++) free(objs[t * K + k]);
        sync_all();
        if (t == 0) obj_size = 8u << (r % 4); /* 8, 16, 32, 64 for the next round */
    }
    __atomic_fetch_add(&checksum, sum, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    nthreads = a.threads < 2 ? 2 : a.threads;
    rounds = scaled(a.scale, ROUNDS, 1);
    obj_size = 24;
    objs = xcalloc((size_t)nthreads * K, sizeof(void *));
    pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
    struct worker *w = xcalloc((size_t)nthreads, sizeof *w);
    for (int i = 0; i < nthreads; i++) w[i].id = i;
    double t0 = now_sec();
    run_threads(nthreads, work, w, sizeof *w);
    double t = now_sec() - t0;
    char extra[96];
    snprintf(extra, sizeof extra, " shared_lines_active=%llu shared_lines_passive=%llu",
             (unsigned long long)shared_active, (unsigned long long)shared_passive);
    bench_report("falseshare", nthreads, rounds * 2 * (uint64_t)nthreads * K * WRITES, checksum, t, extra);
    pthread_barrier_destroy(&barrier);
    free(w);
    free(objs);
    return 0;
}
