/* Workload: thread handoff.
 *
 *   wl_handoff [SCALE] [THREADS]
 *
 * THREADS chains run side by side. A thread of a chain takes over a set of
 * LIVE blocks from its predecessor, replaces random ones with blocks of
 * random sizes of 8-1000 B for ROUND steps (freeing the predecessor's blocks
 * as it goes), then starts its successor, hands it the set and exits, over
 * and over - as servers whose worker threads come and go do (the pattern of
 * the Larson benchmark). Most frees are of blocks a thread that has exited
 * allocated, and every exit leaves its cache to be taken apart. The
 * generations are split over the chains.
 */
#include "bench.h"

#include <semaphore.h>

#define LIVE 2000
#define ROUND 10000
#define GENERATIONS 600.0 /* at scale 1, over all chains */
#define MIN_SIZE 8
#define MAX_SIZE 1000

struct chain {
    uint64_t generations, left, checksum;
    rng_t rng;
    pthread_t prev; /* the thread that ran last; joined by its successor */
    void **blk;
    uint16_t *size;
    uint64_t *tag, serial;
    sem_t done;
    char pad[64];
};

static void *generation(void *arg)
{
    struct chain *c = arg;
    if (c->left != c->generations) pthread_join(c->prev, NULL);
    rng_t r = c->rng;
    uint64_t sum = c->checksum;
    for (uint32_t s = 0; s < ROUND; s++) {
        uint64_t x = rng_next(&r);
        uint32_t i = (uint32_t)(((x >> 32) * LIVE) >> 32);
        if (!block_check(c->blk[i], c->size[i], c->tag[i]))
            bench_corrupt("handoff: block of %u bytes changed", c->size[i]);
        sum += c->tag[i] & 0xffff;
        free(c->blk[i]);
        uint32_t sz = MIN_SIZE + (uint32_t)(((x & 0xffffffffu) * (MAX_SIZE - MIN_SIZE + 1)) >> 32);
        c->size[i] = (uint16_t)sz;
        c->tag[i] = block_tag(c->serial++, sz);
        c->blk[i] = malloc(sz);
        if (c->blk[i] == NULL) bench_oom(sz);
        block_fill(c->blk[i], sz, c->tag[i]);
    }
    c->rng = r;
    c->checksum = sum;
    c->prev = pthread_self();
    if (--c->left == 0) {
        sem_post(&c->done); /* the main thread joins this last one */
        return NULL;
    }
    pthread_t next;
    int rc = pthread_create(&next, NULL, generation, c);
    if (rc != 0) {
        fprintf(stderr, "pthread_create: %s\n", strerror(rc));
        exit(1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, GENERATIONS, (uint64_t)a.threads);
    struct chain *ch = xcalloc((size_t)a.threads, sizeof *ch);
    for (int k = 0; k < a.threads; k++) {
        struct chain *c = &ch[k];
        c->generations = c->left = split_work(total, a.threads, k);
        c->serial = (uint64_t)(k + 1) << 40;
        rng_seed(&c->rng, 23000 + (uint64_t)k);
        c->blk = xmalloc(sizeof(void *) * LIVE);
        c->size = xmalloc(sizeof(uint16_t) * LIVE);
        c->tag = xmalloc(sizeof(uint64_t) * LIVE);
        sem_init(&c->done, 0, 0);
    }
    double t0 = now_sec();
    /* the first generation's blocks come from the main thread */
    for (int k = 0; k < a.threads; k++) {
        struct chain *c = &ch[k];
        for (uint32_t i = 0; i < LIVE; i++) {
            c->size[i] = (uint16_t)rng_range(&c->rng, MIN_SIZE, MAX_SIZE);
            c->tag[i] = block_tag(c->serial++, c->size[i]);
            c->blk[i] = xmalloc(c->size[i]);
            block_fill(c->blk[i], c->size[i], c->tag[i]);
        }
        pthread_t t;
        int rc = pthread_create(&t, NULL, generation, c);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    uint64_t sum = 0;
    for (int k = 0; k < a.threads; k++) {
        struct chain *c = &ch[k];
        while (sem_wait(&c->done) != 0) {
        }
        pthread_join(c->prev, NULL);
        for (uint32_t i = 0; i < LIVE; i++) {
            if (!block_check(c->blk[i], c->size[i], c->tag[i]))
                bench_corrupt("handoff: block of %u bytes changed", c->size[i]);
            sum += c->size[i];
            free(c->blk[i]);
        }
        sum += c->checksum;
    }
    double t = now_sec() - t0;
    char extra[64];
    snprintf(extra, sizeof extra, " thread_exits=%llu", (unsigned long long)total);
    bench_report("handoff", a.threads, total * ROUND, sum, t, extra);
    for (int k = 0; k < a.threads; k++) {
        sem_destroy(&ch[k].done);
        free(ch[k].blk);
        free(ch[k].size);
        free(ch[k].tag);
    }
    free(ch);
    return 0;
}
