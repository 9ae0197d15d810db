package main

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/process"
	"github.com/switchyard-hub/switchyard/services/devstack/stack"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.quantile(c.q)
		if rel := math.Abs(float64(got-c.want)) / float64(c.want); rel > 0.02 {
			t.Errorf("q%.3f = %s, want %s ±2%%", c.q, got, c.want)
		}
	}
	for _, v := range []int64{1, 63, 64, 65, 1000, 1 << 20, 123456789, 1 << 40} {
		i := histIndex(v)
		if up := histValue(i); up < v || float64(up-v) > float64(v)*0.02+1 {
			t.Errorf("value %d: bucket %d ends at %d", v, i, up)
		}
	}
}

func TestContentRoundTrip(t *testing.T) {
	r := &runtimeSim{id: "rt1"}
	sched, written := time.Now().UnixNano(), time.Now().UnixNano()+12345
	for _, size := range []int{19, 30, 39, 40, 100, 4096} {
		frame := r.appendOutput(nil, "s-1", 7, sched, written, size)
		// The gateway renders the frame for clients with a hub seq in front.
		hub := `{"type":"agent.output","id":"x","session_id":"s-1","seq":42,"ts":"t","payload":{"session_id":"s-1","message_id":"m","seq":42,"channel":"stdout","content":"` +
			strings.SplitN(strings.SplitN(string(frame), `"content":"`, 2)[1], `"`, 2)[0] + `","final":false}}`
		content := strings.SplitN(strings.SplitN(hub, `"content":"`, 2)[1], `"`, 2)[0]
		if len(content) != size {
			t.Errorf("size %d: content has %d bytes", size, len(content))
		}
		seq, s, w, ok := parseOutput([]byte(hub))
		if !ok || seq != 42 || s != sched {
			t.Errorf("size %d: parsed seq %d sched %d ok %v", size, seq, s, ok)
		}
		if size >= 40 && w != written {
			t.Errorf("size %d: written %d, want %d", size, w, written)
		}
	}
	if _, _, _, ok := parseOutput([]byte(`{"type":"history.response"}`)); ok {
		t.Error("history.response parsed as agent.output")
	}
}

func TestParseProm(t *testing.T) {
	p, err := parseProm(strings.NewReader(`# HELP x
process_cpu_seconds_total 12.5
process_resident_memory_bytes 1.048576e+07
switchyard_gateway_frames_in_total{dialect="runtime"} 10
switchyard_gateway_frames_in_total{dialect="client"} 5
switchyard_gateway_error_frames_total{code="a b"} 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.sum("switchyard_gateway_frames_in_total"); v != 15 {
		t.Errorf("sum = %v", v)
	}
	if v := p.get(`switchyard_gateway_frames_in_total{dialect="runtime"}`); v != 10 {
		t.Errorf("runtime = %v", v)
	}
	if v, ok := p.sum("process_resident_memory_bytes"); !ok || v != 10485760 {
		t.Errorf("rss = %v", v)
	}
	if v, _ := p.sum(`switchyard_gateway_error_frames_total`); v != 3 {
		t.Errorf("labels with spaces: %v", v)
	}
}

func TestConfigRefusesNonLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"-gateways", "http://10.0.0.1:8080"},
		{"-gateways", "http://example.com:8080"},
		{"-src", "192.168.1.2"},
		{"-metrics", "s=http://10.1.1.1:9090/metrics"},
	} {
		if _, err := parseRunFlags(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	c, err := parseRunFlags([]string{"-gateways", "http://127.0.0.1:1,http://localhost:2", "-src", "127.0.0.2,127.0.0.3", "-rate", "10,20"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Gateways) != 2 || len(c.Src) != 2 || len(c.Rates) != 2 || c.Deadline <= 0 {
		t.Errorf("config %+v", c)
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	r := &Result{Label: "test", Steps: []StepResult{
		{OfferedIngest: 100, OfferedDelivered: 1000, Latency: Latency{Samples: 10, P50: 1, P99: 3, P999: 5}},
		{OfferedIngest: 500, OfferedDelivered: 5000, Latency: Latency{Samples: 10, P50: 2, P99: 8, P999: 20}},
	}}
	in := filepath.Join(dir, "r.json")
	if err := writeResult(in, r); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "p.png")
	if err := plotMain([]string{"-out", out, in + "=one", in + "=two"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1100 || b.Dy() != 650 {
		t.Errorf("size %v", b)
	}
}

// TestRunAgainstDevStack drives a small dev stack in this process: every
// frame sent reaches every subscriber, once and in order, and the report
// adds up.
func TestRunAgainstDevStack(t *testing.T) {
	ctx, gateway := startDevStack(t)
	lc, err := parseRunFlags([]string{"-gateways", gateway, "-runtimes", "2", "-sessions", "4", "-clients", "3", "-idle", "20", "-procs", "0",
		"-rate", "40,80", "-warmup", "300ms", "-duration", "1s", "-drain", "5s", "-idle-settle", "100ms", "-idle-hold", "200ms", "-watch", "gateway0:" + strconv.Itoa(os.Getpid()),
		"-deadline", "2m", "-quiet"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(ctx, lc)
	if err != nil {
		t.Fatalf("run: %v (%v)", err, res.Problems)
	}
	if res.Setup.Sessions != 4 || res.Setup.Clients != 12 || res.Idle.Opened != 20 || res.Idle.Failed != 0 {
		t.Errorf("setup %+v idle %+v", res.Setup, res.Idle)
	}
	if len(res.Steps) != 2 {
		t.Fatalf("%d steps", len(res.Steps))
	}
	for _, s := range res.Steps {
		if s.Sent < int64(s.OfferedIngest*0.8) || s.Missing != 0 || s.Received != s.Sent*3 || s.Latency.Samples != uint64(s.Received) {
			t.Errorf("step %.0f/s: sent %d received %d missing %d samples %d", s.OfferedIngest, s.Sent, s.Received, s.Missing, s.Latency.Samples)
		}
		if s.Latency.P50 <= 0 || s.Latency.P99 < s.Latency.P50 || s.HubCPUCores <= 0 {
			t.Errorf("step %.0f/s: latency %+v cpu %.3f", s.OfferedIngest, s.Latency, s.HubCPUCores)
		}
	}
	tot := res.Totals
	if tot.Gaps != 0 || tot.Dups != 0 || tot.ClientsLost != 0 || tot.IdleLost != 0 || tot.SlowConsumerDrops != 0 {
		t.Errorf("totals %+v", tot)
	}
	if len(res.Idle.Gateways) != 1 || res.Idle.Gateways[0].Sockets != 20 {
		t.Errorf("idle gateways %+v", res.Idle.Gateways)
	}
}

// TestReadBackAgainstDevStack: with no subscribers (-clients 0) every
// frame sent is found once, in order, in the transcripts read back, and
// the hub's append counters give the persisted rate.
func TestReadBackAgainstDevStack(t *testing.T) {
	ctx, gateway := startDevStack(t)
	lc, err := parseRunFlags([]string{"-gateways", gateway, "-runtimes", "2", "-sessions", "4", "-clients", "0",
		"-rate", "60,120", "-warmup", "300ms", "-duration", "1s", "-drain", "5s", "-watch", "gateway0:" + strconv.Itoa(os.Getpid()),
		"-deadline", "2m", "-quiet"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(ctx, lc)
	if err != nil {
		t.Fatalf("run: %v (%v)", err, res.Problems)
	}
	if len(res.Steps) != 2 || len(res.Problems) != 0 {
		t.Fatalf("%d steps, problems %v", len(res.Steps), res.Problems)
	}
	for _, s := range res.Steps {
		if !s.ReadBack || s.Sent < int64(s.OfferedIngest*0.8) || s.Missing != 0 || s.Received != s.Sent || s.DeliveredFPS != 0 {
			t.Errorf("step %.0f/s: read back %v sent %d received %d missing %d delivered %.0f/s", s.OfferedIngest, s.ReadBack, s.Sent, s.Received, s.Missing, s.DeliveredFPS)
		}
		if s.PersistedFPS < s.OfferedIngest*0.5 {
			t.Errorf("step %.0f/s: the hub counted %.0f stored frames/s", s.OfferedIngest, s.PersistedFPS)
		}
	}
	if tot := res.Totals; tot.Gaps != 0 || tot.Dups != 0 {
		t.Errorf("totals %+v", tot)
	}
}

// startDevStack starts a dev stack in this process with the bench tokens
// and returns its gateway's URL.
func startDevStack(t *testing.T) (context.Context, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a dev stack")
	}
	var cfg stack.Config
	if err := config.Load(&cfg, "devstack", nil); err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	cfg.RuntimeTokens, cfg.ClientTokens = []string{"bench-rt=*"}, []string{"bench-client=bench"}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := stack.Start(ctx, cfg, process.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	return ctx, st.GatewayURL
}

// The runtimes of a step offer evenly spaced frames together: 10 runtimes
// at 50 frames/s each, phased as stepPhase does, send one frame every 2 ms,
// not 10 at once every 20 ms.
func TestRuntimesPaceEvenly(t *testing.T) {
	const runtimes, per = 10, 50.0
	interval := float64(time.Second) / per
	var at []int64
	for i := range runtimes {
		for n := range int64(5) {
			at = append(at, frameAt(1_000_000, interval, float64(i)/runtimes, n))
		}
	}
	slices.Sort(at)
	want := int64(time.Second / (runtimes * per))
	for k := 1; k < len(at); k++ {
		if gap := at[k] - at[k-1]; gap < want-1 || gap > want+1 {
			t.Fatalf("frames %d and %d are %s apart, want %s", k-1, k, time.Duration(gap), time.Duration(want))
		}
	}
}

// A pacer never lets a frame go before its time.
func TestPacerNotEarly(t *testing.T) {
	p, err := newPacer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for range 20 {
		due := time.Now().Add(700 * time.Microsecond).UnixNano()
		p.waitUntil(due)
		if early := due - time.Now().UnixNano(); early > 20_000 {
			t.Fatalf("waitUntil returned %s before the due time", time.Duration(early))
		}
	}
}
