/* Debug mode reports an HTTP client session or server never closed, naming
 * where it was made. */
#include "capture.h"
#include <weft/http.h>

static weft_http_client *leaked_c;
static weft_http_server *leaked_s;

static int leak_both(void *arg)
{
    leaked_c = weft_http_client_new(NULL);
    leaked_s = weft_http_server_new(NULL);
    return 0;
}

static int close_leaked(void *arg)
{
    weft_http_client_close(leaked_c);
    return weft_http_server_close(leaked_s, 0);
}

static int close_both(void *arg)
{
    weft_http_client_close(weft_http_client_new(NULL));
    weft_http_server_close(weft_http_server_new(NULL), 0);
    return 0;
}

static void t_unclosed(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    weft_run_with(&o, leak_both, NULL);
    char *txt = capture_end();
    CHECK(strstr(txt, "http client session"));
    CHECK(strstr(txt, "http server"));
    CHECK(strstr(txt, "leak_both"));
    free(txt);
    weft_run(close_leaked, NULL);
    capture_begin();
    weft_run_with(&o, close_both, NULL);
    txt = capture_end();
    CHECK(!strstr(txt, "http client session") && !strstr(txt, "http server"));
    free(txt);
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"unclosed", t_unclosed}, {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
