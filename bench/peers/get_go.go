// N3 HTTP client peer: Go net/http, C goroutines sharing N GETs over one
// keep-alive pool (run with GOMAXPROCS=1). Prints ok=N bytes=B.
// usage: get_go URL N C
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	c, _ := strconv.Atoi(os.Args[3])
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	client := &http.Client{Transport: tr}
	var next, ok, nbytes int64
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(n) {
				resp, err := client.Get(url)
				if err != nil {
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					atomic.AddInt64(&ok, 1)
					atomic.AddInt64(&nbytes, int64(len(b)))
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("ok=%d bytes=%d\n", ok, nbytes)
	if ok != int64(n) {
		os.Exit(1)
	}
}
