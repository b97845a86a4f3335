/* Workload 1: malloc/free pairs.
 *
 *   wl_pairs MODE [SCALE] [THREADS]
 *
 * Each operation allocates one block and frees the block allocated WINDOW
 * operations earlier (a short delay, so the allocator does not just hand back
 * the pointer it was given the instant before). The new block gets a tag
 * written at both ends (and one byte per 4 KiB page when larger), which is
 * checked before the block is freed.
 *
 * MODE picks the sizes:
 *   tiny    8-64 B          small   64-512 B        medium  512 B-8 KiB
 *   mid     8-32 KiB        large   64 KiB-1 MiB (log-uniform)
 *   onesize always 32 B     cycle   8, 16, ..., 256 B in turn
 */
#include "bench.h"

#define WINDOW 8
#define SIZE_TABLE 4096 /* precomputed sizes, so the RNG is not measured */

struct mode {
    const char *name;
    size_t lo, hi;
    int log;
    double ops; /* at scale 1 */
};

static const struct mode modes[] = {
    {"tiny", 8, 64, 0, 16e6},
    {"small", 64, 512, 0, 16e6},
    {"medium", 512, 8192, 0, 3.5e6},
    {"mid", 8192, 32768, 0, 2.5e6},
    {"large", 65536, 1048576, 1, 10e3},
    {"onesize", 32, 32, 0, 16e6},
    {"cycle", 8, 256, 0, 16e6},
};

struct worker {
    const struct mode *m;
    uint64_t ops, seed, checksum;
    char pad[64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    const struct mode *m = w->m;
    size_t *sizes = xmalloc(sizeof(size_t) * SIZE_TABLE);
    rng_t r;
    rng_seed(&r, w->seed);
    for (size_t i = 0; i < SIZE_TABLE; i++) {
        if (strcmp(m->name, "cycle") == 0)
            sizes[i] = 8 * (i % 32 + 1);
        else if (m->log)
            sizes[i] = rng_logrange(&r, m->lo, m->hi);
        else
            sizes[i] = rng_range(&r, m->lo, m->hi);
    }
    void *slot[WINDOW] = {0};
    size_t slot_size[WINDOW] = {0};
    uint64_t slot_tag[WINDOW] = {0};
    uint64_t sum = 0;
    for (uint64_t i = 0; i < w->ops; i++) {
        unsigned k = (unsigned)(i % WINDOW);
        if (slot[k] != NULL) {
            if (!block_check(slot[k], slot_size[k], slot_tag[k]))
                bench_corrupt("pairs/%s: block of %zu bytes changed", m->name, slot_size[k]);
            free(slot[k]);
        }
        size_t sz = sizes[i % SIZE_TABLE];
        uint64_t tag = block_tag(i ^ w->seed, sz);
        void *p = malloc(sz);
        if (p == NULL) bench_oom(sz);
        block_fill(p, sz, tag);
        bench_escape(p);
        slot[k] = p;
        slot_size[k] = sz;
        slot_tag[k] = tag;
        sum += sz;
    }
    for (unsigned k = 0; k < WINDOW; k++) {
        if (slot[k] == NULL) continue;
        if (!block_check(slot[k], slot_size[k], slot_tag[k]))
            bench_corrupt("pairs/%s: block of %zu bytes changed", m->name, slot_size[k]);
        free(slot[k]);
    }
    free(sizes);
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 1, "tiny|small|medium|mid|large|onesize|cycle [scale] [threads]");
    const struct mode *m = NULL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(modes[i].name, a.mode) == 0) m = &modes[i];
    if (m == NULL) {
        fprintf(stderr, "wl_pairs: unknown mode %s\n", a.mode);
        return BENCH_EXIT_USAGE;
    }
    uint64_t total = scaled(a.scale, m->ops, 1000);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].m = m;
        w[i].ops = split_work(total, a.threads, i);
        w[i].seed = 1000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    char name[64];
    snprintf(name, sizeof name, "pairs-%s", m->name);
    bench_report(name, a.threads, total, sum, t, "");
    free(w);
    return 0;
}
