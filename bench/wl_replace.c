/* Workload: random replacement in a mixed-size working set.
 *
 *   wl_replace [SCALE] [THREADS]
 *
 * Each thread keeps LIVE blocks of 8-520 B (uniform) and, at every step,
 * frees one chosen at random (after checking its tags) and allocates a block
 * of a new random size in its place: the commonest pattern of long-running
 * programs, where the freed slot and the next request are of unrelated
 * classes. Unlike churn (1000 blocks of 8-256 B), the set spans more classes
 * and more memory than the L1 cache holds. With THREADS > 1 every thread
 * runs its own set (replace-mt runs many more threads than cores); the steps
 * are split over the threads.
 *
 * At the end each thread frees a random half of its blocks, all threads
 * wait, and the RSS is read (half_rss_kb): spans left half full by random
 * survivors cannot go back to the OS, which is where segregated allocators
 * lose memory. Then the rest is freed.
 */
#include "bench.h"

#define LIVE 4000
#define STEPS 20e6 /* at scale 1, over all threads */
#define MIN_SIZE 8
#define MAX_SIZE 520

struct worker {
    uint64_t steps, seed, checksum;
    char pad[64];
};

static pthread_barrier_t halfway, measured;

static void *work(void *arg)
{
    struct worker *w = arg;
    rng_t r;
    rng_seed(&r, w->seed);
    rset_t ws;
    rset_init(&ws, &r, LIVE, MIN_SIZE, MAX_SIZE, w->seed);
    uint64_t sum = rset_replace(&ws, &r, w->steps, "replace");
    /* free a random half (a fixed draw from the thread's own stream) */
    uint32_t *order = xmalloc(sizeof(uint32_t) * LIVE);
    for (uint32_t i = 0; i < LIVE; i++) order[i] = i;
    shuffle_u32(&r, order, LIVE);
    for (uint32_t k = 0; k < LIVE; k++) {
        uint32_t i = order[k];
        if (k == LIVE / 2) {
            pthread_barrier_wait(&halfway);
            pthread_barrier_wait(&measured);
        }
        sum += ws.size[i];
        rset_free(&ws, i, "replace");
    }
    free(order);
    rset_destroy(&ws);
    w->checksum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t total = scaled(a.scale, STEPS, 1000);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    pthread_t *tid = xcalloc((size_t)a.threads, sizeof *tid);
    for (int i = 0; i < a.threads; i++) {
        w[i].steps = split_work(total, a.threads, i);
        w[i].seed = 19000 + (uint64_t)i;
    }
    /* the main thread joins the barriers to read the RSS in between */
    pthread_barrier_init(&halfway, NULL, (unsigned)a.threads + 1);
    pthread_barrier_init(&measured, NULL, (unsigned)a.threads + 1);
    double t0 = now_sec();
    for (int i = 0; i < a.threads; i++) {
        int rc = pthread_create(&tid[i], NULL, work, &w[i]);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    pthread_barrier_wait(&halfway);
    long half_rss_kb = rss_now_kb();
    pthread_barrier_wait(&measured);
    for (int i = 0; i < a.threads; i++) pthread_join(tid[i], NULL);
    double t = now_sec() - t0;
    uint64_t sum = 0;
    for (int i = 0; i < a.threads; i++) sum += w[i].checksum;
    char extra[64];
    snprintf(extra, sizeof extra, " half_rss_kb=%ld", half_rss_kb);
    bench_report(a.threads == 1 ? "replace" : "replace-mt", a.threads, total, sum, t, extra);
    pthread_barrier_destroy(&halfway);
    pthread_barrier_destroy(&measured);
    free(tid);
    free(w);
    return 0;
}
