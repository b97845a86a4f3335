/* Workload 4: realloc growth.
 *
 *   wl_realloc [SCALE] [THREADS]
 *
 * Part A, vector: push 32-bit elements one at a time into a vector whose
 * capacity doubles from 16 B to 8 MiB (realloc on each doubling); check the
 * contents and free it. Repeated VECTORS times.
 * Part B, strings: APPENDS/50 strings, each grown by appending pieces of
 * 1-24 bytes, realloc'ed to the exact new length at every append (as naive
 * string builders do), the string to append to being picked at random, until
 * APPENDS pieces have been appended (~600 B a string); then every string is
 * checked against a running hash and freed.
 */
#include "bench.h"

#define VECTOR_MAX (8u << 20)
#define VECTORS 10.0      /* at scale 1, over all threads */
#define APPENDS 1000000.0 /* at scale 1, over all threads */
#define PER_STRING 50     /* appends per string on average */

struct worker {
    uint64_t vectors, appends, seed, checksum, ops;
    char pad[64];
};

static uint64_t fnv_byte(uint64_t h, unsigned char c) { return (h ^ c) * 0x100000001b3ull; }

struct str {
    char *p;
    size_t len;
    uint64_t hash;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    uint64_t sum = 0, ops = 0;

    for (uint64_t v = 0; v < w->vectors; v++) {
        size_t cap = 16 / sizeof(uint32_t), n = 0;
        uint32_t *vec = xmalloc(cap * sizeof(uint32_t));
        uint32_t x = (uint32_t)(v * 2654435761u + (uint32_t)w->seed);
        while (n * sizeof(uint32_t) < VECTOR_MAX) {
            if (n == cap) {
                cap *= 2;
                vec = xrealloc(vec, cap * sizeof(uint32_t));
                ops++;
            }
            vec[n++] = x;
            x = x * 1664525u + 1013904223u;
        }
        bench_escape(vec);
        uint32_t y = (uint32_t)(v * 2654435761u + (uint32_t)w->seed);
        for (size_t i = 0; i < n; i++) {
            if (vec[i] != y) bench_corrupt("realloc: vector element %zu changed", i);
            y = y * 1664525u + 1013904223u;
        }
        sum += vec[n - 1];
        free(vec);
    }

    const uint32_t nstr = (uint32_t)(w->appends / PER_STRING + 1);
    struct str *s = xcalloc(nstr, sizeof *s);
    {
        for (uint32_t i = 0; i < nstr; i++) s[i].hash = 0xcbf29ce484222325ull;
        for (uint64_t a = 0; a < w->appends; a++) {
            uint64_t x = rng_next(&r);
            uint32_t i = (uint32_t)(((x >> 32) * nstr) >> 32);
            size_t piece = 1 + (size_t)((x & 0xffff) % 24);
            struct str *t = &s[i];
            t->p = xrealloc(t->p, t->len + piece + 1);
            for (size_t k = 0; k < piece; k++) {
                unsigned char c = (unsigned char)('a' + (x >> (16 + k)) % 26);
                t->p[t->len + k] = (char)c;
                t->hash = fnv_byte(t->hash, c);
            }
            t->len += piece;
            t->p[t->len] = '\0';
        }
        ops += w->appends;
        for (uint32_t i = 0; i < nstr; i++) {
            uint64_t h = 0xcbf29ce484222325ull;
            for (size_t k = 0; k < s[i].len; k++) h = fnv_byte(h, (unsigned char)s[i].p[k]);
            if (h != s[i].hash || (s[i].p != NULL && s[i].p[s[i].len] != '\0'))
                bench_corrupt("realloc: string %u of length %zu changed", i, s[i].len);
            sum += h & 0xffff;
            free(s[i].p);
            s[i].p = NULL;
            s[i].len = 0;
        }
    }
    free(s);
    w->checksum = sum;
    w->ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t vectors = scaled(a.scale, VECTORS, (uint64_t)a.threads);
    uint64_t appends = scaled(a.scale, APPENDS, 1000);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].vectors = split_work(vectors, a.threads, i);
        w[i].appends = split_work(appends, a.threads, i);
        w[i].seed = 4000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0, ops = 0;
    for (int i = 0; i < a.threads; i++) {
        sum += w[i].checksum;
        ops += w[i].ops;
    }
    bench_report("realloc", a.threads, ops, sum, t, "");
    free(w);
    return 0;
}
