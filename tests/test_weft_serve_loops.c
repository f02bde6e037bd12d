/* `weft serve --loops N`: a server per loop on one port (SO_REUSEPORT),
 * says how many loops it uses, answers on every connection, and stops
 * cleanly on SIGTERM (each loop's server closed). */
#define _GNU_SOURCE
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int get_hello(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    buf[got] = 0;
    close(fd);
    return strstr(buf, "200") && strstr(buf, "Hello, World!");
}

int main(void)
{
    char bin[512];
    const char *b = getenv("WEFT_BUILD_DIR");
    snprintf(bin, sizeof bin, "%s/tools/weft/weft", b ? b : "build");
    int err[2];
    CHECK(pipe(err) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        execl(bin, bin, "serve", "--port", "0", "--loops", "2", (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    FILE *f = fdopen(err[0], "r");
    char line[256];
    CHECK(fgets(line, sizeof line, f) != NULL);
    int port = 0, loops = 0;
    CHECK(sscanf(line, "serving hello on http://127.0.0.1:%d/ with %d loops", &port, &loops) == 2);
    CHECK_EQ(loops, 2);
    for (int i = 0; i < 40; i++) CHECK(get_hello(port));
    CHECK(kill(pid, SIGTERM) == 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(strstr(line, "shutting down") != NULL);
    fclose(f);
    return 0;
}
