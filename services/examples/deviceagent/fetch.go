package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
)

// httpClient fetches uploads; the context bounds the transfer, the
// transport bounds the wait for headers.
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: device.RequestTimeout,
}}

func (a *agent) onUploadReady(ctx context.Context, f frame.Frame) error {
	var u uploadReady
	if err := f.Decode(&u); err != nil {
		return err
	}
	if u.RequestID == "" || u.UploadID == "" {
		return fmt.Errorf("device.upload_ready needs request_id and upload_id")
	}
	opCtx, cancel := a.track(ctx, u.RequestID, u.UploadID)
	a.work.Go(func() {
		defer cancel()
		defer a.untrack(u.RequestID, u.UploadID)
		a.respond(ctx, a.install(opCtx, ctx, u))
	})
	return nil
}

// install fetches every file of u into <dir>/<gameName> and answers with
// operation_result {success, path}. Events are sent on the socket's
// context, so an "error" event still goes out after a cancel.
func (a *agent) install(opCtx, ctx context.Context, u uploadReady) deviceResponse {
	resp := deviceResponse{RequestID: u.RequestID, Op: device.TypeCompleteUpload}
	ev := installEvents{a: a, ctx: ctx, u: u}
	ev.send(device.StatusStart, 0, "Installing "+u.GameName)
	dir, err := a.fetchAll(opCtx, u, &ev)
	if err != nil {
		var oe *opError
		if !errors.As(err, &oe) {
			oe = fail(device.CodeInternal, "%v", err)
		}
		if opCtx.Err() != nil && ctx.Err() == nil {
			oe = fail(device.CodeInternal, "cancelled")
		}
		ev.send(device.StatusError, ev.percent(), oe.msg)
		resp.Error = &deviceError{Code: oe.code, Message: oe.msg}
		a.log.Warn("install failed", "upload", u.UploadID, "err", oe.msg)
		return resp
	}
	ev.send(device.StatusComplete, 100, "Installation complete")
	resp.Type = device.TypeOperationResult
	resp.Payload = device.OperationResult{Success: device.Succeeded(true), Path: dir}
	a.log.Info("installed", "game", u.GameName, "path", dir, "files", len(u.Files))
	return resp
}

type installEvents struct {
	a     *agent
	ctx   context.Context
	u     uploadReady
	done  int64
	total int64
	last  time.Time
}

func (e *installEvents) percent() float64 {
	if e.total <= 0 {
		return 0
	}
	return float64(e.done) * 100 / float64(e.total)
}

func (e *installEvents) send(status string, progress float64, msg string) {
	e.a.send(e.ctx, frame.New("device.event", "", deviceEvent{
		RequestID: e.u.RequestID, UploadID: e.u.UploadID, Type: device.TypeOperationEvent,
		Payload: device.OperationEvent{Type: "install", Status: status, GameName: e.u.GameName, Progress: progress, Message: msg},
	}))
}

// add counts fetched bytes and sends a throttled progress event.
func (e *installEvents) add(n int64, file string) {
	e.done += n
	if time.Since(e.last) >= progressEvery {
		e.last = time.Now()
		e.send(device.StatusProgress, e.percent(), file)
	}
}

func (a *agent) fetchAll(ctx context.Context, u uploadReady, ev *installEvents) (string, error) {
	game, err := device.CleanName(u.GameName)
	if err != nil {
		return "", fail(device.CodeBadRequest, "game_name %q: %v", u.GameName, err)
	}
	paths := make([]string, len(u.Files))
	for i, f := range u.Files {
		p, err := device.CleanPath(f.Path)
		if err != nil || p != f.Path {
			return "", fail(device.CodeBadRequest, "file path %q is not a clean relative path", f.Path)
		}
		if len(f.SHA256) != 64 || f.Size < 0 {
			return "", fail(device.CodeBadRequest, "file %q needs a size and a hex sha256", f.Path)
		}
		paths[i] = p
		ev.total += f.Size
	}
	dir := filepath.Join(a.cfg.dir, game)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// os.Root confines every write below the game directory, symlinks included.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	for i, f := range u.Files {
		if err := a.fetchFile(ctx, root, paths[i], f, u.Token, ev); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (a *agent) fetchFile(ctx context.Context, root *os.Root, p string, f uploadFile, token string, ev *installEvents) error {
	if d := path.Dir(p); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	tmp := p + ".part"
	out, err := root.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	err = a.download(ctx, out, f, token, func(n int64) { ev.add(n, p) })
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(tmp)
		return err
	}
	if err := root.Rename(tmp, p); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("rename %s: %w", p, err)
	}
	return nil
}

// download streams the file into w, checking its size and sha256.
func (a *agent) download(ctx context.Context, w io.Writer, f uploadFile, token string, progress func(int64)) error {
	ref, err := a.base.Parse(f.URL)
	if err != nil {
		return fail(device.CodeBadRequest, "file %q url %q: %v", f.Path, f.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", f.Path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		code := device.CodeInternal
		if res.StatusCode == http.StatusNotFound {
			code = device.CodeNotFound
		}
		return fail(code, "fetch %s: HTTP %s", f.Path, res.Status)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h, progressWriter(progress)), io.LimitReader(res.Body, f.Size+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", f.Path, err)
	}
	if n != f.Size {
		return fail(device.CodeInternal, "fetch %s: got %d bytes, want %d", f.Path, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fail(device.CodeInternal, "file %s: sha256 %s, want %s", f.Path, got, f.SHA256)
	}
	return nil
}

type progressWriter func(int64)

func (p progressWriter) Write(b []byte) (int, error) {
	p(int64(len(b)))
	return len(b), nil
}
