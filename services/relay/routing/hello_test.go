package routing

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// startRelay runs one relay replica on an embedded NATS and a real
// redis-server, with two runtimes' pre-shared tokens.
func startRelay(t *testing.T) (*bus.Bus, *testenv.Redis) {
	t.Helper()
	_, b := testenv.Streams(t)
	rd := testenv.StartRedis(t)
	cfg := Config{
		Common:          config.Common{Partitions: 2, RequestTimeout: 5 * time.Second, OwnerTTL: 15 * time.Second},
		AckWait:         time.Second,
		DeliveryWait:    time.Second,
		RuntimeTokens:   []string{"tokA=rtA", "tokB=rtB"},
		RuntimeTokenTTL: time.Hour, RuntimeTokenGrace: time.Minute, EndpointOwnerGrace: 15 * time.Minute,
	}
	tel := &telemetry.Telemetry{Tracer: noop.NewTracerProvider().Tracer("test"), Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)), Registry: prometheus.NewRegistry()}
	s, err := New(cfg, b, rd.Client(t), tel)
	if err != nil {
		t.Fatal(err)
	}
	// The handlers keep Start's context: it lives as long as the test.
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return b, rd
}

func sayHello(t *testing.T, b *bus.Bus, rid, token string, eps ...string) *syv1.HelloAck {
	t.Helper()
	h := helloFor(rid, eps...)
	h.Token = token
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := b.Request(ctx, bus.SubjRelayHello(), &syv1.Envelope{Type: kind.RuntimeHello, Body: &syv1.Envelope_RuntimeHello{RuntimeHello: h}})
	if err != nil {
		t.Fatal(err)
	}
	return reply.GetHelloAck()
}

// TestHelloEndpointHijackRefused is issue 9 item 1 against a real relay:
// runtime B with its own valid token names runtime A's endpoint and is
// refused with code endpoint_owned while A is online; an admin release
// (bus.SubjRelayRelease()) lets B take it over.
func TestHelloEndpointHijackRefused(t *testing.T) {
	b, rd := startRelay(t)
	ctx := t.Context()
	if ack := sayHello(t, b, "rtA", "tokA", "ep1"); !ack.GetOk() {
		t.Fatalf("rtA hello: %v", ack)
	}
	// rtA's gateway records its socket.
	if err := rd.Client(t).Set(ctx, "sy:rt:rtA", "gw-1 gw-1-1-1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ack := sayHello(t, b, "rtB", "tokB", "ep1")
	if ack.GetOk() || ack.GetCode() != errcode.EndpointOwned {
		t.Fatalf("rtB hijack: %v (want ok:false code endpoint_owned)", ack)
	}
	if ack := sayHello(t, b, "rtB", "wrong", "ep9"); ack.GetCode() != errcode.AuthFailed || ack.GetError() != "auth_failed: invalid runtime token" {
		t.Fatalf("bad token: %v", ack)
	}

	rel := func(id string) *syv1.Envelope {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		reply, err := b.Request(rctx, bus.SubjRelayRelease(), &syv1.Envelope{Type: kind.EndpointRelease, EndpointId: id})
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}
	if r := rel("nope"); r.GetError().GetCode() != errcode.EndpointUnknown {
		t.Fatalf("release of an unknown endpoint: %v", r)
	}
	if r := rel("bad id!"); r.GetError().GetCode() != errcode.InvalidMessage {
		t.Fatalf("release with a bad id: %v", r)
	}
	if r := rel("ep1"); r.GetError() != nil || r.GetType() != kind.EndpointRelease || r.GetRuntimeId() != "rtA" {
		t.Fatalf("release: %v", r)
	}
	if ack := sayHello(t, b, "rtB", "tokB", "ep1"); !ack.GetOk() {
		t.Fatalf("rtB after the release: %v", ack)
	}
	// Now rtA is the other runtime.
	if ack := sayHello(t, b, "rtA", "tokA", "ep1"); ack.GetCode() != errcode.EndpointOwned {
		t.Fatalf("rtA after rtB took over: %v", ack)
	}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
