/* Workload 10: memory phase change.
 *
 *   wl_phase [SCALE] [THREADS]       (single-threaded; THREADS is ignored)
 *
 *   grow     allocate SCALE x 1 GiB in mixed sizes (by bytes: 40% small
 *            16-512 B, 35% medium 512 B-16 KiB, 25% large 16-512 KiB, the
 *            classes interleaved), every block fully written;
 *   shrink   free 90% of the blocks, picked at random, in random order;
 *   settle   for SETTLE seconds (3 s at scale >= 1, SCALE x 3 s but at least
 *            0.5 s below) keep a little allocation going: every 10 ms,
 *            1000 malloc/free of small blocks; then read the RSS;
 *   regrow   allocate SCALE x 1 GiB again in other sizes (by bytes: 50%
 *            24-1024 B, 50% 1-64 KiB), fully written;
 *   free everything, checking every block's pattern.
 * Prints peak_rss_kb (VmHWM), shrink_rss_kb (right after the frees),
 * settled_rss_kb (after the settle period, from /proc/self/statm),
 * live_kb (bytes still allocated while settled), regrow_rss_kb and
 * the phase times grow_s, shrink_s, regrow_s.
 */
#include "bench.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

struct cls {
    size_t lo, hi;
    double share; /* of the bytes */
};

static const struct cls grow_cls[] = {{16, 512, 0.40}, {512, 16384, 0.35}, {16384, 524288, 0.25}};
static const struct cls regrow_cls[] = {{24, 1024, 0.50}, {1024, 65536, 0.50}};

struct blk {
    unsigned char *p;
    uint32_t size;
};

struct set {
    struct blk *b;
    size_t n, cap;
};

static unsigned char pattern(size_t i) { return (unsigned char)(splitmix64(i) | 1); }

static void fill(struct blk *b, size_t i)
{
    memset(b->p, pattern(i), b->size);
}

static void check(const struct blk *b, size_t i)
{
    unsigned char c = pattern(i);
    const unsigned char *p = b->p;
    /* the first 64 bytes, one per page and the last (all of it was written
     * by memset; reading all back would dominate the frees) */
    for (size_t k = 0; k < b->size && k < 64; k += 8)
        if (p[k] != c) bench_corrupt("phase: block %zu of %u bytes changed at %zu", i, b->size, k);
    for (size_t k = 4096; k < b->size; k += 4096)
        if (p[k] != c) bench_corrupt("phase: block %zu of %u bytes changed at %zu", i, b->size, k);
    if (p[b->size - 1] != c) bench_corrupt("phase: end of block %zu of %u bytes changed", i, b->size);
}

/* Allocates total bytes over the classes, choosing each block's class with
 * probability proportional to the number of blocks it still has to make, so
 * the classes stay interleaved throughout. Returns the bytes allocated. */
static uint64_t grow(struct set *s, rng_t *r, const struct cls *cls, int ncls, double total)
{
    uint64_t left[4], sum_left = 0, bytes = 0;
    for (int c = 0; c < ncls; c++) {
        left[c] = (uint64_t)(total * cls[c].share / ((double)(cls[c].lo + cls[c].hi) / 2) + 0.5);
        sum_left += left[c];
    }
    while (sum_left > 0) {
        uint64_t x = rng_below(r, sum_left);
        int c = 0;
        while (x >= left[c]) x -= left[c++];
        left[c]--;
        sum_left--;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 65536;
            s->b = xrealloc(s->b, s->cap * sizeof *s->b);
        }
        struct blk *b = &s->b[s->n];
        b->size = (uint32_t)rng_range(r, cls[c].lo, cls[c].hi);
        b->p = xmalloc(b->size);
        fill(b, s->n);
        s->n++;
        bytes += b->size;
    }
    return bytes;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    double total = a.scale * GIB;
    double settle = a.scale >= 1 ? 3.0 : (a.scale * 3.0 < 0.5 ? 0.5 : a.scale * 3.0);
    rng_t r;
    rng_seed(&r, 10000);
    struct set s = {0};
    uint64_t sum = 0;
    double t0 = now_sec();

    uint64_t grown = grow(&s, &r, grow_cls, 3, total);
    double t_grow = now_sec() - t0;

    /* shrink: free 90% at random */
    double t1 = now_sec();
    size_t n1 = s.n;
    uint32_t *perm = xmalloc(sizeof(uint32_t) * n1);
    for (size_t i = 0; i < n1; i++) perm[i] = (uint32_t)i;
    shuffle_u32(&r, perm, n1);
    size_t nfree = n1 - n1 / 10;
    uint64_t live = grown;
    for (size_t k = 0; k < nfree; k++) {
        struct blk *b = &s.b[perm[k]];
        check(b, perm[k]);
        sum += b->size;
        live -= b->size;
        free(b->p);
        b->p = NULL;
    }
    free(perm);
    double t_shrink = now_sec() - t1;
    long shrink_rss = rss_now_kb();

    /* settle: a little allocation for a while */
    double end = now_sec() + settle;
    void *ring[256] = {0};
    uint64_t little = 0;
    while (now_sec() < end) {
        for (int k = 0; k < 1000; k++, little++) {
            unsigned j = (unsigned)(little & 255);
            free(ring[j]);
            size_t sz = 16 + (size_t)(splitmix64(little) % 241);
            ring[j] = xmalloc(sz);
            memset(ring[j], 1, sz);
        }
        sleep_sec(0.01);
    }
    for (int j = 0; j < 256; j++) free(ring[j]);
    long settled_rss = rss_now_kb();

    /* regrow with other sizes */
    double t2 = now_sec();
    size_t first_new = s.n;
    uint64_t regrown = grow(&s, &r, regrow_cls, 2, total);
    double t_regrow = now_sec() - t2;
    long regrow_rss = rss_now_kb();

    for (size_t i = 0; i < s.n; i++) {
        if (s.b[i].p == NULL) continue;
        check(&s.b[i], i);
        sum += (uint64_t)s.b[i].size * (i >= first_new ? 3 : 1);
        free(s.b[i].p);
    }
    free(s.b);
    double t = now_sec() - t0;

    char extra[320];
    snprintf(extra, sizeof extra,
             " peak_rss_kb=%ld shrink_rss_kb=%ld settled_rss_kb=%ld live_kb=%llu regrow_rss_kb=%ld"
             " grow_s=%.3f shrink_s=%.3f regrow_s=%.3f settle_s=%.1f",
             rss_peak_kb(), shrink_rss, settled_rss, (unsigned long long)(live / 1024), regrow_rss, t_grow,
             t_shrink, t_regrow, settle);
    bench_report("phase", 1, (uint64_t)(n1 + s.n - first_new), sum + regrown, t, extra);
    return 0;
}
