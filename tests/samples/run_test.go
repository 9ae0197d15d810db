package samples

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const limit = 20 * time.Second

// frames renders push events with pkg/dialect/push, so the samples are
// run against the codec's real output.
func frames(t *testing.T, bodies ...proto.Message) [][]byte {
	t.Helper()
	var out [][]byte
	for _, b := range bodies {
		env, err := push.Wrap("e", b)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := push.Render(env)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.JSON)
	}
	return out
}

func notificationFrames(t *testing.T) [][]byte {
	at := timestamppb.New(time.Date(2026, 4, 22, 12, 0, 0, 0, time.UTC))
	upd, _ := structpb.NewStruct(map[string]any{"percent": 42, "state": "downloading"})
	return frames(t,
		&syv1.TransferProgress{TransferId: "f-1", Path: "sess-1/report.pdf", Bytes: 512, Size: 1024, StartTime: at},
		&syv1.UserNotification{Category: "runtime", Title: "Runtime online", Message: "rt-1 is online"},
		&syv1.AppNotification{Operation: "sessions.create", EndpointAddress: "/v1/sessions", HttpMethod: "POST"},
		&syv1.AppUpdateProgress{Data: upd},
		&syv1.TransferProgress{TransferId: "f-1", Path: "sess-1/report.pdf", Bytes: 1024, Size: 1024, StartTime: at,
			Status: syv1.TransferStatus_TRANSFER_STATUS_COMPLETED},
	)
}

func stateFrames(t *testing.T) [][]byte {
	var bodies []proto.Message
	for _, s := range []push.FileState{push.StateUploading, push.StateNormal, push.StateTemporary | push.StateUploading, push.StateDeleted} {
		bodies = append(bodies, &syv1.FileStateChange{Path: "sess-1/a.txt", StorageName: "sy_files", State: uint32(s)})
	}
	return frames(t, bodies...)
}

// server is a tiny push channel: on each path it sends the frames, then
// closes with 1000 (as the hub does on shutdown) unless hold is set.
func server(t *testing.T, byPath map[string][][]byte, hold bool) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, f := range fs {
			if err := c.WriteMessage(websocket.TextMessage, f); err != nil {
				return
			}
		}
		if !hold {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}
		_ = c.SetReadDeadline(time.Now().Add(limit))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func need(t *testing.T, s Sample) {
	t.Helper()
	if _, _, err := s.Interpreter(); err != nil {
		t.Skipf("cannot run %s: %v", s.Name, err)
	}
}

// Each sample of document 000, run against frames of the push codec,
// prints the lines its code says it prints.
func TestSamplesPrintTheDocumentedLines(t *testing.T) {
	base := server(t, map[string][][]byte{"/notification": notificationFrames(t), "/statechange": stateFrames(t)}, false)
	for _, c := range []struct {
		s    Sample
		want []string
	}{
		{NotificationPython, []string{
			"[progress] sess-1/report.pdf 512/1024",
			"[user] {'Category': 'runtime', 'Title': 'Runtime online', 'Message': 'rt-1 is online'}",
			"[app] POST /v1/sessions",
			"[update] {'percent': 42, 'state': 'downloading'}",
			"[progress] sess-1/report.pdf 1024/1024",
		}},
		{NotificationNode, []string{
			"progress sess-1/report.pdf 512 / 1024",
			// Node's console.log prints an object longer than 72
			// characters over several lines.
			"user notification {",
			"  Category: 'runtime',",
			"  Title: 'Runtime online',",
			"  Message: 'rt-1 is online'",
			"}",
			"app notification POST /v1/sessions",
			"app update progress { percent: 42, state: 'downloading' }",
			"progress sess-1/report.pdf 1024 / 1024",
			"closed 1000 ",
		}},
		{StateChangePython, []string{
			"[sy_files] sess-1/a.txt -> state 4",
			"[sy_files] sess-1/a.txt -> state 0",
			"[sy_files] sess-1/a.txt -> state 5",
			"[sy_files] sess-1/a.txt -> state 64",
		}},
		{StateChangeNode, []string{
			"[sy_files] sess-1/a.txt -> state 4",
			"[sy_files] sess-1/a.txt -> state 0",
			"[sy_files] sess-1/a.txt -> state 5",
			"[sy_files] sess-1/a.txt -> state 64",
			"closed 1000 ",
		}},
	} {
		t.Run(c.s.Name, func(t *testing.T) {
			need(t, c.s)
			r, err := Run(context.Background(), c.s, base, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Lines, c.want) || r.Err != nil {
				t.Fatalf("printed %q (exit %v, stderr %s)\nwant    %q", r.Lines, r.Err, r.Stderr, c.want)
			}
		})
	}
}

// A sample against a channel that stays open is stopped by Stop, or by
// the limit, and its lines so far are kept.
func TestSamplesAreBoundedInTime(t *testing.T) {
	base := server(t, map[string][][]byte{"/statechange": stateFrames(t)[:1]}, true)
	for _, s := range []Sample{StateChangePython, StateChangeNode} {
		t.Run(s.Name, func(t *testing.T) {
			need(t, s)
			p, err := Start(context.Background(), s, base, limit)
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := <-p.Lines; !ok || l != "[sy_files] sess-1/a.txt -> state 4" {
				t.Fatalf("first line %q (%v), stderr %s", l, ok, p.Stderr())
			}
			p.Stop()
			if p.Wait() == nil {
				t.Fatal("a stopped sample reports no error")
			}
			r, err := Run(context.Background(), s, base, 2*time.Second)
			if err != nil || len(r.Lines) != 1 || r.Err == nil {
				t.Fatalf("run with limit: %q %v %v", r.Lines, r.Err, err)
			}
		})
	}
}

// The stored samples are the document's lines (indentation aside) with
// the document's base URL. The document lives outside the repository
// (shared/seeds); SY_SEEDS_DIR names it when it is elsewhere.
func TestSamplesAreTheDocuments(t *testing.T) {
	doc := ""
	for _, dir := range []string{os.Getenv("SY_SEEDS_DIR"), "../../../shared/seeds", "../../../../shared/seeds"} {
		if dir == "" {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "000_fd1828b82555474f.txt")); err == nil {
			doc = string(b)
			break
		}
	}
	if doc == "" {
		t.Skip("document 000 not found (set SY_SEEDS_DIR to the shared/seeds directory)")
	}
	docLines := trimmed(doc)
	for _, s := range All {
		src, err := s.Source()
		if err != nil {
			t.Fatal(err)
		}
		lines := trimmed(src)
		if !containsRun(docLines, lines) {
			t.Errorf("%s is not a run of lines of document 000", s.Name)
		}
		if !strings.Contains(src, DocumentBaseURL) {
			t.Errorf("%s does not use %s", s.Name, DocumentBaseURL)
		}
	}
}

func trimmed(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if reflect.DeepEqual(hay[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}
