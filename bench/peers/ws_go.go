// W1 WebSocket echo server peer: Go's net/http with gorilla/websocket
// (Debian's golang-github-gorilla-websocket-dev, built with GOPATH
// /usr/share/gocode), no compression. usage: ws_go PORT
package main

import (
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

var up = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096,
	CheckOrigin: func(r *http.Request) bool { return true }}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		t, m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if c.WriteMessage(t, m) != nil {
			return
		}
	}
}

func main() {
	http.HandleFunc("/ws", echo)
	http.ListenAndServe("127.0.0.1:"+os.Args[1], nil)
}
