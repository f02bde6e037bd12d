/* The `weft` command's options (tools/weft, getopt_long): --help and -h on
 * stdout with exit 0, --version and -V for the command and each subcommand,
 * and every kind of bad usage (unknown command or option, a missing or
 * unwanted value, a value that is not a number or out of range, extra or
 * missing arguments) named in one line on stderr, then the usage, exit 2,
 * nothing on stdout. Option spellings that scripts use keep working. */
#include <weft/test.h>
#include "weft_cmd.h"

static char out[1 << 16], err[1 << 16];

/* Runs weft with the arguments given; the exit status. */
static int run_args(const char *const *args)
{
    char *argv[16] = {weft_bin};
    for (int i = 0; args[i] && i < 14; i++) argv[i + 1] = (char *)args[i];
    return run_weft(argv, NULL, 0, out, sizeof out, err, sizeof err);
}
#define RUN(...) run_args((const char *const[]){__VA_ARGS__, NULL})

static const char *subs[] = {"fetch", "serve", "ws"};

/* Bad usage: exit 2, nothing on stdout, stderr is the line want then the
 * usage starting on the next line. */
static int bad_usage(const char *want)
{
    if (out[0]) fprintf(stderr, "stdout not empty: %s\n", out);
    if (strncmp(err, want, strlen(want)) != 0 || err[strlen(want)] != '\n' ||
        strncmp(err + strlen(want) + 1, "usage: weft", 11) != 0) {
        fprintf(stderr, "want \"%s\\nusage: weft...\", got:\n%s", want, err);
        return 0;
    }
    return !out[0];
}

WEFT_TEST(version)
{
    char want[64];
    snprintf(want, sizeof want, "weft %s\n", WEFT_PROJECT_VERSION);
    const char *spell[] = {"--version", "-V"};
    for (int i = 0; i < 2; i++) {
        WEFT_TEST_CHECK(RUN(spell[i]) == 0);
        WEFT_TEST_CHECK(!strcmp(out, want) && !err[0]);
        for (int k = 0; k < 3; k++) {
            WEFT_TEST_CHECK(RUN(subs[k], spell[i]) == 0);
            WEFT_TEST_CHECK(!strcmp(out, want) && !err[0]);
        }
    }
    /* after other options too: --version wins over what is missing */
    WEFT_TEST_CHECK(RUN("ws", "-k", "--version") == 0 && !strcmp(out, want));
    return 0;
}

WEFT_TEST(help)
{
    const char *spell[] = {"--help", "-h"};
    for (int i = 0; i < 2; i++) {
        WEFT_TEST_CHECK(RUN(spell[i]) == 0 && !err[0]);
        WEFT_TEST_CHECK(!strncmp(out, "usage: weft [-h|--help] [-V|--version] COMMAND", 46));
        for (int k = 0; k < 3; k++) { /* the top help lists every subcommand's usage */
            char u[64];
            snprintf(u, sizeof u, "\nusage: weft %s ", subs[k]);
            WEFT_TEST_CHECK(strstr(out, u));
        }
        for (int k = 0; k < 3; k++) {
            WEFT_TEST_CHECK(RUN(subs[k], spell[i]) == 0 && !err[0]);
            char u[64];
            snprintf(u, sizeof u, "usage: weft %s ", subs[k]);
            WEFT_TEST_CHECK(!strncmp(out, u, strlen(u)));
            WEFT_TEST_CHECK(strstr(out, "-h, --help") && strstr(out, "-V, --version"));
        }
    }
    /* each option a subcommand takes is in its help */
    WEFT_TEST_CHECK(RUN("fetch", "--help") == 0);
    WEFT_TEST_CHECK(strstr(out, "--verbose") && strstr(out, "--concurrency") && strstr(out, "--output") &&
                    strstr(out, "--timeout") && strstr(out, "--input"));
    WEFT_TEST_CHECK(RUN("serve", "--help") == 0);
    WEFT_TEST_CHECK(strstr(out, "--port") && strstr(out, "--host") && strstr(out, "--delay") &&
                    strstr(out, "--log") && strstr(out, "--dotfiles") && strstr(out, "--loops"));
    WEFT_TEST_CHECK(RUN("ws", "--help") == 0);
    WEFT_TEST_CHECK(strstr(out, "--binary") && strstr(out, "--insecure") && strstr(out, "-n N") &&
                    strstr(out, "--concurrency") && strstr(out, "--size"));
    return 0;
}

WEFT_TEST(bad_command)
{
    WEFT_TEST_CHECK(RUN("") == 2 && bad_usage("weft: unknown command ''"));
    WEFT_TEST_CHECK(RUN("bogus") == 2 && bad_usage("weft: unknown command 'bogus'"));
    WEFT_TEST_CHECK(RUN("--nope") == 2 && bad_usage("weft: unknown option --nope"));
    WEFT_TEST_CHECK(RUN("-x", "fetch") == 2 && bad_usage("weft: unknown option -x"));
    WEFT_TEST_CHECK(RUN("--version=2") == 2 && bad_usage("weft: option --version takes no value"));
    char *none[] = {weft_bin, NULL};
    WEFT_TEST_CHECK(run_weft(none, NULL, 0, out, sizeof out, err, sizeof err) == 2);
    WEFT_TEST_CHECK(bad_usage("weft: no command given"));
    return 0;
}

WEFT_TEST(bad_options)
{
    /* the case: an option weft does not know, then the usage on its own line */
    WEFT_TEST_CHECK(RUN("fetch", "--nope", "http://x/") == 2);
    WEFT_TEST_CHECK(bad_usage("weft fetch: unknown option --nope"));
    WEFT_TEST_CHECK(RUN("fetch", "-c") == 2 && bad_usage("weft fetch: option -c needs a value"));
    WEFT_TEST_CHECK(RUN("fetch", "--timeout") == 2);
    WEFT_TEST_CHECK(bad_usage("weft fetch: option --timeout needs a value"));
    /* a unique prefix is the option (getopt_long), and is named in full */
    WEFT_TEST_CHECK(RUN("fetch", "--conc") == 2);
    WEFT_TEST_CHECK(bad_usage("weft fetch: option --concurrency needs a value"));
    WEFT_TEST_CHECK(RUN("fetch") == 2 && bad_usage("weft fetch: no URL given"));
    WEFT_TEST_CHECK(RUN("serve", "--log=yes") == 2);
    WEFT_TEST_CHECK(bad_usage("weft serve: option --log takes no value"));
    WEFT_TEST_CHECK(RUN("serve", "--lo", "1") == 2); /* --log or --loops */
    WEFT_TEST_CHECK(bad_usage("weft serve: unknown option --lo"));
    WEFT_TEST_CHECK(RUN("serve", "a", "b") == 2);
    WEFT_TEST_CHECK(bad_usage("weft serve: one directory only (b is extra)"));
    WEFT_TEST_CHECK(RUN("ws", "-kx", "ws://x/") == 2 && bad_usage("weft ws: unknown option -x"));
    WEFT_TEST_CHECK(RUN("ws") == 2 && bad_usage("weft ws: no URL given"));
    WEFT_TEST_CHECK(RUN("ws", "ws://a/", "ws://b/") == 2);
    WEFT_TEST_CHECK(bad_usage("weft ws: one URL only (ws://b/ is extra)"));
    WEFT_TEST_CHECK(RUN("ws", "--concurrency", "3", "ws://a/") == 2);
    WEFT_TEST_CHECK(bad_usage("weft ws: --concurrency needs -n (load mode)"));
    return 0;
}

/* Values: a number that is not one, or out of range, is refused by name
 * (atoi took "x" as 0 and "5x" as 5); nothing runs. */
WEFT_TEST(bad_values)
{
    struct { const char *argv[4]; const char *want; } cases[] = {
        {{"fetch", "-c", "x", "http://127.0.0.1:1/"}, "weft fetch: -c: not a whole number: x\n"},
        {{"fetch", "-c", "0", "http://127.0.0.1:1/"}, "weft fetch: -c: 0 is out of range (1 to 100000)\n"},
        {{"fetch", "--timeout", "soon", "http://127.0.0.1:1/"}, "weft fetch: --timeout: not a number: soon\n"},
        {{"fetch", "--timeout=nan", "http://127.0.0.1:1/"}, "weft fetch: --timeout: not a number: nan\n"},
        {{"serve", "--port", "99999"}, "weft serve: --port: 99999 is out of range (0 to 65535)\n"},
        {{"serve", "-p", "80x"}, "weft serve: --port: not a whole number: 80x\n"},
        {{"serve", "--loops", "-1"}, "weft serve: --loops: -1 is out of range (0 to 1024)\n"},
        {{"serve", "--delay", "-1"}, "weft serve: --delay: -1 is out of range (0 to 86400)\n"},
        {{"ws", "-n", "5x", "ws://a/"}, "weft ws: -n: not a whole number: 5x\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char **a = cases[i].argv;
        WEFT_TEST_CHECK(RUN(a[0], a[1], a[2], a[3]) == 2);
        if (strcmp(err, cases[i].want) != 0 || out[0]) {
            fprintf(stderr, "%s %s %s: want \"%s\", got \"%s\"\n", a[0], a[1], a[2], cases[i].want, err);
            return -1;
        }
    }
    WEFT_TEST_CHECK(RUN("ws", "-n", "2", "--size", "-4", "ws://a/") == 2);
    WEFT_TEST_CHECK(!strcmp(err, "weft ws: --size: -4 is out of range (0 to 1073741824)\n"));
    return 0;
}

/* The spellings that worked before getopt_long still do, and options may
 * follow the arguments: `fetch URL -c 2` against a closed port fails the
 * fetch (exit 1), not the parsing (2), and -i lists and URLs keep their
 * order. */
WEFT_TEST(spellings)
{
    char url[] = "http://127.0.0.1:1/a";
    WEFT_TEST_CHECK(RUN("fetch", url, "-c", "2") == 1);
    WEFT_TEST_CHECK(strstr(out, "ERR 0 ") && strstr(err, "1 URLs: 0 ok, 1 failed"));
    WEFT_TEST_CHECK(RUN("fetch", "--concurrency=2", "--timeout=1", url) == 1);
    char list[] = "/tmp/weft_cli_XXXXXX";
    int fd = mkstemp(list);
    WEFT_TEST_CHECK(fd >= 0);
    WEFT_TEST_CHECK(write(fd, "http://127.0.0.1:1/b\n", 21) == 21);
    close(fd);
    WEFT_TEST_CHECK(RUN("fetch", "-c", "1", url, "-i", list, "http://127.0.0.1:1/c") == 1);
    unlink(list);
    char *a = strstr(out, "/a"), *b = strstr(out, "/b"), *c = strstr(out, "/c");
    WEFT_TEST_CHECK(a && b && c && a < b && b < c);
    WEFT_TEST_CHECK(RUN("ws", "--insecure", "-n", "1", "-c", "1", "ws://127.0.0.1:1/") == 1);
    WEFT_TEST_CHECK(strstr(err, "connection(s) failed"));
    return 0;
}

static int setup(void)
{
    return find_weft();
}

int main(int argc, char **argv)
{
    if (setup() < 0) return 1;
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(version), WEFT_TEST_CASE(help), WEFT_TEST_CASE(bad_command),
        WEFT_TEST_CASE(bad_options), WEFT_TEST_CASE(bad_values), WEFT_TEST_CASE(spellings)};
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
