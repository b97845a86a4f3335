/* Workload: rings of mixed sizes (remote frees with random sizes).
 *
 *   wl_rings [SCALE] [THREADS]
 *
 * THREADS threads (at least 2) stand in a ring; thread i allocates blocks of
 * random sizes (8 B-16 KiB, log-uniform: most small, some of every class)
 * and sends them to thread i+1 through a bounded single-producer ring, while
 * it receives thread i-1's blocks. A received block is held in a window of
 * the last HOLD received and freed (after its tags are checked) when it
 * leaves the window, so blocks of all sizes die at mixed ages and every free
 * is remote: the allocating thread is the one before. Every thread is both a
 * producer and a consumer, unlike prodcons (pairs, each thread one role,
 * sizes 16 B-1 KiB). Items are split over the threads.
 */
#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

#define RING 512
#define HOLD 256
#define ITEMS 3e6 /* at scale 1, over all threads */
#define MIN_SIZE 8
#define MAX_SIZE 16384

struct item {
    void *p;
    uint32_t size;
    uint32_t seq;
};

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    _Alignas(64) struct item slot[RING];
};

struct node {
    struct ring *out, *in;
    uint64_t items, in_items, seed, in_seed, sent_sum, recv_sum;
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

static void check_free(const struct node *n, struct item it, uint64_t *sum)
{
    uint64_t tag = block_tag(it.seq + (n->in_seed << 32), it.size);
    if (!block_check(it.p, it.size, tag))
        bench_corrupt("rings: block %u of %u bytes changed", it.seq, it.size);
    *sum += tag & 0xffff;
    free(it.p);
}

static void *work(void *arg)
{
    struct node *n = arg;
    rng_t r;
    rng_seed(&r, n->seed);
    struct item hold[HOLD];
    uint64_t head = 0, tail = 0, sent = 0, recv = 0, ssum = 0, rsum = 0;
    unsigned spins = 0;
    while (sent < n->items || recv < n->in_items) {
        int progress = 0;
        /* send while there is room (a burst of up to 16) */
        uint64_t room = RING - (head - atomic_load_explicit(&n->out->tail, memory_order_acquire));
        for (int k = 0; k < 16 && room > 0 && sent < n->items; k++, room--) {
            size_t sz = rng_logrange(&r, MIN_SIZE, MAX_SIZE);
            void *p = malloc(sz);
            if (p == NULL) bench_oom(sz);
            uint64_t tag = block_tag(sent + (n->seed << 32), sz);
            block_fill(p, sz, tag);
            ssum += tag & 0xffff;
            n->out->slot[head % RING] = (struct item){p, (uint32_t)sz, (uint32_t)sent};
            atomic_store_explicit(&n->out->head, ++head, memory_order_release);
            sent++;
            progress = 1;
        }
        /* receive what has arrived; the HOLD-th last received dies */
        uint64_t avail = atomic_load_explicit(&n->in->head, memory_order_acquire) - tail;
        for (uint64_t k = 0; k < avail && k < 32; k++) {
            struct item it = n->in->slot[tail % RING];
            atomic_store_explicit(&n->in->tail, ++tail, memory_order_release);
            if (it.seq != (uint32_t)recv) bench_corrupt("rings: item %u arrived as %llu", it.seq, (unsigned long long)recv);
            if (recv >= HOLD) check_free(n, hold[recv % HOLD], &rsum);
            hold[recv % HOLD] = it;
            recv++;
            progress = 1;
        }
        if (progress)
            spins = 0;
        else
            backoff(&spins);
    }
    for (uint64_t k = recv > HOLD ? recv - HOLD : 0; k < recv; k++) check_free(n, hold[k % HOLD], &rsum);
    n->sent_sum = ssum;
    n->recv_sum = rsum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    int t = a.threads < 2 ? 2 : a.threads;
    uint64_t total = scaled(a.scale, ITEMS, 1000);
    struct ring *rings = aligned_alloc(64, sizeof(struct ring) * (size_t)t);
    if (rings == NULL) bench_oom(sizeof(struct ring) * (size_t)t);
    struct node *nodes = xcalloc((size_t)t, sizeof *nodes);
    for (int i = 0; i < t; i++) {
        memset(&rings[i], 0, sizeof rings[i]);
        atomic_init(&rings[i].head, 0);
        atomic_init(&rings[i].tail, 0);
    }
    for (int i = 0; i < t; i++) {
        int prev = (i + t - 1) % t;
        nodes[i].out = &rings[i];
        nodes[i].in = &rings[prev];
        nodes[i].items = split_work(total, t, i);
        nodes[i].in_items = split_work(total, t, prev);
        nodes[i].seed = 25000 + (uint64_t)i;
        nodes[i].in_seed = 25000 + (uint64_t)prev;
    }
    double t0 = now_sec();
    run_threads(t, work, nodes, sizeof *nodes);
    double el = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < t; i++) {
        int next = (i + 1) % t;
        if (nodes[i].sent_sum != nodes[next].recv_sum)
            bench_corrupt("rings: thread %d sent %llx, thread %d received %llx", i,
                          (unsigned long long)nodes[i].sent_sum, next, (unsigned long long)nodes[next].recv_sum);
        sum += nodes[i].sent_sum;
    }
    bench_report("rings", t, total, sum, el, "");
    free(nodes);
    free(rings);
    return 0;
}
