/* The man pages document the library's options table (src/options.c):
 * every variable a user may set is named, with its one-line help, and
 * every GOMALLOC_* name a page mentions is one the library reads (or
 * GOMALLOC_LIB, the command's own). The pages are generated from the table
 * (`gomalloc man-options`, cmake/gen_manpage.cmake); this checks the
 * result, the built pages and the ones the package installs.
 *
 * Usage: man_options_check PAGE... */
#include "../common/check.h"

#include "options.h"

#include <stdlib.h>
#include <string.h>

/* Names the pages may mention that are not in the library's table. */
static const char *const cli_names[] = {"GOMALLOC_LIB"};

static int name_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

/* name occurs in text as a whole word (a roff font change, \fB, may
 * precede it). */
static int has_word(const char *text, const char *name) {
  size_t l = strlen(name);
  for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
    int start = p == text || !name_char(p[-1]) || (p - text >= 3 && memcmp(p - 3, "\\f", 2) == 0);
    if (start && !name_char(p[l]))
      return 1;
  }
  return 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (buf)
    buf[n] = 0;
  return buf;
}

static void check_page(const char *path) {
  check_section(path);
  char *text = slurp(path);
  if (!CHECK(text != NULL, "cannot read the page"))
    return;
  size_t n;
  const gm_option_t *t = gm_options_table(&n);
  for (size_t i = 0; i < n; i++) {
    if (t[i].internal) {
      CHECK(!has_word(text, t[i].name), "documents %s, which is internal", t[i].name);
      continue;
    }
    CHECK(has_word(text, t[i].name), "%s is not documented", t[i].name);
    /* The help line as the generator writes it (none needs roff escapes). */
    CHECK(strchr(t[i].help, '\\') == NULL && strstr(text, t[i].help) != NULL,
          "%s: its help \"%s\" is missing", t[i].name, t[i].help);
  }
  for (const char *p = strstr(text, "GOMALLOC_"); p; p = strstr(p + 1, "GOMALLOC_")) {
    size_t l = 0;
    while (name_char(p[l]))
      l++;
    int known = 0;
    for (size_t i = 0; i < n && !known; i++)
      known = strlen(t[i].name) == l && memcmp(t[i].name, p, l) == 0;
    for (size_t i = 0; i < sizeof cli_names / sizeof cli_names[0] && !known; i++)
      known = strlen(cli_names[i]) == l && memcmp(cli_names[i], p, l) == 0;
    CHECK(known, "mentions %.*s, which the library does not read", (int)l, p);
  }
  free(text);
}

int main(int argc, char **argv) {
  CHECK(argc > 1, "usage: man_options_check PAGE...");
  for (int i = 1; i < argc; i++)
    check_page(argv[i]);
  return check_summary();
}
