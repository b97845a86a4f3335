/* Workload 7: a server-like mix.
 *
 *   wl_server [SCALE] [THREADS]
 *
 * Every thread serves "requests" against its own table of SLOTS live blocks.
 * A step replaces one slot: the old block is checked and freed, a new block of
 * a long-tailed random size (Pareto, alpha 1.1, 16 B up to 256 KiB: median
 * ~30 B, 1 in ~1000 over 16 KiB) is allocated and partly filled. Lifetimes
 * are random and mixed: 80% of the steps hit a small "hot" tenth of the
 * table (short-lived blocks), the rest the whole table (long-lived ones).
 * One step in 8 instead hands the new block to the other threads: it is
 * swapped into a random cell of a shared exchange array, and whatever block
 * was there before (usually another thread's) is checked and freed here.
 * Blocks therefore move between threads and are often freed by a thread that
 * did not allocate them.
 */
#include "bench.h"

#include <math.h>
#include <stdatomic.h>

#define SLOTS 2000
#define HOT (SLOTS / 10)
#define XCHG 256
#define SIZES 65536
#define STEPS 5e6 /* at scale 1, over all threads */
#define MAX_SIZE (256u << 10)

/* A block carries its size and tag in its first 16 bytes (all sizes >= 16). */
struct hdr {
    uint64_t size;
    uint64_t tag;
};

static _Atomic(void *) xchg[XCHG];
static uint32_t sizes[SIZES];

struct worker {
    uint64_t steps, seed, bytes, remote;
    char pad[64];
};

static void *new_block(size_t sz, uint64_t tag)
{
    unsigned char *p = malloc(sz);
    if (p == NULL) bench_oom(sz);
    struct hdr h = {sz, tag};
    memcpy(p, &h, sizeof h);
    size_t fill = sz - 1 < 256 ? sz - 1 : 256; /* the last byte is set apart */
    if (fill > sizeof h) memset(p + sizeof h, (int)(tag & 0xff), fill - sizeof h);
    p[sz - 1] = (unsigned char)(tag >> 8);
    return p;
}

static void check_free(void *v)
{
    unsigned char *p = v;
    struct hdr h;
    memcpy(&h, p, sizeof h);
    if (h.size < sizeof h || h.size > MAX_SIZE) bench_corrupt("server: header size %llu", (unsigned long long)h.size);
    size_t fill = h.size - 1 < 256 ? h.size - 1 : 256;
    for (size_t i = sizeof h; i < fill; i += 7)
        if (p[i] != (unsigned char)(h.tag & 0xff)) bench_corrupt("server: block of %llu bytes changed", (unsigned long long)h.size);
    if (p[h.size - 1] != (unsigned char)(h.tag >> 8))
        bench_corrupt("server: end of block of %llu bytes changed", (unsigned long long)h.size);
    free(p);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    void **slot = xcalloc(SLOTS, sizeof(void *));
    uint64_t bytes = 0, remote = 0;
    for (uint64_t s = 0; s < w->steps; s++) {
        uint64_t x = rng_next(&r);
        uint32_t sz = sizes[x & (SIZES - 1)];
        uint64_t tag = block_tag(s, sz) ^ w->seed;
        bytes += sz;
        void *p = new_block(sz, tag);
        if (((x >> 16) & 7) == 0) {
            /* hand it to the others, free what they left */
            void *old = atomic_exchange_explicit(&xchg[(x >> 20) % XCHG], p, memory_order_acq_rel);
            if (old != NULL) {
                check_free(old);
                remote++;
            }
            continue;
        }
        uint32_t i;
        if (((x >> 19) & 15) < 13) /* 13 in 16: the hot part */
            i = (uint32_t)(((x >> 32) * HOT) >> 32);
        else
            i = (uint32_t)(((x >> 32) * SLOTS) >> 32);
        if (slot[i] != NULL) check_free(slot[i]);
        slot[i] = p;
    }
    for (uint32_t i = 0; i < SLOTS; i++)
        if (slot[i] != NULL) check_free(slot[i]);
    free(slot);
    w->bytes = bytes;
    w->remote = remote;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    rng_t r;
    rng_seed(&r, 7000);
    for (uint32_t i = 0; i < SIZES; i++) {
        double u = 1.0 - rng_unit(&r); /* (0, 1] */
        double s = 16.0 * pow(u, -1.0 / 1.1);
        sizes[i] = s > (double)MAX_SIZE ? MAX_SIZE : (uint32_t)s;
    }
    uint64_t total = scaled(a.scale, STEPS, 1000);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].steps = split_work(total, a.threads, i);
        w[i].seed = 7000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    for (int i = 0; i < XCHG; i++) {
        void *p = atomic_exchange(&xchg[i], NULL);
        if (p != NULL) check_free(p);
    }
    double t = now_sec() - t0;
    uint64_t bytes = 0, remote = 0;
    for (int i = 0; i < a.threads; i++) {
        bytes += w[i].bytes;
        remote += w[i].remote;
    }
    char extra[64];
    snprintf(extra, sizeof extra, " remote_frees=%llu", (unsigned long long)remote);
    /* which thread frees a passed block depends on scheduling, so the checksum
     * is the byte total the threads allocated, which does not */
    bench_report("server", a.threads, total, bytes, t, extra);
    free(w);
    return 0;
}
