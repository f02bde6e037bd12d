/* The subcommands of the `weft` command, and what their option parsing
 * shares (args.c). Each subcommand parses its options with getopt_long;
 * -h/--help prints its usage on stdout and exits 0, -V/--version prints
 * the version, a bad option or value prints one line saying what is wrong
 * and then the usage on stderr, and exits 2. */
#ifndef WEFT_TOOL_CMD_H
#define WEFT_TOOL_CMD_H
#include <getopt.h>
#include <stdio.h>

int weft_cmd_fetch(int argc, char **argv);
int weft_cmd_serve(int argc, char **argv);
int weft_cmd_ws(int argc, char **argv);

/* Each subcommand's usage (also the top of `weft --help`). */
extern const char weft_fetch_usage[], weft_serve_usage[], weft_ws_usage[];

/* The long options every subcommand takes, last in its option table. */
#define WEFT_CMD_COMMON_OPTS {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}

/* Exit statuses: 0 for --help/--version, 2 for bad usage. */
enum { WEFT_CMD_USAGE = 2 };

/* "weft VERSION" on stdout; returns 0. */
int weft_cmd_version(void);
/* For getopt_long's '?' (unknown option) or ':' (no value): says which
 * option of `weft <cmd>` is wrong, then the usage, on stderr; returns 2.
 * optstring must start with ':' (after any '+'/'-') so the two differ. */
int weft_cmd_bad_option(const char *cmd, int c, char **argv, const struct option *opts,
                        const char *usage);
/* Says "weft <cmd>: <what>" and the usage on stderr; returns 2. cmd NULL:
 * the command itself ("weft: <what>"). */
int weft_cmd_usage_error(const char *cmd, const char *what, const char *usage);
/* s as a whole number in [min, max] (a double with _double): 0, or -1
 * after saying on stderr what option it was for and what was wrong. */
int weft_cmd_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
int weft_cmd_double(const char *cmd, const char *opt, const char *s, double min, double max,
                    double *out);
#endif
