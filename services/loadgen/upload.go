package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The upload scenario (sy-loadgen upload): one device played by the load
// generator on /ws/runtime (it only shows pairing codes), -parallel
// controllers on /ws/device/{id} that pair, then each upload -size/-parallel
// bytes in -chunk chunks (document 001's binary frames, no checksum: the
// hub computes it) with up to -window chunks in flight, and cancel the
// upload afterwards (the chunks are purged). Reported: MiB/s end to end
// (first chunk sent → last acknowledgement) and the peak RSS of each
// -watch process, sampled every 100 ms.

type uploadConfig struct {
	gateway  string // http://host:port
	token    string // runtime token
	device   string
	size     int64
	chunk    int
	parallel int
	window   int
	watch    []watchSpec
	deadline time.Duration
	json     string
}

type uploadResult struct {
	Label     string           `json:"label"`
	Bytes     int64            `json:"bytes"`
	Uploads   int              `json:"uploads"`
	Chunk     int              `json:"chunk"`
	Seconds   float64          `json:"seconds"`
	MiBPerSec float64          `json:"mib_per_s"`
	PeakRSS   map[string]int64 `json:"peak_rss_bytes"`
}

func uploadMain(args []string) error {
	c := &uploadConfig{}
	fs := flag.NewFlagSet("sy-loadgen upload", flag.ContinueOnError)
	fs.StringVar(&c.gateway, "gateway", "http://127.0.0.1:8080", "gateway base URL (loopback only)")
	fs.StringVar(&c.token, "runtime-token", "dev-runtime-token", "runtime token of the simulated device")
	fs.StringVar(&c.device, "device", "bench-deck", "device id")
	size := fs.String("size", "1GiB", "bytes uploaded in total (split evenly over -parallel uploads); KiB/MiB/GiB suffixes")
	chunk := fs.String("chunk", "1MiB", "chunk size")
	fs.IntVar(&c.parallel, "parallel", 1, "uploads at once (one controller socket each)")
	fs.IntVar(&c.window, "window", 4, "chunks in flight per upload")
	watch := fs.String("watch", "", "comma list of name:pid whose peak RSS is reported")
	fs.DurationVar(&c.deadline, "deadline", 10*time.Minute, "hard limit of the run")
	fs.StringVar(&c.json, "json", "", "write the result as JSON to this file")
	label := fs.String("label", "", "name of this run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if c.size, err = parseBytes(*size); err != nil {
		return err
	}
	cs, err := parseBytes(*chunk)
	if err != nil {
		return err
	}
	c.chunk = int(cs)
	if c.watch, err = parseWatch(*watch); err != nil {
		return err
	}
	if c.parallel < 1 || c.window < 1 || c.chunk < 1 || c.size < int64(c.parallel) {
		return errors.New("-parallel, -window, -chunk must be positive and -size at least -parallel")
	}
	if err := checkLoopback(c.gateway); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
	defer cancel()
	res, err := runUpload(ctx, c)
	if err != nil {
		return err
	}
	res.Label = *label
	fmt.Printf("upload: %d upload(s), %d MiB in %d KiB chunks: %.1f MiB/s in %.2f s; peak RSS", res.Uploads, res.Bytes>>20, res.Chunk>>10, res.MiBPerSec, res.Seconds)
	for n, v := range res.PeakRSS {
		fmt.Printf(" %s %d MiB", n, v>>20)
	}
	fmt.Println()
	if c.json != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(c.json, b, 0o644)
	}
	return nil
}

func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func parseWatch(s string) ([]watchSpec, error) {
	var out []watchSpec
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			continue
		}
		name, pid, ok := strings.Cut(item, ":")
		var p int
		if _, err := fmt.Sscan(pid, &p); !ok || err != nil {
			return nil, fmt.Errorf("-watch %q: want name:pid", item)
		}
		out = append(out, watchSpec{Name: name, PID: p})
	}
	return out, nil
}

func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1" {
		return fmt.Errorf("only loopback targets are allowed, not %s", h)
	}
	return nil
}

// simDevice is the device: hello, then it only reads (pairing codes).
type simDevice struct {
	conn  *websocket.Conn
	codes chan map[string]any
}

func startSimDevice(ctx context.Context, c *uploadConfig) (*simDevice, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL(c.gateway, "/ws/runtime", nil), nil)
	if err != nil {
		return nil, err
	}
	hello := map[string]any{"type": "runtime.hello", "ts": time.Now().UTC().Format(time.RFC3339), "payload": map[string]any{
		"runtime_id": c.device, "token": c.token, "org_id": "default",
		"endpoints": []any{map[string]any{"id": c.device, "profile": "device", "name": "bench device",
			"caps": map[string]any{"device": map[string]any{"name": "bench device", "platform": "linux", "acceptConnections": true}}}}}}
	if err := conn.WriteJSON(hello); err != nil {
		return nil, err
	}
	var ack map[string]any
	if err := conn.ReadJSON(&ack); err != nil || ack["type"] != "hello.ack" || ack["payload"].(map[string]any)["ok"] != true {
		return nil, fmt.Errorf("device hello refused: %v %v", ack, err)
	}
	d := &simDevice{conn: conn, codes: make(chan map[string]any, 64)}
	go func() {
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				close(d.codes)
				return
			}
			switch m["type"] {
			case "device.pairing_code":
				d.codes <- m["payload"].(map[string]any)
			case "ping":
				_ = conn.WriteJSON(map[string]any{"type": "pong"})
			}
		}
	}()
	return d, nil
}

func runUpload(ctx context.Context, c *uploadConfig) (*uploadResult, error) {
	dev, err := startSimDevice(ctx, c)
	if err != nil {
		return nil, err
	}
	defer dev.conn.Close()
	ctls := make([]*controller, c.parallel)
	for i := range ctls { // pair one at a time: the device's codes come in order
		if ctls[i], err = pairController(ctx, c, dev, fmt.Sprintf("bench-hub-%d", i)); err != nil {
			return nil, err
		}
		defer ctls[i].conn.Close()
	}
	data := make([]byte, c.chunk)
	for i := range data {
		data[i] = byte(i*31 + i>>8)
	}
	per := c.size / int64(c.parallel)
	ids := make([]string, len(ctls))
	for i, ctl := range ctls {
		if ids[i], err = ctl.initUpload(per); err != nil {
			return nil, err
		}
	}
	peak := &rssPeak{max: map[string]int64{}}
	stopWatch := peak.watch(c.watch)
	start := time.Now()
	errs := make(chan error, len(ctls))
	var wg sync.WaitGroup
	for i, ctl := range ctls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ctl.send(ctx, ids[i], per, data, c.window)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	stopWatch()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for i, ctl := range ctls {
		_ = ctl.call("cancel", "cancel_upload", map[string]any{"uploadId": ids[i]}, "operation_result")
	}
	total := per * int64(c.parallel)
	return &uploadResult{Bytes: total, Uploads: c.parallel, Chunk: c.chunk, Seconds: secs,
		MiBPerSec: float64(total) / (1 << 20) / secs, PeakRSS: peak.max}, nil
}

type controller struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	frames chan map[string]any
}

func pairController(ctx context.Context, c *uploadConfig, dev *simDevice, hubID string) (*controller, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL(c.gateway, "/ws/device/"+c.device, nil), nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(16 << 20)
	ctl := &controller{conn: conn, frames: make(chan map[string]any, 1024)}
	go func() {
		defer close(ctl.frames)
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			ctl.frames <- m
		}
	}()
	if err := ctl.write(map[string]any{"id": "h", "type": "hub_connected", "payload": map[string]any{"name": "sy-loadgen", "version": "0", "hubId": hubID, "token": ""}}); err != nil {
		return nil, err
	}
	if _, err := ctl.expect("pairing_required"); err != nil {
		return nil, err
	}
	var code string
	select {
	case p := <-dev.codes:
		code, _ = p["code"].(string)
	case <-time.After(30 * time.Second):
		return nil, errors.New("the device got no pairing code")
	}
	if err := ctl.call("p", "pair_confirm", map[string]any{"code": code}, "pair_success"); err != nil {
		return nil, err
	}
	if _, err := ctl.expect("agent_status"); err != nil {
		return nil, err
	}
	return ctl, nil
}

func (ctl *controller) write(v any) error {
	ctl.wmu.Lock()
	defer ctl.wmu.Unlock()
	return ctl.conn.WriteJSON(v)
}

func (ctl *controller) expect(typ string) (map[string]any, error) {
	for {
		select {
		case m, ok := <-ctl.frames:
			if !ok {
				return nil, fmt.Errorf("socket closed waiting for %s", typ)
			}
			if m["type"] == typ {
				return m, nil
			}
			if m["type"] == "error" {
				return nil, fmt.Errorf("hub error waiting for %s: %v", typ, m["error"])
			}
		case <-time.After(60 * time.Second):
			return nil, fmt.Errorf("no %s within 60 s", typ)
		}
	}
}

func (ctl *controller) call(id, typ string, p any, want string) error {
	if err := ctl.write(map[string]any{"id": id, "type": typ, "payload": p}); err != nil {
		return err
	}
	_, err := ctl.expect(want)
	return err
}

func (ctl *controller) initUpload(size int64) (string, error) {
	if err := ctl.write(map[string]any{"id": "i", "type": "init_upload", "payload": map[string]any{
		"config": map[string]any{"gameName": "Bench"}, "totalSize": size,
		"files": []any{map[string]any{"relativePath": "data.bin", "size": size}}}}); err != nil {
		return "", err
	}
	m, err := ctl.expect("upload_init_response")
	if err != nil {
		return "", err
	}
	return m["payload"].(map[string]any)["uploadId"].(string), nil
}

// send uploads size bytes with up to window chunks unacknowledged.
func (ctl *controller) send(ctx context.Context, uploadID string, size int64, data []byte, window int) error {
	slots := make(chan struct{}, window)
	var acked atomic.Int64
	done := make(chan error, 1)
	chunks := (size + int64(len(data)) - 1) / int64(len(data))
	go func() {
		for n := int64(0); n < chunks; n++ {
			m, ok := <-ctl.frames
			if !ok {
				done <- errors.New("socket closed during the upload")
				return
			}
			switch m["type"] {
			case "upload_chunk_response":
				acked.Add(1)
				<-slots
			case "error":
				done <- fmt.Errorf("chunk refused: %v", m["error"])
				return
			default:
				n-- // upload_progress
			}
		}
		done <- nil
	}()
	hdr := make([]byte, 0, 256)
	for off := int64(0); off < size; off += int64(len(data)) {
		part := data[:min(int64(len(data)), size-off)]
		select {
		case slots <- struct{}{}:
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		h, _ := json.Marshal(map[string]any{"id": fmt.Sprint(off), "uploadId": uploadID, "filePath": "data.bin", "offset": off})
		hdr = binary.BigEndian.AppendUint32(hdr[:0], uint32(len(h)))
		frame := append(append(hdr, h...), part...)
		ctl.wmu.Lock()
		err := ctl.conn.WriteMessage(websocket.BinaryMessage, frame)
		ctl.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rssPeak samples the RSS of watched processes.
type rssPeak struct {
	mu  sync.Mutex
	max map[string]int64
}

func (p *rssPeak) watch(specs []watchSpec) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			for _, s := range specs {
				if st, err := readProc(s.PID); err == nil {
					p.mu.Lock()
					p.max[s.Name] = max(p.max[s.Name], st.RSS)
					p.mu.Unlock()
				}
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}
