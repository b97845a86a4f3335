/* gcroots.c: the roots of a collection (Go's markroot, Boehm's
 * GC_push_roots), all conservative.
 *
 *   - data and bss: every writable PT_LOAD segment of every loaded object
 *     (dl_iterate_phdr, read again each cycle so that dlopen'ed libraries
 *     count), less PT_GNU_RELRO. gomalloc's own data is left out: in the
 *     shared library the whole object; linked statically, its big tables
 *     (the 16 MiB span window, the arena maps) and the GC's own state. The
 *     snapshot is taken before the world stops, because dl_iterate_phdr
 *     takes the loader's lock, which a stopped thread may hold; a dlclose
 *     racing a collection is not supported (Boehm wraps dlclose for that).
 *   - ranges from gm_gc_add_roots; ranges given to gm_gc_exclude_roots
 *     (Boehm's GC_exclude_static_roots) are cut out of the data and bss;
 *   - every live block of the uncollectable kind;
 *   - each registered thread's registers and stack from its sp (saved by
 *     the stop handler, gcstw.c); the collector's own from here;
 *   - whatever the program's mark hook marks (gm_gc_set_mark_hook), last,
 *     the collector marking alone.
 * Thread-local storage and plain malloc memory are not roots (as Boehm). */
#include "gc.h"

#include "error.h"
#include "gomalloc-gc.h"
#include "options.h"
#include "os.h"

#include <link.h>
#include <string.h>
#include <ucontext.h>

typedef struct rangevec {
  gm_gc_range_t *v;
  size_t n, cap;
} rangevec_t;

static rangevec_t segs;  /* data and bss, this cycle */
static rangevec_t roots; /* explicit */

static void vec_push(rangevec_t *r, uintptr_t lo, uintptr_t hi) {
  lo = GM_ALIGN_UP(lo, sizeof(uintptr_t));
  hi = GM_ALIGN_DOWN(hi, sizeof(uintptr_t));
  if (lo >= hi)
    return;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 256;
    gm_gc_range_t *v = gm_sys_alloc(cap * sizeof *v);
    if (!v)
      gm_fatal("gm_gc: cannot map the root list", NULL, "out of memory");
    if (r->n)
      memcpy(v, r->v, r->n * sizeof *v);
    if (r->v)
      gm_sys_free(r->v, GM_ALIGN_UP(r->cap * sizeof *v, gm_sys_page_size()));
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n++] = (gm_gc_range_t){lo, hi};
}

/* gomalloc's static data that a static link puts in the program's, then
 * the program's own exclusions (gm_gc_exclude_roots), which apply to every
 * loaded object. */
static gm_gc_range_t excl[5];
static size_t nexcl;
static rangevec_t uexcl;

static void push_minus(rangevec_t *r, uintptr_t lo, uintptr_t hi, size_t from) {
  for (size_t i = from; i < nexcl + uexcl.n; i++) {
    gm_gc_range_t e = i < nexcl ? excl[i] : uexcl.v[i - nexcl];
    if (e.hi <= lo || e.lo >= hi)
      continue;
    if (lo < e.lo)
      push_minus(r, lo, e.lo, i + 1);
    if (e.hi < hi)
      push_minus(r, e.hi, hi, i + 1);
    return;
  }
  vec_push(r, lo, hi);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  (void)arg;
  uintptr_t self = (uintptr_t)&gm_gc, relro_lo = 0, relro_hi = 0;
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
      mine = true;
    if (ph->p_type == PT_GNU_RELRO) {
      relro_lo = lo;
      relro_hi = lo + ph->p_memsz;
    }
  }
  bool is_main = !info->dlpi_name || !info->dlpi_name[0];
  if (mine && !is_main)
    return 0; /* libgomalloc.so itself */
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
      continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (relro_hi > lo && relro_lo < hi) {
      if (lo < relro_lo)
        push_minus(&segs, lo, relro_lo, mine ? 0 : nexcl);
      lo = relro_hi > lo ? relro_hi : lo;
    }
    if (lo < hi)
      push_minus(&segs, lo, hi, mine ? 0 : nexcl);
  }
  return 0;
}

void gm_gc_roots_snapshot(void) {
  if (!nexcl) {
    excl[nexcl++] = (gm_gc_range_t){(uintptr_t)gm_window_spans,
                                    (uintptr_t)gm_window_spans + sizeof gm_window_spans};
    excl[nexcl++] = (gm_gc_range_t){(uintptr_t)gm_arena_flat,
                                    (uintptr_t)gm_arena_flat + sizeof gm_arena_flat};
    excl[nexcl++] =
        (gm_gc_range_t){(uintptr_t)gm_arena_l1, (uintptr_t)gm_arena_l1 + sizeof gm_arena_l1};
    excl[nexcl++] = (gm_gc_range_t){(uintptr_t)&gm_gc, (uintptr_t)(&gm_gc + 1)};
    excl[nexcl++] =
        (gm_gc_range_t){(uintptr_t)&gm_window_base, (uintptr_t)(&gm_window_base + 1)};
  }
  segs.n = 0;
  dl_iterate_phdr(phdr_cb, NULL);
}

size_t gm_gc_roots_bytes(void) {
  size_t n = 0;
  for (size_t i = 0; i < segs.n; i++)
    n += segs.v[i].hi - segs.v[i].lo;
  for (size_t i = 0; i < roots.n; i++)
    n += roots.v[i].hi - roots.v[i].lo;
  return n;
}

void gm_gc_roots_add(uintptr_t lo, uintptr_t hi) { vec_push(&roots, lo, hi); }

/* Whole words: a word the range touches is not scanned (vec_push would
 * round inward, as it must for a root). */
GM_GC_API void gm_gc_exclude_roots(void *lo, void *hi) {
  uintptr_t l = GM_ALIGN_DOWN((uintptr_t)lo, sizeof(uintptr_t));
  uintptr_t h = GM_ALIGN_UP((uintptr_t)hi, sizeof(uintptr_t));
  if (l >= h)
    return;
  gm_gc_thread_register();
  gm_gc_lock();
  vec_push(&uexcl, l, h);
  gm_unlock(&gm_gc.lock);
}

/* The program's mark hook (gm_gc_set_mark_hook): roots only it knows,
 * such as Boehm mark procedures reaching memory outside the heap. */
static gm_gc_mark_hook_fn mark_hook;

GM_GC_API void gm_gc_set_mark_hook(gm_gc_mark_hook_fn fn) {
  gm_gc_thread_register();
  gm_gc_lock(); /* not while a cycle runs the old one */
  gm_store_release(&mark_hook, fn);
  gm_unlock(&gm_gc.lock);
}

GM_GC_API void gm_gc_mark_ptr(const void *p) {
  uintptr_t v = (uintptr_t)p;
  if (v - gm_gc.lo < gm_gc.hi - gm_gc.lo) {
    gm_gc_mark_object(v);
    gm_gc_drain();
  }
}

void gm_gc_roots_remove(uintptr_t lo, uintptr_t hi) {
  size_t j = 0;
  for (size_t i = 0; i < roots.n; i++)
    if (!(roots.v[i].lo >= lo && roots.v[i].hi <= hi))
      roots.v[j++] = roots.v[i];
  roots.n = j;
}

/* ---- marking the roots (world stopped) ------------------------------------ */

static void mark_uncollectable_span(gm_mspan_t *s) {
  for (size_t i = 0; i < s->nelems; i++)
    if (gm_gc_slot_live(s, i))
      gm_gc_mark_object(s->base + i * s->elemsize);
  gm_gc_drain();
}

static void mark_uncollectable(void) {
  for (unsigned c = 0; c < GM_NUM_CLASSES; c++) {
    for (gm_mspan_t *s = gm_gc.partial[GM_GC_UNCOLL][c]; s; s = s->next)
      mark_uncollectable_span(s);
    for (gm_mspan_t *s = gm_gc.full[GM_GC_UNCOLL][c]; s; s = s->next)
      mark_uncollectable_span(s);
    for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next)
      if (t->alloc[GM_GC_UNCOLL][c])
        mark_uncollectable_span(t->alloc[GM_GC_UNCOLL][c]);
  }
  for (gm_mspan_t *s = gm_gc.large; s; s = s->next)
    if (gm_gc_kind(s) == GM_GC_UNCOLL) {
      gm_gc_mark_object(s->base);
      gm_gc_drain();
    }
}

/* The stack below the collecting thread's frame holds what its earlier
 * calls left there: a block's address from an allocation that is long
 * over, say. The collector's own frames then land on those words, and any
 * word its frames do not overwrite is scanned as a root (scan_own_stack):
 * a block the program dropped is kept for as long as the stale word stays
 * (tests/gc/test_sweep's large block, once its allocation kept the address
 * in a register to the end). Boehm clears the stack beyond the frame for
 * the same reason (GC_clear_stack); so do we, once per cycle, before the
 * collector's frames are built: CLEAR_BYTES, if the stack has room. */
#define CLEAR_BYTES 8192
static GM_NOINLINE void clear_below(void) {
  volatile char buf[CLEAR_BYTES];
  memset((char *)buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

void gm_gc_clear_stack(void) {
  gm_gc_thread_t *self = gm_gc_self;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  /* Room for the buffer and a margin above the guard page; a thread we
   * know nothing of (not registered) is left alone. */
  if (self && sp > self->stack_lo + 4 * CLEAR_BYTES && sp < self->stack_hi)
    clear_below();
}

/* The collector's own registers and stack: getcontext stores every
 * register in a local, and everything above it is the callers' frames. */
static GM_NOINLINE void scan_own_stack(gm_gc_thread_t *self) {
  ucontext_t uc;
  /* getcontext writes the registers, not the whole struct (its FPU area
   * and padding, most of its 936 bytes): without the memset they kept
   * what earlier calls left on the stack, and the scan below read it (a
   * dead block's address, from the sweep of the last cycle, kept that
   * block: tests/gc/test_sweep). */
  memset(&uc, 0, sizeof uc);
  __builtin_unwind_init();
  getcontext(&uc);
  uintptr_t lo = (uintptr_t)&uc;
  if (self && lo >= self->stack_lo && lo < self->stack_hi)
    gm_gc_scan_range(lo, self->stack_hi);
  else
    gm_gc_scan_range(lo, lo + sizeof uc);
  gm_gc_drain();
  __asm__ volatile("" : : "r"(&uc) : "memory"); /* uc stays live until here */
}

void gm_gc_mark_roots(void) {
  size_t skip = gm_options.gc_test_noroots;
  if (skip & GM_GC_NOROOT_DATA)
    segs.n = 0;
  for (size_t i = 0; i < segs.n; i++) {
    gm_gc_scan_range(segs.v[i].lo, segs.v[i].hi);
    gm_gc_drain();
  }
  for (size_t i = 0; i < roots.n && !(skip & GM_GC_NOROOT_EXPLICIT); i++) {
    gm_gc_scan_range(roots.v[i].lo, roots.v[i].hi);
    gm_gc_drain();
  }
  if (!(skip & GM_GC_NOROOT_UNCOLL))
    mark_uncollectable();
  gm_gc_thread_t *self = gm_gc_self;
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next) {
    if (t == self)
      continue;
    if (!(skip & GM_GC_NOROOT_REGS))
      gm_gc_scan_range((uintptr_t)t->regs, (uintptr_t)(t->regs + 32));
    /* A stack pointer outside the thread's stack (a coroutine's stack of
     * its own) leaves only the registers: documented. */
    if (t->sp >= t->stack_lo && t->sp < t->stack_hi && !(skip & GM_GC_NOROOT_STACKS))
      gm_gc_scan_range(t->sp, t->stack_hi);
    gm_gc_drain();
  }
  scan_own_stack(self);
  gm_gc_mark_end(); /* with the helpers, until no marker holds work */
  gm_gc_mark_hook_fn hook = gm_load_acquire(&mark_hook);
  if (hook)
    hook(); /* marks alone from here, as the finalizers' marks do */
}
