/* gomalloc.c: the `gomalloc` command-line tool.
 *
 * One binary with subcommands (git style). To add one, write a cmd_<name>
 * function and a help_<name> function and add a row to `commands` below;
 * dispatch, `gomalloc help <name>` and the usage listing come from the table.
 *
 * Exit status: 0 success, 1 runtime failure (e.g. stdout write error),
 * 2 usage error (unknown subcommand or flag). */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with realpath */
#include "cli.h"
#include "heapmap_render.h"
#include "options.h"
#include "report.h"
#include "sizeclass_fit.h"
#include "sizeclasses.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GM_CLI_VERSION
#define GM_CLI_VERSION "unknown"
#endif

struct command {
  const char *name;
  const char *summary; /* one line for the usage listing */
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  void (*help)(FILE *f);
  int hidden; /* left out of the usage listing (build-time helpers) */
};

static const struct command *find_command(const char *name);
static void usage(FILE *f);

int gm_cli_bad_flag(const char *cmd, const char *flag) {
  fprintf(stderr, "gomalloc %s: unknown flag '%s'\nRun 'gomalloc %s --help' for usage.\n", cmd,
          flag, cmd);
  return EXIT_USAGE;
}

int gm_cli_is_help_flag(const char *s) {
  return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

const char *gm_cli_option_value(int argc, char **argv, int *i, const char *name, int *bad) {
  size_t l = strlen(name);
  if (strncmp(argv[*i], name, l) != 0)
    return NULL;
  if (argv[*i][l] == '=')
    return argv[*i] + l + 1;
  if (argv[*i][l] != 0)
    return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "gomalloc %s: %s needs a value\n", argv[0], name);
    *bad = 1;
    return NULL;
  }
  return argv[++*i];
}

/* ---- sizeclasses ---------------------------------------------------------------- */

static void help_sizeclasses(FILE *f) {
  fputs("usage: gomalloc sizeclasses [--tsv]\n"
        "       gomalloc sizeclasses --fit DIR [--fine] [--align8]\n"
        "\n"
        "Print the size-class table: for each class the object size, the span size,\n"
        "objects per span, bytes left at the end of the span (tail waste), the worst-case\n"
        "share of the span lost to rounding and tail (max waste) and the alignment every\n"
        "object of the class has (min align).\n"
        "\n"
        "  --tsv      tab-separated, with a header line and a row for class 0 (large objects)\n"
        "  --fit DIR  choose classes for the request sizes in DIR/sizes.tsv (the histogram\n"
        "             of gomalloc run --profile DIR) by Go's rules, minimising\n"
        "             rounding waste; print them as --tsv does, after # lines giving the\n"
        "             expected waste against Go's classes. Load with GOMALLOC_SIZECLASSES.\n"
        "  --fine     with --fit: candidate sizes in 16-byte steps at every size, not Go's\n"
        "             steps (size/8 from 128 B, 256 B from 2 KiB)\n"
        "  --align8   with --fit: allow classes that are only 8-byte aligned (they serve\n"
        "             requests of 16 B or more only under GOMALLOC_ALIGN8=1); with --fine,\n"
        "             8-byte steps\n"
        "  --help     show this help\n",
        f);
}

struct class_row {
  unsigned size, span, objects, tail, align;
  double max_waste; /* percent */
};

/* Derived columns are computed from the tables the allocator really uses. */
static struct class_row class_row(int c) {
  struct class_row r;
  r.size = gm_class_to_size[c];
  r.span = (unsigned)gm_class_to_allocnpages[c] * (unsigned)GM_PAGE_SIZE;
  r.objects = gm_class_to_nelems[c];
  r.tail = r.span - r.objects * r.size;
  r.align = gm_class_to_minalign[c];
  r.max_waste = 0;
  if (c > 0) {
    /* Worst case: every object holds a request one byte above the previous class. */
    unsigned prev = gm_class_to_size[c - 1];
    r.max_waste = 100 * ((double)((r.size - prev - 1) * r.objects + r.tail) / (double)r.span);
  }
  return r;
}

static int cmd_sizeclasses(int argc, char **argv) {
  int tsv = 0;
  bool align8 = false, fine = false;
  const char *fit_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tsv") == 0) {
      tsv = 1;
    } else if (strcmp(argv[i], "--align8") == 0) {
      align8 = true;
    } else if (strcmp(argv[i], "--fine") == 0) {
      fine = true;
    } else if (strcmp(argv[i], "--fit") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "gomalloc sizeclasses: --fit needs a profile directory\n");
        return EXIT_USAGE;
      }
      fit_dir = argv[++i];
    } else if (strncmp(argv[i], "--fit=", 6) == 0) {
      fit_dir = argv[i] + 6;
    } else if (gm_cli_is_help_flag(argv[i])) {
      help_sizeclasses(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      return gm_cli_bad_flag(argv[0], argv[i]);
    } else {
      fprintf(stderr, "gomalloc sizeclasses: unexpected argument '%s'\n", argv[i]);
      return EXIT_USAGE;
    }
  }

  if ((align8 || fine) && !fit_dir) {
    fprintf(stderr, "gomalloc sizeclasses: --align8 and --fine go with --fit\n");
    return EXIT_USAGE;
  }
  if (fit_dir) {
    if (tsv) {
      fprintf(stderr, "gomalloc sizeclasses: --fit prints the TSV; drop --tsv\n");
      return EXIT_USAGE;
    }
    return fit_sizeclasses(fit_dir, align8, fine);
  }
  if (tsv) {
    puts("class\tbytes_obj\tbytes_span\tobjects\ttail_waste\tmax_waste_percent\tmin_align");
    for (int c = 0; c < GM_NUM_CLASSES; c++) {
      struct class_row r = class_row(c);
      printf("%d\t%u\t%u\t%u\t%u\t%.2f\t%u\n", c, r.size, r.span, r.objects, r.tail, r.max_waste,
             r.align);
    }
    return 0;
  }
  /* Class 0 has no geometry, so the human table starts at 1 as Go's does. */
  printf("%-5s  %-9s  %-10s  %-7s  %-10s  %-9s  %-9s\n", "class", "bytes/obj", "bytes/span",
         "objects", "tail waste", "max waste", "min align");
  for (int c = 1; c < GM_NUM_CLASSES; c++) {
    struct class_row r = class_row(c);
    printf("%5d  %9u  %10u  %7u  %10u  %8.2f%%  %9u\n", c, r.size, r.span, r.objects, r.tail,
           r.max_waste, r.align);
  }
  return 0;
}

/* ---- heapmap ---------------------------------------------------------------------- */

static void help_heapmap(FILE *f) {
  fputs("usage: gomalloc heapmap -o FILE.html DUMP\n"
        "\n"
        "Draw a heap dump as the heap map: one self-contained HTML page drawing every\n"
        "arena as strips of pages and every span as a block coloured by size class and\n"
        "shaded by how full it is; hovering shows a span's fields and allocation bitmap.\n"
        "Past 20000 spans it draws one summary block per 4 MiB chunk. FILE.html#selftest\n"
        "runs the page's self-check.\n"
        "\n"
        "A program run with GOMALLOC_HEAPMAP=FILE.html (or 'gomalloc run --heapmap')\n"
        "writes DUMP at exit and runs this command itself; a program can also write one\n"
        "at any time with gm_write_heap_dump().\n"
        "\n"
        "  -o, --output FILE  the page to write (replaced at once, never half-written)\n"
        "  --help             show this help\n",
        f);
}

static int cmd_heapmap(int argc, char **argv) {
  const char *out = NULL, *dump = NULL;
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    if (gm_cli_is_help_flag(a)) {
      help_heapmap(stdout);
      return 0;
    }
    if (strcmp(a, "--") == 0 && i + 1 < argc && !dump) {
      dump = argv[++i];
    } else if ((v = gm_cli_option_value(argc, argv, &i, "-o", &bad)) != NULL ||
               (v = gm_cli_option_value(argc, argv, &i, "--output", &bad)) != NULL) {
      out = v;
    } else if (bad) {
      return EXIT_USAGE;
    } else if (a[0] == '-') {
      return gm_cli_bad_flag(argv[0], a);
    } else if (!dump) {
      dump = a;
    } else {
      fprintf(stderr, "gomalloc heapmap: unexpected argument '%s'\n", a);
      return EXIT_USAGE;
    }
  }
  if (!dump || !out || !*out) {
    fprintf(stderr, "gomalloc heapmap: needs -o FILE and a DUMP\n"
                    "Run 'gomalloc heapmap --help' for usage.\n");
    return EXIT_USAGE;
  }
  char err[1024];
  if (gm_heapmap_render_file(dump, out, err, sizeof err) != 0) {
    fprintf(stderr, "gomalloc heapmap: %s\n", err);
    return 1;
  }
  return 0;
}

/* ---- help ------------------------------------------------------------------------- */

static void help_help(FILE *f) {
  fputs("usage: gomalloc help [COMMAND]\n"
        "\n"
        "Show the list of commands, or the help of one command.\n",
        f);
}

static int cmd_help(int argc, char **argv) {
  if (argc == 1) {
    usage(stdout);
    return 0;
  }
  if (argc > 2) {
    fprintf(stderr, "gomalloc help: expected at most one command name\n");
    return EXIT_USAGE;
  }
  if (gm_cli_is_help_flag(argv[1])) {
    help_help(stdout);
    return 0;
  }
  const struct command *cmd = find_command(argv[1]);
  if (!cmd) {
    fprintf(stderr, "gomalloc help: unknown command '%s'\nRun 'gomalloc help' for a list.\n",
            argv[1]);
    return EXIT_USAGE;
  }
  cmd->help(stdout);
  return 0;
}

/* ---- man-options (hidden) ---------------------------------------------------------- */

/* The build splices this into the man pages' ENVIRONMENT sections
 * (docs/gomalloc.[13].in, cmake/gen_manpage.cmake), so that they list the
 * table the library parses and cannot drift from it. */
static void help_man_options(FILE *f) {
  fputs("usage: gomalloc man-options\n"
        "\n"
        "Print the environment options as man-page (roff) source, for the build.\n",
        f);
}

/* Text as roff reads it literally: a backslash is \e, and a line may not
 * start with a control character. */
static void roff(FILE *f, const char *s) {
  if (*s == '.' || *s == '\'')
    fputs("\\&", f);
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\e", f);
    else
      fputc(*s, f);
  }
}

static int cmd_man_options(int argc, char **argv) {
  if (argc > 1 && gm_cli_is_help_flag(argv[1])) {
    help_man_options(stdout);
    return 0;
  }
  if (argc > 1)
    return gm_cli_bad_flag(argv[0], argv[1]);
  size_t n;
  const gm_option_t *opt = gm_options_table(&n);
  for (size_t i = 0; i < n; i++) {
    if (opt[i].internal)
      continue;
    fputs(".TP\n\\fB", stdout);
    roff(stdout, opt[i].name);
    fputs("\\fR=\\fI", stdout);
    roff(stdout, opt[i].value);
    fputs("\\fR\n", stdout);
    roff(stdout, opt[i].help);
    fputs(".\n", stdout);
    if (opt[i].dflt[0]) {
      fputs("Default: ", stdout);
      roff(stdout, opt[i].dflt);
      fputs(".\n", stdout);
    }
  }
  return 0;
}

/* ---- dispatch --------------------------------------------------------------------- */

static const struct command commands[] = {
    {"sizeclasses", "print the size-class table", cmd_sizeclasses, help_sizeclasses, 0},
    {"run", "run a program with gomalloc, with heap statistics, a heap map or a profile", gm_cli_run, gm_cli_run_help,
     0},
    {"heapmap", "draw a heap dump as the heap map (an HTML page)", cmd_heapmap, help_heapmap, 0},
    {"report", "draw a profile (run --profile) as an HTML page", gm_report_main, gm_report_help,
     0},
    {"help", "show help for a command", cmd_help, help_help, 0},
    {"man-options", "", cmd_man_options, help_man_options, 1},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

/* The library's options, from the table it parses them with (internal
 * ones, which `run` sets, are left out). */
static void environment(FILE *f) {
  size_t n;
  const gm_option_t *opt = gm_options_table(&n);
  fputs("\nenvironment (read by libgomalloc once, when a program starts):\n", f);
  for (size_t i = 0; i < n; i++) {
    if (opt[i].internal)
      continue;
    fprintf(f, "  %s=%s\n      %s", opt[i].name, opt[i].value, opt[i].help);
    if (opt[i].dflt[0])
      fprintf(f, "; default %s", opt[i].dflt);
    fputc('\n', f);
  }
  fputs("Booleans: 1|on|yes|true or 0|off|no|false. Sizes: bytes, or with K, M or G.\n", f);
}

static void usage(FILE *f) {
  fputs("usage: gomalloc [--help] [--version] COMMAND [ARGS]\n\ncommands:\n", f);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!commands[i].hidden)
      fprintf(f, "  %-12s  %s\n", commands[i].name, commands[i].summary);
  fputs("\nRun 'gomalloc COMMAND --help' for the options of a command.\n", f);
  environment(f);
}

/* A full disk or closed pipe must not look like success to a script. */
static int finish(int rc) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("gomalloc: write error");
    return rc ? rc : 1;
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *arg = argv[1];
  if (gm_cli_is_help_flag(arg)) {
    usage(stdout);
    return finish(0);
  }
  if (strcmp(arg, "--version") == 0) {
    printf("gomalloc %s\n", GM_CLI_VERSION);
    return finish(0);
  }
  if (arg[0] == '-') {
    fprintf(stderr, "gomalloc: unknown flag '%s'\nRun 'gomalloc --help' for usage.\n", arg);
    return EXIT_USAGE;
  }
  const struct command *cmd = find_command(arg);
  if (!cmd) {
    fprintf(stderr, "gomalloc: unknown command '%s'\nRun 'gomalloc --help' for usage.\n", arg);
    return EXIT_USAGE;
  }
  return finish(cmd->run(argc - 1, argv + 1));
}
