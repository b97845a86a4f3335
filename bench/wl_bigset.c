/* Workload: a live set of big buffers.
 *
 *   wl_bigset [SCALE] [THREADS]
 *
 * Keeps LIVE buffers of 5-25 MiB (random sizes) alive at once; each step
 * replaces one at random: the old buffer is checked and freed, a new one of
 * another random size is allocated and written in full, as a program that
 * holds decoded images or file contents and swaps them out does. Unlike
 * bigbuf (one buffer at a time, so the freed run always fits the next
 * request), the freed run here sits among live buffers and seldom fits the
 * next size exactly: an allocator must reuse freed runs of other sizes, and
 * keep them resident, or it pays a page fault per 4 KiB written. Each thread
 * keeps its own set and runs its share of the steps.
 */
#include "bench.h"

#define LIVE 20
#define STEPS 150.0 /* at scale 1, over all threads */
#define MIB ((size_t)1 << 20)

struct worker {
    uint64_t steps, seed, checksum;
    char pad[64];
};

/* Fill all of p with bytes derived from v (8 bytes at a time), so every page
 * is written and the contents are checkable. */
static void fill(unsigned char *p, size_t n, uint64_t v)
{
    uint64_t w = splitmix64(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) memcpy(p + i, &w, 8);
    for (; i < n; i++) p[i] = (unsigned char)w;
}

/* Check one word per page (at an offset that moves with the page number) and
 * the last byte. */
static int check(const unsigned char *p, size_t n, uint64_t v)
{
    uint64_t w = splitmix64(v), got;
    for (size_t off = 0; off + 8 <= n; off += 4096) {
        size_t o = off + ((off >> 12) * 8 % 4096);
        if (o + 8 > n) o = off;
        memcpy(&got, p + (o & ~(size_t)7), 8);
        if (got != w) return 0;
    }
    return n % 8 != 0 || p[n - 1] == (unsigned char)(w >> 56);
}

static void *work(void *arg)
{
    struct worker *wk = arg;
    rng_t r;
    rng_seed(&r, wk->seed);
    unsigned char *buf[LIVE];
    size_t size[LIVE];
    uint64_t val[LIVE], sum = 0;
    for (int i = 0; i < LIVE; i++) {
        size[i] = rng_range(&r, 5 * MIB, 25 * MIB);
        val[i] = wk->seed * 1000003u + (uint64_t)i;
        buf[i] = xmalloc(size[i]);
        fill(buf[i], size[i], val[i]);
    }
    for (uint64_t s = 0; s < wk->steps; s++) {
        int i = (int)rng_below(&r, LIVE);
        if (!check(buf[i], size[i], val[i])) bench_corrupt("bigset: buffer of %zu bytes changed", size[i]);
        sum += size[i] ^ (val[i] & 0xff);
        free(buf[i]);
        size[i] = rng_range(&r, 5 * MIB, 25 * MIB);
        val[i] = wk->seed * 1000003u + LIVE + s;
        buf[i] = xmalloc(size[i]);
        fill(buf[i], size[i], val[i]);
        bench_escape(buf[i]);
    }
    for (int i = 0; i < LIVE; i++) {
        if (!check(buf[i], size[i], val[i])) bench_corrupt("bigset: buffer of %zu bytes changed", size[i]);
        sum += size[i];
        free(buf[i]);
    }
    wk->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, STEPS, 1);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].steps = split_work(total, a.threads, i);
        w[i].seed = 17000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    bench_report("bigset", a.threads, total, sum, t, "");
    free(w);
    return 0;
}
