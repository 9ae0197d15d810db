package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// sockDialer opens WebSockets from a rotating set of loopback source
// addresses: each source address has its own ~28k ephemeral ports.
type sockDialer struct {
	src     []net.IP
	rbuf    int
	wbuf    int
	timeout time.Duration
	dialers []*websocket.Dialer
}

func newSockDialer(src []net.IP, rbuf, wbuf int) *sockDialer {
	d := &sockDialer{src: src, rbuf: rbuf, wbuf: wbuf, timeout: 15 * time.Second}
	for _, ip := range src {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: d.timeout, KeepAlive: -1}
		d.dialers = append(d.dialers, &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: d.timeout,
			ReadBufferSize:   rbuf,
			WriteBufferSize:  wbuf,
		})
	}
	return d
}

// dial opens socket number i (which picks the source address).
func (d *sockDialer) dial(ctx context.Context, u string, i int) (*websocket.Conn, error) {
	c, resp, err := d.dialers[i%len(d.dialers)].DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return c, err
}

// wsURL turns a gateway base URL into a WebSocket URL of path.
func wsURL(base, path string, query url.Values) string {
	u := "ws" + strings.TrimPrefix(base, "http") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// inFrame is the part of a hub frame the load generator looks at.
type inFrame struct {
	Type      string          `json:"type"`
	SessionID string          `json:"session_id"`
	Seq       int64           `json:"seq"`
	Payload   json.RawMessage `json:"payload"`
}

// outFrame is a frame the load generator sends.
type outFrame struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id,omitempty"`
	Payload   any    `json:"payload,omitempty"`
}

func writeJSON(c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.WriteMessage(websocket.TextMessage, b)
}

var (
	prefixAgentOutput = []byte(`{"type":"agent.output"`)
	keySeq            = []byte(`"seq":`)
	keyContent        = []byte(`"content":"`)
)

// parseOutput reads the hub seq and the timestamps a runtime embedded in
// the content of an agent.output frame, without a full JSON decode (the
// gateway's encoder writes type, id, session_id, seq, ts, payload in that
// order; content starts with "<scheduled ns> <written ns> ").
func parseOutput(b []byte) (seq, sched, written int64, ok bool) {
	if !bytes.HasPrefix(b, prefixAgentOutput) {
		return 0, 0, 0, false
	}
	i := bytes.Index(b, keySeq)
	if i < 0 {
		return 0, 0, 0, false
	}
	seq, _ = leadingInt(b[i+len(keySeq):])
	j := bytes.Index(b, keyContent)
	if j < 0 {
		return seq, 0, 0, false
	}
	rest := b[j+len(keyContent):]
	sched, n := leadingInt(rest)
	if n == 0 {
		return seq, 0, 0, false
	}
	if n < len(rest) && rest[n] == ' ' {
		written, _ = leadingInt(rest[n+1:])
	}
	return seq, sched, written, true
}

func leadingInt(b []byte) (int64, int) {
	var v int64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, n
}

// content builds size bytes of agent.output content that start with the
// scheduled and written times.
func appendContent(dst []byte, sched, written int64, size int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, sched, 10)
	if size-(len(dst)-start) >= 21 {
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, written, 10)
		dst = append(dst, ' ')
	}
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// readFrame reads the next JSON frame of conn, skipping frames that are
// not JSON objects.
func readFrame(conn *websocket.Conn) (inFrame, error) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return inFrame{}, err
		}
		var f inFrame
		if json.Unmarshal(data, &f) == nil {
			return f, nil
		}
	}
}
