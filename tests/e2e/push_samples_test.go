package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/tests/samples"
)

// TestPushDocumentSamples runs document 000's own sample clients (both
// Python and both JavaScript ones, unchanged but for host and port)
// against the dev stack, where a token-less loopback reader is an admin,
// drives one event of every kind and state, drains the stack (close
// 1000) and asserts every line they printed.
func TestPushDocumentSamples(t *testing.T) {
	var runnable []samples.Sample
	for _, s := range samples.All {
		if _, _, err := s.Interpreter(); err != nil {
			t.Logf("skipping sample %s: %v", s.Name, err)
			continue
		}
		runnable = append(runnable, s)
	}
	if len(runnable) == 0 {
		t.Skip("no interpreter for any of the samples (python3-websockets, node 20)")
	}
	h := startHub(t, hubOptions{env: pushEnv()})
	base := "ws" + strings.TrimPrefix(h.gateways[0], "http")
	procs := map[string]*samples.Process{}
	for _, s := range runnable {
		p, err := samples.Start(context.Background(), s, base, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		procs[s.Name] = p
	}
	// The samples print nothing until an event comes: wait until the
	// gateway counts them as readers (plus the witness below).
	witness := h.pushReader(0, "/notification", "token="+adminToken)
	want := fmt.Sprintf("switchyard_gateway_push_readers %d", len(runnable)+1)
	waitFor(t, "the samples' sockets", func() bool { return strings.Contains(h.metrics(0), want) })

	rt := h.connectRuntime(0, "rt-sample", "ep-sample")
	sid := h.createSession(rt, "ep-sample", clientToken)
	content := []byte(strings.Repeat("sample bytes ", 40))
	st, body, raw := h.fileUpload(0, "/v1/files", clientToken, fileSessionField(sid),
		filePart{field: "file", filename: "notes.txt", contentType: "text/plain", data: content})
	if st != http.StatusCreated {
		t.Fatalf("POST /v1/files: %d %s", st, raw)
	}
	id := body["file_id"].(string)
	if resp, _ := h.fileDownload(0, "/v1/files/"+id, clientToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/files: %d", resp.StatusCode)
	}
	rt.MustSend(map[string]any{"type": "agent.update_progress", "ts": ts(), "payload": map[string]any{"state": "downloading", "percent": 42}})
	waitPush(t, witness, "AppUpdateProgress", isType(8, nil), nil) // in order before the DELETE
	if st, b := h.call(0, "DELETE", "/v1/files/"+id, clientToken, nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", st, b)
	}
	_ = rt.Conn.Close()
	waitPush(t, witness, "runtime offline", isType(2, func(d map[string]any) bool { return d["Title"] == "Runtime offline" }), nil)
	h.stop() // drain: the samples' sockets close with 1000 and they exit

	path, n := sid+"/notes.txt", len(content)
	online := "{'Category': 'runtime', 'Title': 'Runtime online', 'Message': 'Runtime rt-sample is online', 'Details': {'online': True, 'runtime_id': 'rt-sample'}}"
	offline := "{'Category': 'runtime', 'Title': 'Runtime offline', 'Message': 'Runtime rt-sample is offline', 'Details': {'online': False, 'runtime_id': 'rt-sample'}}"
	nodeUser := func(state string, on bool) []string {
		return []string{"user notification {", "  Category: 'runtime',", "  Title: 'Runtime " + state + "',",
			"  Message: 'Runtime rt-sample is " + state + "',", fmt.Sprintf("  Details: { online: %v, runtime_id: 'rt-sample' }", on), "}"}
	}
	states := []string{"4", "0", "128", "0", "8", "64"}
	var stateLines []string
	for _, s := range states {
		stateLines = append(stateLines, fmt.Sprintf("[sy_files] %s -> state %s", path, s))
	}
	expect := map[string][]string{
		"notification.py": {"[user] " + online, "[app] POST /v1/sessions",
			fmt.Sprintf("[progress] %s %d/%d", path, n, n), "[app] POST /v1/files",
			fmt.Sprintf("[progress] %s %d/%d", path, n, n),
			"[update] {'percent': 42, 'state': 'downloading'}", "[app] DELETE /v1/files/" + id, "[user] " + offline},
		"notification.js": append(append(append(nodeUser("online", true), "app notification POST /v1/sessions",
			fmt.Sprintf("progress %s %d / %d", path, n, n), "app notification POST /v1/files",
			fmt.Sprintf("progress %s %d / %d", path, n, n),
			"app update progress { percent: 42, state: 'downloading' }", "app notification DELETE /v1/files/"+id),
			nodeUser("offline", false)...), "closed 1000 server shutting down"),
		"statechange.py": stateLines,
		"statechange.js": append(append([]string{}, stateLines...), "closed 1000 server shutting down"),
	}
	// InProgress frames of the two transfers are throttled (4 a second per
	// transfer, the first always sent): they are checked, then set aside.
	inProgress := regexp.MustCompile(`^(\[progress\] |progress )` + regexp.QuoteMeta(path) + ` (\d+)(/| / )(\d+)$`)
	for name, p := range procs {
		var lines, partial []string
		for l := range p.Lines {
			if m := inProgress.FindStringSubmatch(l); m != nil && m[2] != fmt.Sprint(n) {
				partial = append(partial, l)
				continue
			}
			lines = append(lines, l)
		}
		err := p.Wait()
		if fmt.Sprint(lines) != fmt.Sprint(expect[name]) || err != nil {
			t.Errorf("%s printed\n%s\n(exit %v, stderr %s)\nwant\n%s", name, strings.Join(lines, "\n"), err, p.Stderr(), strings.Join(expect[name], "\n"))
		}
		if strings.HasPrefix(name, "notification") && len(partial) < 2 {
			t.Errorf("%s printed %d InProgress lines, want at least one per transfer: %q", name, len(partial), partial)
		}
	}
}
