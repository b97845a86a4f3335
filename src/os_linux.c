/* os_linux.c: the OS layer on Linux (see os.h for the memory states).
 * Go's mem_linux.go is the model: reserve with PROT_NONE and MAP_NORESERVE
 * (not charged), map used ranges with a fresh read/write mmap(MAP_FIXED)
 * (charged to the commit limit, as glibc's mmap is), release with
 * MADV_DONTNEED so RSS is accurate. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "os.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static size_t sys_page_size;

size_t gm_sys_page_size(void) {
  size_t ps = __atomic_load_n(&sys_page_size, __ATOMIC_RELAXED);
  if (ps == 0) {
    long v = sysconf(_SC_PAGESIZE);
    ps = v > 0 ? (size_t)v : 4096;
    __atomic_store_n(&sys_page_size, ps, __ATOMIC_RELAXED);
  }
  return ps;
}

/* mmap failures that mean "out of memory or address space" become ENOMEM
 * for the caller; anything else (EINVAL, EBADF...) is a bug in gomalloc. */
static void *sys_mmap(void *hint, size_t n, int prot, int flags) {
  if (n == 0) {
    errno = EINVAL;
    return NULL;
  }
  void *p = mmap(hint, n, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    if (errno != ENOMEM && errno != EAGAIN && errno != EEXIST)
      gm_fatal("mmap failed", hint, "unexpected errno");
    errno = ENOMEM;
    return NULL;
  }
  return p;
}

void *gm_sys_reserve(void *hint, size_t n) {
  return sys_mmap(hint, n, PROT_NONE, MAP_NORESERVE);
}

void *gm_sys_reserve_aligned(void *hint, size_t n, size_t align) {
  if (hint && ((uintptr_t)hint & (align - 1)) == 0) {
    void *p = gm_sys_reserve(hint, n);
    if (p == hint)
      return p;
    if (p)
      gm_sys_free(p, n);
  }
  /* Over-reserve by one alignment and trim both ends (Go's sysReserveAligned). */
  if (n + align < n) {
    errno = ENOMEM;
    return NULL;
  }
  char *raw = gm_sys_reserve(NULL, n + align);
  if (!raw)
    return NULL;
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)raw;
  size_t tail = align - head;
  if (head)
    gm_sys_free(raw, head);
  if (tail)
    gm_sys_free((char *)start + n, tail);
  return (void *)start;
}

/* A fresh mapping, not mprotect: mprotect of a MAP_NORESERVE range to
 * read/write is never charged, so malloc(32 GiB) on a 24 GiB machine
 * without swap succeeded and the OOM killer answered on first touch. A new
 * mapping without MAP_NORESERVE is charged like glibc's mmap: the kernel
 * refuses it (ENOMEM) under vm.overcommit_memory 0 when it exceeds RAM +
 * swap, and under 2 when it passes the commit limit (Go's sysMap). */
bool gm_sys_map(void *p, size_t n) {
  return sys_mmap(p, n, PROT_READ | PROT_WRITE, MAP_FIXED) == p;
}

void gm_sys_unused(void *p, size_t n) {
  size_t ps = gm_sys_page_size();
  uintptr_t lo = ((uintptr_t)p + ps - 1) & ~(ps - 1);
  uintptr_t hi = ((uintptr_t)p + n) & ~(ps - 1);
  if (hi <= lo)
    return;
  int saved = errno;
  /* DONTNEED, not FREE: RSS must really fall (Go's madvdontneed=1 default),
   * and the pages read as zero afterwards, which calloc relies on. */
  if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0 && errno != ENOMEM && errno != EAGAIN)
    gm_fatal("madvise failed", p, "unexpected errno");
  errno = saved;
}

void gm_sys_used(void *p, size_t n) {
  (void)p;
  (void)n;
}

void gm_sys_free(void *p, size_t n) {
  int saved = errno;
  if (munmap(p, n) != 0 && errno != ENOMEM)
    gm_fatal("munmap failed", p, "unexpected errno");
  errno = saved;
}

/* A fresh reserved mapping, so the range is no longer charged (mprotect
 * would keep the charge; Go's sysFault maps over it the same way). */
void gm_sys_fault(void *p, size_t n) {
  int saved = errno;
  if (sys_mmap(p, n, PROT_NONE, MAP_FIXED | MAP_NORESERVE) != p)
    gm_fatal("mmap failed", p, "cannot give back a mapped range");
  errno = saved;
}

void *gm_sys_alloc(size_t n) {
  size_t ps = gm_sys_page_size();
  if (n > SIZE_MAX - ps) {
    errno = ENOMEM;
    return NULL;
  }
  n = (n + ps - 1) & ~(ps - 1);
  return sys_mmap(NULL, n, PROT_READ | PROT_WRITE, 0);
}

size_t gm_sys_rss(void) {
  int saved = errno;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errno = saved;
    return 0;
  }
  char buf[128];
  ssize_t len = read(fd, buf, sizeof buf - 1);
  close(fd);
  errno = saved;
  if (len <= 0)
    return 0;
  buf[len] = 0;
  /* Second field: resident pages. */
  const char *s = buf;
  while (*s && *s != ' ')
    s++;
  size_t pages = 0;
  while (*s == ' ')
    s++;
  while (*s >= '0' && *s <= '9')
    pages = pages * 10 + (size_t)(*s++ - '0');
  return pages * gm_sys_page_size();
}

uint64_t gm_sys_random(void) {
  int saved = errno;
  uint64_t r = 0;
  /* The kernel's generator; not AT_RANDOM, whose bytes are the stack
   * protector's canary and glibc's pointer guard: a heap address must not
   * give away bits of either. */
  if (syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */) != (long)sizeof r) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    r = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&t ^
        (uint64_t)getpid() << 32;
  }
  errno = saved;
  return r;
}

/* 0 = not tried, 1 = registered, 2 = unavailable. */
static int membarrier_state;

bool gm_sys_membarrier(void) {
  int saved = errno;
  int st = __atomic_load_n(&membarrier_state, __ATOMIC_ACQUIRE);
  if (st == 0) {
    st = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : 2;
    __atomic_store_n(&membarrier_state, st, __ATOMIC_RELEASE);
  }
  bool ok = st == 1 && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
  errno = saved;
  return ok;
}

uint64_t gm_sys_thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

uint64_t gm_sys_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}
