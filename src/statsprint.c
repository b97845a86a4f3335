/* statsprint.c: the statistics printers, gm_print_stats_to and
 * gm_print_stats_json_to, their file-descriptor forms, and gm_fdout, the
 * buffered write(2) sink that they, the report at exit (stats.c) and the
 * heap dump (heapdump.c) write through.
 *
 * The printers copy the numbers out first (gm_stats) and print with no
 * allocator lock held, since the caller's gm_write_fn may call malloc.
 * They format into a buffer on the stack and use no stdio stream, so
 * gm_print_stats_fd and the report at exit call no malloc at all. */
#include "stats.h"

#include "gomalloc.h"
#include "os.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- printing ---------------------------------------------------------------------- */

/* "812 B", "1.5 KiB", "23.4 MiB", "1.25 GiB" (into buf of >= 16 bytes). */
static const char *human(char *buf, size_t len, uint64_t v) {
  static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (v < 1024) {
    snprintf(buf, len, "%llu B", (unsigned long long)v);
    return buf;
  }
  double d = (double)v;
  unsigned u = 0;
  while (d >= 1024 && u < 4) {
    d /= 1024;
    u++;
  }
  snprintf(buf, len, d < 10 ? "%.2f %s" : "%.1f %s", d, unit[u]);
  return buf;
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

/* Text goes to the caller's gm_write_fn a line (or a field) at a time,
 * formatted into a buffer on the stack: no stdio stream, no malloc. */
typedef struct printer {
  gm_write_fn fn;
  void *arg;
} printer_t;

__attribute__((format(printf, 2, 3))) static void out(printer_t *p, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0)
    p->fn(p->arg, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void out_s(printer_t *p, const char *s) { p->fn(p->arg, s, strlen(s)); }

static void fill_for_print(struct gm_stats *st) {
  st->size = sizeof *st;
  gm_stats(st);
}

/* The statistics are big for a thread stack that may be small (printing
 * can run from a destructor of any thread), so they live in mapped memory. */
static struct gm_stats *stats_snapshot(void) {
  struct gm_stats *st = gm_sys_alloc(sizeof *st);
  if (st)
    fill_for_print(st);
  return st;
}

static void stats_release(struct gm_stats *st) {
  gm_sys_free(st, GM_ALIGN_UP(sizeof *st, gm_sys_page_size()));
}

GM_API int gm_print_stats_to(gm_write_fn fn, void *arg) {
  struct gm_stats *st = stats_snapshot();
  if (!st)
    return -1;
  printer_t pt = {fn, arg}, *f = &pt;
  char a[32], b[32], c[32];
  out(f, "gomalloc %s heap statistics of %s, pid %ld\n", gm_version(),
      program_invocation_short_name, (long)getpid());
  out(f, "%5s  %9s  %10s  %7s  %10s  %9s | %7s  %9s  %9s  %6s  %10s\n", "class", "bytes/obj",
      "bytes/span", "objects", "tail waste", "max waste", "spans", "in use", "free", "util",
      "waste");
  unsigned hidden = 0;
  for (unsigned k = 1; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    if (!cs->spans && !cs->allocs) {
      hidden++;
      continue;
    }
    out(f, "%5u  %9llu  %10llu  %7llu  %10llu  %8.2f%% | %7llu  %9llu  %9llu  %5.1f%%  %10s\n", k,
        (unsigned long long)cs->size, (unsigned long long)cs->span_size,
        (unsigned long long)cs->objects_per_span, (unsigned long long)cs->tail_waste,
        cs->max_waste, (unsigned long long)cs->spans, (unsigned long long)cs->objects,
        (unsigned long long)cs->free_objects, pct(cs->in_use_bytes, cs->span_bytes),
        human(a, sizeof a, cs->tail_waste_bytes + cs->rounding_waste_bytes));
  }
  const struct gm_class_stats *lg = &st->classes[0];
  out(f, "%5s  %9s  %10s  %7s  %10s  %9s | %7llu  %9llu  %9s  %6s  %10s\n", "large", "-", "-",
      "-", "-", "-", (unsigned long long)lg->spans, (unsigned long long)lg->objects, "-", "-",
      "-");
  uint64_t nsamples = 0;
  for (unsigned k = 1; k < GM_STATS_NUM_CLASSES; k++)
    nsamples += st->classes[k].samples;
  out(f,
      "(%u size classes never used are not shown; `gomalloc sizeclasses` lists all."
      " waste = tail waste + rounding, the latter estimated from %llu sampled requests)\n",
      hidden, (unsigned long long)nsamples);
  out(f, "heap totals\n");
  out(f, "  %-14s %12s  arena address space, %llu arena(s) of 64 MiB\n", "reserved",
      human(a, sizeof a, st->reserved_bytes), (unsigned long long)st->arenas);
  out(f, "  %-14s %12s  committed to the page heap\n", "mapped",
      human(a, sizeof a, st->mapped_bytes));
  out(f, "  %-14s %12s  %llu spans: %llu cached, %llu partial, %llu full, %llu large (%s)\n",
      "in spans", human(a, sizeof a, st->span_bytes), (unsigned long long)st->spans,
      (unsigned long long)st->cached_spans, (unsigned long long)st->partial_spans,
      (unsigned long long)st->full_spans, (unsigned long long)st->large_spans,
      human(b, sizeof b, st->classes[0].in_use_bytes));
  out(f, "  %-14s %12s  %llu live objects at class size (%.1f%% of span bytes)\n",
      "in objects", human(a, sizeof a, st->object_bytes), (unsigned long long)st->objects,
      pct(st->object_bytes, st->span_bytes));
  out(f, "  %-14s %12s  estimated requested bytes of those objects\n", "requested",
      human(a, sizeof a, st->requested_bytes));
  out(f, "  %-14s %12s  free slots in small spans, %s of them released to the OS\n",
      "free slots", human(a, sizeof a, st->free_slot_bytes),
      human(b, sizeof b, st->released_slot_bytes));
  out(f, "  %-14s %12s  tail %s + rounding %s (estimated)\n", "waste",
      human(a, sizeof a, st->tail_waste_bytes + st->rounding_waste_bytes),
      human(b, sizeof b, st->tail_waste_bytes), human(c, sizeof c, st->rounding_waste_bytes));
  out(f, "  %-14s %12s  free pages in the page heap, %s of them released to the OS\n",
      "free", human(a, sizeof a, st->free_bytes), human(b, sizeof b, st->released_bytes));
  out(f, "  %-14s %12s  span structs, arena maps, page-heap index, thread caches\n",
      "metadata", human(a, sizeof a, st->metadata_bytes));
  out(f, "  %-14s %12s  process RSS\n", "resident", human(a, sizeof a, st->resident_bytes));
  out(f, "  %llu allocs, %llu frees since start; %llu threads with a cache\n",
      (unsigned long long)st->allocs, (unsigned long long)st->frees,
      (unsigned long long)st->threads);
  stats_release(st);
  return 0;
}

static void json_u64(printer_t *f, const char *k, uint64_t v, const char *sep) {
  out(f, "\"%s\": %llu%s", k, (unsigned long long)v, sep);
}

GM_API int gm_print_stats_json_to(gm_write_fn fn, void *arg) {
  struct gm_stats *st = stats_snapshot();
  if (!st)
    return -1;
  printer_t pt = {fn, arg}, *f = &pt;
  out(f, "{\n  \"gomalloc\": \"%s\",\n  \"version\": %u,\n  \"pid\": %ld,\n", gm_version(),
      st->version, (long)getpid());
  out_s(f, "  \"heap\": {");
#define H(field, sep) json_u64(f, #field, st->field, sep)
  H(reserved_bytes, ", ");
  H(mapped_bytes, ", ");
  H(span_bytes, ", ");
  H(object_bytes, ", ");
  H(requested_bytes, ", ");
  H(free_bytes, ", ");
  H(released_bytes, ", ");
  H(released_slot_bytes, ", ");
  H(metadata_bytes, ", ");
  H(resident_bytes, ", ");
  H(free_slot_bytes, ", ");
  H(tail_waste_bytes, ", ");
  H(rounding_waste_bytes, "},\n");
  out_s(f, "  \"counts\": {");
  H(spans, ", ");
  H(small_spans, ", ");
  H(large_spans, ", ");
  H(cached_spans, ", ");
  H(partial_spans, ", ");
  H(full_spans, ", ");
  H(arenas, ", ");
  H(threads, ", ");
  H(objects, ", ");
  H(allocs, ", ");
  H(frees, "},\n");
#undef H
  out_s(f, "  \"classes\": [\n");
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    out(f, "    {\"class\": %u, ", k);
#define C(field, sep) json_u64(f, #field, cs->field, sep)
    C(size, ", ");
    C(span_size, ", ");
    C(objects_per_span, ", ");
    C(tail_waste, ", ");
    out(f, "\"max_waste\": %.2f, ", cs->max_waste);
    C(spans, ", ");
    C(objects, ", ");
    C(free_objects, ", ");
    C(in_use_bytes, ", ");
    C(span_bytes, ", ");
    out(f, "\"utilization\": %.2f, ", pct(cs->in_use_bytes, cs->span_bytes));
    C(allocs, ", ");
    C(frees, ", ");
    C(tail_waste_bytes, ", ");
    C(rounding_waste_bytes, ", ");
    C(samples, ", ");
    C(sampled_request_bytes, "}");
#undef C
    out_s(f, k + 1 < GM_STATS_NUM_CLASSES ? ",\n" : "\n");
  }
  out_s(f, "  ]\n}\n");
  stats_release(st);
  return 0;
}

/* ---- to a file descriptor ------------------------------------------------------------ */

void gm_fdout_flush(gm_fdout_t *o) {
  const char *p = o->buf;
  while (o->n && !o->err) {
    ssize_t k = write(o->fd, p, o->n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      o->err = k < 0 ? errno : EIO;
      break;
    }
    p += k;
    o->n -= (size_t)k;
  }
  o->n = 0;
}

void gm_fdout_write(void *arg, const char *s, size_t n) {
  gm_fdout_t *o = arg;
  while (n) {
    if (o->n == sizeof o->buf)
      gm_fdout_flush(o);
    size_t k = sizeof o->buf - o->n;
    if (k > n)
      k = n;
    memcpy(o->buf + o->n, s, k);
    o->n += k;
    s += k;
    n -= k;
  }
}

static int print_fd(int fd, int (*print)(gm_write_fn, void *)) {
  gm_fdout_t o = {.fd = fd};
  int rc = print(gm_fdout_write, &o);
  gm_fdout_flush(&o);
  if (rc == 0 && o.err) {
    errno = o.err;
    rc = -1;
  }
  return rc;
}

GM_API int gm_print_stats_fd(int fd) { return print_fd(fd, gm_print_stats_to); }
GM_API int gm_print_stats_json_fd(int fd) { return print_fd(fd, gm_print_stats_json_to); }
