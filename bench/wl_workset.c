/* Workload: working sets larger than the caches, on several threads.
 *
 *   wl_workset [SCALE] [THREADS]
 *
 * Each thread keeps LIVE blocks of random sizes of 8 B-4 KiB (uniform: about
 * 20 MiB per thread, far more than L2) and at every step replaces a random
 * one: the old block is checked and freed, a new one allocated and tagged.
 * Nearly every free touches metadata that left the caches long ago, so the
 * cost is the allocator's cache misses per operation more than its
 * instruction count. The steps are split over the threads (at least 2, as
 * the pattern is about threads sharing the machine's caches).
 */
#include "bench.h"

#define LIVE 10000
#define STEPS 4e6 /* at scale 1, over all threads */
#define MIN_SIZE 8
#define MAX_SIZE 4096

struct worker {
    uint64_t steps, seed, checksum;
    char pad[64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    rset_t ws;
    rset_init(&ws, &r, LIVE, MIN_SIZE, MAX_SIZE, w->seed);
    uint64_t sum = rset_replace(&ws, &r, w->steps, "workset");
    for (uint32_t i = 0; i < LIVE; i++) {
        sum += ws.size[i];
        rset_free(&ws, i, "workset");
    }
    rset_destroy(&ws);
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, STEPS, 1000);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].steps = split_work(total, a.threads, i);
        w[i].seed = 21000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    bench_report("workset", a.threads, total, sum, t, "");
    free(w);
    return 0;
}
