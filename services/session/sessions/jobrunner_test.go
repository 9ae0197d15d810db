package sessions

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/session/jobs"
)

// A job's turn, read from its transcript: output counts only after the
// prompt, the turn ends on turn.completed (a failure when the outcome says
// is_error) and fails on runtime offline, a closed session or a stop.
func TestJobTurnEvents(t *testing.T) {
	prompt := &syv1.Envelope{Type: kind.UserMessage, Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{MessageId: "m1"}}}
	other := &syv1.Envelope{Type: kind.UserMessage, Body: &syv1.Envelope_UserMessage{UserMessage: &syv1.UserMessage{MessageId: "m0"}}}
	out := func(s string) *syv1.Envelope {
		return &syv1.Envelope{Type: kind.AgentOutput, Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{Content: s}}}
	}
	done := func(o *syv1.TurnOutcome) *syv1.Envelope {
		return &syv1.Envelope{Type: kind.TurnCompleted, Body: &syv1.Envelope_TurnCompleted{TurnCompleted: &syv1.TurnCompleted{Outcome: o}}}
	}
	offline := &syv1.Envelope{Type: kind.RuntimeStatus, Body: &syv1.Envelope_RuntimeStatus{RuntimeStatus: &syv1.RuntimeStatus{Online: false}}}
	closed := &syv1.Envelope{Type: kind.SessionClosed, Body: &syv1.Envelope_SessionClose{SessionClose: &syv1.SessionClose{Reason: "idle"}}}
	stopped := &syv1.Envelope{Type: kind.StopAck, Body: &syv1.Envelope_StopAck{StopAck: &syv1.StopAck{Ok: true}}}
	for _, c := range []struct {
		name   string
		events []*syv1.Envelope
		ended  bool
		text   string
		code   string
	}{
		{"completed", []*syv1.Envelope{out("early "), other, done(nil), prompt, out("a"), out("b"), done(nil)}, true, "ab", ""},
		{"running", []*syv1.Envelope{prompt, out("a")}, false, "a", ""},
		{"turn error", []*syv1.Envelope{prompt, out("a"), done(&syv1.TurnOutcome{IsError: true, Errors: []string{"boom"}})}, true, "a", errcode.RuntimeError},
		{"offline", []*syv1.Envelope{prompt, offline}, true, "", errcode.RuntimeOffline},
		{"offline before the prompt", []*syv1.Envelope{offline}, true, "", errcode.RuntimeOffline},
		{"closed", []*syv1.Envelope{prompt, closed}, true, "", errcode.RuntimeError},
		{"stopped", []*syv1.Envelope{prompt, stopped}, true, "", errcode.RuntimeError},
	} {
		t.Run(c.name, func(t *testing.T) {
			var text strings.Builder
			started, ended := false, false
			var err error
			for _, env := range c.events {
				if ended, err = turnEvent(env, "m1", &started, &text); ended || err != nil {
					break
				}
			}
			var coded jobs.Coded
			code := ""
			if errors.As(err, &coded) {
				code = coded.Code()
			}
			if ended != c.ended || text.String() != c.text || code != c.code || (err != nil) != (c.code != "") {
				t.Fatalf("ended %v text %q err %v; want ended %v text %q code %q", ended, text.String(), err, c.ended, c.text, c.code)
			}
		})
	}
}

// A session that cannot be created fails the run with the code the
// notification documents: no endpoint or no runtime is runtime_offline.
func TestJobCreateErrors(t *testing.T) {
	for in, want := range map[string]string{
		errcode.EndpointUnknown: errcode.RuntimeOffline, errcode.RuntimeOffline: errcode.RuntimeOffline,
		errcode.RuntimeTimeout: errcode.RuntimeTimeout, errcode.Unavailable: errcode.Unavailable, "": errcode.RuntimeError,
	} {
		var coded jobs.Coded
		if err := createError("ep-1", &syv1.Error{Code: in, Message: "x"}); !errors.As(err, &coded) || coded.Code() != want || !strings.Contains(err.Error(), "ep-1") {
			t.Errorf("create error %q: %v, want code %s", in, err, want)
		}
	}
}
