package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestChatWithExampleShellRuntime: the dev stack's compatibility URL and
// the example shell runtime show every chat event type: stream_start, a
// Bash tool_use, text_delta, tool_result, stream_end with usage.
func TestChatWithExampleShellRuntime(t *testing.T) {
	h := startHub(t, hubOptions{}) // no SY_CHAT_DEFAULT_ENDPOINT: the only endpoint is used
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "shellruntime"), "../../services/examples/shellruntime").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := exec.CommandContext(ctx, filepath.Join(dir, "shellruntime"), "-hub", h.ws(0, "/ws/runtime"), "-token", runtimeToken, "-endpoint", "shell")
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rt.Process.Kill(); _ = rt.Wait() }()
	waitFor(t, "example runtime online", func() bool {
		_, _, raw := h.rest("GET", "/v1/endpoints", clientToken, nil)
		eps := decodeList(t, raw)
		return len(eps) == 1 && eps[0]["online"] == true
	})
	c := dial(t, h.st.ChatURL+"?token="+clientToken)
	c.MustSend(chatMsg("echo hi; exit 2"))
	start := expectChat(t, c, map[string]any{"type": "stream_start"})
	use := expectChat(t, c, map[string]any{"type": "tool_use", "name": "Bash", "input": map[string]any{"command": "echo hi; exit 2"}})
	expectChat(t, c, map[string]any{"type": "text_delta", "text": "hi\n"})
	expectChat(t, c, map[string]any{"type": "tool_result", "tool_use_id": use["id"], "content": "exit code 2", "is_error": true})
	expectChat(t, c, map[string]any{"type": "stream_end", "session_id": start["session_id"], "num_turns": 1, "cost_usd": 0,
		"input_tokens": len("echo hi; exit 2"), "output_tokens": len("hi\n"), "is_error": true, "errors": []any{"exit code 2"}})
}
