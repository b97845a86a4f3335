/* os.h: the OS layer, after Go's mem.go. The only code that calls mmap,
 * mprotect and madvise lives in os_linux.c.
 *
 * Address space moves between four states, as in Go:
 *   None     --gm_sys_reserve-->  Reserved  (PROT_NONE; no memory charged)
 *   Reserved --gm_sys_map------>  Ready     (read/write, charged to the commit
 *                                            limit; pages fault in on touch)
 *   Ready    --gm_sys_unused--->  Prepared  (madvise: RSS really drops; reads give zero)
 *   Prepared --gm_sys_used----->  Ready     (nothing to do on Linux)
 *   Ready    --gm_sys_fault---->  Reserved  (no longer charged)
 *   any      --gm_sys_free----->  None
 * Prepared memory stays charged, as in Go: only unmapping or gm_sys_fault
 * gives the charge back.
 * Every call that can run out of memory reports it (NULL / false with errno
 * ENOMEM) instead of crashing; other failures are bugs and are fatal. */
#ifndef GM_OS_H
#define GM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OS page size, read once at start (4 KiB on x86-64). */
size_t gm_sys_page_size(void);

/* Reserve n bytes of address space (PROT_NONE), preferably at hint.
 * Returns NULL and sets errno = ENOMEM when the address space is exhausted. */
void *gm_sys_reserve(void *hint, size_t n);

/* Reserve n bytes aligned to align (a power of two >= the OS page),
 * trying hint first. NULL + ENOMEM on failure. */
void *gm_sys_reserve_aligned(void *hint, size_t n, size_t align);

/* Make reserved memory readable and writable (Reserved -> Ready), charged
 * to the commit limit. Returns false with errno = ENOMEM if the kernel
 * refuses (vm.overcommit_memory 0: more than RAM + swap; 2: over the limit). */
bool gm_sys_map(void *p, size_t n);

/* Release the physical memory behind p..p+n (Ready -> Prepared): RSS falls,
 * the range stays mapped and reads as zero afterwards. p and n are rounded
 * inwards to OS pages. Preserves errno. */
void gm_sys_unused(void *p, size_t n);

/* Prepared -> Ready: a no-op on Linux (the next touch faults a zero page). */
void gm_sys_used(void *p, size_t n);

/* Return address space to the OS (munmap). Preserves errno. */
void gm_sys_free(void *p, size_t n);

/* Make a range inaccessible again and uncharged (Ready -> Reserved): its
 * contents are lost. */
void gm_sys_fault(void *p, size_t n);

/* Reserve and map zeroed read/write memory for allocator metadata, rounded
 * up to OS pages. NULL + ENOMEM on failure. */
void *gm_sys_alloc(size_t n);

/* Resident set size of this process in bytes (from /proc/self/statm), or 0
 * if it cannot be read. Makes no allocation. */
size_t gm_sys_rss(void);

/* A full memory barrier on every running thread of the process
 * (membarrier(2), private expedited). Registers the process on first use;
 * false if the kernel cannot (then it never will). errno is preserved. */
bool gm_sys_membarrier(void);

/* 64 random bits from the kernel (getrandom), or from the clock and the
 * stack address if it cannot give them. errno is preserved. */
uint64_t gm_sys_random(void);

/* CPU time the calling thread has used, in ns (CLOCK_THREAD_CPUTIME_ID):
 * the clock of the background thread's work budget (background.c). */
uint64_t gm_sys_thread_cpu_ns(void);

/* Monotonic time in ns (CLOCK_MONOTONIC): the idle-cache reclaim's bound
 * on waiting for a thread (mcache_reclaim.c). */
uint64_t gm_sys_now_ns(void);

#endif /* GM_OS_H */
