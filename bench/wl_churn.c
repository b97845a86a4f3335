/* Workloads 2 and 6: churn.
 *
 *   wl_churn [SCALE] [THREADS]
 *
 * Every thread keeps its own live set of LIVE blocks of 8-256 B. Each step
 * frees a random block of the set (after checking its tag) and allocates a new
 * block of random size in its place. With THREADS=1 this is the single-thread
 * churn; with THREADS=T each thread churns its own blocks (no sharing), the
 * total number of steps being split over the threads.
 */
#include "bench.h"

#define LIVE 1000
#define STEPS 10e6 /* at scale 1, over all threads */

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
    uint32_t *size = xmalloc(sizeof(uint32_t) * LIVE);
    uint64_t *tag = xmalloc(sizeof(uint64_t) * LIVE);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < LIVE; i++) {
        size[i] = (uint32_t)rng_range(&r, 8, 256);
        tag[i] = block_tag(i ^ w->seed, size[i]);
        blk[i] = xmalloc(size[i]);
        block_fill(blk[i], size[i], tag[i]);
    }
    for (uint64_t s = 0; s < w->steps; s++) {
        uint64_t x = rng_next(&r);
        uint32_t i = (uint32_t)(((x >> 32) * LIVE) >> 32);
        if (!block_check(blk[i], size[i], tag[i])) bench_corrupt("churn: block of %u bytes changed", size[i]);
        sum += tag[i] & 0xffff;
        free(blk[i]);
        uint32_t sz = 8 + (uint32_t)(((x & 0xffffffffu) * 249) >> 32); /* 8..256 */
        size[i] = sz;
        tag[i] = block_tag(s ^ w->seed, sz);
        blk[i] = malloc(sz);
        if (blk[i] == NULL) bench_oom(sz);
        block_fill(blk[i], sz, tag[i]);
    }
    for (uint32_t i = 0; i < LIVE; i++) {
        if (!block_check(blk[i], size[i], tag[i])) bench_corrupt("churn: block of %u bytes changed", size[i]);
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
        w[i].seed = 2000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    bench_report(a.threads == 1 ? "churn" : "churn-mt", a.threads, total, sum, t, "");
    free(w);
    return 0;
}
