package amurg

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// TestDecodeAgentsRevision: the later revision's hello registers its
// "agents" and says so; its agent.config_ack is the hub's
// endpoint.config_ack.
func TestDecodeAgentsRevision(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	env, err := Decode([]byte(`{"type":"runtime.hello","ts":"2025-01-01T00:00:00Z","payload":{"runtime_id":"r1","token":"t","agents":[{"id":"a1","profile":"claude-code","name":"A","caps":{"exec_model":"interactive"}}]}}`), RoleRuntime, now)
	if err != nil {
		t.Fatal(err)
	}
	h := env.GetRuntimeHello()
	if h.GetRevision() != RevisionAgents || len(h.GetEndpoints()) != 1 || h.GetEndpoints()[0].GetId() != "a1" {
		t.Fatalf("hello: %v", h)
	}
	env, err = Decode([]byte(`{"type":"runtime.hello","payload":{"runtime_id":"r1","token":"t","endpoints":[{"id":"e1"}]}}`), RoleRuntime, now)
	if err != nil || env.GetRuntimeHello().GetRevision() != "" {
		t.Fatalf("document hello: %v %v", env, err)
	}
	if _, err := Decode([]byte(`{"type":"runtime.hello","payload":{"runtime_id":"r1","token":"t","agents":[{"id":"bad id"}]}}`), RoleRuntime, now); err == nil || err.Message != "agents[0].id must be 1-128 letters, digits, '-' or '_'" {
		t.Fatalf("bad agent id: %v", err)
	}
	env, err = Decode([]byte(`{"type":"agent.config_ack","payload":{"agent_id":"a1","ok":false,"error":"no"}}`), RoleRuntime, now)
	if err != nil {
		t.Fatal(err)
	}
	if a := env.GetEndpointConfigAck(); env.GetType() != TypeEndpointConfigAck || env.GetEndpointId() != "a1" || a.GetEndpointId() != "a1" || a.GetOk() || a.GetError() != "no" {
		t.Fatalf("ack: %v", env)
	}
	if _, err := Decode([]byte(`{"type":"agent.config_ack","payload":{"ok":true}}`), RoleRuntime, now); err == nil {
		t.Fatal("an agent.config_ack without agent_id was accepted")
	}
	if _, err := Decode([]byte(`{"type":"agent.config_ack","payload":{"agent_id":"a1","ok":true}}`), RoleClient, now); err == nil || err.Code != "unsupported_type" {
		t.Fatalf("client agent.config_ack: %v", err)
	}
}

// TestEncodeRevision: a runtime of the later revision gets agent_id and
// agent.config_update; the document's runtimes and clients get the
// document's frames.
func TestEncodeRevision(t *testing.T) {
	sec, _ := structpb.NewStruct(map[string]any{"permission_mode": "plan"})
	create := &syv1.Envelope{Type: TypeSessionCreate, SessionId: "s1", Ts: "2025-01-01T00:00:00.000Z",
		Body: &syv1.Envelope_SessionCreate{SessionCreate: &syv1.SessionCreate{SessionId: "s1", EndpointId: "a1", UserId: "u1"}}}
	update := &syv1.Envelope{Type: TypeEndpointConfigUpdate, Ts: "2025-01-01T00:00:00.000Z",
		Body: &syv1.Envelope_EndpointConfigUpdate{EndpointConfigUpdate: &syv1.EndpointConfigUpdate{EndpointId: "a1", Security: sec}}}
	for _, tc := range []struct {
		env  *syv1.Envelope
		rev  string
		want string
	}{
		{create, RevisionAgents, `{"type":"session.create","session_id":"s1","ts":"2025-01-01T00:00:00.000Z","payload":{"session_id":"s1","agent_id":"a1","user_id":"u1"}}`},
		{create, "", `{"type":"session.create","session_id":"s1","ts":"2025-01-01T00:00:00.000Z","payload":{"session_id":"s1","endpoint_id":"a1","user_id":"u1"}}`},
		{update, RevisionAgents, `{"type":"agent.config_update","ts":"2025-01-01T00:00:00.000Z","payload":{"agent_id":"a1","security":{"permission_mode":"plan"}}}`},
		{update, RevisionEndpoints, `{"type":"endpoint.config_update","ts":"2025-01-01T00:00:00.000Z","payload":{"endpoint_id":"a1","security":{"permission_mode":"plan"}}}`},
	} {
		b, err := EncodeRevision(tc.env, RoleRuntime, tc.rev)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s in %q:\n got %s %v\nwant %s", tc.env.GetType(), tc.rev, b, err, tc.want)
		}
	}
	ack := &syv1.Envelope{Type: TypeHelloAck, Body: &syv1.Envelope_HelloAck{HelloAck: &syv1.HelloAck{Ok: true, Warnings: []string{"w"}}}}
	if b, _ := EncodeRevision(ack, RoleRuntime, RevisionAgents); string(b) != `{"type":"hello.ack","payload":{"ok":true,"warnings":["w"]}}` {
		t.Errorf("hello.ack: %s", b)
	}
}
