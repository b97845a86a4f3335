/* Workload 5: producer/consumer (remote frees).
 *
 *   wl_prodcons [SCALE] [THREADS]
 *
 * THREADS/2 pairs (at least one pair, so at least 2 threads run). In each
 * pair the producer allocates blocks of 16-1024 B (mostly small), writes a
 * tag, and passes them through a bounded single-producer/single-consumer
 * ring (RING slots) to the consumer, which checks the tag and frees the block.
 * Every block is thus freed by a thread other than the one that allocated it.
 * A full or empty ring is waited on by spinning briefly and then yielding.
 */
#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

#define RING 1024
#define ITEMS 4e6 /* at scale 1, over all pairs */

struct item {
    void *p;
    uint32_t size;
    uint32_t seq;
};

struct pair {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    _Alignas(64) struct item ring[RING];
    uint64_t items, seed, produced_sum, consumed_sum;
};

struct role {
    struct pair *pair;
    int consumer;
    char pad[64];
};

static void backoff(unsigned *spins)
{
    if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

static size_t item_size(rng_t *r)
{
    uint64_t x = rng_next(r);
    unsigned c = (unsigned)(x & 15);
    if (c < 10) return 16 + (size_t)((x >> 8) % 113);   /* 16-128 */
    if (c < 14) return 128 + (size_t)((x >> 8) % 385);  /* 128-512 */
    return 512 + (size_t)((x >> 8) % 513);              /* 512-1024 */
}

static void produce(struct pair *q)
{
    rng_t r;
    rng_seed(&r, q->seed);
    uint64_t head = 0, sum = 0;
    for (uint64_t i = 0; i < q->items; i++) {
        size_t sz = item_size(&r);
        void *p = malloc(sz);
        if (p == NULL) bench_oom(sz);
        uint64_t tag = block_tag(i + q->seed, sz);
        block_fill(p, sz, tag);
        sum += tag & 0xffff;
        unsigned spins = 0;
        while (head - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING) backoff(&spins);
        q->ring[head % RING] = (struct item){p, (uint32_t)sz, (uint32_t)i};
        atomic_store_explicit(&q->head, ++head, memory_order_release);
    }
    q->produced_sum = sum;
}

static void consume(struct pair *q)
{
    uint64_t tail = 0, sum = 0;
    for (uint64_t i = 0; i < q->items; i++) {
        unsigned spins = 0;
        while (atomic_load_explicit(&q->head, memory_order_acquire) == tail) backoff(&spins);
        struct item it = q->ring[tail % RING];
        atomic_store_explicit(&q->tail, ++tail, memory_order_release);
        uint64_t tag = block_tag(it.seq + q->seed, it.size);
        if (it.seq != (uint32_t)i || !block_check(it.p, it.size, tag))
            bench_corrupt("prodcons: block %llu of %u bytes changed", (unsigned long long)i, it.size);
        sum += tag & 0xffff;
        free(it.p);
    }
    q->consumed_sum = sum;
}

static void *work(void *arg)
{
    struct role *role = arg;
    if (role->consumer)
        consume(role->pair);
    else
        produce(role->pair);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    int npairs = a.threads / 2 > 0 ? a.threads / 2 : 1;
    uint64_t total = scaled(a.scale, ITEMS, 1000);
    struct pair *pairs = aligned_alloc(64, sizeof(struct pair) * (size_t)npairs);
    if (pairs == NULL) bench_oom(sizeof(struct pair) * (size_t)npairs);
    struct role *roles = xcalloc((size_t)npairs * 2, sizeof *roles);
    for (int i = 0; i < npairs; i++) {
        memset(&pairs[i], 0, sizeof pairs[i]);
        atomic_init(&pairs[i].head, 0);
        atomic_init(&pairs[i].tail, 0);
        pairs[i].items = split_work(total, npairs, i);
        pairs[i].seed = 5000 + (uint64_t)i;
        roles[2 * i] = (struct role){.pair = &pairs[i], .consumer = 0};
        roles[2 * i + 1] = (struct role){.pair = &pairs[i], .consumer = 1};
    }
    double t0 = now_sec();
    run_threads(npairs * 2, work, roles, sizeof *roles);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < npairs; i++) {
        if (pairs[i].produced_sum != pairs[i].consumed_sum)
            bench_corrupt("prodcons: pair %d produced %llx consumed %llx", i,
                          (unsigned long long)pairs[i].produced_sum, (unsigned long long)pairs[i].consumed_sum);
        sum += pairs[i].consumed_sum;
    }
    bench_report("prodcons", npairs * 2, total, sum, t, "");
    free(roles);
    free(pairs);
    return 0;
}
