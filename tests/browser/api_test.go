package browser

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

func rest(t *testing.T, method, url, token string, body io.Reader, ctype string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestConsoleAPI checks the two REST calls added for the console
// (services/gateway/edge/console_api.go) without a browser.
func TestConsoleAPI(t *testing.T) {
	h := startHub(t)
	base := "http://" + h.gw0
	rt := connectTestRuntime(t, h.gw0)

	for _, c := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {clientToken, http.StatusForbidden}, {adminToken, http.StatusOK}} {
		if st, raw := rest(t, "GET", base+"/v1/cluster", c.token, nil, ""); st != c.want {
			t.Fatalf("GET /v1/cluster with %q: %d %s, want %d", c.token, st, raw, c.want)
		}
	}
	_, raw := rest(t, "GET", base+"/cluster", adminToken, nil, "")
	var cl struct {
		Pod  string
		Pods []struct {
			Pod      string
			Sockets  int
			Dialects map[string]int
		}
	}
	if err := json.Unmarshal(raw, &cl); err != nil || cl.Pod != "dev-gateway" || len(cl.Pods) != 2 {
		t.Fatalf("GET /cluster: %s (%v)", raw, err)
	}
	if p := cl.Pods[0]; p.Pod != "dev-gateway" || p.Dialects["runtime"] != 1 || p.Sockets != 1 {
		t.Fatalf("dev-gateway should hold the test runtime's socket only: %+v", p)
	}

	created := make(chan string, 1)
	go func() {
		_, raw := rest(t, "POST", base+"/v1/sessions", clientToken, bytes.NewReader([]byte(`{"endpoint_id":"probe"}`)), "application/json")
		var s struct{ ID string }
		_ = json.Unmarshal(raw, &s)
		created <- s.ID
	}()
	sid := rt.acceptSession()
	if got := <-created; got != sid {
		t.Fatalf("POST /v1/sessions answered %q, the runtime saw %q", got, sid)
	}
	if st, raw := rest(t, "GET", base+"/v1/sessions/"+sid+"/files", clientToken, nil, ""); st != http.StatusOK || string(bytes.TrimSpace(raw)) != "[]" {
		t.Fatalf("files of a new session: %d %s", st, raw)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("session_id", sid)
	fw, _ := mw.CreateFormFile("file", "notes.txt")
	_, _ = fw.Write([]byte("hello"))
	_ = mw.Close()
	if st, raw := rest(t, "POST", base+"/v1/files", clientToken, &body, mw.FormDataContentType()); st != http.StatusCreated {
		t.Fatalf("upload: %d %s", st, raw)
	}
	rt.Expect("file.upload")
	st, raw := rest(t, "GET", base+"/sessions/"+sid+"/files", clientToken, nil, "")
	var files []map[string]any
	if err := json.Unmarshal(raw, &files); st != http.StatusOK || err != nil || len(files) != 1 ||
		files[0]["name"] != "notes.txt" || files[0]["size"] != float64(5) || files[0]["origin"] != "upload" || files[0]["session_id"] != sid {
		t.Fatalf("files after an upload: %d %s", st, raw)
	}
	if st, _ := rest(t, "GET", base+"/v1/sessions/nope/files", clientToken, nil, ""); st != http.StatusNotFound {
		t.Fatalf("files of an unknown session: %d", st)
	}
	if st, _ := rest(t, "GET", base+"/v1/sessions/"+sid+"/files", "", nil, ""); st != http.StatusUnauthorized {
		t.Fatalf("files without a token: %d", st)
	}
}
