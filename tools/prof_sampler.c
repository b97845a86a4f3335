/* prof_sampler.c: the other half of libgomalloc_prof.so (see
 * prof_preload.c): which process profiles, the sampler thread, and the
 * files of the profile directory (docs/profile-format.md).
 *
 * Everything here runs inside the profiled program, whose malloc we are,
 * so it writes with write(2) from buffers on the stack or mapped from the
 * OS: no stdio, no malloc. The sampler reads gm_stats() (one walk over the
 * span metadata under the heap's locks, as Go's ReadMemStats stops the
 * world) every interval; if a sample takes more than a tenth of the
 * interval the next one waits ten times as long as it took, so sampling
 * costs at most ~10% of a core, and the interval doubles every 6000 rows
 * so that a long run writes a bounded file (6000 rows per doubling).
 *
 * Environment (set by `gomalloc run --profile`, read at start):
 *   GOMALLOC_PROFILE=DIR           write the profile into DIR (absolute)
 *   GOMALLOC_PROFILE_INTERVAL=MS   sampling period, default 10
 *   GOMALLOC_PROFILE_TOP=PID       with --all-processes: the process that
 *                                  writes into DIR; any other one writes
 *                                  into DIR/pid-N
 *   GOMALLOC_REPORT_PID=PID        only that process profiles (as for the
 *                                  library's own reports) */
#define _GNU_SOURCE
#include "prof.h"

#include "config.h"
#include "gomalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROWS_PER_DOUBLING 6000

static char dir[4096];
static long my_pid;
static uint64_t interval_ns = 10 * 1000000ull;
static struct timespec t0;
/* The timeline, and its identity: a program that closes every descriptor
 * and opens a file of its own under the same number must not get our rows
 * (the library's exit report checks stderr the same way). */
static int timeline_fd = -1;
static dev_t timeline_dev;
static ino_t timeline_ino;
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static int done;
static uint64_t rows, last_released;

/* ---- small writer: no stdio ------------------------------------------------------------ */

typedef struct {
  int fd, err;
  size_t n;
  char buf[4096];
} out_t;

static void out_flush(out_t *o) {
  size_t off = 0;
  while (off < o->n && !o->err) {
    ssize_t w = write(o->fd, o->buf + off, o->n - off);
    if (w > 0)
      off += (size_t)w;
    else if (w < 0 && errno != EINTR)
      o->err = 1;
  }
  o->n = 0;
}

static void out_mem(out_t *o, const char *s, size_t len) {
  while (len) {
    if (o->n == sizeof o->buf)
      out_flush(o);
    size_t k = sizeof o->buf - o->n < len ? sizeof o->buf - o->n : len;
    memcpy(o->buf + o->n, s, k);
    o->n += k;
    s += k;
    len -= k;
  }
}

static void out_str(out_t *o, const char *s) { out_mem(o, s, strlen(s)); }

static void out_u64(out_t *o, uint64_t v) {
  char d[24];
  int i = sizeof d;
  do
    d[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  out_mem(o, d + i, sizeof d - (size_t)i);
}

/* v / 1000 with three decimals. */
static void out_milli(out_t *o, uint64_t v) {
  out_u64(o, v / 1000);
  char d[4] = {'.', (char)('0' + v / 100 % 10), (char)('0' + v / 10 % 10), (char)('0' + v % 10)};
  out_mem(o, d, 4);
}

static int open_in_dir(const char *name, int flags) {
  char path[sizeof dir + 32];
  size_t l = strlen(dir);
  memcpy(path, dir, l);
  path[l] = '/';
  memcpy(path + l + 1, name, strlen(name) + 1);
  return open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
}

static uint64_t since_start_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  int64_t ns = (int64_t)(t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec);
  return ns > 0 ? (uint64_t)ns / 1000 : 0;
}

/* ---- which process ------------------------------------------------------------------------ */

static long env_num(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v)
    return 0;
  char *end;
  long n = strtol(v, &end, 10);
  return *end || n < 0 ? 0 : n;
}

int prof_decide(void) {
  const char *d = getenv("GOMALLOC_PROFILE");
  long only = env_num("GOMALLOC_REPORT_PID");
  return d && d[0] == '/' && (only == 0 || only == (long)getpid());
}

/* ---- the timeline ------------------------------------------------------------------------ */

static const char *const columns[] = {
    "t_ms", "rss", "in_use", "at_class", "span", "retained", "released", "released_slots",
    "mapped", "metadata", "scavenged", "objects", "allocs", "frees", "spans", "large_spans",
    "threads", "cached_spans"};

/* One row; sample_lock held. */
static void sample(void) {
  struct gm_stats st = {.size = sizeof st};
  struct stat sb;
  if (timeline_fd >= 0 && (fstat(timeline_fd, &sb) != 0 || sb.st_dev != timeline_dev ||
                           sb.st_ino != timeline_ino))
    timeline_fd = -1; /* closed by the program: the timeline ends here */
  if (timeline_fd < 0 || gm_stats(&st) != 0)
    return;
  uint64_t released = st.released_bytes + st.released_slot_bytes;
  uint64_t scav = rows && released > last_released ? released - last_released : 0;
  last_released = released;
  uint64_t v[] = {st.resident_bytes, st.requested_bytes, st.object_bytes, st.span_bytes,
                  st.mapped_bytes - st.released_bytes, st.released_bytes, st.released_slot_bytes,
                  st.mapped_bytes, st.metadata_bytes, scav, st.objects, st.allocs, st.frees,
                  st.spans, st.large_spans, st.threads, st.cached_spans};
  out_t o = {.fd = timeline_fd};
  out_milli(&o, since_start_us());
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    out_mem(&o, "\t", 1);
    out_u64(&o, v[i]);
  }
  for (int c = 1; c < GM_STATS_NUM_CLASSES; c++) {
    out_mem(&o, "\t", 1);
    out_u64(&o, st.classes[c].spans);
  }
  out_mem(&o, "\n", 1);
  out_flush(&o);
  rows++;
}

static void *sampler(void *arg) {
  (void)arg;
  struct timespec next;
  for (;;) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_mutex_lock(&sample_lock);
    if (done) {
      pthread_mutex_unlock(&sample_lock);
      return NULL;
    }
    sample();
    uint64_t doublings = rows / ROWS_PER_DOUBLING;
    pthread_mutex_unlock(&sample_lock);
    uint64_t wait = interval_ns << (doublings < 20 ? doublings : 20);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t took = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec -
                    (uint64_t)a.tv_nsec;
    if (took * 10 > wait)
      wait = took * 10;
    uint64_t ns = (uint64_t)a.tv_nsec + wait;
    next.tv_sec = a.tv_sec + (time_t)(ns / 1000000000u);
    next.tv_nsec = (long)(ns % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
  }
}

/* ---- meta ------------------------------------------------------------------------------------ */

static void write_meta_start(void) {
  int fd = open_in_dir("meta", O_TRUNC);
  if (fd < 0)
    return;
  out_t o = {.fd = fd};
  out_str(&o, "format\t" PROF_FORMAT "\nprogram\t");
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  out_mem(&o, buf, n > 0 ? (size_t)n : 0);
  out_str(&o, "\ncmdline\t");
  int cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  n = cfd >= 0 ? read(cfd, buf, sizeof buf) : 0;
  if (cfd >= 0)
    close(cfd);
  while (n > 0 && buf[n - 1] == 0)
    n--;
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == 0 || buf[i] == '\t' || buf[i] == '\n')
      buf[i] = ' ';
  out_mem(&o, buf, n > 0 ? (size_t)n : 0);
  out_str(&o, "\npid\t");
  out_u64(&o, (uint64_t)my_pid);
  out_str(&o, "\nversion\t");
  out_str(&o, gm_version());
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  out_str(&o, "\nstart_unix\t");
  out_milli(&o, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
  out_str(&o, "\ninterval_ms\t");
  out_u64(&o, interval_ns / 1000000);
  /* Whether 17..24-byte requests get the 24-byte class (GOMALLOC_ALIGN8),
   * as the library answers. */
  void *p = gm_malloc(20);
  out_str(&o, "\nalign8\t");
  out_u64(&o, p && gm_usable_size(p) == 24);
  gm_free(p);
  struct gm_stats st = {.size = sizeof st};
  if (gm_stats(&st) == 0) {
    out_str(&o, "\npage_size\t");
    out_u64(&o, GM_PAGE_SIZE);
    for (int c = 1; c < GM_STATS_NUM_CLASSES; c++) {
      const struct gm_class_stats *k = &st.classes[c];
      uint64_t f[] = {(uint64_t)c, k->size, k->span_size, k->objects_per_span};
      out_str(&o, "\nclass");
      for (int i = 0; i < 4; i++) {
        out_mem(&o, "\t", 1);
        out_u64(&o, f[i]);
      }
    }
  }
  out_mem(&o, "\n", 1);
  out_flush(&o);
  close(fd);
}

/* ---- at exit ---------------------------------------------------------------------------------- */

static void write_sizes(uint64_t *requests) {
  prof_block_t *sum = mmap(NULL, sizeof *sum, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sum == MAP_FAILED)
    return;
  prof_counters_sum(sum);
  int fd = open_in_dir("sizes.tsv.tmp", O_TRUNC);
  if (fd >= 0) {
    out_t o = {.fd = fd};
    out_str(&o, "lo\thi\tcount\tbytes\n");
    for (uint64_t s = 0; s <= PROF_SMALL_MAX; s++) {
      uint64_t n = sum->small[s];
      if (!n)
        continue;
      uint64_t f[] = {s, s, n, n * s};
      for (int i = 0; i < 4; i++) {
        out_u64(&o, f[i]);
        out_mem(&o, i < 3 ? "\t" : "\n", 1);
      }
      *requests += n;
    }
    for (unsigned b = 0; b < PROF_LARGE_BUCKETS; b++) {
      if (!sum->large_count[b])
        continue;
      uint64_t lo, hi;
      prof_bucket_bounds(b, &lo, &hi);
      uint64_t f[] = {lo, hi, sum->large_count[b], sum->large_bytes[b]};
      for (int i = 0; i < 4; i++) {
        out_u64(&o, f[i]);
        out_mem(&o, i < 3 ? "\t" : "\n", 1);
      }
      *requests += sum->large_count[b];
    }
    out_flush(&o);
    close(fd);
    char from[sizeof dir + 32], to[sizeof dir + 32];
    size_t l = strlen(dir);
    memcpy(from, dir, l);
    memcpy(to, dir, l);
    memcpy(from + l, "/sizes.tsv.tmp", 15);
    memcpy(to + l, "/sizes.tsv", 11);
    if (o.err || rename(from, to) != 0)
      unlink(from);
  }
  munmap(sum, sizeof *sum);
}

static void at_exit(void) {
  if ((long)getpid() != my_pid) /* a forked child: not profiled */
    return;
  int saved = errno;
  pthread_mutex_lock(&sample_lock);
  if (done) {
    pthread_mutex_unlock(&sample_lock);
    errno = saved;
    return;
  }
  done = 1;
  sample();
  uint64_t requests = 0;
  write_sizes(&requests);
  int dumped = 0, fd = open_in_dir("heap.dump", O_TRUNC);
  if (fd >= 0) {
    dumped = gm_write_heap_dump(fd) == 0;
    close(fd);
  }
  fd = open_in_dir("meta", O_APPEND);
  if (fd >= 0) {
    out_t o = {.fd = fd};
    out_str(&o, "end_ms\t");
    out_milli(&o, since_start_us());
    out_str(&o, "\nsamples\t");
    out_u64(&o, rows);
    out_str(&o, "\nrequests\t");
    out_u64(&o, requests);
    if (dumped)
      out_str(&o, "\nheap_dump\theap.dump");
    out_mem(&o, "\n", 1);
    out_flush(&o);
    close(fd);
  }
  struct stat sb;
  if (timeline_fd >= 0 && fstat(timeline_fd, &sb) == 0 && sb.st_dev == timeline_dev &&
      sb.st_ino == timeline_ino)
    close(timeline_fd);
  timeline_fd = -1;
  pthread_mutex_unlock(&sample_lock);
  errno = saved;
}

/* ---- start ------------------------------------------------------------------------------------- */

__attribute__((constructor)) static void prof_start(void) {
  if (!prof_decide())
    return;
  int saved = errno;
  my_pid = (long)getpid();
  const char *d = getenv("GOMALLOC_PROFILE");
  long top = env_num("GOMALLOC_PROFILE_TOP");
  size_t l = strlen(d);
  if (l + 32 >= sizeof dir)
    return;
  memcpy(dir, d, l + 1);
  mkdir(dir, 0777);
  if (top && top != my_pid) {
    out_t o = {.fd = -1};
    out_str(&o, "/pid-");
    out_u64(&o, (uint64_t)my_pid);
    memcpy(dir + l, o.buf, o.n);
    dir[l + o.n] = 0;
    mkdir(dir, 0777);
  }
  long ms = env_num("GOMALLOC_PROFILE_INTERVAL");
  if (ms > 0 && ms <= 60000)
    interval_ns = (uint64_t)ms * 1000000u;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  prof_counters_init();
  prof_resolve_new();
  write_meta_start();
  timeline_fd = open_in_dir("timeline.tsv", O_TRUNC | O_APPEND);
  struct stat sb;
  if (timeline_fd >= 0 && fstat(timeline_fd, &sb) == 0) {
    timeline_dev = sb.st_dev;
    timeline_ino = sb.st_ino;
    out_t o = {.fd = timeline_fd};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
      out_str(&o, columns[i]);
      out_mem(&o, "\t", 1);
    }
    for (int c = 1; c < GM_STATS_NUM_CLASSES; c++) {
      out_str(&o, "spans_");
      out_u64(&o, (uint64_t)c);
      out_mem(&o, c + 1 < GM_STATS_NUM_CLASSES ? "\t" : "\n", 1);
    }
    out_flush(&o);
  }
  atexit(at_exit);
  /* The sampler takes no signal meant for the program. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, sampler, NULL) == 0)
    pthread_setname_np(t, "gomalloc-prof");
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = saved;
}
