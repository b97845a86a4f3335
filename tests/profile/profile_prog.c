/* profile_prog.c: a program with known requests, for `gomalloc run
 * --profile` (tests/profile/check_profile.sh). It writes the counts it
 * expects in DIR/sizes.tsv to the file named by its first argument, one
 * "lo hi count" line each; the sizes are odd enough that nothing else in the
 * process asks for them. It covers every wrapped C call, threads that exit
 * (their counter blocks are reused by later threads and summed at exit), a
 * forked child whose requests must not be counted, and a malloc_trim whose
 * release the timeline must show. Exits 7, which `gomalloc run` must pass
 * through. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static FILE *expect;
/* The compiler may drop a malloc whose block is only freed: keep every
 * pointer visible. */
static void *volatile sink;
static void *kept(void *p) {
  sink = p;
  return p;
}

static void want(unsigned long long lo, unsigned long long hi, unsigned long long n) {
  fprintf(expect, "%llu %llu %llu\n", lo, hi, n);
}

static void *thread_main(void *arg) {
  long n = (long)arg;
  for (long i = 0; i < n; i++) {
    void *p = kept(malloc(2222));
    if (!p)
      abort();
    memset(p, 1, 2222);
    free(p);
  }
  return NULL;
}

static void run_threads(int nthreads, long each) {
  pthread_t t[8];
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&t[i], NULL, thread_main, (void *)each) != 0)
      abort();
  for (int i = 0; i < nthreads; i++)
    pthread_join(t[i], NULL);
}

/* Wait (bounded) until the sampler has written a row, so that the release
 * below falls between two rows and shows as one. */
static void wait_for_a_row(void) {
  const char *dir = getenv("GOMALLOC_PROFILE");
  char path[4200], buf[65536];
  if (!dir)
    return;
  snprintf(path, sizeof path, "%s/timeline.tsv", dir);
  for (int tries = 0; tries < 2000; tries++) { /* 20 s at most */
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
    if (fd >= 0)
      close(fd);
    int lines = 0;
    for (ssize_t i = 0; i < n; i++)
      lines += buf[i] == '\n';
    if (lines >= 2)
      return;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "profile_prog: no timeline row after 20 s\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || !(expect = fopen(argv[1], "w"))) {
    fprintf(stderr, "usage: profile_prog EXPECT_FILE\n");
    return 2;
  }
  void *keep[16];
  for (int i = 0; i < 7; i++)
    free(kept(malloc(777)));
  want(777, 777, 7);
  for (int i = 0; i < 11; i++) /* 17..24 bytes: the 32-byte class (16-byte alignment) */
    free(kept(malloc(19)));
  want(19, 19, 11);
  for (int i = 0; i < 5; i++)
    free(kept(calloc(3, 1001)));
  want(3003, 3003, 5);
  void *p = kept(realloc(NULL, 12345));
  p = kept(realloc(p, 12346));
  if (realloc(p, 0) != NULL) /* frees: not a request */
    abort();
  want(12345, 12345, 1);
  want(12346, 12346, 1);
  free(kept(reallocarray(NULL, 7, 1111)));
  want(7777, 7777, 1);
  for (int i = 0; i < 2; i++) {
    if (posix_memalign(&keep[i], 64, 4321) != 0)
      abort();
    free(keep[i]);
  }
  want(4321, 4321, 2);
  free(kept(aligned_alloc(64, 64 * 69)));
  want(64 * 69, 64 * 69, 1);
  free(kept(memalign(32, 5555)));
  want(5555, 5555, 1);
  free(kept(valloc(6007)));
  want(6007, 6007, 1);
  free(kept(pvalloc(6011)));
  want(6011, 6011, 1);
  /* Large: the quarter-power-of-two bucket (2^21, 2^21 + 2^19] ... */
  for (int i = 0; i < 3; i++) {
    keep[i] = malloc(3000000);
    memset(keep[i], 1, 3000000);
  }
  want(2621441, 3145728, 3);
  /* Threads: 4 exit, then 4 more reuse their counter blocks. */
  run_threads(4, 1000);
  run_threads(4, 500);
  /* A forked child's requests are its own and are not profiled. */
  fflush(expect); /* or the child's exit writes the buffer again */
  pid_t child = fork();
  if (child == 0) {
    for (int i = 0; i < 10; i++)
      free(kept(malloc(9999)));
    thread_main((void *)50);
    exit(0); /* runs the exit handlers, which must write nothing */
  }
  int status;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status))
    abort();
  want(2222, 2222, 6000);
  want(9999, 9999, 0);
  /* A release, between two timeline rows. */
  wait_for_a_row();
  for (int i = 0; i < 3; i++)
    free(keep[i]);
  malloc_trim(0);
  fclose(expect);
  printf("profile_prog done\n");
  return 7;
}
