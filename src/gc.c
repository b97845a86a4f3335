/* gc.c: the collection cycle and the gm_gc_* API (Go's mgc.go and the
 * pacer's heap goal, mgcpacer.go). See gc.h for the files and where they
 * leave Go.
 *
 * A cycle, all under gm_gc.lock: finish the last cycle's sweep (world
 * running: Go's finishsweep_m), snapshot the data segments, stop the
 * world, mark from the roots, start the sweep (gcsweep.c: the threads'
 * cached spans are swept, every other span becomes unswept), start the
 * world, set the next goal. The pause is stop + mark + that start.
 *
 * Pacing. Go's GOGC sets the goal: heap_goal = live * (1 + percent/100),
 * at least Go's heapminimum (4 MiB at percent 100, scaled with percent as
 * Go scales it), where live is the bytes marked. The heap_live count
 * grows by a span's free space when a thread takes the span (as Go's
 * heapLive counts whole spans handed to mcaches) and by each large block;
 * the allocation slow path starts a cycle once it passes the goal. The
 * heap then peaks near the goal (gctrace: "spans" equals the goal at each
 * trigger), and peak RSS is the goal's high-water mark: pages the heap has
 * once used stay resident until the scavenger returns them.
 *
 * Where we leave Go: past its own high-water mark the heap grows by less.
 * Go's goal is kept while it stays within the largest heap a cycle has
 * seen (heap_peak: those pages are resident already, so a generous goal
 * there saves cycles and costs no memory), but a goal above that mark is
 * cut to live * (1 + percent/150), two thirds of the headroom. Peak RSS is where
 * the heap grows, so that is where we are sparing, as Boehm GC is: it
 * collects rather than grow (its free-space divisor 3 leaves pointerful
 * heaps 2/3 of live as headroom), and keeps that small headroom always,
 * paying for it in cycles (182 on gcthreads-1, where we take 70).
 * Measured on bench/gc (interleaved runs, 2 cores at load ~17, December
 * 2026; RSS and cycle counts hold under load, times do not): gcthreads
 * with 1/2/4 threads peaks at 6.5/9.6/15.7-16.2 MiB (Go's goal alone:
 * 7.4/12.4/18.7-19.8; Boehm 6.9-7.0/10.9-11.0/14-18) at 70/186/210 cycles
 * (Go's: 68/165/177); cutting to two thirds gave 6.5/10.5/16.3-17.3 at
 * 70/178/197, and percent 67 everywhere 6.5/10.7/16.6-17.3 at 72/191/255
 * (CPU +31% with 4 threads against +10% here). Quiet, half the headroom
 * cost too much time with threads: gcthreads-4 took 315 cycles, 613 ms
 * against Boehm's 623 (Go's goal: 169 cycles, 421 ms, but 22.5 MiB against
 * Boehm's 18.4); two thirds took 243 cycles, 530 ms, 18.6 MiB, and
 * gcthreads-2 184 cycles, 250 ms against 305, 10.9 MiB against 11.2
 * (medians of 5 interleaved runs, load under 2, December 2026), so two
 * thirds it is. What it costs: a heap that
 * grows steadily does so in smaller steps, and where the last step lands
 * against a big structure's death decides its peak: GCBench peaks at 25.4
 * MiB, where Go's steps (4, 8, 16 MiB) happened to land a cycle just as
 * its 16 MiB stretch tree died (21.1 MiB; Boehm 29.5).
 * What the peaks are made of (smaps at the peak, gcthreads-4): the GC
 * spans (the goal, 13-17 MiB), 1.9 MiB of binaries and libc shared with
 * any process, and about 1.5 MiB of our metadata that grows with the
 * heap: span structs (~200 B per 8 KiB span of 32 B blocks), mark bits
 * (136 B per span), the parallel mark's bytes (one per slot of a marked
 * span: 3% of a heap of 32 B blocks), mark stacks and thread caches.
 * Returning swept-empty spans to the OS sooner would not lower a peak: at
 * the peak the page heap holds almost no free pages (it is the high-water
 * mark of the spans themselves). Part of the live bytes at the peak is
 * false retention any conservative collector meets: the workloads'
 * compiled code keeps a dead tree's two halves in callee-saved registers
 * until the next tree is half built (gcthreads-1: 2.5 MiB marked, of
 * which 1 MiB is that). */
#include "gc.h"

#include "error.h"
#include "gcfinal.h"
#include "gomalloc-gc.h"
#include "options.h"
#include "os.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gm_gc_t gm_gc = {.lock = GM_LOCK_INIT};

#define MIN_GOAL ((size_t)4 << 20) /* Go's defaultHeapMinimum, at percent 100 */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t freed_mark; /* gm_gc.freed_objects at the last trace */

/* live + live * num / den, saturated. */
static size_t grow_by(size_t live, size_t num, size_t den) {
  size_t q = live / den;
  if (num && q > (SIZE_MAX - live) / num)
    return SIZE_MAX;
  return live + q * num;
}

/* The pacing above: Go's goal up to the heap's high-water mark, two thirds of its
 * headroom past it. */
static void set_goal_locked(size_t live) {
  if (gm_gc.percent < 0) {
    gm_store_relaxed(&gm_gc.heap_goal, SIZE_MAX);
    return;
  }
  size_t pct = (size_t)gm_gc.percent;
  uint64_t min64 = (uint64_t)MIN_GOAL * pct / 100; /* pct < 2^31: no overflow */
  size_t min = min64 > SIZE_MAX ? SIZE_MAX : (size_t)min64;
  size_t go = grow_by(live, pct, 100), grow = grow_by(live, pct, 150);
  if (go < min)
    go = min;
  if (grow < min)
    grow = min;
  size_t goal = go < gm_gc.heap_peak ? go : gm_gc.heap_peak;
  gm_store_relaxed(&gm_gc.heap_goal, goal > grow ? goal : grow);
}

static void init_once(void) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  gm_fixalloc_init(&gm_gc.markalloc, GM_GC_MARK_BYTES, 0);
  gm_gc.percent = gm_options.gc_percent;
  set_goal_locked(0);
  gm_gc.start_ns = gm_sys_now_ns();
  gm_gc_stw_init();
}

void gm_gc_init(void) { pthread_once(&once, init_once); }

/* One line per cycle (Go's gctrace): the times of finishing the last
 * sweep (world running), the roots snapshot, stopping the world, the mark
 * and the in-pause sweep start; the pause is stop+mark+sweep. "freed" is
 * what the last cycle's sweep freed (it ends at this cycle's start). */
static void trace(uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4, uint64_t t5,
                  size_t before, size_t kept, uint64_t freed) {
  char buf[320];
  double mb = 1024.0 * 1024.0;
  int n = snprintf(buf, sizeof buf,
                   "gc %llu @%.3fs: %.3f+%.3f+%.3f+%.3f+%.3f ms clock "
                   "(finish+roots+stop+mark+sweep), "
                   "%.1f->%.1f MB, %.1f MB goal, %.1f MB spans, %.1f MB globals, %zu threads, "
                   "%llu freed\n",
                   (unsigned long long)gm_gc.cycles, (double)(t0 - gm_gc.start_ns) / 1e9,
                   (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6,
                   (double)(t4 - t3) / 1e6, (double)(t5 - t4) / 1e6, (double)before / mb,
                   (double)kept / mb,
                   (double)gm_gc.heap_goal / mb, (double)gm_gc.heap_bytes / mb,
                   (double)gm_gc_roots_bytes() / mb,
                   gm_gc.nthreads, (unsigned long long)freed);
  if (n > 0 && write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
    return;
}

void gm_gc_collect_locked(void) {
  gm_gc_clear_stack();
  if (gm_gc.heap_bytes > gm_gc.heap_peak) /* before the sweep gives spans back */
    gm_gc.heap_peak = gm_gc.heap_bytes;
  uint64_t t0 = gm_sys_now_ns();
  gm_gc_sweep_finish_locked(); /* the last cycle's sweep, world running */
  uint64_t freed = gm_gc.freed_objects - freed_mark;
  freed_mark = gm_gc.freed_objects;
  size_t before = gm_gc.heap_live;
  uint64_t t1 = gm_sys_now_ns();
  gm_gc_roots_snapshot();
  gm_gc_mark_prepare(); /* helper markers, before the world stops */
  uint64_t t2 = gm_sys_now_ns();
  gm_gc_stop_world();
  uint64_t t3 = gm_sys_now_ns();
  gm_gc_mark_begin();
  gm_gc_mark_roots();
  gm_gc_final_mark(); /* finalizers and links (gcfinal.c) */
  uint64_t t4 = gm_sys_now_ns();
  size_t kept = gm_gc_marked_bytes(); /* what the sweep will keep */
  size_t unused = gm_gc_cached_free_locked();
  gm_gc_sweep_start();
  /* The threads keep their swept spans (gcsweep.c): their free slots are
   * handed out anew, as Go's refill after its mcaches are flushed. */
  size_t cached = gm_gc_cached_free_locked();
  gm_gc_start_world();
  uint64_t t5 = gm_sys_now_ns();
  gm_gc.heap_marked = kept;
  gm_store_relaxed(&gm_gc.heap_live, kept + cached);
  gm_gc.total_alloc += cached - unused;
  GM_ASSERT(gm_gc.heap_live <= gm_gc.heap_bytes); /* each byte counted once */
  set_goal_locked(kept);
  gm_store_relaxed(&gm_gc.cycles, gm_gc.cycles + 1);
  uint64_t pause = t5 - t2;
  gm_gc.last_pause_ns = pause;
  gm_gc.total_pause_ns += pause;
  if (pause > gm_gc.max_pause_ns)
    gm_gc.max_pause_ns = pause;
  if (gm_options.gc_trace)
    trace(t0, t1, t2, t3, t4, t5, before, kept, freed);
}

void gm_gc_maybe_collect(void) {
  uint64_t c0 = gm_load_relaxed(&gm_gc.cycles);
  if (GM_LIKELY(gm_load_relaxed(&gm_gc.heap_live) < gm_load_relaxed(&gm_gc.heap_goal)))
    return;
  gm_gc_lock();
  /* Another thread may have collected while this one waited. */
  if (gm_gc.cycles == c0 && gm_gc.heap_live >= gm_gc.heap_goal)
    gm_gc_collect_locked();
  gm_unlock(&gm_gc.lock);
}

/* ---- the API ------------------------------------------------------------------ */

void *gm_gc_malloc(size_t size) { return gm_gc_alloc(size, GM_GC_SCAN); }
void *gm_gc_malloc_noscan(size_t size) { return gm_gc_alloc(size, GM_GC_NOSCAN); }
void *gm_gc_malloc_uncollectable(size_t size) { return gm_gc_alloc(size, GM_GC_UNCOLL); }

void *gm_gc_realloc(void *p, size_t size) {
  if (!p)
    return gm_gc_malloc(size);
  gm_gc_thread_register();
  if (size == 0) {
    gm_gc_free_block(p);
    return NULL;
  }
  return gm_gc_realloc_block(p, size);
}

void gm_gc_free(void *p) {
  if (!p)
    return;
  gm_gc_thread_register();
  gm_gc_free_block(p);
}

size_t gm_gc_size(const void *p) {
  if (!p)
    return 0;
  gm_gc_thread_register();
  return gm_gc_block_size(p);
}

void *gm_gc_base(const void *p) {
  gm_gc_init();
  return gm_gc_base_of(p);
}

/* Like Go's runtime.GC, an explicit collection returns with its sweep
 * done: the caller sees every block freed (and the statistics say so). */
void gm_gc_collect(void) {
  gm_gc_thread_register();
  gm_gc_lock();
  gm_gc_collect_locked();
  gm_gc_sweep_finish_locked();
  gm_unlock(&gm_gc.lock);
}

void gm_gc_add_roots(void *lo, void *hi) {
  gm_gc_thread_register();
  gm_gc_lock();
  gm_gc_roots_add((uintptr_t)lo, (uintptr_t)hi);
  gm_unlock(&gm_gc.lock);
}

void gm_gc_remove_roots(void *lo, void *hi) {
  gm_gc_thread_register();
  gm_gc_lock();
  gm_gc_roots_remove((uintptr_t)lo, (uintptr_t)hi);
  gm_unlock(&gm_gc.lock);
}

void gm_gc_register_thread(void) { gm_gc_thread_register(); }
void gm_gc_unregister_thread(void) { gm_gc_thread_unregister(); }

int gm_gc_set_percent(int percent) {
  gm_gc_thread_register();
  gm_gc_lock();
  int old = gm_gc.percent;
  gm_gc.percent = percent < 0 ? -1 : percent;
  set_goal_locked(gm_gc.heap_marked);
  gm_unlock(&gm_gc.lock);
  return old;
}

int gm_gc_stats(struct gm_gc_stats *out, size_t size) {
  if (!out) {
    errno = EINVAL;
    return -1;
  }
  gm_gc_init();
  struct gm_gc_stats st;
  gm_gc_lock();
  st.collections = gm_gc.cycles;
  st.heap_goal = gm_gc.percent < 0 ? 0 : gm_gc.heap_goal;
  st.heap_live = gm_gc.heap_live;
  st.live_after_mark = gm_gc.heap_marked;
  st.heap_bytes = gm_gc.heap_bytes;
  st.total_pause_ns = gm_gc.total_pause_ns;
  st.max_pause_ns = gm_gc.max_pause_ns;
  st.last_pause_ns = gm_gc.last_pause_ns;
  st.threads = gm_gc.nthreads;
  st.freed_objects = gm_gc.freed_objects;
  st.total_alloc_bytes = gm_gc.total_alloc;
  st.unswept_spans = gm_gc.unswept_spans;
  gm_unlock(&gm_gc.lock);
  memcpy(out, &st, size < sizeof st ? size : sizeof st);
  return 0;
}
