/* heapmap_render.c: the heap map page (see heapmap_render.h): layout,
 * inline SVG, the page's style and script, and gm_heapmap_render_file.
 * The map is drawn in C as inline SVG (it shows even without script); the
 * script only adds tooltips and the #selftest check. */
#define _GNU_SOURCE
#include "heapmap_render.h"

#include "internal.h"
#include "span.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- layout --------------------------------------------------------------------- */

/* Span mode: each chunk is two rows of 256 pages, 4 px a page. */
#define LEFT 150.0
#define PW 4.0
#define ROW_PAGES 256
#define RH 12.0
#define RGAP 3.0
#define AHEAD 26.0
#define MAPW (LEFT + ROW_PAGES * PW + 10)
/* Chunk mode: one row per arena, one cell per 4 MiB chunk. */
#define CW 60.0
#define CGAP 4.0
#define CH 24.0
#define CHUNKS_PER_ARENA (GM_ARENA_BYTES / GM_CHUNK_BYTES)

static uintptr_t arena_of(uintptr_t a) { return a & ~(uintptr_t)(GM_ARENA_BYTES - 1); }

static bool page_in_use(const hm_chunk_t *c, unsigned p) { return c->alloc[p / 64] >> (p % 64) & 1; }
static bool page_released(const hm_chunk_t *c, unsigned p) { return c->scav[p / 64] >> (p % 64) & 1; }

/* The chunk holding address a (chunks are sorted), or NULL. */
static hm_chunk_t *chunk_of(const hm_heap_t *sn, uintptr_t a) {
  size_t lo = 0, hi = sn->nchunks;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (sn->chunks[mid].base + GM_CHUNK_BYTES <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < sn->nchunks && sn->chunks[lo].base <= a)
    return &sn->chunks[lo];
  return NULL;
}

static unsigned hue(unsigned cls) { return cls * 137u % 360u; }

/* Fill of a block: class hue, darker the fuller. Large spans are slate. */
static void fill_color(char *buf, size_t n, unsigned cls, double full) {
  if (cls == 0) {
    snprintf(buf, n, "#34495e");
    return;
  }
  if (full < 0)
    full = 0;
  if (full > 1)
    full = 1;
  snprintf(buf, n, "hsl(%u,65%%,%.0f%%)", hue(cls), 86.0 - 48.0 * full);
}

static const char *human(char *buf, size_t len, uint64_t v) {
  static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double d = (double)v;
  unsigned u = 0;
  while (d >= 1024 && u < 4) {
    d /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)v);
  else
    snprintf(buf, len, d < 10 ? "%.2f %s" : "%.1f %s", d, unit[u]);
  return buf;
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

/* Free page runs of a chunk, split at row ends: fn(chunk, first page, n, released). */
typedef void (*run_fn)(FILE *f, const hm_chunk_t *c, unsigned p, unsigned n, bool rel, size_t id);
static size_t for_each_free_run(FILE *f, const hm_heap_t *sn, run_fn fn) {
  size_t id = 0;
  for (size_t ci = 0; ci < sn->nchunks; ci++) {
    const hm_chunk_t *c = &sn->chunks[ci];
    unsigned p = 0;
    while (p < GM_CHUNK_PAGES) {
      if (page_in_use(c, p)) {
        p++;
        continue;
      }
      bool rel = page_released(c, p);
      unsigned q = p + 1;
      while (q < GM_CHUNK_PAGES && q % ROW_PAGES != 0 && !page_in_use(c, q) &&
             page_released(c, q) == rel)
        q++;
      fn(f, c, p, q - p, rel, id++);
      p = q;
    }
  }
  return id;
}

static void svg_free_run(FILE *f, const hm_chunk_t *c, unsigned p, unsigned n, bool rel,
                         size_t id) {
  fprintf(f, "<rect class=\"%s\" data-f=\"%zu\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>\n",
          rel ? "r" : "f", id, LEFT + (p % ROW_PAGES) * PW, c->y + (p / ROW_PAGES) * (RH + RGAP),
          n * PW, RH);
}

static void js_free_run(FILE *f, const hm_chunk_t *c, unsigned p, unsigned n, bool rel,
                        size_t id) {
  fprintf(f, "%s[\"%lx\",%u,%d]", id ? "," : "",
          (unsigned long)(c->base + ((uintptr_t)p << GM_PAGE_SHIFT)), n, rel ? 1 : 0);
}

/* Number of grown chunks in the arena of chunk ci (chunks sorted). */
static size_t chunks_in_arena(const hm_heap_t *sn, size_t ci) {
  uintptr_t a = arena_of(sn->chunks[ci].base);
  size_t n = 0;
  for (size_t k = ci; k < sn->nchunks && arena_of(sn->chunks[k].base) == a; k++)
    n++;
  return n;
}

static double layout_spans(hm_heap_t *sn) {
  double y = 4;
  uintptr_t prev = 1; /* no arena starts at 1 */
  for (size_t ci = 0; ci < sn->nchunks; ci++) {
    hm_chunk_t *c = &sn->chunks[ci];
    if (arena_of(c->base) != prev) {
      prev = arena_of(c->base);
      y += AHEAD;
    }
    c->y = y;
    y += 2 * (RH + RGAP);
  }
  return y + 6;
}

static void svg_spans(FILE *f, hm_heap_t *sn) {
  double h = layout_spans(sn);
  fprintf(f, "<svg id=\"heapsvg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n",
          MAPW, h);
  fputs("<defs><pattern id=\"rel\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
        "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/>"
        "<rect width=\"2\" height=\"6\" fill=\"#b9c6d2\"/></pattern></defs>\n",
        f);
  /* Arena headings and row labels. */
  uintptr_t prev = 1;
  char a[32];
  for (size_t ci = 0; ci < sn->nchunks; ci++) {
    const hm_chunk_t *c = &sn->chunks[ci];
    if (arena_of(c->base) != prev) {
      prev = arena_of(c->base);
      size_t n = chunks_in_arena(sn, ci);
      fprintf(f,
              "<text class=\"ah\" x=\"4\" y=\"%.0f\">arena 0x%lx: 64 MiB reserved, %zu of %zu "
              "chunks mapped (%s)</text>\n",
              c->y - 9, (unsigned long)prev, n, (size_t)CHUNKS_PER_ARENA,
              human(a, sizeof a, (uint64_t)n * GM_CHUNK_BYTES));
    }
    for (unsigned r = 0; r < 2; r++)
      fprintf(f, "<text class=\"rl\" x=\"%.0f\" y=\"%.0f\">0x%lx</text>\n", LEFT - 6,
              c->y + r * (RH + RGAP) + RH - 2,
              (unsigned long)(c->base + ((uintptr_t)r * ROW_PAGES << GM_PAGE_SHIFT)));
  }
  for_each_free_run(f, sn, svg_free_run);
  char col[48];
  for (size_t i = 0; i < sn->nspans; i++) {
    const hm_span_t *s = &sn->spans[i];
    unsigned cls = gm_spanclass_sizeclass(s->spanclass);
    fill_color(col, sizeof col, cls, s->nelems ? (double)s->live / s->nelems : 1);
    uintptr_t addr = s->base;
    size_t left = s->npages;
    bool first = true;
    while (left) {
      hm_chunk_t *c = chunk_of(sn, addr);
      if (!c)
        break;
      unsigned pc = (unsigned)((addr - c->base) >> GM_PAGE_SHIFT);
      unsigned col0 = pc % ROW_PAGES;
      size_t n = ROW_PAGES - col0;
      if (n > left)
        n = left;
      /* A 1 px gap after a span's last piece keeps neighbours apart. */
      double w = n * PW - (n == left ? 1 : 0);
      fprintf(f,
              "<rect class=\"s%s\" data-i=\"%zu\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
              "height=\"%.0f\" fill=\"%s\"/>\n",
              first ? "" : " c", i, LEFT + col0 * PW, c->y + (pc / ROW_PAGES) * (RH + RGAP), w,
              RH, col);
      first = false;
      addr += n << GM_PAGE_SHIFT;
      left -= n;
    }
  }
  fputs("</svg>\n", f);
}

/* Per-chunk summary for chunk mode. */
typedef struct ksum {
  size_t spans, large_spans, small_pages, large_pages, free_pages, rel_pages;
  uint64_t live, slots;
  unsigned dom;
} ksum_t;

static ksum_t *summarize_chunks(const hm_heap_t *sn) {
  ksum_t *k = calloc(sn->nchunks ? sn->nchunks : 1, sizeof *k);
  if (!k)
    return NULL;
  for (size_t ci = 0; ci < sn->nchunks; ci++) {
    const hm_chunk_t *c = &sn->chunks[ci];
    for (unsigned w = 0; w < HM_CHUNK_WORDS; w++) {
      k[ci].free_pages += gm_popcount64(~c->alloc[w]);
      k[ci].rel_pages += gm_popcount64(c->scav[w]);
    }
  }
  /* Spans come in address order, so each chunk's pieces are contiguous in
   * the walk: a running histogram finds its dominant class. */
  size_t hist[GM_NUM_CLASSES] = {0}, cur = SIZE_MAX;
  for (size_t i = 0; i <= sn->nspans; i++) {
    const hm_span_t *s = i < sn->nspans ? &sn->spans[i] : NULL;
    uintptr_t addr = s ? s->base : 0;
    size_t left = s ? s->npages : 1;
    while (left) {
      const hm_chunk_t *c = s ? chunk_of(sn, addr) : NULL;
      size_t ci = c ? (size_t)(c - sn->chunks) : SIZE_MAX;
      if (ci != cur) {
        if (cur != SIZE_MAX) {
          unsigned best = 0;
          for (unsigned x = 1; x < GM_NUM_CLASSES; x++)
            if (hist[x] > hist[best])
              best = x;
          k[cur].dom = hist[best] ? best : 0;
        }
        memset(hist, 0, sizeof hist);
        cur = ci;
      }
      if (!c)
        break;
      size_t pc = (addr - c->base) >> GM_PAGE_SHIFT;
      size_t n = GM_CHUNK_PAGES - pc;
      if (n > left)
        n = left;
      unsigned cls = gm_spanclass_sizeclass(s->spanclass);
      if (addr == s->base) {
        k[ci].spans++;
        k[ci].live += s->live;
        k[ci].slots += cls ? s->nelems : 0;
        if (!cls)
          k[ci].large_spans++;
      }
      if (cls)
        k[ci].small_pages += n;
      else
        k[ci].large_pages += n;
      hist[cls] += n;
      addr += n << GM_PAGE_SHIFT;
      left -= n;
    }
  }
  return k;
}

static void svg_chunks(FILE *f, const hm_heap_t *sn, const ksum_t *k) {
  size_t rows = 0;
  uintptr_t prev = 1;
  for (size_t ci = 0; ci < sn->nchunks; ci++)
    if (arena_of(sn->chunks[ci].base) != prev) {
      prev = arena_of(sn->chunks[ci].base);
      rows++;
    }
  double width = LEFT + CHUNKS_PER_ARENA * (CW + CGAP) + 10;
  fprintf(f, "<svg id=\"heapsvg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n",
          width, 8 + rows * (CH + CGAP));
  fputs("<defs><pattern id=\"rel\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
        "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fff\"/>"
        "<rect width=\"2\" height=\"6\" fill=\"#b9c6d2\"/></pattern></defs>\n",
        f);
  prev = 1;
  double y = 4 - (CH + CGAP);
  char col[48];
  for (size_t ci = 0; ci < sn->nchunks; ci++) {
    const hm_chunk_t *c = &sn->chunks[ci];
    if (arena_of(c->base) != prev) {
      prev = arena_of(c->base);
      y += CH + CGAP;
      fprintf(f, "<text class=\"rl\" x=\"%.0f\" y=\"%.0f\">0x%lx</text>\n", LEFT - 6,
              y + CH / 2 + 4, (unsigned long)prev);
      /* Chunks of the arena that are reserved but not mapped. */
      for (size_t j = 0; j < CHUNKS_PER_ARENA; j++)
        fprintf(f, "<rect class=\"u\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>\n",
                LEFT + j * (CW + CGAP), y, CW, CH);
    }
    double x = LEFT + (double)((c->base - prev) / GM_CHUNK_BYTES) * (CW + CGAP);
    const ksum_t *s = &k[ci];
    double per = CW / GM_CHUNK_PAGES;
    fill_color(col, sizeof col, s->dom, s->slots ? (double)s->live / (double)s->slots : 1);
    double parts[4] = {s->small_pages * per, s->large_pages * per,
                       (s->free_pages - s->rel_pages) * per, s->rel_pages * per};
    const char *fills[4] = {col, "#34495e", "#d5d8dc", "url(#rel)"};
    double px = x;
    for (int p = 0; p < 4; p++) {
      if (parts[p] <= 0)
        continue;
      fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"/>\n", px,
              y, parts[p], CH, fills[p]);
      px += parts[p];
    }
    fprintf(f,
            "<rect class=\"k\" data-k=\"%zu\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
            "height=\"%.0f\"/>\n",
            ci, x, y, CW, CH);
  }
  fputs("</svg>\n", f);
}

/* ---- the page ------------------------------------------------------------------------- */

static const char page_css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}\n"
    "h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:20px 0 6px}\n"
    "p.sum{margin:2px 0;color:#333}\n"
    "#legend{margin:8px 0}#legend span.sw{display:inline-block;width:16px;height:12px;"
    "vertical-align:-2px;margin:0 4px 0 12px;border:1px solid #999}\n"
    "#map{overflow:auto}\n"
    "svg text{font:11px ui-monospace,monospace;fill:#444}svg text.rl{text-anchor:end}"
    "svg text.ah{font:bold 12px system-ui,sans-serif;fill:#222}\n"
    "rect.f{fill:#d5d8dc}rect.r{fill:url(#rel)}rect.u{fill:none;stroke:#ccc;"
    "stroke-dasharray:3 3}rect.k{fill:transparent;stroke:#888;stroke-width:.5}\n"
    "rect.s:hover,rect.k:hover,rect.f:hover,rect.r:hover{stroke:#000;stroke-width:1.5}\n"
    "#tip{position:fixed;display:none;pointer-events:none;background:#fff;border:1px solid #777;"
    "box-shadow:2px 3px 8px rgba(0,0,0,.25);padding:6px 9px;font:12px/1.45 ui-monospace,"
    "monospace;white-space:pre;z-index:10}\n"
    "#tip canvas{display:block;margin:5px 0 3px}\n"
    "table{border-collapse:collapse;font:12px ui-monospace,monospace}"
    "td,th{padding:1px 7px;text-align:right;border-bottom:1px solid #e2e2e2}"
    "th{background:#eee;position:sticky;top:0}td.sw{width:14px}\n";

static const char page_js[] =
    "(function(){'use strict';\n"
    "var tip=document.getElementById('tip'),map=document.getElementById('map');\n"
    "var ST=['dead','cached','partial','full','large'];\n"
    "function hb(n){var u=['B','KiB','MiB','GiB','TiB'],i=0;while(n>=1024&&i<4){n/=1024;i++;}"
    "return (i?n.toFixed(n<10?2:1):n)+' '+u[i];}\n"
    "function hue(c){return c*137%360;}\n"
    "function bit(h,k){return (parseInt(h.charAt(k>>2),16)>>(k&3))&1;}\n"
    "function line(t){var d=document.createElement('div');d.textContent=t;tip.appendChild(d);}\n"
    "function bitmap(d){var n=d[4],cols=n<32?n:32,rows=Math.ceil(n/cols),c=n>256?6:(n>64?8:11);\n"
    " var cv=document.createElement('canvas');cv.width=cols*c;cv.height=rows*c;\n"
    " var x=cv.getContext('2d'),cl=d[2]>>1;\n"
    " for(var k=0;k<n;k++){var u=bit(d[9],k),p=bit(d[10],k);\n"
    "  x.fillStyle=p?'#e67e22':(u?'hsl('+hue(cl)+',65%,38%)':'#e4e4e4');\n"
    "  x.fillRect((k%cols)*c,Math.floor(k/cols)*c,c-1,c-1);}\n"
    " if(d[6]<n){var fx=(d[6]%cols)*c,fy=Math.floor(d[6]/cols)*c;x.fillStyle='#c0392b';"
    "x.fillRect(fx,fy,2,c-1);}\n"
    " tip.appendChild(cv);\n"
    " line('bitmap: '+n+' slots, '+cols+' a row; dark = in use, orange = freed (not yet"
    " swept),');line('grey = free, red mark = freeindex');}\n"
    "function showSpan(d){var cl=d[2]>>1;\n"
    " line('span start 0x'+d[0]+'  npages '+d[1]+' ('+hb(d[1]*8192)+')');\n"
    " line('spanclass '+d[2]+' (size class '+cl+(cl?', '+d[8]+' B objects':', large object')+')');\n"
    " line('state '+ST[d[3]]+'  nelems '+d[4]+'  allocCount '+d[5]+'  freeindex '+d[6]);\n"
    " line('in use '+d[7]+' of '+d[4]+' ('+(100*d[7]/d[4]).toFixed(1)+'%), '+hb(d[7]*d[8])"
    "+(d[11]?'; released '+hb(d[11]):''));\n"
    " if(d[9])bitmap(d);}\n"
    "function showFree(d){line((d[2]?'released':'free')+' pages start 0x'+d[0]+'  npages '+d[1]"
    "+' ('+hb(d[1]*8192)+')');line(d[2]?'free, returned to the OS (scavenged)':'free, still "
    "backed by memory');}\n"
    "function showChunk(d){line('chunk 0x'+d[0]+' (4 MiB, 512 pages)');\n"
    " line('spans '+d[1]+' starting here, '+d[2]+' of them large');\n"
    " line('pages: '+d[3]+' in small spans, '+d[4]+' large, '+d[5]+' free ('+d[6]+' released)');\n"
    " if(d[8])line('objects in use '+d[7]+' of '+d[8]+' slots ('+(100*d[7]/d[8]).toFixed(1)+'%)');\n"
    " if(d[9])line('most pages: size class '+d[9]);}\n"
    "function place(e){var w=tip.offsetWidth,h=tip.offsetHeight,x=e.clientX+14,y=e.clientY+14;\n"
    " if(x+w>innerWidth-4)x=Math.max(4,e.clientX-w-14);if(y+h>innerHeight-4)y=Math.max(4,"
    "e.clientY-h-14);\n"
    " tip.style.left=x+'px';tip.style.top=y+'px';}\n"
    "function show(e){var t=e.target,i=t.getAttribute&&t.getAttribute('data-i'),"
    "f=t.getAttribute&&t.getAttribute('data-f'),k=t.getAttribute&&t.getAttribute('data-k');\n"
    " tip.textContent='';\n"
    " if(i!==null&&i!==undefined)showSpan(S[+i]);else if(f!==null&&f!==undefined)showFree(F[+f]);"
    "else if(k!==null&&k!==undefined)showChunk(K[+k]);\n"
    " else{tip.style.display='none';return;}\n"
    " tip.style.display='block';place(e);}\n"
    "map.addEventListener('mouseover',show);\n"
    "map.addEventListener('mousemove',function(e){if(tip.style.display=='block')place(e);});\n"
    "map.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
    "function selftest(){\n"
    " var first=map.querySelectorAll('rect.s:not(.c)'),all=map.querySelectorAll('rect.s'),"
    "ids={},i,t=null,need;\n"
    " for(i=0;i<all.length;i++)ids[all[i].getAttribute('data-i')]=1;\n"
    " var cells=map.querySelectorAll('rect.k');\n"
    " if(META.mode=='spans'){for(i=0;i<first.length&&!t;i++)"
    "if(S[+first[i].getAttribute('data-i')][4]>1)t=first[i];\n"
    "  if(!t&&first.length)t=first[0];\n"
    "  need=['start 0x','npages','spanclass','nelems','allocCount','freeindex'];}\n"
    " else{t=cells[0];need=['chunk 0x','spans','pages'];}\n"
    " var ok=false,txt='';\n"
    " if(t){var r=t.getBoundingClientRect();\n"
    "  t.dispatchEvent(new MouseEvent('mouseover',{bubbles:true,clientX:r.left+1,"
    "clientY:r.top+1}));\n"
    "  txt=Array.prototype.map.call(tip.children,function(c){return c.textContent;}).join('\\n');"
    "ok=tip.style.display=='block';\n"
    "  for(i=0;i<need.length;i++)if(txt.indexOf(need[i])<0)ok=false;\n"
    "  if(META.mode=='spans'&&S[+t.getAttribute('data-i')][9]&&!tip.querySelector('canvas'))"
    "ok=false;}\n"
    " var ks=0;for(i=0;i<K.length;i++)ks+=K[i][1];\n"
    " var res='SELFTEST mode='+META.mode+' spans='+(META.mode=='spans'?first.length:ks)"
    "+' distinct='+Object.keys(ids).length+' chunks='+(META.mode=='spans'?META.chunks:"
    "cells.length)+' expected_spans='+META.spans+' expected_chunks='+META.chunks"
    "+' tooltip='+(ok?'ok':'bad');\n"
    " document.title=res;var p=document.createElement('pre');p.id='selftest-result';"
    "p.textContent=res+'\\n'+txt;document.body.appendChild(p);}\n"
    "if(location.hash=='#selftest')selftest();\n"
    "})();\n";

static void put_hex_bits(FILE *f, const uint64_t *w, unsigned nelems) {
  fputc('"', f);
  for (unsigned k = 0; k < nelems; k += 4)
    fputc("0123456789abcdef"[(w[k / 64] >> (k % 64)) & 15], f);
  fputc('"', f);
}

static void write_legend(FILE *f, const hm_heap_t *sn) {
  char c0[48], c1[48];
  fputs("<div id=\"legend\">", f);
  fill_color(c0, sizeof c0, 5, 0.1);
  fill_color(c1, sizeof c1, 5, 1.0);
  fprintf(f,
          "<span class=\"sw\" style=\"background:linear-gradient(90deg,%s,%s)\"></span>small span"
          " (hue = size class, darker = fuller)"
          "<span class=\"sw\" style=\"background:#34495e\"></span>large span"
          "<span class=\"sw\" style=\"background:#d5d8dc\"></span>free pages"
          "<span class=\"sw\" style=\"background:repeating-linear-gradient(45deg,#fff 0 3px,"
          "#b9c6d2 3px 5px)\"></span>released to the OS",
          c0, c1);
  if (sn->detail)
    fputs("<br>One row = 256 pages of 8 KiB (2 MiB); hover over a block for its fields and "
          "allocation bitmap.",
          f);
  else
    fprintf(f,
            "<br>%zu spans: too many to draw one by one, so each cell is one 4 MiB chunk: its "
            "pages in small spans (coloured by the class with most pages), large spans, free "
            "and released, left to right. Hover for details.",
            sn->nspans);
  fputs("</div>\n", f);
}

static void write_class_table(FILE *f, const struct gm_stats *st) {
  char a[32], col[48];
  fputs("<h2>Size classes in use</h2>\n<table><tr><th></th><th>class</th><th>bytes/obj</th>"
        "<th>bytes/span</th><th>objects</th><th>tail waste</th><th>max waste</th><th>spans</th>"
        "<th>in use</th><th>free</th><th>util</th><th>waste</th><th>allocs</th><th>frees</th>"
        "</tr>\n",
        f);
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    if (!cs->spans && !cs->allocs)
      continue;
    fill_color(col, sizeof col, k, 0.75);
    if (k == 0) {
      fprintf(f,
              "<tr><td class=\"sw\" style=\"background:%s\"></td><td>large</td><td>-</td>"
              "<td>-</td><td>-</td><td>-</td><td>-</td><td>%llu</td><td>%llu</td><td>-</td>"
              "<td>-</td><td>-</td><td>%llu</td><td>%llu</td></tr>\n",
              col, (unsigned long long)cs->spans, (unsigned long long)cs->objects,
              (unsigned long long)cs->allocs, (unsigned long long)cs->frees);
      continue;
    }
    fprintf(f,
            "<tr><td class=\"sw\" style=\"background:%s\"></td><td>%u</td><td>%llu</td>"
            "<td>%llu</td><td>%llu</td><td>%llu</td><td>%.2f%%</td><td>%llu</td><td>%llu</td>"
            "<td>%llu</td><td>%.1f%%</td><td>%s</td><td>%llu</td><td>%llu</td></tr>\n",
            col, k, (unsigned long long)cs->size, (unsigned long long)cs->span_size,
            (unsigned long long)cs->objects_per_span, (unsigned long long)cs->tail_waste,
            cs->max_waste, (unsigned long long)cs->spans, (unsigned long long)cs->objects,
            (unsigned long long)cs->free_objects,
            cs->span_bytes ? 100.0 * (double)cs->in_use_bytes / (double)cs->span_bytes : 0.0,
            human(a, sizeof a, cs->tail_waste_bytes + cs->rounding_waste_bytes),
            (unsigned long long)cs->allocs, (unsigned long long)cs->frees);
  }
  fputs("</table>\n<p class=\"sum\">waste = tail waste + rounding (estimated from sampled "
        "request sizes).</p>\n",
        f);
}

int gm_heapmap_write_page(FILE *f, hm_heap_t *sn) {
  const struct gm_stats *st = &sn->st;
  char a[32], b[32], c[32], d[32], e[32], g[32];
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<title>gomalloc heap map</title>\n<style>\n",
        f);
  fputs(page_css, f);
  fputs("</style></head><body>\n<h1>gomalloc heap map</h1>\n<p class=\"sum\">", f);
  put_escaped(f, sn->program ? sn->program : "?");
  fprintf(f, " (pid %ld), gomalloc %s</p>\n", sn->pid, sn->version);
  fprintf(f,
          "<p class=\"sum\">%s reserved, %s mapped: %s in %llu spans (%llu small, %llu large), "
          "%s free of which %s released. Live objects: %llu, %s at class size.</p>\n",
          human(a, sizeof a, st->reserved_bytes), human(b, sizeof b, st->mapped_bytes),
          human(c, sizeof c, st->span_bytes), (unsigned long long)st->spans,
          (unsigned long long)st->small_spans, (unsigned long long)st->large_spans,
          human(d, sizeof d, st->free_bytes), human(e, sizeof e, st->released_bytes),
          (unsigned long long)st->objects, human(g, sizeof g, st->object_bytes));
  write_legend(f, sn);
  fputs("<div id=\"map\">\n", f);
  ksum_t *ks = NULL;
  if (sn->detail) {
    svg_spans(f, sn);
  } else {
    ks = summarize_chunks(sn);
    if (ks)
      svg_chunks(f, sn, ks);
  }
  fputs("</div>\n<div id=\"tip\"></div>\n", f);
  write_class_table(f, st);

  fprintf(f, "<script>\nvar META={mode:\"%s\",spans:%zu,chunks:%zu,pagesPerRow:%d,pageSize:%zu};\n",
          sn->detail ? "spans" : "chunks", sn->nspans, sn->nchunks, ROW_PAGES, GM_PAGE_SIZE);
  fputs("var S=[", f);
  for (size_t i = 0; sn->detail && i < sn->nspans; i++) {
    const hm_span_t *s = &sn->spans[i];
    fprintf(f, "%s\n[\"%lx\",%zu,%u,%u,%u,%u,%u,%u,%zu,", i ? "," : "", (unsigned long)s->base,
            s->npages, s->spanclass, s->state, s->nelems, s->alloc_count, s->freeindex, s->live,
            s->elemsize);
    if (s->bits != UINT32_MAX) {
      put_hex_bits(f, sn->words + s->bits, s->nelems);
      fputc(',', f);
      put_hex_bits(f, sn->words + s->bits + s->nwords, s->nelems);
    } else {
      fputs("\"\",\"\"", f);
    }
    fprintf(f, ",%u]", s->released);
  }
  fputs("];\nvar F=[", f);
  if (sn->detail)
    for_each_free_run(f, sn, js_free_run);
  fputs("];\nvar K=[", f);
  for (size_t ci = 0; ks && ci < sn->nchunks; ci++) {
    const ksum_t *k = &ks[ci];
    fprintf(f, "%s\n[\"%lx\",%zu,%zu,%zu,%zu,%zu,%zu,%llu,%llu,%u]", ci ? "," : "",
            (unsigned long)sn->chunks[ci].base, k->spans, k->large_spans, k->small_pages,
            k->large_pages, k->free_pages, k->rel_pages, (unsigned long long)k->live,
            (unsigned long long)k->slots, k->dom);
  }
  fputs("];\n", f);
  fputs(page_js, f);
  fputs("</script>\n</body></html>\n", f);
  free(ks);
  return ferror(f) ? -1 : 0;
}

int gm_heapmap_render_file(const char *dump_path, const char *html_path, char *err,
                           size_t errlen) {
  hm_heap_t h;
  FILE *in = fopen(dump_path, "r");
  if (!in) {
    snprintf(err, errlen, "%s: %s", dump_path, strerror(errno));
    return -1;
  }
  int rc = gm_heapmap_load(in, &h, err, errlen);
  fclose(in);
  if (rc != 0)
    return -1;
  /* A regular file (or a new one) is written under a temporary name and
   * renamed, so a reader never sees half a page. Anything else (/dev/null,
   * a FIFO, /dev/stdout) is written in place: a rename would replace the
   * device node itself, and as root that broke /dev/null machine-wide. */
  struct stat st;
  bool in_place = stat(html_path, &st) == 0 && !S_ISREG(st.st_mode);
  size_t n = strlen(html_path) + 32;
  char *tmp = malloc(n);
  FILE *f = NULL;
  if (tmp) {
    if (in_place)
      snprintf(tmp, n, "%s", html_path);
    else
      snprintf(tmp, n, "%s.tmp.%ld", html_path, (long)getpid());
    f = fopen(tmp, "w");
  }
  if (!f) {
    snprintf(err, errlen, "%s: %s", html_path, strerror(tmp ? errno : ENOMEM));
    free(tmp);
    gm_heapmap_free(&h);
    return -1;
  }
  setvbuf(f, NULL, _IOFBF, 1 << 16);
  rc = gm_heapmap_write_page(f, &h);
  int e = errno;
  if (fclose(f) != 0 && rc == 0) {
    rc = -1;
    e = errno;
  }
  if (rc == 0 && !in_place && rename(tmp, html_path) != 0) {
    rc = -1;
    e = errno;
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", html_path, strerror(e ? e : EIO));
    if (!in_place)
      unlink(tmp);
  }
  free(tmp);
  gm_heapmap_free(&h);
  return rc;
}
