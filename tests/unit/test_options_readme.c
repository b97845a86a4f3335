/* README's options table agrees with the library's (src/options.c): every
 * variable a user may set has a row, every row names a variable the
 * library reads, and every GOMALLOC_* name in that section exists.
 *
 * Usage: test_options_readme [README.md]; by default the README of the
 * source tree this file was compiled from. */
#include "unit.h"

#include "options.h"

#include <string.h>

#define SECTION "### Options (environment, read once at start)"

static const gm_option_t *find(const char *name, size_t len) {
  size_t n;
  const gm_option_t *t = gm_options_table(&n);
  for (size_t i = 0; i < n; i++)
    if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0)
      return &t[i];
  return NULL;
}

static size_t name_len(const char *p) {
  size_t n = 0;
  while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
    n++;
  return n;
}

int main(int argc, char **argv) {
  char path[4096];
  if (argc > 1) {
    snprintf(path, sizeof path, "%s", argv[1]);
  } else {
    /* __FILE__ is absolute under CMake: <root>/tests/unit/test_options_readme.c */
    const char *f = __FILE__, *cut = strstr(f, "tests/unit/");
    CHECK(cut != NULL, "cannot find the source tree from %s; pass README.md", f);
    if (!cut)
      return unit_done("test_options_readme");
    snprintf(path, sizeof path, "%.*sREADME.md", (int)(cut - f), f);
  }
  FILE *in = fopen(path, "r");
  CHECK(in != NULL, "cannot open %s", path);
  if (!in)
    return unit_done("test_options_readme");

  size_t n;
  const gm_option_t *t = gm_options_table(&n);
  bool documented[64] = {false};
  CHECK(n <= 64, "table larger than this test's array");

  char line[4096];
  bool in_section = false, found = false;
  int rows = 0;
  while (fgets(line, sizeof line, in)) {
    if (strncmp(line, SECTION, strlen(SECTION)) == 0) {
      in_section = found = true;
      continue;
    }
    if (!in_section)
      continue;
    if (line[0] == '#')
      break; /* the next heading ends the section */
    /* Every name mentioned anywhere in the section must be a real one. */
    for (const char *p = strstr(line, "GOMALLOC_"); p; p = strstr(p + 1, "GOMALLOC_")) {
      size_t len = name_len(p);
      CHECK(find(p, len) != NULL, "README mentions %.*s, which the library does not read",
            (int)len, p);
    }
    /* A row documents the variable its first cell names. */
    if (line[0] != '|' || strncmp(line, "| variable", 10) == 0 || strncmp(line, "|---", 4) == 0)
      continue;
    char *end = strchr(line + 1, '|');
    if (end)
      *end = 0;
    const char *p = strstr(line, "GOMALLOC_");
    CHECK(p != NULL, "README row without a variable: %s", line);
    if (!p)
      continue;
    rows++;
    const gm_option_t *o = find(p, name_len(p));
    CHECK(o != NULL, "README documents %.*s, which is not in src/options.c's table",
          (int)name_len(p), p);
    if (o) {
      CHECK(!documented[o - t], "README documents %s twice", o->name);
      documented[o - t] = true;
    }
  }
  fclose(in);
  CHECK(found, "%s: no section \"%s\"", path, SECTION);
  CHECK(rows > 0, "%s: no rows in the options table", path);
  for (size_t i = 0; i < n && i < 64; i++)
    CHECK(t[i].internal || documented[i],
          "%s is read by the library but not documented in README's options table", t[i].name);
  printf("%s: %d rows checked against %zu options\n", path, rows, n);
  return unit_done("test_options_readme");
}
