/* weft: the command that shows what the library does.
 *   weft [-h|--help] [-V|--version]
 *   weft fetch [-c N] [-o DIR] [--timeout S] URL... | -i FILE
 *   weft serve [-p P] [--host H] [--cert F --key F] [--compress] [--delay S] [--log]
 *              [--dotfiles] [--loops N] [DIR]
 *   weft ws [--binary] [-k] URL | weft ws -n N --concurrency C [--size B] URL
 * The options before the subcommand are the command's own; each subcommand
 * parses the rest (cmd.h). */
#include "cmd.h"
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} cmds[] = {
    {"fetch", weft_cmd_fetch, weft_fetch_usage},
    {"serve", weft_cmd_serve, weft_serve_usage},
    {"ws", weft_cmd_ws, weft_ws_usage},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f)
{
    fputs("usage: weft [-h|--help] [-V|--version] COMMAND [OPTIONS] [ARGS]\n"
          "  each COMMAND takes -h/--help and -V/--version too; see also man weft\n",
          f);
    for (size_t i = 0; i < NCMDS; i++) fputs(cmds[i].usage, f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {WEFT_CMD_COMMON_OPTS, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    /* '+': stop at the subcommand, whose options are its own. */
    while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'V': return weft_cmd_version();
        default:
            weft_cmd_bad_option(NULL, c, argv, opts, "");
            usage(stderr);
            return WEFT_CMD_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("weft: no command given\n", stderr);
        usage(stderr);
        return WEFT_CMD_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(name, cmds[i].name) != 0) continue;
        /* The subcommand sees itself as argv[0]; 0 makes getopt start over. */
        argc -= optind, argv += optind;
        optind = 0;
        return cmds[i].run(argc, argv);
    }
    fprintf(stderr, "weft: unknown command '%s'\n", name);
    usage(stderr);
    return WEFT_CMD_USAGE;
}
