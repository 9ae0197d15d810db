package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// window is how many chunks may await their upload_chunk_response.
const window = 8

type localFile struct {
	rel  string // '/'-separated, as declared
	abs  string
	size int64
}

// scan lists the regular files under dir.
func scan(dir string) ([]localFile, int64, error) {
	var files []localFile
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, localFile{rel: filepath.ToSlash(rel), abs: p, size: info.Size()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("scan %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("%s holds no files", dir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, total, nil
}

type uploadOptions struct {
	dir, game, exe string
	shortcut       bool
	resume         string // an uploadId to resume
	checksum       bool
}

// upload sends dir as game: init_upload (or get_upload_status when
// resuming), every missing chunk, then complete_upload.
func (c *client) upload(ctx context.Context, o uploadOptions, progress io.Writer) (json.RawMessage, error) {
	files, total, err := scan(o.dir)
	if err != nil {
		return nil, err
	}
	c.events = func(m message) { printEvent(progress, m) }
	uploadID, chunk, status, err := c.begin(ctx, o, files, total)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "upload %s: %d files, %d bytes, chunks of %d\n", uploadID, len(files), total, chunk)
	if err := c.sendFiles(ctx, uploadID, chunk, files, status, o.checksum, progress); err != nil {
		return nil, fmt.Errorf("upload %s (resume with -resume %s): %w", uploadID, uploadID, err)
	}
	req := completeUpload{UploadID: uploadID, CreateShortcut: o.shortcut}
	if o.shortcut {
		req.Shortcut = &shortcutConfig{Name: o.game, Exe: o.exe}
	}
	// Installing may take a while: the device fetches everything first.
	m, err := c.call(ctx, "complete_upload", req, 10*requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("complete_upload: %w", err)
	}
	return m.Payload, nil
}

func (c *client) begin(ctx context.Context, o uploadOptions, files []localFile, total int64) (string, int, *uploadStatus, error) {
	if o.resume != "" {
		st, err := c.status(ctx, o.resume)
		if err != nil {
			return "", 0, nil, err
		}
		fmt.Fprintf(os.Stderr, "resuming: %d of %d bytes stored\n", st.TotalWritten, st.TotalSize)
		return o.resume, st.ChunkSize, st, nil
	}
	req := initUpload{Config: uploadConfig{GameName: o.game, Executable: o.exe}, TotalSize: total}
	for _, f := range files {
		req.Files = append(req.Files, uploadFile{RelativePath: f.rel, Size: f.size})
	}
	m, err := c.call(ctx, "init_upload", req, requestTimeout)
	if err != nil {
		return "", 0, nil, fmt.Errorf("init_upload: %w", err)
	}
	var r uploadInitResponse
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.UploadID == "" {
		return "", 0, nil, fmt.Errorf("upload_init_response %s: %v", m.Payload, err)
	}
	return r.UploadID, r.ChunkSize, nil, nil
}

func (c *client) status(ctx context.Context, uploadID string) (*uploadStatus, error) {
	m, err := c.call(ctx, "get_upload_status", uploadRef{UploadID: uploadID}, requestTimeout)
	if err != nil {
		return nil, fmt.Errorf("get_upload_status: %w", err)
	}
	var st uploadStatus
	if err := json.Unmarshal(m.Payload, &st); err != nil {
		return nil, fmt.Errorf("upload_status_response: %w", err)
	}
	return &st, nil
}

// acks tracks the chunks in flight.
type acks struct {
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	last  time.Time
}

func (a *acks) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *acks) setErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

func (c *client) sendFiles(ctx context.Context, uploadID string, chunk int, files []localFile, st *uploadStatus, checksum bool, progress io.Writer) error {
	if chunk <= 0 || chunk > maxMessage/2 {
		chunk = 1 << 20
	}
	a := &acks{slots: make(chan struct{}, window)}
	buf := make([]byte, chunk)
	for _, f := range files {
		if err := c.sendFile(ctx, uploadID, f, buf, st, checksum, a, progress); err != nil {
			a.wg.Wait()
			return err
		}
	}
	a.wg.Wait()
	return a.failed()
}

// sendFile sends one file's chunks; empty files need none.
func (c *client) sendFile(ctx context.Context, uploadID string, f localFile, buf []byte, st *uploadStatus, checksum bool, a *acks, progress io.Writer) error {
	in, err := os.Open(f.abs)
	if err != nil {
		return err
	}
	defer in.Close()
	for off := int64(0); off < f.size; {
		n, err := io.ReadFull(in, buf)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("%s shrank while uploading", f.rel)
			}
			return err
		}
		if st == nil || !st.stored(f.rel, off, off+int64(n)) {
			if err := c.sendChunk(ctx, chunkHeader{ID: c.id(), UploadID: uploadID, FilePath: f.rel, Offset: off}, buf[:n], checksum, a, progress); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	return nil
}

func (c *client) sendChunk(ctx context.Context, h chunkHeader, data []byte, checksum bool, a *acks, progress io.Writer) error {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := a.failed(); err != nil {
		<-a.slots
		return err
	}
	frame, err := chunkFrame(h, data, checksum) // copies data: buf is reused
	if err != nil {
		<-a.slots
		return err
	}
	ch, err := c.expect(h.ID)
	if err != nil {
		<-a.slots
		return err
	}
	if err := c.writeBinary(frame); err != nil {
		c.forget(h.ID)
		<-a.slots
		return fmt.Errorf("send chunk: %w", err)
	}
	a.wg.Go(func() {
		defer func() { <-a.slots }()
		m, err := c.wait(ctx, h.ID, ch, requestTimeout)
		if err != nil {
			a.setErr(fmt.Errorf("chunk %s@%d: %w", h.FilePath, h.Offset, err))
			return
		}
		var r uploadChunkResponse
		_ = json.Unmarshal(m.Payload, &r)
		a.mu.Lock()
		if time.Since(a.last) > 500*time.Millisecond {
			a.last = time.Now()
			fmt.Fprintf(progress, "  stored %d bytes\n", r.TotalWritten)
		}
		a.mu.Unlock()
	})
	return nil
}

func printEvent(w io.Writer, m message) {
	switch m.Type {
	case "upload_progress":
		var p uploadProgress
		if json.Unmarshal(m.Payload, &p) == nil {
			fmt.Fprintf(w, "  %5.1f%%  %d/%d bytes  %s\n", p.Percentage, p.TransferredBytes, p.TotalBytes, p.CurrentFile)
		}
	case "operation_event":
		var e operationEvent
		if json.Unmarshal(m.Payload, &e) == nil {
			fmt.Fprintf(w, "  %s %s: %s %.0f%% %s\n", e.Type, e.GameName, e.Status, e.Progress, e.Message)
		}
	}
}
