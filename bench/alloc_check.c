/* Names the allocator this process really uses, so the runner can refuse to
 * report an allocator whose LD_PRELOAD did not take.
 *
 *   alloc_check
 *
 * Prints key=value lines:
 *   malloc=PATH free=PATH realloc=PATH calloc=PATH  the object providing each
 *   sym.NAME=PATH|-   for symbols only one allocator exports: mallctl
 *                     (jemalloc), tc_malloc and MallocExtension_GetStats
 *                     (tcmalloc), mi_malloc (mimalloc), gm_malloc (gomalloc)
 *   version=...       the allocator's own version string where it has one
 *   roundtrip=ok      a malloc/realloc/free sequence gave sane results
 */
#include "bench.h"

static const char *where(const char *name)
{
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, name);
    if (sym == NULL) return "-";
    if (dladdr(sym, &info) == 0 || info.dli_fname == NULL) return "?";
    return info.dli_fname;
}

int main(void)
{
    static const char *fns[] = {"malloc", "free", "realloc", "calloc"};
    static const char *syms[] = {"mallctl", "tc_malloc", "MallocExtension_GetStats", "mi_malloc", "gm_malloc"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) printf("%s=%s\n", fns[i], where(fns[i]));
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) printf("sym.%s=%s\n", syms[i], where(syms[i]));

    const char *(*gm_version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "gm_version");
    if (gm_version != NULL) printf("version=gomalloc %s\n", gm_version());
    int (*mi_version)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mi_version");
    if (mi_version != NULL) printf("version=mimalloc %d\n", mi_version());
    const char *(*tc_version)(int *, int *, const char **) =
        (const char *(*)(int *, int *, const char **))dlsym(RTLD_DEFAULT, "tc_version");
    if (tc_version != NULL) printf("version=%s\n", tc_version(NULL, NULL, NULL));
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl != NULL) {
        const char *v = NULL;
        size_t len = sizeof v;
        if (mallctl("version", &v, &len, NULL, 0) == 0 && v != NULL) printf("version=jemalloc %s\n", v);
    }

    /* a small round trip through the allocator actually in use */
    char *p = malloc(100);
    if (p == NULL) return 1;
    memset(p, 'x', 100);
    p = realloc(p, 100000);
    if (p == NULL || p[0] != 'x' || p[99] != 'x') return 1;
    void *q = calloc(1000, 8);
    if (q == NULL || ((char *)q)[7999] != 0) return 1;
    free(q);
    free(p);
    printf("roundtrip=ok\n");
    return 0;
}
