package e2e

// The chat stream (document 002) end to end: chat clients, the runtime and
// runtime/client subscribers on different gateways, asserting the
// document's JSON frames.

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const chatEndpoint = "chat-agent"

func startChatHub(t *testing.T, extra int, env map[string]string) *hub {
	t.Helper()
	e := map[string]string{"SY_CHAT_DEFAULT_ENDPOINT": chatEndpoint}
	for k, v := range env {
		e[k] = v
	}
	return startHub(t, hubOptions{extraGateways: extra, env: e})
}

func (h *hub) chat(gw int, token string) *peer {
	return dial(h.t, h.ws(gw, "/ws/chat?token="+token))
}

func chatMsg(text string, kv ...string) map[string]any {
	m := map[string]any{"type": "message", "text": text}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// answerCreate answers the session.create a new chat session causes.
func answerCreate(t *testing.T, rt *peer) string {
	t.Helper()
	create := rt.Expect("session.create")
	sid := payload(create)["session_id"].(string)
	rt.MustSend(map[string]any{"type": "session.created", "session_id": sid, "ts": ts(),
		"payload": map[string]any{"session_id": sid, "ok": true, "native_handle": ""}})
	return sid
}

// rtSend sends one runtime frame of session sid.
func rtSend(rt *peer, typ, sid string, p map[string]any) {
	p["session_id"] = sid
	rt.MustSend(map[string]any{"type": typ, "session_id": sid, "ts": ts(), "payload": p})
}

func expectChat(t *testing.T, c *peer, want map[string]any) map[string]any {
	t.Helper()
	got := c.Next()
	for k, v := range want {
		if !jsonEqual(got[k], v) {
			t.Fatalf("want %v, got %v (field %s)", want, got, k)
		}
	}
	return got
}

func jsonEqual(a, b any) bool {
	switch bv := b.(type) {
	case int:
		f, ok := a.(float64)
		return ok && f == float64(bv)
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !jsonEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		am, ok := a.(map[string]any)
		if !ok || len(am) != len(bv) {
			return false
		}
		for k, v := range bv {
			if !jsonEqual(am[k], v) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestChatBadTokenAndBadInput(t *testing.T) {
	h := startChatHub(t, 0, nil)
	for _, url := range []string{h.ws(0, "/ws/chat?token=nope"), h.ws(0, "/ws/chat")} {
		c := dial(t, url)
		expectChat(t, c, map[string]any{"type": "error", "message": "missing or unknown token"})
		if code := c.CloseCode(); code != 1008 {
			t.Errorf("%s: close %d, want 1008", url, code)
		}
	}
	c := h.chat(0, clientToken)
	for _, tc := range []struct {
		frame string
		msg   string
	}{
		{`{"type":"message"`, "invalid JSON"},
		{`[1,2]`, "message must be a JSON object"},
		{`{"text":"hi"}`, `missing required field "type"`},
		{`{"type":"message"}`, `missing required field "text"`},
		{`{"type":"message","text":5}`, `field "text" must be a string`},
		{`{"type":"ping"}`, `unknown message type "ping" (expected "message")`},
		{`{"type":"message","text":"hi","attachments":{}}`, `field "attachments" must be an array`},
	} {
		if err := c.Conn.WriteMessage(1, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		expectChat(t, c, map[string]any{"type": "error", "message": tc.msg})
	}
	// Still open, and no runtime is online for the endpoint: a clear error.
	c.MustSend(chatMsg("hello"))
	m := expectChat(t, c, map[string]any{"type": "error"})
	if !strings.Contains(m["message"].(string), "no runtime online for endpoint "+chatEndpoint) {
		t.Errorf("no-runtime error = %v", m)
	}
}

func TestChatCompatListener(t *testing.T) {
	h := startChatHub(t, 0, nil)
	if h.st.ChatURL == "" {
		t.Fatal("the dev stack opened no chat compatibility listener")
	}
	c := dial(t, h.st.ChatURL+"?token="+clientToken)
	c.MustSend(map[string]any{"type": "nope"})
	expectChat(t, c, map[string]any{"type": "error", "message": `unknown message type "nope" (expected "message")`})
	bad := dial(t, h.st.ChatURL+"?token=wrong")
	expectChat(t, bad, map[string]any{"type": "error", "message": "missing or unknown token"})
	if code := bad.CloseCode(); code != 1008 {
		t.Errorf("close %d, want 1008", code)
	}
}

// TestChatStreamOrder: the document's event sequence with tool events and
// usage, chat client and runtime on different gateways, and a /ws/client
// subscriber of the same session on a third that sees the same turn.
func TestChatStreamOrder(t *testing.T) {
	h := startChatHub(t, 2, nil)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	c := h.chat(1, clientToken)
	c.MustSend(chatMsg("List files", "user_id", "user123", "channel_id", "main"))
	sid := answerCreate(t, rt)
	um := rt.Expect("user.message")
	if payload(um)["content"] != "List files" || payload(um)["followup"] != nil {
		t.Fatalf("runtime got %v", um)
	}
	cl := h.connectClient(2, clientToken)
	if hist := subscribe(cl, sid, 0); len(hist) != 1 || hist[0]["type"] != "user.message" {
		t.Fatalf("client history = %v", hist)
	}
	msgID := payload(um)["message_id"].(string)
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": msgID})
	rtSend(rt, "agent.tool_use", sid, map[string]any{"id": "toolu_abc123", "name": "Glob", "input": map[string]any{"pattern": "*"}})
	rtSend(rt, "agent.tool_result", sid, map[string]any{"tool_use_id": "toolu_abc123", "content": "Cargo.toml\nREADME.md\nsrc/", "is_error": false})
	rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o1", "seq": 1, "channel": "stdout", "content": "Here are the files:\n\n", "final": false})
	rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o2", "seq": 2, "channel": "stdout", "content": "- Cargo.toml\n", "final": true})
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": msgID, "exit_code": 0,
		"usage": map[string]any{"num_turns": 2, "cost_usd": 0.004, "input_tokens": 1200, "output_tokens": 150}, "is_error": false, "errors": []any{}})

	expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
	expectChat(t, c, map[string]any{"type": "tool_use", "id": "toolu_abc123", "name": "Glob", "input": map[string]any{"pattern": "*"}})
	expectChat(t, c, map[string]any{"type": "tool_result", "tool_use_id": "toolu_abc123", "content": "Cargo.toml\nREADME.md\nsrc/", "is_error": false})
	expectChat(t, c, map[string]any{"type": "text_delta", "text": "Here are the files:\n\n"})
	expectChat(t, c, map[string]any{"type": "text_delta", "text": "- Cargo.toml\n"})
	end := expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid, "num_turns": 2, "cost_usd": 0.004,
		"input_tokens": 1200, "output_tokens": 150, "is_error": false, "errors": []any{}})
	if len(end) != 8 {
		t.Errorf("stream_end has fields %v, want the document's 8", end)
	}
	for _, typ := range []string{"turn.started", "agent.tool_use", "agent.tool_result", "agent.output", "agent.output", "turn.completed"} {
		cl.Expect(typ)
	}

	// A turn without usage: zeros and []. A turn the runtime stops: an
	// is_error stream_end still closes the stream.
	c.MustSend(chatMsg("again"))
	um = rt.Expect("user.message")
	msgID = payload(um)["message_id"].(string)
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": msgID})
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": msgID, "exit_code": 0})
	expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
	expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid, "num_turns": 0, "cost_usd": 0, "input_tokens": 0,
		"output_tokens": 0, "is_error": false, "errors": []any{}})
	c.MustSend(chatMsg("stop me"))
	um = rt.Expect("user.message")
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
	expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
	rtSend(rt, "stop.ack", sid, map[string]any{"ok": true})
	expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid, "is_error": true, "errors": []any{"stopped"}})
}

// TestChatContinuity: the same channel_session_key on another gateway
// continues the session; a new key starts one; without a key each
// connection has its own session per channel.
func TestChatContinuity(t *testing.T) {
	h := startChatHub(t, 1, nil)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	turn := func(c *peer, text string, kv ...string) string {
		t.Helper()
		c.MustSend(chatMsg(text, kv...))
		var um map[string]any
		sid := ""
		for sid == "" {
			m := rt.Next()
			switch m["type"] {
			case "session.create":
				rt.MustSend(map[string]any{"type": "session.created", "session_id": m["session_id"], "ts": ts(),
					"payload": map[string]any{"session_id": m["session_id"], "ok": true, "native_handle": ""}})
			case "user.message":
				um, sid = m, m["session_id"].(string)
			default:
				t.Fatalf("runtime got %v", m)
			}
		}
		rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
		rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": payload(um)["message_id"], "exit_code": 0})
		expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
		expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid})
		return sid
	}
	key := "550e8400-e29b-41d4-a716-446655440000"
	c1 := h.chat(0, clientToken)
	s1 := turn(c1, "one", "channel_session_key", key)
	_ = c1.Conn.Close()
	c2 := h.chat(1, clientToken)
	if s := turn(c2, "two", "channel_session_key", key); s != s1 {
		t.Fatalf("same key on another gateway: session %s, want %s", s, s1)
	}
	if s := turn(c2, "three", "channel_session_key", "another-key"); s == s1 {
		t.Fatal("a new key continued the old session")
	}
	// Bob's same key is Bob's own session.
	if s := turn(h.chat(1, bobToken), "bob", "channel_session_key", key); s == s1 {
		t.Fatal("another user's key continued alice's session")
	}
	n1 := turn(c2, "no key")
	if s := turn(c2, "no key again"); s != n1 {
		t.Errorf("no key, same connection and channel: session %s, want %s", s, n1)
	}
	if s := turn(c2, "no key, other channel", "channel_id", "ops"); s == n1 {
		t.Error("no key, another channel_id: same session")
	}
	if s := turn(h.chat(0, clientToken), "no key, new connection"); s == n1 {
		t.Error("no key, a new connection: same session")
	}
	// The history is one conversation: the runtime/client view has all
	// the keyed turns.
	cl := h.connectClient(1, clientToken)
	users := 0
	for _, m := range subscribe(cl, s1, 0) {
		if m["type"] == "user.message" {
			users++
		}
	}
	if users != 2 {
		t.Errorf("keyed session has %d user messages, want 2", users)
	}
}

// TestChatInjectFollowup: a message during a stream reaches the running
// turn as user.message followup:true; one stream, one stream_end.
func TestChatInjectFollowup(t *testing.T) {
	h := startChatHub(t, 1, nil)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	c := h.chat(1, clientToken)
	c.MustSend(chatMsg("List files"))
	sid := answerCreate(t, rt)
	um := rt.Expect("user.message")
	first := payload(um)["message_id"]
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": first})
	expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
	c.MustSend(chatMsg("also check hidden files"))
	fu := rt.Expect("user.message")
	if payload(fu)["followup"] != true || payload(fu)["content"] != "also check hidden files" || fu["session_id"] != sid {
		t.Fatalf("follow-up = %v", fu)
	}
	rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o1", "seq": 1, "channel": "stdout", "content": "both", "final": true})
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": first, "exit_code": 0})
	expectChat(t, c, map[string]any{"type": "text_delta", "text": "both"})
	expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid, "is_error": false})
	// The runtime/client dialect keeps its rule: turn_in_progress.
	c.MustSend(chatMsg("next"))
	um = rt.Expect("user.message")
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
	expectChat(t, c, map[string]any{"type": "stream_start"})
	cl := h.connectClient(0, clientToken)
	subscribe(cl, sid, 0)
	cl.MustSend(map[string]any{"type": "user.message", "session_id": sid, "ts": ts(), "payload": map[string]any{"session_id": sid, "message_id": "m-x", "content": "hi"}})
	if e := cl.Expect("error"); payload(e)["code"] != "turn_in_progress" {
		t.Errorf("client user.message during a chat turn: %v", e)
	}
}

// TestChatQueueFollowup: queue mode holds messages sent during a stream
// and runs each as its own turn after it, in order.
func TestChatQueueFollowup(t *testing.T) {
	h := startChatHub(t, 1, map[string]string{"SY_CHAT_FOLLOWUP_MODES": chatEndpoint + "=queue"})
	cat := testenv.Catalog(t, h.st.NATSURL)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	c := h.chat(1, clientToken)
	c.MustSend(chatMsg("List files"))
	sid := answerCreate(t, rt)
	um := rt.Expect("user.message")
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
	expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
	c.MustSend(chatMsg("q1"))
	c.MustSend(chatMsg("q2"))
	// Both are stored in the session record before the turn ends.
	waitFor(t, "two queued messages", func() bool {
		_, body, _ := h.rest("GET", "/v1/sessions/"+sid, clientToken, nil)
		return body != nil && body["turn_active"] == true && queuedCount(t, cat, sid) == 2
	})
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": payload(um)["message_id"], "exit_code": 0})
	expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid})
	for _, text := range []string{"q1", "q2"} {
		m := rt.Expect("user.message")
		if payload(m)["content"] != text || payload(m)["followup"] != nil {
			t.Fatalf("queued turn: %v, want %q as a new turn", m, text)
		}
		rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(m)["message_id"]})
		rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o-" + text, "seq": 1, "channel": "stdout", "content": text, "final": true})
		rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": payload(m)["message_id"], "exit_code": 0})
		expectChat(t, c, map[string]any{"type": "stream_start", "session_id": sid})
		expectChat(t, c, map[string]any{"type": "text_delta", "text": text})
		expectChat(t, c, map[string]any{"type": "stream_end", "session_id": sid})
	}
}

// queuedCount is the length of the session record's follow-up queue.
func queuedCount(t *testing.T, cat *catalog.Catalog, sid string) int {
	t.Helper()
	info, _, err := cat.Session(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return len(info.GetQueued())
}

// TestChatReconnectMidStream: a chat client that reconnects on another
// gateway while a stream runs gets stream_start, the events so far, then
// the rest live and one stream_end; exactly once.
func TestChatReconnectMidStream(t *testing.T) {
	h := startChatHub(t, 2, nil)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	key := "reconnect-key"
	c1 := h.chat(1, clientToken)
	c1.MustSend(chatMsg("long job", "channel_session_key", key))
	sid := answerCreate(t, rt)
	um := rt.Expect("user.message")
	msgID := payload(um)["message_id"]
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": msgID})
	rtSend(rt, "agent.tool_use", sid, map[string]any{"id": "t1", "name": "Bash", "input": map[string]any{"command": "ls"}})
	rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o1", "seq": 1, "channel": "stdout", "content": "part 1 ", "final": false})
	expectChat(t, c1, map[string]any{"type": "stream_start", "session_id": sid})
	expectChat(t, c1, map[string]any{"type": "tool_use", "id": "t1"})
	expectChat(t, c1, map[string]any{"type": "text_delta", "text": "part 1 "})
	_ = c1.Conn.Close()

	c2 := h.chat(2, clientToken) // no message sent: the running stream is resumed
	expectChat(t, c2, map[string]any{"type": "stream_start", "session_id": sid})
	expectChat(t, c2, map[string]any{"type": "tool_use", "id": "t1", "name": "Bash"})
	expectChat(t, c2, map[string]any{"type": "text_delta", "text": "part 1 "})
	rtSend(rt, "agent.tool_result", sid, map[string]any{"tool_use_id": "t1", "content": "ok", "is_error": false})
	rtSend(rt, "agent.output", sid, map[string]any{"message_id": "o2", "seq": 2, "channel": "stdout", "content": "part 2", "final": true})
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": msgID, "exit_code": 0})
	expectChat(t, c2, map[string]any{"type": "tool_result", "tool_use_id": "t1"})
	expectChat(t, c2, map[string]any{"type": "text_delta", "text": "part 2"})
	expectChat(t, c2, map[string]any{"type": "stream_end", "session_id": sid, "is_error": false})
	// Nothing more: the next frame is the next turn's (sent with the key on
	// the same socket, which continues the session without re-joining it).
	c2.MustSend(chatMsg("next", "channel_session_key", key))
	um = rt.Expect("user.message")
	if um["session_id"] != sid {
		t.Fatalf("key continued session %v, want %s", um["session_id"], sid)
	}
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
	expectChat(t, c2, map[string]any{"type": "stream_start", "session_id": sid})
	// A client that connects when no stream runs gets nothing at once.
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": payload(um)["message_id"], "exit_code": 0})
	expectChat(t, c2, map[string]any{"type": "stream_end", "session_id": sid})
}

// TestChatAttachments: accepted files reach the runtime as file.upload
// (base64 of the bytes) before the message; a refused one gets an error
// naming the reason and nothing of the message is processed.
func TestChatAttachments(t *testing.T) {
	h := startChatHub(t, 1, map[string]string{"SY_CHAT_ATTACHMENTS_ALLOWED_EXTENSIONS": "png,txt", "SY_CHAT_ATTACHMENTS_MAX_BYTES": "64"})
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	c := h.chat(1, clientToken)
	data := []byte("\x89PNG\r\n\x1a\nfake image")
	att := func(name, mime string, b []byte) map[string]any {
		return map[string]any{"file_name": name, "mime_type": mime, "data": base64.StdEncoding.EncodeToString(b)}
	}
	for _, tc := range []struct {
		atts []any
		want string
	}{
		{[]any{att("run.exe", "application/octet-stream", []byte("MZ"))}, `attachment "run.exe" rejected: file extension .exe is not allowed (allowed: .png, .txt)`},
		{[]any{att("big.txt", "text/plain", make([]byte, 65))}, `attachment "big.txt" rejected: 65 bytes is more than the limit of 64 bytes`},
		{[]any{att("ok.png", "image/png", data), att("bad.sh", "text/plain", []byte("x"))}, `attachment "bad.sh" rejected: file extension .sh is not allowed (allowed: .png, .txt)`},
	} {
		c.MustSend(map[string]any{"type": "message", "text": "look", "attachments": tc.atts})
		expectChat(t, c, map[string]any{"type": "error", "message": tc.want})
	}
	c.MustSend(map[string]any{"type": "message", "text": "What is in this photo?", "attachments": []any{att("photo.png", "image/png", data)}})
	sid := answerCreate(t, rt) // the first frame the runtime gets: nothing of the refused messages
	up := rt.Expect("file.upload")
	md, _ := payload(up)["metadata"].(map[string]any)
	if md["name"] != "photo.png" || md["mime_type"] != "image/png" || payload(up)["data"] != base64.StdEncoding.EncodeToString(data) {
		t.Fatalf("file.upload = %v", up)
	}
	um := rt.Expect("user.message")
	if um["session_id"] != sid || payload(um)["content"] != "What is in this photo?" {
		t.Fatalf("user.message = %v", um)
	}
	// The stored file is the session's, as POST /files stores it.
	st, _, raw := h.rest("GET", "/v1/files/"+md["file_id"].(string), clientToken, nil)
	if st != 200 || string(raw) != string(data) {
		t.Errorf("GET /files: %d %q", st, raw)
	}
}

// TestChatJobNotification: a job.notification on sy.job.notification reaches
// every chat socket of its owner on every gateway, once, also mid-stream.
func TestChatJobNotification(t *testing.T) {
	h := startChatHub(t, 1, nil)
	rt := h.connectRuntime(0, "rt-chat", chatEndpoint)
	a0, a1, b := h.chat(0, clientToken), h.chat(1, clientToken), h.chat(1, bobToken)
	// a1 is mid-stream.
	a1.MustSend(chatMsg("busy"))
	sid := answerCreate(t, rt)
	um := rt.Expect("user.message")
	rtSend(rt, "turn.started", sid, map[string]any{"in_response_to": payload(um)["message_id"]})
	expectChat(t, a1, map[string]any{"type": "stream_start"})

	nc, err := nats.Connect(h.st.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publish := func(id, owner, job string) {
		t.Helper()
		env := &syv1.Envelope{Id: id, Type: "job.notification", UserId: owner, Body: &syv1.Envelope_JobNotification{JobNotification: &syv1.JobNotification{
			JobName: job, SessionId: "550e8400-e29b-41d4-a716-446655440000", ResultPreview: "No critical errors found today.", Success: true, Owner: owner}}}
		m, err := bus.NewMsg(context.Background(), bus.SubjJobNotification(), env)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until both gateways have subscribed (they subscribe at start).
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	publish("job-daily-summary.1", "alice", "daily-summary")
	publish("job-daily-summary.1", "alice", "daily-summary") // at-least-once repeat
	publish("job-other.2", "alice", "other")
	publish("job-bob.3", "bob", "bobs-job")
	for _, c := range []*peer{a0, a1} {
		expectChat(t, c, map[string]any{"type": "notification", "job_name": "daily-summary",
			"session_id": "550e8400-e29b-41d4-a716-446655440000", "result_preview": "No critical errors found today.", "success": true})
		expectChat(t, c, map[string]any{"type": "notification", "job_name": "other"}) // the repeat was dropped
	}
	expectChat(t, b, map[string]any{"type": "notification", "job_name": "bobs-job"})
	// The stream goes on undisturbed.
	rtSend(rt, "turn.completed", sid, map[string]any{"in_response_to": payload(um)["message_id"], "exit_code": 0})
	expectChat(t, a1, map[string]any{"type": "stream_end", "session_id": sid})
}
