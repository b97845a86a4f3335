/* cli_run.c: `gomalloc run`, which runs a program with gomalloc preloaded
 * (the library found beside this binary, in the build tree or installed),
 * with heap statistics, a heap map or a profile (libgomalloc_prof.so) at
 * its exit. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with realpath */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- run ------------------------------------------------------------------------ */

void gm_cli_run_help(FILE *f) {
  fputs("usage: gomalloc run [OPTIONS] [--] PROGRAM [ARGS...]\n"
        "\n"
        "Run PROGRAM with gomalloc as its malloc (LD_PRELOAD=libgomalloc.so) and report on\n"
        "its heap when it exits. The exit status is the program's.\n"
        "\n"
        "  --stats[=text|json]  print heap statistics at exit: a table per size class\n"
        "                       and the heap totals, or the same as JSON (on stderr)\n"
        "  --stats-file FILE    write the statistics to FILE instead of stderr (implies\n"
        "                       --stats)\n"
        "  --heapmap FILE       write a heap map at exit: one HTML page drawing every span\n"
        "                       (the program writes a heap dump beside FILE and runs\n"
        "                       'gomalloc heapmap' to draw it)\n"
        "  --profile DIR        profile the run into DIR (created if needed): the\n"
        "                       requested sizes, a timeline of the heap sampled every\n"
        "                       10 ms and the heap at exit; 'gomalloc report DIR' draws\n"
        "                       it (preloads libgomalloc_prof.so in front of the library)\n"
        "  --profile-interval MS  the timeline's sampling period (default 10)\n"
        "  --all-processes      report on every process of the program that uses gomalloc\n"
        "                       (its children too; use %p, the process id, in file names;\n"
        "                       profiles of children go to DIR/pid-N), not only on\n"
        "                       PROGRAM itself\n"
        "  --lib PATH           the libgomalloc.so to preload (default: $GOMALLOC_LIB, else\n"
        "                       ../lib beside this program, the install libdir, or the\n"
        "                       build tree this program was built in)\n"
        "  --help               show this help\n"
        "\n"
        "These set GOMALLOC_STATS, GOMALLOC_STATS_FILE, GOMALLOC_HEAPMAP, GOMALLOC_PROFILE\n"
        "and GOMALLOC_REPORT_PID for the program. PROGRAM reports when it exits, also if it\n"
        "was started through a wrapper that execs it. Static and set-user-ID programs\n"
        "ignore LD_PRELOAD and report nothing; so do programs that end with _exit()\n"
        "(dash, for one).\n"
        "\n"
        "Exit status: the program's; 2 for a usage error; 1 if libgomalloc.so is not\n"
        "found; 126 if PROGRAM cannot be run, 127 if it is not found.\n",
        f);
}

/* dir/rel/name if it exists, into out. */
static int try_lib(char *out, size_t n, const char *dir, const char *rel) {
  static const char *names[] = {"libgomalloc.so", "libgomalloc.so.0"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    int len = snprintf(out, n, "%s%s%s/%s", dir, rel[0] ? "/" : "", rel, names[i]);
    if (len > 0 && (size_t)len < n && access(out, R_OK) == 0)
      return 1;
  }
  return 0;
}

/* Where the preloadable library is, relative to this executable first so
 * that an installed tree can be moved; the compile-time paths (set by the
 * build, when it does) come after. */
static int find_library(char *out, size_t n) {
  const char *env = getenv("GOMALLOC_LIB");
  if (env && *env) {
    snprintf(out, n, "%s", env);
    return access(out, R_OK) == 0;
  }
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
      *slash = 0;
    const char *rels[] = {
#ifdef GM_INSTALL_LIBDIR_REL
        "../" GM_INSTALL_LIBDIR_REL,
#endif
        "../lib", "../lib64",
#if defined(__x86_64__)
        "../lib/x86_64-linux-gnu", /* Debian's multiarch libdir for a /usr prefix */
#elif defined(__aarch64__)
        "../lib/aarch64-linux-gnu",
#endif
    };
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++)
      if (try_lib(out, n, exe, rels[i]))
        return 1;
  }
#ifdef GM_INSTALL_LIBDIR
  if (try_lib(out, n, GM_INSTALL_LIBDIR, ""))
    return 1;
#endif
#ifdef GM_BUILD_LIBDIR
  if (try_lib(out, n, GM_BUILD_LIBDIR, ""))
    return 1;
#endif
  /* The build tree: tools/gomalloc beside the library's directory. */
  if (len > 0 && (try_lib(out, n, exe, "..") || try_lib(out, n, exe, "")))
    return 1;
  return 0;
}

/* An absolute form of path, so that a program changing directory still
 * writes where the user meant. */
static int absolute(char *out, size_t n, const char *path) {
  if (path[0] == '/')
    return snprintf(out, n, "%s", path) < (int)n;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return 0;
  return snprintf(out, n, "%s/%s", cwd, path) < (int)n;
}

/* --profile: libgomalloc_prof.so beside the library, the directory made
 * and absolute, the variables prof_sampler.c reads. */
static int setup_profile(const char *libabs, const char *dir, const char *interval, char *prof,
                         size_t n) {
  const char *slash = strrchr(libabs, '/');
  snprintf(prof, n, "%.*s/libgomalloc_prof.so", (int)(slash - libabs), libabs);
  if (access(prof, R_OK) != 0) {
    fprintf(stderr, "gomalloc run: %s: %s (needed by --profile)\n", prof, strerror(errno));
    return 1;
  }
  char abs[PATH_MAX], num[32];
  if (!absolute(abs, sizeof abs, dir) || strlen(abs) + 64 > 4096) {
    fprintf(stderr, "gomalloc run: %s: path too long\n", dir);
    return EXIT_USAGE;
  }
  if (mkdir(abs, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "gomalloc run: cannot create %s: %s\n", abs, strerror(errno));
    return 1;
  }
  if (access(abs, W_OK | X_OK) != 0) {
    fprintf(stderr, "gomalloc run: cannot write in %s: %s\n", abs, strerror(errno));
    return 1;
  }
  snprintf(num, sizeof num, "%ld", (long)getpid());
  if (setenv("GOMALLOC_PROFILE", abs, 1) != 0 || setenv("GOMALLOC_PROFILE_TOP", num, 1) != 0 ||
      (interval && setenv("GOMALLOC_PROFILE_INTERVAL", interval, 1) != 0)) {
    perror("gomalloc run: setenv");
    return 1;
  }
  return 0;
}

int gm_cli_run(int argc, char **argv) {
  const char *stats = NULL, *stats_file = NULL, *heapmap = NULL, *lib = NULL;
  const char *profile = NULL, *interval = NULL;
  int i = 1, bad = 0, all = 0;
  for (; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-')
      break;
    if (gm_cli_is_help_flag(a)) {
      gm_cli_run_help(stdout);
      return 0;
    }
    if (strcmp(a, "--stats") == 0) {
      stats = "1";
    } else if (strcmp(a, "--all-processes") == 0) {
      all = 1;
    } else if (strncmp(a, "--stats=", 8) == 0) {
      if (strcmp(a + 8, "text") == 0)
        stats = "1";
      else if (strcmp(a + 8, "json") == 0)
        stats = "json";
      else {
        fprintf(stderr, "gomalloc run: --stats takes 'text' or 'json', not '%s'\n", a + 8);
        return EXIT_USAGE;
      }
    } else if ((v = gm_cli_option_value(argc, argv, &i, "--stats-file", &bad)) != NULL) {
      stats_file = v;
    } else if ((v = gm_cli_option_value(argc, argv, &i, "--heapmap", &bad)) != NULL) {
      heapmap = v;
    } else if ((v = gm_cli_option_value(argc, argv, &i, "--lib", &bad)) != NULL) {
      lib = v;
    } else if ((v = gm_cli_option_value(argc, argv, &i, "--profile", &bad)) != NULL) {
      profile = v;
    } else if ((v = gm_cli_option_value(argc, argv, &i, "--profile-interval", &bad)) != NULL) {
      char *end;
      long ms = strtol(v, &end, 10);
      if (*end || ms < 1 || ms > 60000) {
        fprintf(stderr, "gomalloc run: --profile-interval takes 1..60000 (ms), not '%s'\n", v);
        return EXIT_USAGE;
      }
      interval = v;
    } else if (bad) {
      return EXIT_USAGE;
    } else {
      return gm_cli_bad_flag(argv[0], a);
    }
    if (v && !*v) {
      fprintf(stderr, "gomalloc run: empty value for '%s'\n", a);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "gomalloc run: no program to run\nRun 'gomalloc run --help' for usage.\n");
    return EXIT_USAGE;
  }
  if (stats_file && !stats)
    stats = "1";
  if (interval && !profile) {
    fprintf(stderr, "gomalloc run: --profile-interval needs --profile\n");
    return EXIT_USAGE;
  }

  char path[PATH_MAX];
  if (lib) {
    snprintf(path, sizeof path, "%s", lib);
    if (access(path, R_OK) != 0) {
      fprintf(stderr, "gomalloc run: %s: %s\n", path, strerror(errno));
      return 1;
    }
  } else if (!find_library(path, sizeof path)) {
    fprintf(stderr, "gomalloc run: cannot find libgomalloc.so (set GOMALLOC_LIB or use --lib)\n");
    return 1;
  }
  /* The dynamic loader wants a path it can open from any directory. */
  char libabs[PATH_MAX];
  if (!realpath(path, libabs)) {
    fprintf(stderr, "gomalloc run: %s: %s\n", path, strerror(errno));
    return 1;
  }
  char prof[PATH_MAX + 32] = "";
  if (profile) {
    int rc = setup_profile(libabs, profile, interval, prof, sizeof prof);
    if (rc)
      return rc;
    strcat(prof, ":"); /* the profiler goes in front of the library */
  }
  const char *old = getenv("LD_PRELOAD");
  size_t plen = strlen(prof) + strlen(libabs) + (old ? strlen(old) + 2 : 1);
  char *preload = malloc(plen);
  if (!preload) {
    perror("gomalloc run");
    return 1;
  }
  /* First in the list, so its malloc is the one every object binds to. */
  snprintf(preload, plen, "%s%s%s%s", prof, libabs, old && *old ? ":" : "",
           old && *old ? old : "");
  char file[PATH_MAX];
  int ok = setenv("LD_PRELOAD", preload, 1) == 0;
  if (stats)
    ok = ok && setenv("GOMALLOC_STATS", stats, 1) == 0;
  if (stats_file) {
    if (!absolute(file, sizeof file, stats_file)) {
      fprintf(stderr, "gomalloc run: %s: path too long\n", stats_file);
      return EXIT_USAGE;
    }
    ok = ok && setenv("GOMALLOC_STATS_FILE", file, 1) == 0;
  }
  if (heapmap) {
    if (!absolute(file, sizeof file, heapmap)) {
      fprintf(stderr, "gomalloc run: %s: path too long\n", heapmap);
      return EXIT_USAGE;
    }
    ok = ok && setenv("GOMALLOC_HEAPMAP", file, 1) == 0;
  }
  free(preload);
  /* exec keeps the pid: the program itself reports, its children do not. */
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  if (all)
    ok = ok && unsetenv("GOMALLOC_REPORT_PID") == 0;
  else
    ok = ok && setenv("GOMALLOC_REPORT_PID", pid, 1) == 0;
  if (!ok) {
    perror("gomalloc run: setenv");
    return 1;
  }
  fflush(stdout);
  /* exec, not fork: the program's exit status and signals pass through
   * untouched, and nothing of ours stays around it. */
  execvp(argv[i], argv + i);
  int err = errno;
  fprintf(stderr, "gomalloc run: cannot run '%s': %s\n", argv[i], strerror(err));
  return err == ENOENT ? 127 : 126;
}

