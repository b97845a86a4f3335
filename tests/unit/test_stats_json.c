/* gm_print_stats_json_to: the output is valid JSON (checked by a strict
 * little parser here: the unit tests have no scripting language) and every
 * number in it matches gm_stats taken right after, on a quiescent heap. */
#include "stats_check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a strict JSON parser that records every number by its path --------- */

#define MAXNUM 4096
/* The printer's output into a stdio stream (here an open_memstream). */
static void to_file(void *arg, const char *s, size_t n) { fwrite(s, 1, n, arg); }

static struct {
  char path[96];
  double v;
  unsigned long long u;
  int integral;
} nums[MAXNUM];
static size_t nnums;
static const char *jp;
static const char *jerr;

static void ws(void) {
  while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r')
    jp++;
}

static int parse_value(char *path, size_t plen);

static int parse_string(char *out, size_t n) {
  if (*jp != '"')
    return jerr = "expected string", 0;
  jp++;
  size_t o = 0;
  while (*jp != '"') {
    if (*jp == 0 || (unsigned char)*jp < 0x20)
      return jerr = "bad character in string", 0;
    if (*jp == '\\') {
      jp++;
      if (*jp == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!isxdigit((unsigned char)jp[i]))
            return jerr = "bad \\u escape", 0;
        jp += 4;
      } else if (!strchr("\"\\/bfnrt", *jp)) {
        return jerr = "bad escape", 0;
      }
    }
    if (out && o + 1 < n)
      out[o++] = *jp;
    jp++;
  }
  jp++;
  if (out)
    out[o] = 0;
  return 1;
}

static int parse_number(const char *path) {
  const char *s = jp;
  if (*jp == '-')
    jp++;
  if (*jp == '0')
    jp++;
  else if (*jp >= '1' && *jp <= '9')
    while (isdigit((unsigned char)*jp))
      jp++;
  else
    return jerr = "bad number", 0;
  int integral = 1;
  if (*jp == '.') {
    integral = 0;
    jp++;
    if (!isdigit((unsigned char)*jp))
      return jerr = "bad fraction", 0;
    while (isdigit((unsigned char)*jp))
      jp++;
  }
  if (*jp == 'e' || *jp == 'E') {
    integral = 0;
    jp++;
    if (*jp == '+' || *jp == '-')
      jp++;
    if (!isdigit((unsigned char)*jp))
      return jerr = "bad exponent", 0;
    while (isdigit((unsigned char)*jp))
      jp++;
  }
  if (nnums == MAXNUM)
    return jerr = "too many numbers", 0;
  snprintf(nums[nnums].path, sizeof nums[nnums].path, "%s", path);
  nums[nnums].v = strtod(s, NULL);
  nums[nnums].u = integral && *s != '-' ? strtoull(s, NULL, 10) : 0;
  nums[nnums].integral = integral;
  nnums++;
  return 1;
}

static int parse_value(char *path, size_t plen) {
  ws();
  if (*jp == '{') {
    jp++;
    ws();
    if (*jp == '}')
      return jp++, 1;
    for (;;) {
      char key[64];
      ws();
      if (!parse_string(key, sizeof key))
        return 0;
      ws();
      if (*jp++ != ':')
        return jerr = "expected ':'", 0;
      size_t n = (size_t)snprintf(path + plen, 96 - plen, "%s%s", plen ? "." : "", key);
      if (!parse_value(path, plen + n))
        return 0;
      path[plen] = 0;
      ws();
      if (*jp == ',') {
        jp++;
        continue;
      }
      if (*jp++ == '}')
        return 1;
      return jerr = "expected ',' or '}'", 0;
    }
  }
  if (*jp == '[') {
    jp++;
    ws();
    if (*jp == ']')
      return jp++, 1;
    for (int i = 0;; i++) {
      size_t n = (size_t)snprintf(path + plen, 96 - plen, "[%d]", i);
      if (!parse_value(path, plen + n))
        return 0;
      path[plen] = 0;
      ws();
      if (*jp == ',') {
        jp++;
        continue;
      }
      if (*jp++ == ']')
        return 1;
      return jerr = "expected ',' or ']'", 0;
    }
  }
  if (*jp == '"')
    return parse_string(NULL, 0);
  if (strncmp(jp, "true", 4) == 0 || strncmp(jp, "null", 4) == 0)
    return jp += 4, 1;
  if (strncmp(jp, "false", 5) == 0)
    return jp += 5, 1;
  return parse_number(path);
}

static int parse_json(const char *text) {
  char path[96] = "";
  nnums = 0;
  jp = text;
  jerr = NULL;
  if (!parse_value(path, 0))
    return 0;
  ws();
  if (*jp)
    return jerr = "trailing characters", 0;
  return 1;
}

static int jnum(const char *path, unsigned long long *u, double *v) {
  for (size_t i = 0; i < nnums; i++)
    if (strcmp(nums[i].path, path) == 0) {
      if (u)
        *u = nums[i].u;
      if (v)
        *v = nums[i].v;
      return 1;
    }
  return 0;
}

/* ---- the test --------------------------------------------------------------- */

static void expect(const char *path, uint64_t want) {
  unsigned long long got = 0;
  CHECK(jnum(path, &got, NULL), "%s missing", path);
  CHECK(got == want, "%s = %llu, gm_stats says %llu", path, got, (unsigned long long)want);
}

static struct gm_stats st;

int main(void) {
  /* The parser itself rejects what it must. */
  CHECK(parse_json("{\"a\": [1, 2.5e3, -0, {\"b\": null}], \"c\": \"x\\n\"}"), "valid: %s", jerr);
  CHECK(!parse_json("{\"a\": 01}"), "leading zero accepted");
  CHECK(!parse_json("{\"a\": 1,}"), "trailing comma accepted");
  CHECK(!parse_json("{\"a\": 1} x"), "trailing text accepted");
  CHECK(!parse_json("[1, 2"), "unterminated array accepted");

  /* A heap with a bit of everything. */
  static void *keep[5000];
  unsigned long long rs = unit_seed();
  for (int i = 0; i < 5000; i++)
    keep[i] = gm_malloc(i % 50 == 0 ? 40000 + (size_t)(unit_rand(&rs) % 100000)
                                    : (size_t)(unit_rand(&rs) % 3000));
  for (int i = 0; i < 5000; i += 3) {
    gm_free(keep[i]);
    keep[i] = NULL;
  }

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(gm_print_stats_json_to(to_file, f) == 0, "gm_print_stats_json_to failed");
  fclose(f);
  take_stats(&st); /* the heap has not changed: stdio uses glibc's malloc here */
  check_quiescent(&st, "json");
  CHECK(parse_json(buf), "invalid JSON (%s) at: %.40s", jerr, jp);

  expect("version", GM_STATS_VERSION);
#define HEAP(field) expect("heap." #field, st.field)
#define COUNT(field) expect("counts." #field, st.field)
  HEAP(reserved_bytes);
  HEAP(mapped_bytes);
  HEAP(span_bytes);
  HEAP(object_bytes);
  HEAP(requested_bytes);
  HEAP(free_bytes);
  HEAP(released_bytes);
  HEAP(released_slot_bytes);
  HEAP(metadata_bytes);
  HEAP(free_slot_bytes);
  HEAP(tail_waste_bytes);
  HEAP(rounding_waste_bytes);
  COUNT(spans);
  COUNT(small_spans);
  COUNT(large_spans);
  COUNT(cached_spans);
  COUNT(partial_spans);
  COUNT(full_spans);
  COUNT(arenas);
  COUNT(threads);
  COUNT(objects);
  COUNT(allocs);
  COUNT(frees);
  CHECK(jnum("heap.resident_bytes", NULL, NULL), "resident_bytes missing");
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st.classes[k];
    char p[96];
#define CLS(field)                                                                                 \
  do {                                                                                             \
    snprintf(p, sizeof p, "classes[%u]." #field, k);                                               \
    expect(p, cs->field);                                                                          \
  } while (0)
    CLS(size);
    CLS(span_size);
    CLS(objects_per_span);
    CLS(tail_waste);
    CLS(spans);
    CLS(objects);
    CLS(free_objects);
    CLS(in_use_bytes);
    CLS(span_bytes);
    CLS(allocs);
    CLS(frees);
    CLS(tail_waste_bytes);
    CLS(rounding_waste_bytes);
    CLS(samples);
    CLS(sampled_request_bytes);
    snprintf(p, sizeof p, "classes[%u].class", k);
    expect(p, k);
    double mw = -1;
    snprintf(p, sizeof p, "classes[%u].max_waste", k);
    CHECK(jnum(p, NULL, &mw) && mw > cs->max_waste - 0.006 && mw < cs->max_waste + 0.006,
          "%s = %f, gm_stats %f", p, mw, cs->max_waste);
  }
  free(buf);
  for (int i = 0; i < 5000; i++)
    gm_free(keep[i]);
  return check_summary();
}
