/* weft: the command that shows what the library does.
 *   weft fetch [-c N] [-o DIR] [--timeout S] URL... | -i FILE
 *   weft serve [--port P] [--host H] [--delay S] [--log] [--dotfiles] [--loops N] [DIR]
 *   weft ws [--binary] [-k] URL | weft ws -n N --concurrency C [--size B] URL */
#include "cmd.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  weft fetch [-c N] [-o DIR] [--timeout S] URL... | -i FILE\n"
               "      fetch URLs concurrently (at most N at once, default 10)\n"
               "  weft serve [--port P] [--host H] [--delay S] [--log] [--dotfiles] [--loops N] [DIR]\n"
               "      serve DIR, or a hello endpoint; --delay adds latency per request;\n"
               "      listens on 127.0.0.1 unless --host (0.0.0.0: every interface);\n"
               "      paths with a segment starting with '.' get 404 unless --dotfiles;\n"
               "      WebSocket upgrades at /ws get an echo;\n"
               "      --loops N: loops (threads) serving, default one per core\n"
               "  weft ws [--binary] [-k] URL\n"
               "      WebSocket client: stdin lines out as text messages, messages\n"
               "      received printed; --binary sends stdin as one binary message\n"
               "  weft ws -n N --concurrency C [--size B] URL\n"
               "      load: C connections send N messages of B bytes each, echoed\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "fetch")) return weft_cmd_fetch(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "serve")) return weft_cmd_serve(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "ws")) return weft_cmd_ws(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
