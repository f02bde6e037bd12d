// N2 HTTP server peer: Go net/http (run with GOMAXPROCS=1).
// usage: http_go PORT
package main

import (
	"net/http"
	"os"
)

func main() {
	hello := []byte("Hello, World!")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		panic(err)
	}
}
