/* Workload 11: a large-buffer loop.
 *
 *   wl_bigbuf [SCALE] [THREADS]
 *
 * Repeatedly mallocs a buffer of 5-25 MiB (random size), fills all of it,
 * checks a sample of it and frees it - as a program that reads files or
 * decodes images into a fresh buffer each time does. An allocator that gives
 * the pages back to the kernel at every free pays a page fault (and the
 * kernel's zeroing) for every 4 KiB of every buffer. Each thread runs its
 * share of the iterations.
 */
#include "bench.h"

#define ITERS 120.0
#define MIB (1024u * 1024u)

struct worker {
    uint64_t iters, seed, checksum;
    char pad[64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < w->iters; i++) {
        size_t sz = rng_range(&r, 5 * MIB, 25 * MIB);
        unsigned char c = (unsigned char)(i * 37 + w->seed);
        unsigned char *p = malloc(sz);
        if (p == NULL) bench_oom(sz);
        memset(p, c, sz);
        bench_escape(p);
        for (size_t k = (size_t)(i * 4099) % 4096; k < sz; k += 4096)
            if (p[k] != c) bench_corrupt("bigbuf: buffer of %zu bytes changed at %zu", sz, k);
        if (p[sz - 1] != c) bench_corrupt("bigbuf: end of buffer of %zu bytes changed", sz);
        sum += sz + c;
        free(p);
    }
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, ITERS, 2);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].iters = split_work(total, a.threads, i);
        w[i].seed = 11000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    bench_report("bigbuf", a.threads, total, sum, t, "");
    free(w);
    return 0;
}
