/* N3 HTTP client peer: libcurl multi, C easy handles reused over one
 * multi handle (its connection cache keeps the connections alive).
 * Prints ok=N bytes=B. usage: get_curl URL N C */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

static long nbytes;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  nbytes += sz * nm;
  return sz * nm;
}

int main(int argc, char **argv) {
  const char *url = argv[1];
  int n = atoi(argv[2]), c = atoi(argv[3]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)c);
  int started = 0, ok = 0, finished = 0;
  for (int i = 0; i < c && started < n; i++, started++) {
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_multi_add_handle(m, e);
  }
  while (finished < n) {
    int running;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL *e = msg->easy_handle;
      long code = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      if (msg->data.result == CURLE_OK && code == 200) ok++;
      finished++;
      curl_multi_remove_handle(m, e);
      if (started < n) {
        started++;
        curl_multi_add_handle(m, e); /* same easy handle: reuses its settings */
      } else {
        curl_easy_cleanup(e);
      }
    }
    if (finished < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  printf("ok=%d bytes=%ld\n", ok, nbytes);
  curl_multi_cleanup(m);
  curl_global_cleanup();
  return ok == n ? 0 : 1;
}
