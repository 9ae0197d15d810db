package device

import (
	"context"
	"encoding/json"
	"math"
	"path"
	"time"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	dev "github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// The path of a chunk: the binary frame is parsed on the read loop
// (dev.DecodeChunk: bad frames are answered with 400 at once), then stored
// by the upload service (upload.Client.PutChunk: sha256 check, JetStream
// ack) on one of at most chunksInFlight goroutines of the socket, and
// acknowledged with upload_chunk_response once durable.

// chunkFrame handles one binary frame.
func (d *Dialect) chunkFrame(c *edge.Conn, st *state, data []byte) {
	ch, derr := dev.DecodeChunk(data, int(d.up.MaxChunk()))
	if derr != nil {
		_ = c.Send(edge.Text(dev.ErrorFor(derr)))
		return
	}
	if !st.isPaired() {
		sendError(c, ch.Header.ID, dev.CodeUnauthorized, "pairing required before upload chunks")
		return
	}
	select {
	case st.sem <- struct{}{}:
	case <-c.Context().Done():
		return
	}
	st.chunks.Add(1)
	go func() {
		defer st.chunks.Done()
		defer func() { <-st.sem }()
		d.putChunk(c.Context(), c, st, ch)
	}()
}

func (d *Dialect) putChunk(ctx context.Context, c *edge.Conn, st *state, ch *dev.Chunk) {
	h := ch.Header
	info, err := d.uploadInfo(ctx, st, h.UploadID)
	if err != nil {
		uploadError(c, h.ID, err)
		return
	}
	res, err := d.up.PutChunk(ctx, upload.Chunk{UploadID: h.UploadID, FilePath: h.FilePath, Offset: h.Offset,
		Checksum: h.Checksum, Data: ch.Data, UserID: st.owner()})
	if err != nil {
		if ctx.Err() == nil {
			uploadError(c, h.ID, err)
		}
		return
	}
	send(c, h.ID, dev.TypeUploadChunkResponse, dev.UploadChunkResponse{UploadID: h.UploadID, BytesWritten: res.BytesWritten, TotalWritten: res.TotalWritten})
	if p, ok := d.progress(st, info, h.UploadID, res.TotalWritten, h.FilePath); ok {
		send(c, "", dev.TypeUploadProgress, p)
	}
}

// progress throttles upload_progress to one per SY_DEVICE_PROGRESS_EVERY
// per upload and socket; the chunk that completes the upload always
// reports.
func (d *Dialect) progress(st *state, info *upInfo, id string, written int64, file string) (dev.UploadProgress, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if written <= info.written && written < info.total {
		return dev.UploadProgress{}, false // an older total, or nothing new
	}
	info.written = max(info.written, written)
	now := time.Now()
	if info.written < info.total && now.Sub(info.lastProgress) < d.cfg.DeviceProgressEvery {
		return dev.UploadProgress{}, false
	}
	info.lastProgress = now
	pct := 100.0
	if info.total > 0 {
		pct = math.Round(float64(info.written)*10000/float64(info.total)) / 100
	}
	return dev.UploadProgress{UploadID: id, TransferredBytes: info.written, TotalBytes: info.total, CurrentFile: file, Percentage: pct}, true
}

// uploadInfo is the socket's view of an upload; an upload this socket
// has not seen (a resume) is read from the upload service once, and must
// be this device's and this controller's.
func (d *Dialect) uploadInfo(ctx context.Context, st *state, id string) (*upInfo, error) {
	st.mu.Lock()
	info := st.uploads[id]
	st.mu.Unlock()
	if info != nil {
		return info, nil
	}
	status, err := d.up.Status(ctx, id, st.owner())
	if err != nil {
		return nil, err
	}
	return d.remember(st, status)
}

func (d *Dialect) remember(st *state, s *upload.Status) (*upInfo, error) {
	if s.DeviceID != st.deviceID {
		return nil, upload.Errorf(upload.ReasonUnknownUpload, "no upload %s for device %s", s.UploadID, st.deviceID)
	}
	var cfg dev.UploadConfig
	_ = json.Unmarshal(s.Config, &cfg)
	st.mu.Lock()
	defer st.mu.Unlock()
	info := st.uploads[s.UploadID]
	if info == nil {
		info = &upInfo{}
		st.uploads[s.UploadID] = info
	}
	info.total, info.game, info.exe = s.TotalSize, cfg.GameName, cfg.Executable
	info.written = max(info.written, s.TotalWritten)
	return info, nil
}

// uploadError answers a refused upload operation with the document's code.
func uploadError(c *edge.Conn, id string, err error) {
	e := upload.AsError(err)
	sendError(c, id, int(e.Code), e.Message)
}

func (d *Dialect) initUpload(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	in := fr.Body.(*dev.InitUpload)
	var raw struct {
		Config json.RawMessage `json:"config"`
	}
	_ = json.Unmarshal(fr.Payload, &raw)
	hub, _ := st.hub()
	req := upload.InitRequest{OwnerUserID: st.owner(), DeviceID: st.deviceID, HubID: hub, Config: raw.Config, TotalSize: in.TotalSize}
	for _, f := range in.Files {
		req.Files = append(req.Files, upload.FileSpec{Path: f.RelativePath, Size: f.Size})
	}
	res, err := d.up.Init(ctx, req)
	if err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	st.mu.Lock()
	st.uploads[res.UploadID] = &upInfo{total: in.TotalSize, game: in.Config.GameName, exe: in.Config.Executable}
	st.mu.Unlock()
	reply(c, &fr.Message, dev.UploadInitResponse{UploadID: res.UploadID, ChunkSize: int(res.ChunkSize)})
}

func (d *Dialect) uploadStatus(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	st.chunks.Wait()
	id := fr.Body.(*dev.GetUploadStatus).UploadID
	s, err := d.up.Status(ctx, id, st.owner())
	if err == nil {
		_, err = d.remember(st, s)
	}
	if err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	out := dev.UploadStatusResponse{UploadID: s.UploadID, ChunkSize: int(s.ChunkSize), TotalSize: s.TotalSize, TotalWritten: s.TotalWritten, Files: []dev.FileStatus{}}
	for _, f := range s.Files {
		fs := dev.FileStatus{Path: f.Path, Size: f.Size, Ranges: [][2]int64{}}
		for _, r := range f.Ranges {
			fs.Ranges = append(fs.Ranges, [2]int64{r.Start, r.End})
		}
		out.Files = append(out.Files, fs)
	}
	reply(c, &fr.Message, out)
}

func (d *Dialect) cancelUpload(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	st.chunks.Wait()
	id := fr.Body.(*dev.CancelUpload).UploadID
	if _, err := d.uploadInfo(ctx, st, id); err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	if err := d.up.Cancel(ctx, id, st.owner()); err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	st.mu.Lock()
	delete(st.uploads, id)
	st.mu.Unlock()
	d.cancelOnDevice(ctx, st, &syv1.DeviceCancel{UploadId: id, Reason: "cancel_upload"})
	reply(c, &fr.Message, dev.OperationResult{Success: dev.Succeeded(true)})
}

// completeUpload: every file stored (upload service), then the device
// fetches them (device.upload_ready, with a download token for this
// upload), then the shortcut if asked (create_shortcut), then
// operation_result {success, path, appId}.
func (d *Dialect) completeUpload(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	st.chunks.Wait()
	cu := fr.Body.(*dev.CompleteUpload)
	info, err := d.uploadInfo(ctx, st, cu.UploadID)
	if err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	done, err := d.up.Complete(ctx, cu.UploadID, st.owner())
	if err != nil {
		uploadError(c, fr.ID, err)
		return
	}
	st.mu.Lock()
	game, exe := info.game, info.exe
	st.mu.Unlock()
	ready := &syv1.DeviceUploadReady{UploadId: cu.UploadID, GameName: game, Token: done.DownloadToken, Executable: exe}
	for _, f := range done.Files {
		ready.Files = append(ready.Files, &syv1.DeviceUploadFile{Path: f.Path, Size: f.Size, Sha256: f.SHA256,
			Url: upload.DownloadURL(d.cfg.DeviceDownloadBase, cu.UploadID, f.Path, done.DownloadToken)})
		ready.TotalSize += f.Size
	}
	userID := shortcutUser(fr.Payload)
	p := &pending{id: fr.ID, op: dev.TypeCompleteUpload, uploadID: cu.UploadID}
	p.then = func(r *syv1.DeviceResponse) {
		if e := r.GetError(); e != nil {
			sendError(c, fr.ID, int(e.GetCode()), e.GetMessage())
			return
		}
		var res dev.OperationResult
		_ = json.Unmarshal(r.GetPayload(), &res)
		if !cu.CreateShortcut || cu.Shortcut == nil {
			reply(c, &fr.Message, dev.OperationResult{Success: dev.Succeeded(true), Path: res.Path})
			return
		}
		d.createShortcut(c.Context(), c, st, fr, res.Path, userID, cu.Shortcut)
	}
	d.request(ctx, c, st, p, d.cfg.DeviceInstallTimeout, func(rid, _, _ string) *syv1.Envelope {
		ready.RequestId = rid
		return &syv1.Envelope{Type: codec.TypeDeviceUploadReady, Body: &syv1.Envelope_DeviceUploadReady{DeviceUploadReady: ready}}
	})
}

// shortcutUser is the Steam user of complete_upload's shortcut: the
// payload's userId or shortcut.userId (an extension: the document names
// none; without one the device picks its user).
func shortcutUser(payload json.RawMessage) *dev.UserID {
	var p struct {
		UserID   *dev.UserID `json:"userId"`
		Shortcut struct {
			UserID *dev.UserID `json:"userId"`
		} `json:"shortcut"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return nil
	}
	if p.UserID != nil {
		return p.UserID
	}
	return p.Shortcut.UserID
}

// createShortcut is complete_upload's last step: exe and startDir are the
// installed game's.
func (d *Dialect) createShortcut(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame, dir string, user *dev.UserID, sc *dev.ShortcutConfig) {
	req := struct {
		UserID   *dev.UserID        `json:"userId,omitempty"`
		Shortcut dev.ShortcutConfig `json:"shortcut"`
	}{UserID: user, Shortcut: *sc}
	if req.Shortcut.Exe != "" && !path.IsAbs(req.Shortcut.Exe) && dir != "" {
		req.Shortcut.Exe = path.Join(dir, req.Shortcut.Exe)
	}
	if req.Shortcut.StartDir == "" {
		req.Shortcut.StartDir = dir
	}
	payload, _ := json.Marshal(req)
	p := &pending{id: fr.ID, op: dev.TypeCreateShortcut}
	p.then = func(r *syv1.DeviceResponse) {
		if e := r.GetError(); e != nil {
			sendError(c, fr.ID, int(e.GetCode()), "installed in "+dir+", but the shortcut failed: "+e.GetMessage())
			return
		}
		var res dev.OperationResult
		_ = json.Unmarshal(r.GetPayload(), &res)
		reply(c, &fr.Message, dev.OperationResult{Success: dev.Succeeded(true), Path: dir, AppID: res.AppID})
	}
	d.request(ctx, c, st, p, d.cfg.DeviceRequestTimeout, func(rid, hub, hubName string) *syv1.Envelope {
		return &syv1.Envelope{Type: codec.TypeDeviceRequest, Body: &syv1.Envelope_DeviceRequest{DeviceRequest: &syv1.DeviceRequest{
			RequestId: rid, Op: dev.TypeCreateShortcut, Payload: payload, HubId: hub, HubName: hubName}}}
	})
}
