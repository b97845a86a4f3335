/* replay.c: fuzz_api.c's harness as a plain program, for CTest and for
 * reproducing a fuzzer's finding with any compiler:
 *   fuzz_api_replay [--random N] [--seed S] [--corrupt=content|overlap
 *                   --expect-failure] [FILE|DIR]...
 * replays each file (each file of a directory, in name order), then N
 * random inputs (up to 4 KiB each, from seed S). --corrupt breaks the
 * harness's own bookkeeping on purpose (fuzz_api.h), to show that its
 * checks fire; --expect-failure turns that failure into success. */
#include "fuzz_api.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long replayed;

static void replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "fuzz: cannot open %s\n", path);
    exit(2);
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  replayed++;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_path(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    replay_file(path);
    return;
  }
  char **names = NULL;
  size_t count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    names = realloc(names, (count + 1) * sizeof *names);
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[count] = malloc(len);
    snprintf(names[count++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  qsort(names, count, sizeof *names, by_name);
  for (size_t i = 0; i < count; i++) {
    replay_file(names[i]);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  unsigned long random_inputs = 0;
  uint64_t seed = 1;
  LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--random") && i + 1 < argc)
      random_inputs = strtoul(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = strtoull(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--corrupt=content"))
      fuzz_corrupt = 1;
    else if (!strcmp(argv[i], "--corrupt=overlap"))
      fuzz_corrupt = 2;
    else if (!strcmp(argv[i], "--expect-failure"))
      fuzz_expect_failure = true;
    else if (argv[i][0] == '-') {
      fprintf(stderr,
              "usage: %s [--random N] [--seed S] [--corrupt=content|overlap --expect-failure] "
              "[FILE|DIR]...\n",
              argv[0]);
      return 2;
    } else
      replay_path(argv[i]);
  }
  uint8_t buf[4096];
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (unsigned long k = 0; k < random_inputs; k++) {
    size_t n = 0, len;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    len = 1 + x % sizeof buf;
    while (n < len) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      buf[n++] = (uint8_t)(x >> 24);
    }
    LLVMFuzzerTestOneInput(buf, len);
    replayed++;
  }
  if (fuzz_expect_failure) {
    fprintf(stderr, "fuzz: --expect-failure: %lu inputs ran clean, expected a failure\n", replayed);
    return 1;
  }
  printf("fuzz: %lu inputs replayed clean\n", replayed);
  return 0;
}
