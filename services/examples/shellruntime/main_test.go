package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/services/examples/internal/fakehub"
	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
	"github.com/switchyard-hub/switchyard/services/examples/internal/hubconn"
)

const sid = "sess-1"

// stopped reports the end of Run: done closes once err is set.
type stopped struct {
	done chan struct{}
	err  error
}

// startRuntime runs a runtime against hub until the test ends.
func startRuntime(t *testing.T, hub *fakehub.Hub) (*runtime, *stopped) {
	t.Helper()
	cfg := config{hubURL: hub.URL, token: "tok-1", runtimeID: "rt-test", endpointID: "shell", shell: "/bin/sh", timeout: 10 * time.Second}
	r := newRuntime(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.backoff = hubconn.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	res := &stopped{done: make(chan struct{})}
	go func() {
		defer close(res.done)
		res.err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-res.done:
		case <-time.After(fakehub.Timeout):
			t.Error("runtime did not stop")
		}
	})
	return r, res
}

// accept takes the runtime's connection and acknowledges its hello.
func accept(t *testing.T, hub *fakehub.Hub) (*fakehub.Conn, helloPayload) {
	t.Helper()
	c := hub.Accept(t)
	hello := c.Expect(t, "runtime.hello")
	if hello.ID != "" || hello.SessionID != "" || hello.Ts == "" {
		t.Errorf("hello envelope: id %q session %q ts %q", hello.ID, hello.SessionID, hello.Ts)
	}
	c.Send(t, "hello.ack", "", 0, map[string]any{"ok": true})
	return c, fakehub.Decode[helloPayload](t, hello)
}

func createSession(t *testing.T, c *fakehub.Conn, id string) {
	t.Helper()
	c.Send(t, "session.create", id, 0, map[string]any{"session_id": id, "endpoint_id": "shell", "user_id": "u1"})
	f := c.Expect(t, "session.created")
	got := fakehub.Decode[sessionCreated](t, f)
	if f.SessionID != id || got != (sessionCreated{SessionID: id, OK: true}) {
		t.Fatalf("session.created = %s %+v", f.SessionID, got)
	}
}

func sendMessage(t *testing.T, c *fakehub.Conn, id, msgID, content string) {
	t.Helper()
	c.Send(t, "user.message", id, 0, map[string]any{"session_id": id, "message_id": msgID, "content": content})
}

func TestHelloPayload(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	startRuntime(t, hub)
	_, hello := accept(t, hub)
	if hello.RuntimeID != "rt-test" || hello.Token != "tok-1" || hello.OrgID != "default" || len(hello.Endpoints) != 1 {
		t.Fatalf("hello = %+v", hello)
	}
	ep := hello.Endpoints[0]
	wantCaps := caps{TurnCompletion: true, ExecModel: "run-to-completion"}
	if ep.ID != "shell" || ep.Profile != "shell" || ep.Name == "" || ep.Caps != wantCaps ||
		ep.Security.PermissionMode != "auto" || strings.Join(ep.Security.AllowedTools, ",") != "Bash" {
		t.Fatalf("endpoint = %+v", ep)
	}
}

func TestTurnStreamsOutputAndExitCode(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	startRuntime(t, hub)
	c, _ := accept(t, hub)
	createSession(t, c, sid)
	sendMessage(t, c, sid, "m1", "echo hi; echo err >&2; exit 3")

	frames := c.Until(t, "turn.completed")
	if frames[0].Type != "turn.started" || fakehub.Decode[turnStarted](t, frames[0]).InResponseTo != "m1" {
		t.Fatalf("first frame = %s %s", frames[0].Type, frames[0].Payload)
	}
	tools, rest := splitTools(t, frames[1:len(frames)-1])
	if len(tools) != 2 || tools[0].Type != "agent.tool_use" || tools[1].Type != "agent.tool_result" {
		t.Fatalf("tool frames = %+v, want one Bash tool_use and its tool_result", tools)
	}
	use, res := fakehub.Decode[toolUse](t, tools[0]), fakehub.Decode[toolResult](t, tools[1])
	if use.Name != "Bash" || use.Input["command"] != "echo hi; echo err >&2; exit 3" || use.ID == "" ||
		res.ToolUseID != use.ID || res.Content != "exit code 3" || !res.IsError {
		t.Errorf("tool_use %+v, tool_result %+v", use, res)
	}
	outputs := checkOutputs(t, rest, 1)
	byChannel := map[string]string{}
	for _, o := range outputs[:len(outputs)-1] {
		byChannel[o.Channel] += o.Content
	}
	if byChannel["stdout"] != "hi\n" || byChannel["stderr"] != "err\n" || len(byChannel) != 2 {
		t.Errorf("output by channel = %q", byChannel)
	}
	if last := outputs[len(outputs)-1]; !last.Final || last.Channel != "system" || last.Content != "" {
		t.Errorf("last output = %+v, want the final system marker", last)
	}
	done := fakehub.Decode[turnCompleted](t, frames[len(frames)-1])
	if done.SessionID != sid || done.InResponseTo != "m1" || done.ExitCode != 3 || done.Usage == nil ||
		*done.Usage != (usage{NumTurns: 1, InputTokens: int64(len("echo hi; echo err >&2; exit 3")), OutputTokens: int64(len("hi\nerr\n"))}) {
		t.Errorf("turn.completed = %+v usage %+v", done, done.Usage)
	}

	// seq continues across turns.
	sendMessage(t, c, sid, "m2", "true")
	frames = c.Until(t, "turn.completed")
	_, rest = splitTools(t, frames[1:len(frames)-1])
	checkOutputs(t, rest, outputs[len(outputs)-1].Seq+1)
}

// splitTools separates the Bash tool frames from the agent.output ones.
func splitTools(t *testing.T, frames []frame.Frame) (tools, rest []frame.Frame) {
	t.Helper()
	for _, f := range frames {
		if strings.HasPrefix(f.Type, "agent.tool_") {
			tools = append(tools, f)
		} else {
			rest = append(rest, f)
		}
	}
	return tools, rest
}

func TestFollowupRunsInTheRunningTurn(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	startRuntime(t, hub)
	c, _ := accept(t, hub)
	createSession(t, c, sid)
	sendMessage(t, c, sid, "m1", "sleep 1; echo first") // runs well past the follow-up's arrival
	c.Expect(t, "turn.started")
	c.Expect(t, "agent.tool_use")
	c.Send(t, "user.message", sid, 0, map[string]any{"session_id": sid, "message_id": "m2", "content": "echo second", "followup": true})
	frames := c.Until(t, "turn.completed")
	for _, f := range frames[:len(frames)-1] {
		if f.Type == "turn.started" || f.Type == "turn.completed" {
			t.Fatalf("a follow-up started its own turn: %s", f.Type)
		}
	}
	uses := 0
	for _, f := range frames {
		if f.Type == "agent.tool_use" {
			uses++
		}
	}
	if done := fakehub.Decode[turnCompleted](t, frames[len(frames)-1]); done.InResponseTo != "m1" || done.Usage == nil || done.Usage.NumTurns != 2 || uses != 1 {
		t.Errorf("turn.completed = %+v (usage %+v), %d more tool_use, want the first message's with 2 commands", done, done.Usage, uses)
	}
}

// checkOutputs checks agent.output frames: envelope, fresh message ids and
// seq counting up from firstSeq.
func checkOutputs(t *testing.T, frames []frame.Frame, firstSeq int64) []agentOutput {
	t.Helper()
	ids := map[string]bool{}
	var outs []agentOutput
	for i, f := range frames {
		o := fakehub.Decode[agentOutput](t, f)
		if f.Type != "agent.output" || f.SessionID != sid || o.SessionID != sid || f.Ts == "" {
			t.Fatalf("frame %d = %s session %q ts %q", i, f.Type, f.SessionID, f.Ts)
		}
		if _, err := time.Parse(time.RFC3339, f.Ts); err != nil {
			t.Errorf("ts: %v", err)
		}
		if o.Seq != firstSeq+int64(i) {
			t.Errorf("output %d has seq %d, want %d", i, o.Seq, firstSeq+int64(i))
		}
		if o.MessageID == "" || ids[o.MessageID] {
			t.Errorf("output %d message_id %q is empty or repeated", i, o.MessageID)
		}
		ids[o.MessageID] = true
		outs = append(outs, o)
	}
	if len(outs) == 0 || !outs[len(outs)-1].Final {
		t.Fatalf("outputs %+v do not end with a final one", outs)
	}
	return outs
}

func TestStopKillsCommand(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	startRuntime(t, hub)
	c, _ := accept(t, hub)
	createSession(t, c, sid)
	start := time.Now()
	sendMessage(t, c, sid, "m1", "sleep 30")
	c.Expect(t, "turn.started")
	c.Send(t, "stop.request", sid, 0, map[string]any{"session_id": sid})

	frames := c.Until(t, "turn.completed")
	var acks []stopAck
	for _, f := range frames {
		if f.Type == "stop.ack" {
			acks = append(acks, fakehub.Decode[stopAck](t, f))
		}
	}
	if len(acks) != 1 || acks[0] != (stopAck{SessionID: sid, OK: true}) {
		t.Errorf("stop.ack = %+v", acks)
	}
	if code := fakehub.Decode[turnCompleted](t, frames[len(frames)-1]).ExitCode; code != 137 {
		t.Errorf("exit code = %d, want 137 (SIGKILL)", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %s", d)
	}

	c.Send(t, "stop.request", sid, 0, map[string]any{"session_id": sid})
	if ack := fakehub.Decode[stopAck](t, c.Expect(t, "stop.ack")); ack.OK || ack.Error == "" {
		t.Errorf("stop with nothing running = %+v, want ok:false with an error", ack)
	}
}

func TestSessionCloseKillsAndForgets(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	r, _ := startRuntime(t, hub)
	c, _ := accept(t, hub)
	createSession(t, c, sid)
	dir := r.lookup(sid).dir
	sendMessage(t, c, sid, "m1", "pwd; sleep 30")
	c.Expect(t, "turn.started")
	c.Expect(t, "agent.tool_use")
	if o := fakehub.Decode[agentOutput](t, c.Expect(t, "agent.output")); o.Content != dir+"\n" {
		t.Errorf("pwd = %q, want the session directory %q", o.Content, dir)
	}
	c.Send(t, "session.close", sid, 0, map[string]any{"session_id": sid, "reason": "user_requested"})
	c.Send(t, "stop.request", sid, 0, map[string]any{"session_id": sid})
	if ack := fakehub.Decode[stopAck](t, c.Expect(t, "stop.ack")); ack.OK {
		t.Errorf("stop after close = %+v, want ok:false", ack)
	}
	r.turns.Wait() // the killed turn's worker removes the directory
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("session directory still there: %v", err)
	}
}

func TestPingConfigAndTokenRefreshAcrossReconnect(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	startRuntime(t, hub)
	c, _ := accept(t, hub)

	c.Send(t, "ping", "", 0, nil)
	c.Expect(t, "pong")
	c.Send(t, "endpoint.config_update", "", 0, map[string]any{"endpoint_id": "shell", "limits": map[string]any{"max_sessions": 2}})
	if ack := fakehub.Decode[configAck](t, c.Expect(t, "endpoint.config_ack")); ack != (configAck{EndpointID: "shell", OK: true}) {
		t.Errorf("config ack = %+v", ack)
	}
	c.Send(t, "permission.response", sid, 0, map[string]any{"session_id": sid, "request_id": "r1", "approved": true})
	c.Send(t, "runtime.token_refresh", "", 0, map[string]any{"token": "tok-2"})
	c.Send(t, "ping", "", 0, nil) // the frames above are handled in order
	c.Expect(t, "pong")

	c.Drop()
	if _, hello := accept(t, hub); hello.Token != "tok-2" {
		t.Errorf("hello after reconnect has token %q, want the refreshed one", hello.Token)
	}
}

func TestHelloRejectedStops(t *testing.T) {
	hub := fakehub.New(t, "/ws/runtime")
	_, res := startRuntime(t, hub)
	c := hub.Accept(t)
	c.Expect(t, "runtime.hello")
	c.Send(t, "hello.ack", "", 0, map[string]any{"ok": false, "error": "unknown token"})
	select {
	case <-res.done:
		if err := res.err; err == nil || !strings.Contains(err.Error(), "unknown token") {
			t.Errorf("Run = %v, want the rejection", err)
		}
	case <-time.After(fakehub.Timeout):
		t.Fatal("runtime kept running after a rejected hello")
	}
}

func TestChunkWriterKeepsRunesWhole(t *testing.T) {
	r := newRuntime(config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &session{id: sid, rt: r, ctx: ctx}
	ready := make(chan struct{})
	close(ready)
	w := &chunkWriter{s: s, channel: "stdout", ready: ready}
	euro := []byte("€") // 3 bytes
	_, _ = w.Write(append([]byte("a"), euro[:1]...))
	_, _ = w.Write(euro[1:])
	_, _ = w.Write(euro[:2])
	w.flush()
	var got []string
	for range 3 {
		got = append(got, (<-r.out).Payload.(agentOutput).Content)
	}
	if want := []string{"a", "€", string(euro[:2])}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("chunks = %q, want %q", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"SY_HUB_URL": "ws://hub:9/ws/runtime", "SY_RUNTIME_TOKEN": "t"}
	cfg, err := parseConfig([]string{"-endpoint", "ep_1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.hubURL != env["SY_HUB_URL"] || cfg.token != "t" || cfg.endpointID != "ep_1" || cfg.shell != "/bin/sh" || cfg.timeout != 10*time.Minute {
		t.Fatalf("parseConfig = %+v, %v", cfg, err)
	}
	if !hubconn.ValidID(cfg.runtimeID) || !strings.HasPrefix(cfg.runtimeID, "shell-") {
		t.Errorf("default runtime id %q", cfg.runtimeID)
	}
	if _, err := parseConfig([]string{"-endpoint", "a.b"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("an endpoint id with a dot was accepted")
	}
}
