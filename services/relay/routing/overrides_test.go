package routing

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func upd(n float64) *syv1.EndpointConfigUpdate {
	l, _ := structpb.NewStruct(map[string]any{"max_turns": n})
	return &syv1.EndpointConfigUpdate{EndpointId: "e1", Limits: l}
}

// TestApplyAck: accepted → in force; refused → recorded, the accepted one
// stays (or, refused on a re-send, is dropped); a stale ack changes nothing.
func TestApplyAck(t *testing.T) {
	a, b := upd(1), upd(2)
	rec := &syv1.EndpointRecord{Override: a, PendingOverride: b}
	applyAck(rec, b, &syv1.EndpointConfigAck{Ok: false, Error: "no"}, "t1")
	if rec.GetPendingOverride() != nil || rec.GetOverride() != a || rec.GetRefusedOverride() != b || rec.GetRefusedError() != "no" || rec.GetRefusedAt() != "t1" {
		t.Fatalf("pending refused: %v", rec)
	}
	applyAck(rec, upd(3), &syv1.EndpointConfigAck{Ok: false}, "t2")
	if rec.GetOverride() != a || rec.GetRefusedAt() != "t1" {
		t.Fatalf("an ack for an override the record does not hold changed it: %v", rec)
	}
	rec.PendingOverride = b
	applyAck(rec, b, &syv1.EndpointConfigAck{Ok: true}, "t3")
	if rec.GetOverride() != b || rec.GetPendingOverride() != nil || rec.GetRefusedOverride() != nil {
		t.Fatalf("accepted after a refusal: %v", rec)
	}
	applyAck(rec, b, &syv1.EndpointConfigAck{Ok: false}, "t4")
	if rec.GetOverride() != nil || rec.GetRefusedOverride() != b || rec.GetRefusedError() == "" {
		t.Fatalf("the accepted override refused on a re-send: %v", rec)
	}
}
