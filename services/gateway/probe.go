package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// probe opens a WebSocket, sends {"type":"ping"} and waits for a pong
// frame: the Helm test hook's round trip through the gateway Service.
func probe(args []string) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	url := fs.String("url", "ws://127.0.0.1:8080/ws/client", "WebSocket URL (with ?token= for /ws/client)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of the round trip")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := roundTrip(*url, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	fmt.Println("probe: pong received")
	return 0
}

func roundTrip(url string, timeout time.Duration) error {
	d := websocket.Dialer{HandshakeTimeout: timeout}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return fmt.Errorf("dial %s: %w", url, err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		return fmt.Errorf("send ping: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		var f struct {
			Type    string `json:"type"`
			Payload struct {
				Code string `json:"code"`
			} `json:"payload"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "pong":
			return nil
		case "error":
			return fmt.Errorf("hub answered error %s", f.Payload.Code)
		}
	}
}
