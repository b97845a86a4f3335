/* gomalloc.c: the `gomalloc` command-line tool.
 *
 * One binary with subcommands (git style). To add one, write a cmd_<name>
 * function and a help_<name> function and add a row to `commands` below;
 * dispatch, `gomalloc help <name>` and the usage listing come from the table.
 *
 * Exit status: 0 success, 1 runtime failure (e.g. stdout write error),
 * 2 usage error (unknown subcommand or flag). */
#define _POSIX_C_SOURCE 200809L
#include "sizeclasses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GM_CLI_VERSION
#define GM_CLI_VERSION "unknown"
#endif

#define EXIT_USAGE 2

struct command {
  const char *name;
  const char *summary; /* one line for the usage listing */
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  void (*help)(FILE *f);
};

static const struct command *find_command(const char *name);
static void usage(FILE *f);

/* Flags are long options only; a bad one is a usage error, reported the
 * same way by every subcommand. */
static int bad_flag(const char *cmd, const char *flag) {
  fprintf(stderr, "gomalloc %s: unknown flag '%s'\nRun 'gomalloc %s --help' for usage.\n", cmd,
          flag, cmd);
  return EXIT_USAGE;
}

static int is_help_flag(const char *s) { return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0; }

/* ---- sizeclasses ---------------------------------------------------------------- */

static void help_sizeclasses(FILE *f) {
  fputs("usage: gomalloc sizeclasses [--tsv]\n"
        "\n"
        "Print the size-class table: for each class the object size, the span size,\n"
        "objects per span, bytes left at the end of the span (tail waste), the worst-case\n"
        "share of the span lost to rounding and tail (max waste) and the alignment every\n"
        "object of the class has (min align).\n"
        "\n"
        "  --tsv   tab-separated, with a header line and a row for class 0 (large objects)\n"
        "  --help  show this help\n",
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
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tsv") == 0) {
      tsv = 1;
    } else if (is_help_flag(argv[i])) {
      help_sizeclasses(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      return bad_flag(argv[0], argv[i]);
    } else {
      fprintf(stderr, "gomalloc sizeclasses: unexpected argument '%s'\n", argv[i]);
      return EXIT_USAGE;
    }
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
  if (is_help_flag(argv[1])) {
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

/* ---- dispatch --------------------------------------------------------------------- */

static const struct command commands[] = {
    {"sizeclasses", "print the size-class table", cmd_sizeclasses, help_sizeclasses},
    {"help", "show help for a command", cmd_help, help_help},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void usage(FILE *f) {
  fputs("usage: gomalloc [--help] [--version] COMMAND [ARGS]\n\ncommands:\n", f);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-12s  %s\n", commands[i].name, commands[i].summary);
  fputs("\nRun 'gomalloc COMMAND --help' for the options of a command.\n", f);
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
  if (is_help_flag(arg)) {
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
