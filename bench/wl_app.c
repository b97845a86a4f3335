/* Workload 9: an allocation-heavy program doing real work.
 *
 *   wl_app [SCALE] [THREADS]
 *
 * A symbol-table style program over N string keys (6-48 chars):
 *   build   insert every key into a chained hash table (nodes, copied keys,
 *           a small value record with its own payload string; the bucket
 *           array doubles as it fills) and into an unbalanced binary search
 *           tree (its own copy of each key);
 *   query   look up every key and as many absent keys in both structures;
 *   delete  remove a random half of the keys from both;
 *   refill  insert N/4 new keys into both;
 *   walk    walk the tree in order, checking it is sorted, and hash every key;
 *   free    free everything.
 * This runs twice (ROUNDS), the second time over memory the first freed.
 * Counts are checked at each step (a lost or damaged node is corruption), and
 * the checksum (key hashes in tree order plus counts) is the same under every
 * allocator. Each thread runs its own copy on its share of the keys.
 */
#include "bench.h"

#define NKEYS 40000.0 /* per round at scale 1, over all threads */
#define ROUNDS 2

/* ---- strings ---- */

static char *xstrdup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len + 1);
    return p;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
}

/* key i of a round: random letters, then a unique suffix */
static size_t make_key(char *buf, uint64_t round, uint64_t i, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, (round << 32) ^ i ^ (seed << 48));
    size_t len = rng_range(&r, 4, 38);
    for (size_t k = 0; k < len; k++) buf[k] = (char)('a' + rng_below(&r, 26));
    return len + (size_t)sprintf(buf + len, "-%llx", (unsigned long long)i);
}

/* ---- hash table ---- */

struct value {
    uint64_t id;
    char *payload;
};

struct hnode {
    struct hnode *next;
    char *key;
    uint64_t hash;
    struct value *val;
};

struct htab {
    struct hnode **b;
    size_t nb, n;
};

static void ht_insert(struct htab *t, const char *key, size_t len, uint64_t id)
{
    if (t->n >= t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 64;
        struct hnode **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++) {
            for (struct hnode *e = t->b[i], *next; e != NULL; e = next) {
                next = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
            }
        }
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    struct hnode *e = xmalloc(sizeof *e);
    e->key = xstrdup(key, len);
    e->hash = fnv(key);
    e->val = xmalloc(sizeof *e->val);
    e->val->id = id;
    size_t plen = 8 + (size_t)(e->hash % 57);
    e->val->payload = xmalloc(plen + 1);
    memset(e->val->payload, 'a' + (int)(id % 26), plen);
    e->val->payload[plen] = '\0';
    e->next = t->b[e->hash & (t->nb - 1)];
    t->b[e->hash & (t->nb - 1)] = e;
    t->n++;
}

static struct hnode **ht_find(struct htab *t, const char *key)
{
    uint64_t h = fnv(key);
    struct hnode **pp = &t->b[h & (t->nb - 1)];
    for (; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) return pp;
    return NULL;
}

static void ht_free_node(struct hnode *e)
{
    size_t plen = 8 + (size_t)(e->hash % 57);
    if (strlen(e->val->payload) != plen || e->val->payload[0] != 'a' + (int)(e->val->id % 26))
        bench_corrupt("app: payload of %s changed", e->key);
    free(e->val->payload);
    free(e->val);
    free(e->key);
    free(e);
}

static void ht_delete(struct htab *t, const char *key)
{
    struct hnode **pp = ht_find(t, key);
    if (pp == NULL) bench_corrupt("app: key %s missing from hash table", key);
    struct hnode *e = *pp;
    *pp = e->next;
    ht_free_node(e);
    t->n--;
}

static void ht_clear(struct htab *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nb; i++) {
        for (struct hnode *e = t->b[i], *next; e != NULL; e = next) {
            next = e->next;
            ht_free_node(e);
            n++;
        }
    }
    if (n != t->n) bench_corrupt("app: hash table holds %zu nodes, expected %zu", n, t->n);
    free(t->b);
    memset(t, 0, sizeof *t);
}

/* ---- binary search tree ---- */

struct tnode {
    struct tnode *l, *r;
    char *key;
};

static int bst_insert(struct tnode **root, const char *key, size_t len)
{
    struct tnode **pp = root;
    while (*pp != NULL) {
        int c = strcmp(key, (*pp)->key);
        if (c == 0) return 0;
        pp = c < 0 ? &(*pp)->l : &(*pp)->r;
    }
    struct tnode *n = xmalloc(sizeof *n);
    n->l = n->r = NULL;
    n->key = xstrdup(key, len);
    *pp = n;
    return 1;
}

static int bst_find(struct tnode *t, const char *key)
{
    while (t != NULL) {
        int c = strcmp(key, t->key);
        if (c == 0) return 1;
        t = c < 0 ? t->l : t->r;
    }
    return 0;
}

static int bst_delete(struct tnode **root, const char *key)
{
    struct tnode **pp = root;
    while (*pp != NULL) {
        int c = strcmp(key, (*pp)->key);
        if (c == 0) break;
        pp = c < 0 ? &(*pp)->l : &(*pp)->r;
    }
    struct tnode *n = *pp;
    if (n == NULL) return 0;
    if (n->l == NULL) {
        *pp = n->r;
    } else if (n->r == NULL) {
        *pp = n->l;
    } else { /* splice in the successor */
        struct tnode **sp = &n->r;
        while ((*sp)->l != NULL) sp = &(*sp)->l;
        struct tnode *s = *sp;
        *sp = s->r;
        s->l = n->l;
        s->r = n->r;
        *pp = s;
    }
    free(n->key);
    free(n);
    return 1;
}

/* in-order walk without recursion (the tree may be deep); frees as it goes
 * when destroy is set. Returns the node count, folds key hashes into *sum. */
static size_t bst_walk(struct tnode *t, uint64_t *sum, int destroy)
{
    size_t cap = 64, sp = 0, n = 0;
    struct tnode **stack = xmalloc(cap * sizeof *stack);
    const char *prev = NULL;
    char *prev_owned = NULL;
    while (t != NULL || sp > 0) {
        while (t != NULL) {
            if (sp == cap) stack = xrealloc(stack, (cap *= 2) * sizeof *stack);
            stack[sp++] = t;
            t = t->l;
        }
        t = stack[--sp];
        if (prev != NULL && strcmp(prev, t->key) >= 0) bench_corrupt("app: tree out of order at %s", t->key);
        *sum = *sum * 31 + fnv(t->key);
        n++;
        struct tnode *right = t->r;
        if (destroy) {
            free(prev_owned);
            prev_owned = t->key;
            free(t);
            prev = prev_owned;
        } else {
            prev = t->key;
        }
        t = right;
    }
    free(prev_owned);
    free(stack);
    return n;
}

/* ---- the program ---- */

struct worker {
    uint64_t nkeys, seed, checksum, ops;
    char pad[64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char key[64];
    uint64_t sum = 0, ops = 0;
    const uint32_t n = (uint32_t)w->nkeys;
    uint32_t *perm = xmalloc(sizeof(uint32_t) * n);
    for (uint64_t round = 0; round < ROUNDS; round++) {
        rng_t r;
        rng_seed(&r, w->seed * 977 + round);
        struct htab ht = {0};
        struct tnode *root = NULL;
        for (uint32_t i = 0; i < n; i++) {
            size_t len = make_key(key, round, i, w->seed);
            ht_insert(&ht, key, len, i);
            if (!bst_insert(&root, key, len)) bench_corrupt("app: duplicate key %s", key);
        }
        /* query: all present keys, and as many absent ones */
        size_t hits = 0;
        for (uint32_t i = 0; i < n; i++) {
            size_t len = make_key(key, round, i, w->seed);
            struct hnode **e = ht_find(&ht, key);
            hits += e != NULL && (*e)->val->id == i;
            hits += (size_t)bst_find(root, key);
            key[len - 1] = 'z'; /* hex digits never are 'z': absent */
            hits += ht_find(&ht, key) != NULL;
            hits += (size_t)bst_find(root, key);
        }
        if (hits != 2 * (size_t)n) bench_corrupt("app: %zu hits, expected %zu", hits, 2 * (size_t)n);
        /* delete a random half */
        for (uint32_t i = 0; i < n; i++) perm[i] = i;
        shuffle_u32(&r, perm, n);
        for (uint32_t i = 0; i < n / 2; i++) {
            make_key(key, round, perm[i], w->seed);
            ht_delete(&ht, key);
            if (!bst_delete(&root, key)) bench_corrupt("app: key %s missing from tree", key);
        }
        /* refill with new keys */
        for (uint32_t i = n; i < n + n / 4; i++) {
            size_t len = make_key(key, round, i, w->seed);
            ht_insert(&ht, key, len, i);
            if (!bst_insert(&root, key, len)) bench_corrupt("app: duplicate key %s", key);
        }
        size_t expect = n - n / 2 + n / 4;
        if (ht.n != expect) bench_corrupt("app: hash table has %zu keys, expected %zu", ht.n, expect);
        uint64_t h = 0;
        if (bst_walk(root, &h, 0) != expect) bench_corrupt("app: tree count wrong");
        uint64_t h2 = 0;
        if (bst_walk(root, &h2, 1) != expect || h2 != h) bench_corrupt("app: tree changed while walking");
        ht_clear(&ht);
        sum += h + expect;
        ops += n * 2 + n / 2 + n / 4;
    }
    free(perm);
    w->checksum = sum;
    w->ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_t a = bench_parse(argc, argv, 0, "[scale] [threads]");
    uint64_t nkeys = scaled(a.scale, NKEYS, 100 * (uint64_t)a.threads);
    struct worker *w = xcalloc((size_t)a.threads, sizeof *w);
    for (int i = 0; i < a.threads; i++) {
        w[i].nkeys = split_work(nkeys, a.threads, i);
        w[i].seed = 9000 + (uint64_t)i;
    }
    double t0 = now_sec();
    run_threads(a.threads, work, w, sizeof *w);
    double t = now_sec() - t0;
    uint64_t sum = 0, ops = 0;
    for (int i = 0; i < a.threads; i++) {
        sum += w[i].checksum;
        ops += w[i].ops;
    }
    bench_report("app", a.threads, ops, sum, t, "");
    free(w);
    return 0;
}
