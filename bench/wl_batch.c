/* Workload 3: batches.
 *
 *   wl_batch [SCALE] [THREADS]
 *
 * Allocates N (100k) blocks of 16-512 B, then frees them all in allocation
 * order (FIFO); allocates them again and frees in reverse order (LIFO);
 * allocates them again and frees in a random order. That is one round; the
 * number of rounds scales. Each thread does its own share of the rounds.
 */
#include "bench.h"

#define N 100000
#define ROUNDS 4.0 /* at scale 1 */

struct worker {
    uint64_t rounds, seed, checksum, ops;
    char pad[64];
};

static void alloc_all(void **blk, const uint32_t *size, uint64_t round, uint64_t seed)
{
    for (uint32_t i = 0; i < N; i++) {
        blk[i] = malloc(size[i]);
        if (blk[i] == NULL) bench_oom(size[i]);
        block_fill(blk[i], size[i], block_tag(round * N + i + seed, size[i]));
    }
}

static uint64_t free_one(void **blk, const uint32_t *size, uint32_t i, uint64_t round, uint64_t seed)
{
    uint64_t tag = block_tag(round * N + i + seed, size[i]);
    if (!block_check(blk[i], size[i], tag)) bench_corrupt("batch: block %u of %u bytes changed", i, size[i]);
    free(blk[i]);
    return tag & 0xff;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    void **blk = xmalloc(sizeof(void *) * N);
    uint32_t *size = xmalloc(sizeof(uint32_t) * N);
    uint32_t *perm = xmalloc(sizeof(uint32_t) * N);
    uint64_t sum = 0;
    for (uint64_t round = 0; round < w->rounds; round++) {
        for (uint32_t i = 0; i < N; i++) {
            size[i] = (uint32_t)rng_range(&r, 16, 512);
            perm[i] = i;
        }
        shuffle_u32(&r, perm, N);
        uint64_t k = round * 3;
        alloc_all(blk, size, k, w->seed);
        for (uint32_t i = 0; i < N; i++) sum += free_one(blk, size, i, k, w->seed);
        alloc_all(blk, size, k + 1, w->seed);
        for (uint32_t i = N; i-- > 0;) sum += free_one(blk, size, i, k + 1, w->seed);
        alloc_all(blk, size, k + 2, w->seed);
        for (uint32_t i = 0; i < N; i++) sum += free_one(blk, size, perm[i], k + 2, w->seed);
        w->ops += 3 * N;
    }
    free(blk);
    free(size);
    free(perm);
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, ROUNDS, 1);
    if (total < (uint64_t)a.threads) total = (uint64_t)a.threads;
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].rounds = split_work(total, a.threads, i);
        w[i].seed = 3000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0, ops = 0;
    for (int i = 0; i < a.threads; i++) {
        sum += w[i].checksum;
        ops += w[i].ops;
    }
    bench_report("batch", a.threads, ops, sum, t, "");
    free(w);
    return 0;
}
