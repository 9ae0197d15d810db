package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// api is the hub's REST API under /v1.
type api struct {
	base  string
	token string
	http  *http.Client
}

func newAPI(base, token string) *api {
	return &api{base: base, token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

type sessionInfo struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpoint_id"`
	Status     string `json:"status"`
}

type endpointInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Profile   string `json:"profile"`
	RuntimeID string `json:"runtime_id"`
	Online    bool   `json:"online"`
}

func (a *api) createSession(ctx context.Context, endpointID string) (sessionInfo, error) {
	var s sessionInfo
	body, _ := json.Marshal(map[string]string{"endpoint_id": endpointID})
	if err := a.do(ctx, http.MethodPost, "/v1/sessions", body, http.StatusCreated, &s); err != nil {
		return s, fmt.Errorf("create session on endpoint %q: %w", endpointID, err)
	}
	if s.ID == "" {
		return s, fmt.Errorf("create session on endpoint %q: the hub's answer has no id", endpointID)
	}
	return s, nil
}

func (a *api) endpoints(ctx context.Context) ([]endpointInfo, error) {
	var eps []endpointInfo
	if err := a.do(ctx, http.MethodGet, "/v1/endpoints", nil, http.StatusOK, &eps); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return eps, nil
}

// do sends a request and decodes a `want` answer into out; any other
// status becomes an error carrying the hub's body ({"code","message"}).
func (a *api) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: hub answered %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func printEndpoints(w io.Writer, eps []endpointInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPROFILE\tRUNTIME\tONLINE")
	for _, e := range eps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\n", e.ID, e.Name, e.Profile, e.RuntimeID, e.Online)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print endpoints: %w", err)
	}
	return nil
}
