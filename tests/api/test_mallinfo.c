/* test_mallinfo.c: glibc's introspection and tuning calls answered by
 * gomalloc (mallinfo, mallinfo2, malloc_stats, malloc_info, mallopt,
 * malloc_trim; src/mallinfo.c).
 *
 * Usage: api_mallinfo PROBE LIBGOMALLOC. mallinfo_probe is linked with
 * libc alone; it runs once as is (glibc answers) and once with the library
 * preloaded, and
 *   - shape: malloc_stats' lines, malloc_info's XML elements and
 *     attributes, mallinfo's fields and mallopt's return values are
 *     glibc's (numbers masked, repeated <size> rows folded, glibc's
 *     <unsorted> row dropped), and the numbers are gomalloc's: a 10 MiB
 *     block shows in hblkhd and in malloc_stats' total in use, and the
 *     free 200-byte slots in a <size> row;
 *   - figures: mallinfo2 follows a 10 MiB block, 10 MiB of 100-byte
 *     blocks and their frees; uordblks + fordblks = arena throughout;
 *   - clamp: with a 3 GiB block, mallinfo's int hblkhd reads INT_MAX
 *     (glibc 2.36 wraps it), mallinfo2's the whole figure;
 *   - trim: malloc_trim(pad) leaves pad bytes of the freed 64 MiB
 *     resident (0 for pad 0, all of it for a pad above it);
 *   - retain: after 96 MiB are freed, the background scavenger keeps
 *     M_TRIM_THRESHOLD (or M_TOP_PAD) bytes resident, all of them for
 *     M_TRIM_THRESHOLD -1, and almost none by default. */
#include "api.h"

#include <ctype.h>

static const char *probe, *lib;

typedef struct spawn {
  const char *const *args;
  int preload;
  int scavenger_off;
} spawn_t;

static int exec_probe(void *arg) {
  const spawn_t *s = arg;
  if (s->preload)
    setenv("LD_PRELOAD", lib, 1);
  else
    unsetenv("LD_PRELOAD");
  if (s->scavenger_off)
    setenv("GOMALLOC_SCAVENGER", "off", 1);
  char *argv[8];
  int n = 0;
  argv[n++] = (char *)probe;
  for (int i = 0; s->args[i] && n < 7; i++)
    argv[n++] = (char *)s->args[i];
  argv[n] = NULL;
  execv(probe, argv);
  _exit(127);
}

static child_result_t res_glibc, res_gm;

static int run_probe(child_result_t *r, int preload, int scav_off, const char *const *args) {
  spawn_t s = {args, preload, scav_off};
  char buf[64];
  if (!CHECK(run_child(exec_probe, &s, NULL, NULL, 60, r) == 0, "cannot start %s", probe))
    return 0;
  if (!CHECK(child_exited_ok(r), "%s %s%s: %s", probe, args[0], preload ? " (preloaded)" : "",
             child_status_text(r, buf, sizeof buf))) {
    child_dump(args[0], r);
    return 0;
  }
  return 1;
}

/* Digits to N, runs of blanks to one, glibc-only lines dropped, repeated
 * lines folded. */
static void normalise(const char *in, char *out, size_t cap) {
  size_t o = 0;
  char prev[512] = "", line[512];
  while (*in && o + 1 < cap) {
    const char *eol = strchr(in, '\n');
    size_t len = eol ? (size_t)(eol - in) : strlen(in);
    size_t l = 0;
    for (size_t i = 0; i < len && l + 2 < sizeof line;) {
      if (isdigit((unsigned char)in[i])) {
        line[l++] = 'N';
        while (i < len && isdigit((unsigned char)in[i]))
          i++;
      } else if (in[i] == ' ' && l > 0 && line[l - 1] == ' ') {
        i++;
      } else {
        line[l++] = in[i++];
      }
    }
    line[l] = 0;
    in += len + (eol ? 1 : 0);
    if (strncmp(line, " <unsorted", 10) == 0 || strcmp(line, prev) == 0)
      continue;
    strcpy(prev, line);
    int w = snprintf(out + o, cap - o, "%s\n", line);
    if (w < 0 || (size_t)w >= cap - o)
      break;
    o += (size_t)w;
  }
  out[o] = 0;
}

/* The value after "key" on the line starting with "prefix" (the first such
 * line from the text's start, or after "after" if given). */
static long long field(const char *text, const char *prefix, const char *key) {
  const char *l = text;
  while (l && *l) {
    if (strncmp(l, prefix, strlen(prefix)) == 0) {
      const char *eol = strchr(l, '\n');
      const char *k = strstr(l, key);
      if (k && (!eol || k < eol))
        return strtoll(k + strlen(key), NULL, 10);
      return -1;
    }
    l = strchr(l, '\n');
    if (l)
      l++;
  }
  return -1;
}

static char norm_a[CHILD_OUT_MAX], norm_b[CHILD_OUT_MAX];

static void test_shape(void) {
  check_section("shape");
  static const char *const args[] = {"shape", NULL};
  if (!run_probe(&res_glibc, 0, 0, args) || !run_probe(&res_gm, 1, 0, args))
    return;
  normalise(res_glibc.err, norm_a, sizeof norm_a);
  normalise(res_gm.err, norm_b, sizeof norm_b);
  CHECK(strncmp(norm_a, "Arena N:\nsystem bytes = N\n", 26) == 0,
        "glibc's malloc_stats: unexpected layout:\n%s", norm_a);
  CHECK(strcmp(norm_a, norm_b) == 0, "malloc_stats: layout differs from glibc's:\n%s---\n%s",
        norm_a, norm_b);
  normalise(res_glibc.out, norm_a, sizeof norm_a);
  normalise(res_gm.out, norm_b, sizeof norm_b);
  CHECK(strstr(norm_a, "<size from=\"N\" to=\"N\" total=\"N\" count=\"N\"/>") != NULL,
        "glibc's malloc_info has no <size> row to compare with:\n%s", norm_a);
  if (!CHECK(strcmp(norm_a, norm_b) == 0,
             "stdout (mallinfo, malloc_info, mallopt) differs from glibc's:\n%s---\n%s", norm_a,
             norm_b)) {
    char *a = norm_a, *b = norm_b;
    while (*a && *a == *b)
      a++, b++;
    printf("  first difference: glibc \"%.60s\" gomalloc \"%.60s\"\n", a, b);
  }
  /* The mallopt lines carry no varying numbers: equal as they are. */
  const char *ma = strstr(res_glibc.out, "mallopt("), *mb = strstr(res_gm.out, "mallopt(");
  CHECK(ma && mb && strcmp(ma, mb) == 0, "mallopt's return values differ from glibc's");
  CHECK(strstr(res_gm.out, "info(1) = 22\n") != NULL, "malloc_info(1, fp): expected EINVAL (22)");

  /* gomalloc's numbers. */
  long long hblkhd = field(res_gm.out, "mallinfo ", "hblkhd=");
  CHECK(hblkhd >= (10 << 20) && field(res_gm.out, "mallinfo ", "hblks=") == 1,
        "mallinfo with a 10 MiB block: expected hblks 1, hblkhd >= 10 MiB, got %lld, %lld",
        field(res_gm.out, "mallinfo ", "hblks="), hblkhd);
  const char *total = strstr(res_gm.err, "Total (incl. mmap):\n");
  long long inuse = total ? field(total, "in use bytes", "=") : -1;
  CHECK(inuse >= (10 << 20), "malloc_stats: expected total in use >= 10 MiB, got %lld", inuse);
  CHECK(total && field(total, "max mmap regions", "=") >= 1,
        "malloc_stats: expected max mmap regions >= 1");
  int found = 0;
  for (const char *s = res_gm.out; (s = strstr(s, "<size from=\"")) != NULL; s++) {
    long long from, to, tot, count;
    if (sscanf(s, "<size from=\"%lld\" to=\"%lld\" total=\"%lld\" count=\"%lld\"", &from, &to,
               &tot, &count) == 4 &&
        from <= 200 && 200 <= to && count >= 500 && tot == count * to)
      found = 1;
  }
  CHECK(found, "malloc_info: expected a <size> row for 200 bytes with >= 500 free slots:\n%s",
        res_gm.out);
}

typedef struct mi2 {
  long long arena, hblks, hblkhd, uordblks, fordblks, keepcost;
} mi2_t;

static mi2_t mi_at(const char *out, const char *stage) {
  mi2_t m = {field(out, stage, "arena="), field(out, stage, "hblks="),
             field(out, stage, "hblkhd="), field(out, stage, "uordblks="),
             field(out, stage, "fordblks="), field(out, stage, "keepcost=")};
  return m;
}

static void test_figures(void) {
  check_section("figures");
  static const char *const args[] = {"figures", NULL};
  if (!run_probe(&res_gm, 1, 0, args))
    return;
  const char *stages[] = {"before ", "large ", "small ", "freed "};
  mi2_t m[4];
  for (int i = 0; i < 4; i++) {
    m[i] = mi_at(res_gm.out, stages[i]);
    CHECK(m[i].uordblks + m[i].fordblks == m[i].arena,
          "%s: expected uordblks + fordblks == arena, got %lld + %lld != %lld", stages[i],
          m[i].uordblks, m[i].fordblks, m[i].arena);
  }
  CHECK(m[1].hblks == m[0].hblks + 1 && m[1].hblkhd - m[0].hblkhd >= (10 << 20),
        "a 10 MiB block: expected hblks +1 and hblkhd +10 MiB, got %lld -> %lld, %lld -> %lld",
        m[0].hblks, m[1].hblks, m[0].hblkhd, m[1].hblkhd);
  CHECK(m[2].uordblks - m[1].uordblks >= 100 * 1024 * 100,
        "100k blocks of 100 bytes: expected uordblks up by >= 10 MB, got %lld -> %lld",
        m[1].uordblks, m[2].uordblks);
  CHECK(m[3].hblks == m[0].hblks && m[3].hblkhd == m[0].hblkhd,
        "after free: expected hblks and hblkhd back to %lld, %lld, got %lld, %lld", m[0].hblks,
        m[0].hblkhd, m[3].hblks, m[3].hblkhd);
  CHECK(m[3].uordblks < (1 << 20), "after free: expected uordblks < 1 MiB, got %lld",
        m[3].uordblks);
  CHECK(m[3].keepcost >= (10 << 20),
        "after free: expected the freed 10 MiB resident in keepcost, got %lld", m[3].keepcost);
}

static void test_clamp(void) {
  check_section("clamp");
  static const char *const args[] = {"clamp", NULL};
  if (!run_probe(&res_gm, 1, 0, args))
    return;
  long long h = field(res_gm.out, "hblkhd=", "hblkhd="), h2 = field(res_gm.out, "hblkhd2=", "=");
  CHECK(h == 2147483647, "mallinfo with a 3 GiB block: expected hblkhd INT_MAX, got %lld", h);
  CHECK(h2 >= 3LL << 30, "mallinfo2 with a 3 GiB block: expected hblkhd >= 3 GiB, got %lld", h2);
}

static void test_trim(void) {
  check_section("trim");
  static const struct {
    const char *pad;
    long long keep;
  } cases[] = {{"0", 0}, {"33554432", 32 << 20}, {"16777216", 16 << 20}, {"1073741824", 64 << 20}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *args[] = {"trim", cases[i].pad, NULL};
    if (!run_probe(&res_gm, 1, 1, args))
      continue;
    long long before = field(res_gm.out, "keepcost before", " before ");
    long long after = field(res_gm.out, "trim ", "after ");
    /* Debug builds give each large block a guard page: a little over 64 MiB. */
    CHECK(before >= 64 << 20 && before <= 65 << 20,
          "pad %s: expected 64 MiB free and resident before, got %lld", cases[i].pad, before);
    long long keep = cases[i].keep < before ? cases[i].keep : before;
    long long d = after - keep;
    CHECK(d >= -(1 << 20) && d <= (1 << 20),
          "malloc_trim(%s): expected about %lld bytes kept resident, got %lld", cases[i].pad,
          keep, after);
  }
}

static void test_retain(void) {
  check_section("retain");
  /* Concurrently: each waits 3 s for the background thread. */
  static const struct {
    const char *param, *value;
    long long lo, hi;
  } cases[] = {{"0", "0", 0, 16 << 20},
               {"-1", "50331648", 40 << 20, 56 << 20}, /* M_TRIM_THRESHOLD 48 MiB */
               {"-2", "50331648", 40 << 20, 56 << 20}, /* M_TOP_PAD 48 MiB */
               {"-1", "-1", 90 << 20, 100 << 20}};     /* M_TRIM_THRESHOLD: never */
  enum { N = sizeof cases / sizeof cases[0] };
  pid_t pid[N];
  int fd[N];
  for (int i = 0; i < N; i++) {
    int p[2];
    if (!CHECK(pipe(p) == 0, "pipe"))
      return;
    fflush(stdout);
    pid[i] = fork();
    if (pid[i] == 0) {
      dup2(p[1], 1);
      close(p[0]);
      close(p[1]);
      const char *args[] = {"retain", cases[i].param, cases[i].value, NULL};
      spawn_t s = {args, 1, 0};
      exec_probe(&s);
    }
    close(p[1]);
    fd[i] = p[0];
  }
  for (int i = 0; i < N; i++) {
    char out[1024];
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof out && (k = read(fd[i], out + n, sizeof out - 1 - n)) > 0)
      n += (size_t)k;
    out[n] = 0;
    close(fd[i]);
    int st = 0;
    waitpid(pid[i], &st, 0);
    long long later = field(out, "keepcost later", "later ");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && later >= cases[i].lo && later <= cases[i].hi,
          "mallopt(%s, %s), 96 MiB freed: expected %lld..%lld MiB kept resident after 3 s, got "
          "%lld bytes (%s)",
          cases[i].param, cases[i].value, cases[i].lo >> 20, cases[i].hi >> 20, later, out);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MALLINFO_PROBE LIBGOMALLOC\n", argv[0]);
    return 2;
  }
  static char abs_lib[4096];
  probe = argv[1];
  lib = realpath(argv[2], abs_lib); /* ld.so takes a bare name as a library to search for */
  if (!lib) {
    fprintf(stderr, "%s: %s: %s\n", argv[0], argv[2], strerror(errno));
    return 2;
  }
  test_shape();
  test_figures();
  test_clamp();
  test_trim();
  test_retain();
  return check_summary();
}
