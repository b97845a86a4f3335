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
    void **blk = xmalloc(sizeof(void *) * LIVE);
    uint16_t *size = xmalloc(sizeof(uint16_t) * LIVE);
    uint64_t *tag = xmalloc(sizeof(uint64_t) * LIVE);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < LIVE; i++) {
        size[i] = (uint16_t)rng_range(&r, MIN_SIZE, MAX_SIZE);
        tag[i] = block_tag(i ^ (w->seed << 32), size[i]);
        blk[i] = xmalloc(size[i]);
        block_fill(blk[i], size[i], tag[i]);
    }
    for (uint64_t s = 0; s < w->steps; s++) {
        uint64_t x = rng_next(&r);
        uint32_t i = (uint32_t)(((x >> 32) * LIVE) >> 32);
        if (!block_check(blk[i], size[i], tag[i])) bench_corrupt("workset: block of %u bytes changed", size[i]);
        sum += tag[i] & 0xffff;
        free(blk[i]);
        uint32_t sz = MIN_SIZE + (uint32_t)(((x & 0xffffffffu) * (MAX_SIZE - MIN_SIZE + 1)) >> 32);
        size[i] = (uint16_t)sz;
        tag[i] = block_tag(s ^ (w->seed << 32), sz);
        blk[i] = malloc(sz);
        if (blk[i] == NULL) bench_oom(sz);
        block_fill(blk[i], sz, tag[i]);
    }
    for (uint32_t i = 0; i < LIVE; i++) {
        if (!block_check(blk[i], size[i], tag[i])) bench_corrupt("workset: block of %u bytes changed", size[i]);
        sum += size[i];
        free(blk[i]);
    }
    free(blk);
    free(size);
    free(tag);
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
