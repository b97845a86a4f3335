/* report_page.c: the page of `gomalloc report` (see report.h). Charts are
 * inline SVG drawn here, so the page shows without script; the script
 * only runs the #selftest check. The heap map is the page
 * tools/heapmap_render.c draws from DIR/heap.dump, in an iframe's srcdoc
 * so that its style and script stay its own.
 *
 * Rounding waste is counted per request, as the histogram is: a class's
 * waste is sum(count * (class size - request)) over the sizes it serves.
 * That weighs a size by how often it is asked for, not by how long its
 * blocks live; it is the quantity `gomalloc sizeclasses --fit` minimises. */
#define _GNU_SOURCE
#include "heapmap_render.h"
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Chart geometry (px). */
#define CW 960.0
#define CL 74.0
#define CR 16.0
#define CT 24.0
#define CH 260.0
#define PW (CW - CL - CR)
#define MAX_POINTS 1200

static const char *human(char *b, size_t n, double v) {
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    i++;
  }
  snprintf(b, n, i ? (v < 10 ? "%.2f %s" : "%.1f %s") : "%.0f %s", v, u[i]);
  return b;
}

static void put_escaped(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* A step of 1, 2 or 5 times a power of ten, about span / 5. */
static double nice_step(double span) {
  double raw = span / 5, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
  double m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* ---- the timeline ------------------------------------------------------------------ */

static const struct {
  const char *col, *label, *color, *dash;
} series[] = {
    {"rss", "RSS", "#c0392b", ""},
    {"retained", "retained (mapped - released)", "#2471a3", ""},
    {"at_class", "in use at class size", "#1e8449", ""},
    {"in_use", "in use as requested", "#7d3c98", "4 3"},
};
#define NSERIES (sizeof series / sizeof series[0])

static double cell(const rp_profile_t *p, size_t r, int c) {
  return c < 0 ? 0 : p->rows[r * p->ncols + (size_t)c];
}

/* Returns the points drawn per series (max of each group of rows, so that
 * peaks survive); *releases the markers. */
static size_t svg_timeline(FILE *f, const rp_profile_t *p, size_t *releases) {
  int tc = rp_col(p, "t_ms"), sc = rp_col(p, "scavenged"), col[NSERIES];
  double tmax = 1, vmax = 1;
  for (size_t s = 0; s < NSERIES; s++)
    col[s] = rp_col(p, series[s].col);
  for (size_t r = 0; r < p->nrows; r++) {
    tmax = fmax(tmax, cell(p, r, tc));
    for (size_t s = 0; s < NSERIES; s++)
      vmax = fmax(vmax, cell(p, r, col[s]));
  }
  double unit = 1;
  const char *uname = "B";
  if (vmax >= 1 << 30) unit = 1 << 30, uname = "GiB";
  else if (vmax >= 1 << 20) unit = 1 << 20, uname = "MiB";
  else if (vmax >= 1 << 10) unit = 1 << 10, uname = "KiB";
  double ystep = nice_step(vmax / unit) * unit, tstep = nice_step(tmax);
  vmax = ceil(vmax / ystep) * ystep;
  fprintf(f, "<svg id=\"timeline\" width=\"%.0f\" height=\"%.0f\" "
             "xmlns=\"http://www.w3.org/2000/svg\">\n", CW, CT + CH + 44);
  for (double v = 0; v <= vmax + ystep / 2; v += ystep) {
    double y = CT + CH - v / vmax * CH;
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
               "<text class=\"rl\" x=\"%.1f\" y=\"%.1f\">%g %s</text>\n",
            CL, CL + PW, y, y, CL - 6, y + 4, v / unit, uname);
  }
  for (double t = 0; t <= tmax + tstep / 2; t += tstep) {
    double x = CL + t / tmax * PW;
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
               "<text class=\"ct\" x=\"%.1f\" y=\"%.1f\">%g ms</text>\n",
            x, x, CT, CT + CH, x, CT + CH + 16, t);
  }
  size_t group = (p->nrows + MAX_POINTS - 1) / MAX_POINTS, points = 0;
  if (!group)
    group = 1;
  for (size_t s = 0; s < NSERIES; s++) {
    if (col[s] < 0)
      continue;
    fprintf(f, "<polyline class=\"series\" data-col=\"%s\" fill=\"none\" stroke=\"%s\" "
               "stroke-width=\"1.6\" stroke-dasharray=\"%s\" points=\"",
            series[s].col, series[s].color, series[s].dash);
    points = 0;
    for (size_t r = 0; r < p->nrows; r += group) {
      double v = 0;
      for (size_t k = r; k < r + group && k < p->nrows; k++)
        v = fmax(v, cell(p, k, col[s]));
      fprintf(f, "%s%.1f,%.1f", points ? " " : "", CL + cell(p, r, tc) / tmax * PW,
              CT + CH - v / vmax * CH);
      points++;
    }
    fputs("\"/>\n", f);
  }
  *releases = 0;
  for (size_t r = 0; sc >= 0 && r < p->nrows; r++) {
    double v = cell(p, r, sc);
    if (v <= 0)
      continue;
    char b[32];
    double x = CL + cell(p, r, tc) / tmax * PW;
    fprintf(f, "<path class=\"rel\" d=\"M%.1f,%.1fl-4,-8h8z\"><title>%.1f ms: %s released"
               "</title></path>\n",
            x, CT + CH, cell(p, r, tc), human(b, sizeof b, v));
    ++*releases;
  }
  double lx = CL;
  for (size_t s = 0; s < NSERIES; s++) {
    if (col[s] < 0)
      continue;
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2\" stroke-dasharray=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s"
               "</text>\n",
            lx, lx + 18, CT + CH + 34, CT + CH + 34, series[s].color, series[s].dash, lx + 22,
            CT + CH + 38, series[s].label);
    lx += 34 + 6.7 * (double)strlen(series[s].label);
  }
  fprintf(f, "<path class=\"rel\" d=\"M%.1f,%.1fl-4,-8h8z\"/><text x=\"%.1f\" y=\"%.1f\">"
             "released to the OS</text>\n</svg>\n",
          lx + 6, CT + CH + 38, lx + 14, CT + CH + 38);
  return p->nrows ? points : 0;
}

/* ---- the size histogram ---------------------------------------------------------------- */

static double xmax_of(const rp_profile_t *p) {
  double m = (double)p->cls[p->nclasses - 1].size;
  for (size_t i = 0; i < p->nsizes; i++)
    m = fmax(m, (double)p->sizes[i].hi);
  return m;
}

static double xpos(double n, double xmax) { return CL + log2(n + 1) / log2(xmax + 1) * PW; }

static double waste_pct(uint64_t waste, uint64_t total) {
  return total ? 100.0 * (double)waste / (double)total : 0;
}

static void svg_histogram(FILE *f, const rp_profile_t *p) {
  double xmax = xmax_of(p), cmax = 1;
  for (size_t i = 0; i < p->nsizes; i++)
    cmax = fmax(cmax, (double)p->sizes[i].count);
  double top = CT + 18; /* under the band of class waste */
  double ph = CH - 18;
  fprintf(f, "<svg id=\"hist\" width=\"%.0f\" height=\"%.0f\" "
             "xmlns=\"http://www.w3.org/2000/svg\">\n", CW, CT + CH + 30);
  for (double d = 1; d <= cmax * 1.0001; d *= 10) {
    double y = top + ph - log10(d + 1) / log10(cmax + 1) * ph;
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
               "<text class=\"rl\" x=\"%.1f\" y=\"%.1f\">%.0f</text>\n",
            CL, CL + PW, y, y, CL - 6, y + 4, d);
  }
  /* Class boundaries, and above the plot each class's waste (green 0% to red 25%+). */
  double last_label = -100;
  for (unsigned c = 1; c < p->nclasses; c++) {
    const rp_class_t *k = &p->cls[c];
    double x0 = xpos((double)k->serve_lo, xmax), x1 = xpos((double)k->size + 1, xmax);
    fprintf(f, "<line class=\"cb\" x1=\"%.2f\" x2=\"%.2f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", x1, x1,
            top, top + ph);
    char num[24];
    int digits = snprintf(num, sizeof num, "%llu", (unsigned long long)k->size);
    if (x1 - last_label > 7.0 * digits + 6) { /* centred labels, ~7 px a digit */
      fprintf(f, "<text class=\"ct\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", x1, top + ph + 14, num);
      last_label = x1;
    }
    if (!k->requests)
      continue;
    uint64_t w = k->class_bytes - k->requested_bytes;
    double pct = waste_pct(w, k->class_bytes);
    char b[32];
    fprintf(f, "<rect class=\"band\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"12\" "
               "fill=\"hsl(%.0f,70%%,45%%)\"><title>class %u (%llu B): %llu requests of "
               "%llu..%llu B, waste %s (%.1f%%)</title></rect>\n",
            x0, CT, fmax(x1 - x0, 1), 120 * (1 - fmin(pct / 25, 1)), c,
            (unsigned long long)k->size, (unsigned long long)k->requests,
            (unsigned long long)k->serve_lo, (unsigned long long)k->serve_hi,
            human(b, sizeof b, (double)w), pct);
  }
  for (size_t i = 0; i < p->nsizes; i++) {
    const rp_size_t *s = &p->sizes[i];
    double x0 = xpos((double)s->lo, xmax), x1 = xpos((double)s->hi + 1, xmax);
    double h = log10((double)s->count + 1) / log10(cmax + 1) * ph;
    unsigned c = s->lo == s->hi ? rp_class_of(p, s->lo) : 0;
    fprintf(f, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
               "fill=\"hsl(%u,%s)\"><title>",
            x0, top + ph - h, fmax(x1 - x0, 1), h, c * 137 % 360, c ? "60%,40%" : "0%,55%");
    if (c)
      fprintf(f, "%llu B: %llu requests, class %u (%llu B), %llu B waste each</title></rect>\n",
              (unsigned long long)s->lo, (unsigned long long)s->count, c,
              (unsigned long long)p->cls[c].size,
              (unsigned long long)(p->cls[c].size - s->lo));
    else
      fprintf(f, "%llu..%llu B: %llu requests (large: whole pages)</title></rect>\n",
              (unsigned long long)s->lo, (unsigned long long)s->hi, (unsigned long long)s->count);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">requests (log scale) by requested size (bytes, log "
             "scale); grey lines: class boundaries; band: each class's rounding waste</text>\n"
             "</svg>\n",
          CL, CT + CH + 26);
}

typedef struct {
  uint64_t size, count, waste;
  unsigned c;
} hot_t;

static int by_waste(const void *a, const void *b) {
  const hot_t *x = a, *y = b;
  return x->waste < y->waste ? 1 : x->waste > y->waste ? -1 : (x->size > y->size) - (x->size < y->size);
}

/* The class table; returns its rows. *waste, *class_bytes: the totals. */
static size_t class_table(FILE *f, const rp_profile_t *p, uint64_t *waste, uint64_t *cbytes) {
  char a[32], b[32], c[32];
  uint64_t w = 0, cb = 0;
  for (unsigned k = 1; k < p->nclasses; k++) {
    w += p->cls[k].class_bytes - p->cls[k].requested_bytes;
    cb += p->cls[k].class_bytes;
  }
  fputs("<table id=\"classes\"><thead><tr><th>class</th><th>bytes/obj</th><th>serves</th>"
        "<th>requests</th><th>requested</th><th>at class size</th><th>rounding waste</th>"
        "<th>waste %</th><th>share of waste</th></tr></thead><tbody>\n",
        f);
  size_t rows = 0;
  for (unsigned k = 1; k < p->nclasses; k++) {
    const rp_class_t *r = &p->cls[k];
    if (!r->requests)
      continue;
    uint64_t kw = r->class_bytes - r->requested_bytes;
    fprintf(f, "<tr class=\"cls\" data-c=\"%u\"><td>%u</td><td>%llu</td><td>%llu..%llu</td>"
               "<td>%llu</td><td>%s</td><td>%s</td><td data-w=\"%llu\">%s</td><td>%.1f%%</td>"
               "<td>%.1f%%</td></tr>\n",
            k, k, (unsigned long long)r->size, (unsigned long long)r->serve_lo,
            (unsigned long long)r->serve_hi, (unsigned long long)r->requests,
            human(a, sizeof a, (double)r->requested_bytes), human(b, sizeof b, (double)r->class_bytes),
            (unsigned long long)kw, human(c, sizeof c, (double)kw), waste_pct(kw, r->class_bytes),
            waste_pct(kw, w));
    rows++;
  }
  const rp_class_t *l = &p->cls[0];
  if (l->requests)
    fprintf(f, "<tr class=\"large\"><td>large</td><td>pages</td><td>&gt;%llu</td><td>%llu</td>"
               "<td>%s</td><td colspan=\"4\">rounded up to whole %llu-byte pages</td></tr>\n",
            (unsigned long long)p->cls[p->nclasses - 1].size, (unsigned long long)l->requests,
            human(a, sizeof a, (double)l->requested_bytes), (unsigned long long)p->page_size);
  fprintf(f, "</tbody><tfoot><tr><th colspan=\"3\">small requests</th><th></th><th>%s</th>"
             "<th>%s</th><th id=\"total-waste\" data-w=\"%llu\">%s</th><th>%.1f%%</th><th></th>"
             "</tr></tfoot></table>\n",
          human(a, sizeof a, (double)(cb - w)), human(b, sizeof b, (double)cb),
          (unsigned long long)w, human(c, sizeof c, (double)w), waste_pct(w, cb));
  *waste = w;
  *cbytes = cb;
  return rows;
}

static void hot_sizes(FILE *f, const rp_profile_t *p) {
  hot_t *h = calloc(p->nsizes ? p->nsizes : 1, sizeof *h);
  size_t n = 0;
  for (size_t i = 0; h && i < p->nsizes; i++) {
    const rp_size_t *s = &p->sizes[i];
    unsigned c = s->lo == s->hi ? rp_class_of(p, s->lo) : 0;
    if (c && p->cls[c].size > s->lo)
      h[n++] = (hot_t){s->lo, s->count, s->count * (p->cls[c].size - s->lo), c};
  }
  if (!n) {
    free(h);
    return;
  }
  qsort(h, n, sizeof *h, by_waste);
  char a[32];
  fputs("<h2>Sizes that waste most</h2>\n<table id=\"hot\"><thead><tr><th>requested</th>"
        "<th>requests</th><th>class</th><th>bytes/obj</th><th>waste each</th><th>waste</th>"
        "</tr></thead><tbody>\n",
        f);
  for (size_t i = 0; i < n && i < 15; i++)
    fprintf(f, "<tr><td>%llu</td><td>%llu</td><td>%u</td><td>%llu</td><td>%llu (%.1f%%)</td>"
               "<td>%s</td></tr>\n",
            (unsigned long long)h[i].size, (unsigned long long)h[i].count, h[i].c,
            (unsigned long long)p->cls[h[i].c].size,
            (unsigned long long)(p->cls[h[i].c].size - h[i].size),
            waste_pct(p->cls[h[i].c].size - h[i].size, p->cls[h[i].c].size),
            human(a, sizeof a, (double)h[i].waste));
  fputs("</tbody></table>\n", f);
  free(h);
}

/* ---- the heap map ------------------------------------------------------------------------ */

/* Returns the spans the heap map draws (its census), or -1 if there is none. */
static long heap_map(FILE *f, const rp_profile_t *p, char *err, size_t errlen) {
  if (!p->dump[0]) {
    fputs("<p class=\"sum\">No heap dump: the program did not reach its exit handlers "
          "(_exit, a signal).</p>\n", f);
    return -1;
  }
  FILE *in = fopen(p->dump, "r");
  hm_heap_t h;
  char *page = NULL;
  size_t len = 0;
  if (!in || gm_heapmap_load(in, &h, err, errlen) != 0) {
    if (in)
      fclose(in);
    fputs("<p class=\"sum\">The heap dump could not be read.</p>\n", f);
    return -1;
  }
  fclose(in);
  FILE *mem = open_memstream(&page, &len);
  int rc = mem ? gm_heapmap_write_page(mem, &h) : -1;
  if (mem)
    fclose(mem);
  long spans = (long)h.nspans;
  gm_heapmap_free(&h);
  if (rc != 0 || !page) {
    free(page);
    fputs("<p class=\"sum\">The heap map could not be drawn.</p>\n", f);
    return -1;
  }
  fputs("<iframe id=\"heapmap\" title=\"heap map\" srcdoc=\"", f);
  put_escaped(f, page);
  fputs("\"></iframe>\n", f);
  free(page);
  return spans;
}

/* ---- the page ------------------------------------------------------------------------------ */

static const char page_css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}\n"
    "h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px}\n"
    "p.sum{margin:2px 0;color:#333;max-width:960px}\n"
    "svg text{font:11px ui-monospace,monospace;fill:#444}svg text.rl{text-anchor:end}"
    "svg text.ct{text-anchor:middle}\n"
    "line.grid{stroke:#e3e3e3}line.cb{stroke:#bbb;stroke-width:.6}path.rel{fill:#e67e22}\n"
    "rect.bar:hover,rect.band:hover{stroke:#000;stroke-width:1}\n"
    "table{border-collapse:collapse;font:12px ui-monospace,monospace}"
    "td,th{padding:1px 7px;text-align:right;border-bottom:1px solid #e2e2e2}th{background:#eee}\n"
    "iframe#heapmap{width:100%;height:900px;border:1px solid #ccc;background:#fff}\n";

static const char page_js[] =
    "(function(){'use strict';\n"
    "function classOf(n){for(var c=1;c<CL.length;c++)if(CL[c]>=n&&(n<=16||RP.align8||"
    "CL[c]%16==0))return c;return 0;}\n"
    "function heapmap(){var fr=document.getElementById('heapmap');if(!fr)return 'none';\n"
    " var d=fr.contentDocument,w=fr.contentWindow;if(!d||!w||!w.META)return 'unreadable';\n"
    " var n=w.META.mode=='spans'?d.querySelectorAll('rect.s:not(.c)').length:"
    "d.querySelectorAll('rect.k').length,want=w.META.mode=='spans'?w.META.spans:w.META.chunks;\n"
    " var t=d.querySelector(w.META.mode=='spans'?'rect.s':'rect.k'),tip=d.getElementById('tip');\n"
    " if(t){var r=t.getBoundingClientRect();t.dispatchEvent(new w.MouseEvent('mouseover',"
    "{bubbles:true,clientX:r.left+1,clientY:r.top+1}));}\n"
    " var ok=!t||(tip&&tip.style.display=='block'&&tip.textContent.length>0);\n"
    " return (n==want&&want==RP.spans&&ok?'ok':'bad')+'('+w.META.mode+'='+n+'/'+want"
    "+(ok?'':' tooltip=bad')+')';}\n"
    "function selftest(){\n"
    " var pl=document.querySelectorAll('#timeline polyline.series'),pts=-1,i;\n"
    " for(i=0;i<pl.length;i++){var k=pl[i].getAttribute('points').trim();"
    "k=k?k.split(/\\s+/).length:0;if(pts<0)pts=k;else if(pts!=k)pts=-2;}\n"
    " if(pts<0)pts=0;\n"
    " var rel=document.querySelectorAll('#timeline path.rel[d] title').length;\n"
    " var bars=document.querySelectorAll('#hist rect.bar').length;\n"
    " var rows=document.querySelectorAll('#classes tr.cls').length;\n"
    " var w=0,cb=0;for(i=0;i<SZ.length;i++){var s=SZ[i];if(s[0]!=s[1])continue;"
    "var c=classOf(s[0]);if(!c)continue;w+=s[2]*(CL[c]-s[0]);cb+=s[2]*CL[c];}\n"
    " var tw=+document.getElementById('total-waste').getAttribute('data-w'),tr=0;\n"
    " document.querySelectorAll('#classes tr.cls td[data-w]').forEach(function(e){"
    "tr+=+e.getAttribute('data-w');});\n"
    " var res='SELFTEST timeline='+pts+'/'+RP.points+' releases='+rel+'/'+RP.releases"
    "+' bars='+bars+'/'+RP.bars+' classes='+rows+'/'+RP.classes"
    "+' waste='+(w==RP.waste&&tw==w&&tr==w&&cb==RP.classBytes?'ok':'bad('+w+','+tw+','+tr+','"
    "+RP.waste+')')+' heapmap='+heapmap();\n"
    " document.title=res;var p=document.createElement('pre');p.id='selftest-result';"
    "p.textContent=res;document.body.appendChild(p);}\n"
    "if(location.hash=='#selftest')window.addEventListener('load',selftest);\n"
    "})();\n";

int rp_write_page(FILE *f, const rp_profile_t *p, char *err, size_t errlen) {
  char a[32], b[32], c[32], d[32];
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<title>gomalloc profile</title>\n<style>\n",
        f);
  fputs(page_css, f);
  fputs("</style></head><body>\n<h1>gomalloc profile: ", f);
  put_escaped(f, p->program[0] ? p->program : "?");
  fprintf(f, "</h1>\n<p class=\"sum\">pid %ld, gomalloc %s: <code>", p->pid, p->version);
  put_escaped(f, p->cmdline);
  fputs("</code></p>\n", f);
  int rss = rp_col(p, "rss"), in_use = rp_col(p, "in_use"), ret = rp_col(p, "retained"),
      atc = rp_col(p, "at_class");
  double peak[4] = {0, 0, 0, 0};
  for (size_t r = 0; r < p->nrows; r++) {
    peak[0] = fmax(peak[0], cell(p, r, rss));
    peak[1] = fmax(peak[1], cell(p, r, in_use));
    peak[2] = fmax(peak[2], cell(p, r, atc));
    peak[3] = fmax(peak[3], cell(p, r, ret));
  }
  fprintf(f, "<p class=\"sum\">%.1f ms, %zu samples every %llu ms or more, %llu requests. "
             "Peaks: RSS %s, in use %s (%s at class size), retained %s.</p>\n",
          p->end_ms, p->nrows, (unsigned long long)p->interval_ms,
          (unsigned long long)p->requests, human(a, sizeof a, peak[0]),
          human(b, sizeof b, peak[1]), human(c, sizeof c, peak[2]), human(d, sizeof d, peak[3]));
  if (!p->complete)
    fputs("<p class=\"sum\"><b>The program did not reach its exit handlers</b>: the timeline "
          "stops at its last sample; there is no size histogram and no heap map.</p>\n", f);
  for (size_t i = 0; i < p->nchildren; i++) {
    fputs("<p class=\"sum\">Another process of the program: <code>gomalloc report ", f);
    put_escaped(f, p->dir);
    fputc('/', f);
    put_escaped(f, p->children[i]);
    fputs("</code></p>\n", f);
  }

  fputs("<h2>The heap over time</h2>\n", f);
  size_t releases = 0, points = svg_timeline(f, p, &releases);

  fputs("<h2>Requested sizes against the size classes</h2>\n"
        "<p class=\"sum\">Each request is rounded up to its class: the waste below is "
        "counted per request over the whole run, (class size - request) each, so a size "
        "asked for often weighs most. Requests above the largest class get whole pages.</p>\n",
        f);
  svg_histogram(f, p);
  uint64_t waste, cbytes;
  size_t rows = class_table(f, p, &waste, &cbytes);
  hot_sizes(f, p);

  fputs("<h2>The heap at exit</h2>\n", f);
  long spans = heap_map(f, p, err, errlen);

  fprintf(f, "<script>\nvar RP={rows:%zu,points:%zu,releases:%zu,bars:%zu,classes:%zu,"
             "waste:%llu,classBytes:%llu,align8:%d,spans:%ld};\nvar CL=[0",
          p->nrows, points, releases, p->nsizes, rows, (unsigned long long)waste,
          (unsigned long long)cbytes, p->align8, spans);
  for (unsigned k = 1; k < p->nclasses; k++)
    fprintf(f, ",%llu", (unsigned long long)p->cls[k].size);
  fputs("];\nvar SZ=[", f);
  for (size_t i = 0; i < p->nsizes; i++)
    fprintf(f, "%s[%llu,%llu,%llu]", i ? (i % 16 ? "," : ",\n") : "",
            (unsigned long long)p->sizes[i].lo, (unsigned long long)p->sizes[i].hi,
            (unsigned long long)p->sizes[i].count);
  fputs("];\n", f);
  fputs(page_js, f);
  fputs("</script>\n</body></html>\n", f);
  if (ferror(f)) {
    snprintf(err, errlen, "write error");
    return -1;
  }
  return 0;
}
