/* cli.h: what the `gomalloc` tool's subcommand files share (gomalloc.c
 * holds the dispatch table; each subcommand is a run and a help function). */
#ifndef GM_CLI_H
#define GM_CLI_H

#include <stdio.h>

#define EXIT_USAGE 2

/* Flags are long options only; a bad one is a usage error, reported the
 * same way by every subcommand. Returns EXIT_USAGE. */
int gm_cli_bad_flag(const char *cmd, const char *flag);
int gm_cli_is_help_flag(const char *s);
/* --name VALUE or --name=VALUE at argv[*i]: the value (moving *i past it),
 * or NULL if argv[*i] is not this option. A missing value is a usage
 * error (*bad set). */
const char *gm_cli_option_value(int argc, char **argv, int *i, const char *name, int *bad);

/* `gomalloc run` (cli_run.c). */
int gm_cli_run(int argc, char **argv);
void gm_cli_run_help(FILE *f);

#endif
