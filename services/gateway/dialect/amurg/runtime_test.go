package amurg

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// TestHelloCloseReasonFollowsTheCode: a refused hello closes by its
// HelloAck.code — unavailable is 1013 (retry later), any other code 1008
// whatever the text says; only a reply without a code (an older relay) is
// read by the text's prefix.
func TestHelloCloseReasonFollowsTheCode(t *testing.T) {
	for _, tc := range []struct {
		code, text string
		want       edge.CloseReason
	}{
		{errcode.Unavailable, "the relay cannot reach Redis", edge.ReasonUnavailable},
		{errcode.AuthFailed, "unavailable-looking text: unknown token", edge.ReasonAuthFailed},
		{"endpoint_owned", "unavailable: endpoint ep1 belongs to another runtime", edge.ReasonAuthFailed},
		{"", "unavailable: older relay", edge.ReasonUnavailable},
		{"", "unknown token", edge.ReasonAuthFailed},
	} {
		got := helloCloseReason(&syv1.HelloAck{Code: tc.code, Error: tc.text})
		if got != tc.want {
			t.Errorf("code %q text %q: %s, want %s", tc.code, tc.text, got, tc.want)
		} else if got.Code() != map[edge.CloseReason]int{edge.ReasonUnavailable: 1013, edge.ReasonAuthFailed: 1008}[tc.want] {
			t.Errorf("%s closes with %d", got, got.Code())
		}
	}
}

// TestHelloWaitsOffTheReadLoop: while the relay has not answered a
// runtime.hello, the socket still reads: a ping is answered before the
// hello.ack.
func TestHelloWaitsOffTheReadLoop(t *testing.T) {
	s, b := startCore(t, nil)
	// The test is the relay, and holds its answer.
	hellos := make(chan *nats.Msg, 1)
	sub, err := b.NC.QueueSubscribe(bus.SubjRelayHello(), bus.QueueRelay, func(m *nats.Msg) { hellos <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+PathRuntime, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	hello := `{"type":"runtime.hello","payload":{"runtime_id":"r1","token":"t","endpoints":[{"id":"ep1"}]}}`
	for _, f := range []string{hello, `{"type":"ping"}`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	var held *nats.Msg
	select {
	case held = <-hellos:
	case <-time.After(10 * time.Second):
		t.Fatal("the hello never reached the relay")
	}
	if typ := frameType(t, c); typ != "pong" {
		t.Fatalf("first frame while the hello waits: %s, want pong", typ)
	}
	ack := &syv1.Envelope{Type: codec.TypeHelloAck, Body: &syv1.Envelope_HelloAck{HelloAck: &syv1.HelloAck{Ok: false, Code: errcode.AuthFailed, Error: "unknown token"}}}
	if err := b.Reply(t.Context(), held, ack); err != nil {
		t.Fatal(err)
	}
	if typ := frameType(t, c); typ != "hello.ack" {
		t.Fatalf("after the relay answered: %s, want hello.ack", typ)
	}
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1008 {
		t.Fatalf("after a refused hello: %v, want close 1008", err)
	}
}

func frameType(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f.Type
}
