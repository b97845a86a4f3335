/* Checklist item 35: the library can be dlopen'ed after start (its one
 * initial-exec TLS block fits glibc's static TLS surplus). Opened with
 * RTLD_LOCAL it serves its gm_* API next to the process's own malloc. */
#include "../common/check.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: %s LIBGOMALLOC", argv[0]);
  if (argc != 2)
    return check_summary();
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen(%s): expected it to load, got %s", argv[1], h ? "ok" : dlerror());
  if (!h)
    return check_summary();
  void *(*m)(size_t) = (void *(*)(size_t))dlsym(h, "gm_malloc");
  void (*f)(void *) = (void (*)(void *))dlsym(h, "gm_free");
  size_t (*us)(const void *) = (size_t(*)(const void *))dlsym(h, "gm_usable_size");
  CHECK(m && f && us, "expected gm_malloc, gm_free and gm_usable_size in the loaded library");
  if (!(m && f && us))
    return check_summary();
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    size_t n = 1 + (size_t)(i * 7919) % 70000;
    unsigned char *p = m(n);
    if (!p || us(p) < n) {
      bad++;
      continue;
    }
    memset(p, i & 0xff, n);
    if (p[n - 1] != (unsigned char)(i & 0xff))
      bad++;
    f(p);
  }
  CHECK(bad == 0, "gm_malloc through dlopen: expected every block usable, %d were not", bad);
  return check_summary();
}
