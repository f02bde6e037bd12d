/* Option handling the subcommands of `weft` share (cmd.h). */
#include "cmd.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int weft_cmd_version(void)
{
    printf("weft %s\n", WEFT_TOOL_VERSION);
    return 0;
}

int weft_cmd_usage_error(const char *cmd, const char *what, const char *usage)
{
    fprintf(stderr, "weft%s%s: %s\n%s", cmd ? " " : "", cmd ? cmd : "", what, usage);
    return WEFT_CMD_USAGE;
}

int weft_cmd_bad_option(const char *cmd, int c, char **argv, const struct option *opts,
                        const char *usage)
{
    /* getopt_long leaves a bad short option in optopt and moves optind past
     * a bad long one, setting optopt to its value (0 if unknown). So the
     * argument before optind names the option when it is a long one with
     * that value; otherwise optopt is a short option (argv[optind - 1] may
     * then be an earlier argument, when the bad letter starts a cluster). */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    const struct option *lo = NULL;
    size_t len = 0;
    if (!strncmp(arg, "--", 2)) {
        len = strcspn(arg + 2, "=");
        int matches = 0; /* getopt_long takes an unambiguous prefix */
        for (const struct option *o = opts; o->name; o++) {
            if (strncmp(o->name, arg + 2, len) != 0) continue;
            if (strlen(o->name) == len) {
                lo = o, matches = 1;
                break;
            }
            lo = o, matches++;
        }
        if (matches != 1) lo = NULL;
    }
    char what[256];
    if (lo && lo->val == optopt && c == ':')
        snprintf(what, sizeof what, "option --%s needs a value", lo->name);
    else if (lo && lo->val == optopt && arg[2 + len] == '=')
        snprintf(what, sizeof what, "option --%s takes no value", lo->name);
    else if (optopt > ' ' && optopt < 127)
        snprintf(what, sizeof what, c == ':' ? "option -%c needs a value" : "unknown option -%c",
                 optopt);
    else snprintf(what, sizeof what, "unknown option --%.*s", (int)(len < 100 ? len : 100), arg + 2);
    return weft_cmd_usage_error(cmd, what, usage);
}

int weft_cmd_long(const char *cmd, const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) {
        fprintf(stderr, "weft %s: %s: not a whole number: %s\n", cmd, opt, s);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "weft %s: %s: %ld is out of range (%ld to %ld)\n", cmd, opt, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int weft_cmd_double(const char *cmd, const char *opt, const char *s, double min, double max,
                    double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || isnan(v)) {
        fprintf(stderr, "weft %s: %s: not a number: %s\n", cmd, opt, s);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "weft %s: %s: %g is out of range (%g to %g)\n", cmd, opt, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}
