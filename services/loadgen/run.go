package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

func runMain(args []string) error {
	cfg, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	debug.SetGCPercent(400)
	res, err := run(context.Background(), cfg)
	if res != nil {
		printSummary(os.Stdout, res)
		if cfg.JSON != "" {
			if werr := writeResult(cfg.JSON, res); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	return err
}

type runner struct {
	cfg      *Config
	hub      *hub
	c        *simCounters
	d        *sockDialer
	runID    string
	runtimes []*runtimeSim
	clients  []*clientSim
	rb       readBack // -clients 0
	res      *Result

	mu   sync.Mutex
	idle *idleSet
	kids *idleChildren
}

func (r *runner) logf(format string, args ...any) {
	if !r.cfg.Quiet {
		fmt.Fprintf(os.Stderr, "%s sy-loadgen: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
}

func (r *runner) problem(format string, args ...any) {
	r.res.Problems = append(r.res.Problems, fmt.Sprintf(format, args...))
}

// run performs one bounded load run and returns what it measured (also
// when it failed part way).
func run(ctx context.Context, cfg *Config) (*Result, error) {
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	r := &runner{cfg: cfg, hub: newHub(cfg), c: newSimCounters(), d: newSockDialer(cfg.Src, 4096, 4096), runID: hex.EncodeToString(id)}
	r.rb.last = map[string]int64{}
	r.res = &Result{Label: cfg.Label, Started: time.Now().UTC(), Machine: machineInfo(), Config: ConfigView{
		Gateways: cfg.Gateways, Runtimes: cfg.Runtimes, Sessions: cfg.Sessions, ClientsPerSession: cfg.Clients, Idle: cfg.Idle,
		Size: cfg.Size, Rates: cfg.Rates, Lockstep: cfg.Lockstep, WarmupS: cfg.Warmup.Seconds(), MeasureS: cfg.Measure.Seconds(), SourceAddrs: len(cfg.Src),
		IdleProcs: cfg.idleProcs(),
	}}
	for _, s := range r.hub.sources {
		r.res.Config.Watched = append(r.res.Config.Watched, s.Name)
	}
	if r.res.Label == "" {
		r.res.Label = "run"
		if len(cfg.Gateways) > 1 {
			r.res.Label = fmt.Sprintf("%d gateways", len(cfg.Gateways))
		}
	}
	began := time.Now()
	watchdog := time.AfterFunc(cfg.Deadline, func() {
		fmt.Fprintf(os.Stderr, "sy-loadgen: hard deadline %s reached; exiting\n", cfg.Deadline)
		r.mu.Lock()
		r.kids.kill()
		r.mu.Unlock()
		os.Exit(3)
	})
	defer watchdog.Stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()

	if cfg.QuietWait > 0 {
		r.res.BackgroundCores = r.waitQuiet(ctx)
	}
	first := r.hub.snapshot(ctx)
	err := r.setup(ctx)
	if err == nil && cfg.Idle > 0 {
		err = r.idlePhase(ctx)
	}
	for _, rate := range cfg.Rates {
		if err != nil {
			break
		}
		err = r.stepPhase(ctx, rate)
	}
	r.teardown()
	last := r.hub.snapshot(context.Background())
	t := &r.res.Totals
	t.SlowConsumerDrops = r.hub.gatewayDelta(first, last, "switchyard_gateway_slow_consumer_drops_total")
	t.ClientsLost = r.c.clientsLost.Load()
	t.Gaps, t.Dups = r.c.gaps.Load(), r.c.dups.Load()
	t.ClientErrorFrames, t.RuntimeErrFrames = r.c.errorFrames.Load(), r.c.rtErrFrames.Load()
	r.c.mu.Lock()
	if len(r.c.closeReasons) > 0 {
		t.CloseReasons = r.c.closeReasons
	}
	t.ErrorSamples = r.c.errSamples
	r.c.mu.Unlock()
	for _, s := range r.res.Steps {
		t.MaxDeliveredFPS = math.Max(t.MaxDeliveredFPS, s.DeliveredFPS)
	}
	t.Seconds = time.Since(began).Seconds()
	if t.SlowConsumerDrops > 0 {
		r.problem("%.0f sockets were dropped as slow consumers (close 4008)", t.SlowConsumerDrops)
	}
	if t.ClientsLost > 0 {
		r.problem("%d subscribed client sockets ended during the run", t.ClientsLost)
	}
	if t.IdleLost > 0 {
		r.problem("%d idle sockets ended during the run", t.IdleLost)
	}
	if t.Gaps > 0 || t.Dups > 0 {
		r.problem("clients saw %d seq gaps and %d duplicates", t.Gaps, t.Dups)
	}
	if err != nil {
		r.problem("run stopped early: %v", err)
	}
	return r.res, err
}

// waitQuiet waits (at most -quiet-wait) until the machine is nearly idle,
// so other work does not skew the numbers, and returns the busy cores of
// the last sample.
func (r *runner) waitQuiet(ctx context.Context) float64 {
	until := time.Now().Add(r.cfg.QuietWait)
	for {
		b0 := machineBusy()
		sleepCtx(ctx, 2*time.Second)
		busy := (machineBusy() - b0) / 2
		if busy <= r.cfg.QuietBelow || time.Now().After(until) || ctx.Err() != nil {
			if busy > r.cfg.QuietBelow {
				r.problem("the machine was busy (%.2f cores used by other processes) when the run started", busy)
			}
			r.logf("machine busy %.2f cores before the run", busy)
			return round3(busy)
		}
		r.logf("machine busy %.2f cores; waiting for it to quieten", busy)
	}
}

// setup connects the runtimes, creates the sessions and subscribes the
// clients.
func (r *runner) setup(ctx context.Context) error {
	cfg := r.cfg
	if cfg.Runtimes == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	r.runtimes = make([]*runtimeSim, cfg.Runtimes)
	err := parallel(cfg.Runtimes, 16, func(i int) error {
		rt, err := dialRuntime(sctx, r.d, cfg.Gateways[0], i, fmt.Sprintf("lg-%s-rt%d", r.runID, i), fmt.Sprintf("lg-%s-ep%d", r.runID, i), cfg.RuntimeToken, r.c)
		r.runtimes[i] = rt
		return err
	})
	r.res.Setup.Runtimes = countNonNil(r.runtimes)
	r.res.Setup.RuntimeSeconds = time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("runtimes: %w", err)
	}
	r.logf("%d runtimes online on %s (%.1fs)", cfg.Runtimes, cfg.Gateways[0], time.Since(t0).Seconds())

	t0 = time.Now()
	sessions := make([]string, cfg.Sessions)
	hc := &http.Client{Timeout: 40 * time.Second}
	err = parallel(cfg.Sessions, 16, func(i int) error {
		rt := r.runtimes[i%cfg.Runtimes]
		id, err := createSession(sctx, hc, cfg.Gateways[i%len(cfg.Gateways)], cfg.ClientToken, rt.endpoint)
		sessions[i] = id
		return err
	})
	for i, s := range sessions {
		if s != "" {
			rt := r.runtimes[i%cfg.Runtimes]
			rt.sessions = append(rt.sessions, s)
			rt.seqs = append(rt.seqs, 0)
			r.res.Setup.Sessions++
		}
	}
	r.res.Setup.SessionsPerSecond = float64(r.res.Setup.Sessions) / time.Since(t0).Seconds()
	if cfg.Partitions > 0 && r.res.Setup.Sessions > 0 {
		// The session service handles one message per partition at a time;
		// every session gets the same share of the offered load.
		per := make([]int, cfg.Partitions)
		for _, s := range sessions {
			if s != "" {
				per[bus.Partition(s, cfg.Partitions)]++
			}
		}
		r.res.Setup.Partitions = cfg.Partitions
		r.res.Setup.PartitionSessions = per
		r.res.Setup.BusiestPartitionShare = round3(float64(slices.Max(per)) / float64(r.res.Setup.Sessions))
	}
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	r.logf("%d sessions created (%.0f/s)", cfg.Sessions, r.res.Setup.SessionsPerSecond)

	t0 = time.Now()
	n := cfg.Sessions * cfg.Clients
	r.clients = make([]*clientSim, n)
	err = parallel(n, cfg.Concurrency, func(k int) error {
		cl, err := dialClient(sctx, r.d, cfg.Gateways[k%len(cfg.Gateways)], cfg.Runtimes+k, cfg.ClientToken, sessions[k/cfg.Clients], r.c)
		r.clients[k] = cl
		return err
	})
	r.res.Setup.Clients = countNonNil(r.clients)
	r.res.Setup.ClientsPerSecond = float64(r.res.Setup.Clients) / time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("clients: %w", err)
	}
	r.logf("%d clients subscribed (%.0f sockets/s)", n, r.res.Setup.ClientsPerSecond)
	return nil
}

func createSession(ctx context.Context, hc *http.Client, gw, token, endpoint string) (string, error) {
	body, _ := json.Marshal(map[string]string{"endpoint_id": endpoint})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/v1/sessions", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/sessions: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("POST /v1/sessions: no id in %s", raw)
	}
	return v.ID, nil
}

// idlePhase opens the idle sockets and measures connect rate, memory per
// socket and the CPU it costs to hold them.
func (r *runner) idlePhase(ctx context.Context) error {
	cfg := r.cfg
	procs := cfg.idleProcs()
	id := &IdleResult{Requested: cfg.Idle, Procs: procs, HubCPUByProc: map[string]float64{}}
	r.res.Idle = id
	before := r.hub.snapshot(ctx)
	lBefore, mBefore := selfCPU(nil), machineBusy()
	where := "in this process"
	if procs > 0 {
		where = fmt.Sprintf("in %d child process(es)", procs)
	}
	r.logf("opening %d idle sockets over %d gateway(s) from %d source address(es) %s", cfg.Idle, len(cfg.Gateways), len(cfg.Src), where)
	var rep idleReport
	var err error
	if procs == 0 {
		octx, cancel := context.WithTimeout(ctx, cfg.Deadline)
		var set *idleSet
		set, rep = openIdle(octx, newSockDialer(cfg.Src, 512, 512), cfg.Gateways, cfg.ClientToken, 0, cfg.Idle, cfg.Concurrency)
		cancel()
		r.mu.Lock()
		r.idle = set
		r.mu.Unlock()
	} else {
		var kids *idleChildren
		kids, rep, err = startIdleChildren(cfg, cfg.Idle, procs)
		r.mu.Lock()
		r.kids = kids
		r.mu.Unlock()
	}
	opened := r.hub.snapshot(ctx)
	if secs := opened.At.Sub(before.At).Seconds(); secs > 0 {
		id.ConnectLoadgenCores = round3((selfCPU(r.kids.pids()) - lBefore) / secs)
		id.ConnectMachineCores = round3((machineBusy() - mBefore) / secs)
		by, total := cpuDelta(before, opened)
		id.ConnectHubCores = round3(total / secs)
		id.ConnectHubByProc = map[string]float64{}
		for k, v := range by {
			id.ConnectHubByProc[k] = round3(v / secs)
		}
	}
	id.Opened, id.Failed = rep.Opened, rep.Failed
	id.ConnectSeconds = float64(rep.ElapsedNS) / 1e9
	if id.ConnectSeconds > 0 {
		id.ConnectRate = float64(rep.Opened) / id.ConnectSeconds
	}
	id.Errors = topErrors(rep.Errors, 5)
	r.logf("%d idle sockets open, %d failed, in %.1fs (%.0f/s); while connecting: hub %.2f cores (%s), load generator %.2f, machine %.2f",
		rep.Opened, rep.Failed, id.ConnectSeconds, id.ConnectRate, id.ConnectHubCores, procCores(id.ConnectHubByProc), id.ConnectLoadgenCores, id.ConnectMachineCores)
	if err != nil {
		return fmt.Errorf("idle sockets: %w", err)
	}
	if rep.Failed > 0 {
		r.problem("%d of %d idle sockets failed to open: %v", rep.Failed, cfg.Idle, id.Errors)
	}
	id.ServerSocketsOpened = r.hub.gatewaySum(opened, `switchyard_gateway_connections{dialect="client"}`)
	sleepCtx(ctx, cfg.IdleSettle)
	after := r.hub.snapshot(ctx)
	id.ServerSocketsSettled = r.hub.gatewaySum(after, `switchyard_gateway_connections{dialect="client"}`)
	var grow int64
	for _, src := range r.hub.sources {
		b, okb := before.RSS[src.Name]
		a, oka := after.RSS[src.Name]
		if !okb || !oka {
			continue
		}
		id.Processes = append(id.Processes, ProcessRSS{Name: src.Name, RSSBefore: b, RSSAfter: a})
		grow += a - b
		if src.Gateway >= 0 {
			g := GatewayIdle{Gateway: src.Name + " " + r.cfg.Gateways[src.Gateway], Sockets: rep.PerGateway[src.Gateway], RSSBefore: b, RSSAfter: a}
			if g.Sockets > 0 {
				g.BytesPerSocket = float64(a-b) / float64(g.Sockets)
			}
			id.Gateways = append(id.Gateways, g)
		}
	}
	if rep.Opened > 0 {
		id.HubRSSPerSock = float64(grow) / float64(rep.Opened)
	}
	if cfg.IdleHold > 0 {
		h1 := r.hub.snapshot(ctx)
		l1, m1 := selfCPU(r.kids.pids()), machineBusy()
		sleepCtx(ctx, cfg.IdleHold)
		h2 := r.hub.snapshot(ctx)
		l2, m2 := selfCPU(r.kids.pids()), machineBusy()
		secs := h2.At.Sub(h1.At).Seconds()
		by, total := cpuDelta(h1, h2)
		for k, v := range by {
			id.HubCPUByProc[k] = round3(v / secs)
		}
		id.HoldSeconds = secs
		id.HubCPUCores = round3(total / secs)
		id.ServerSocketsHeld = r.hub.gatewaySum(h2, `switchyard_gateway_connections{dialect="client"}`)
		id.LoadgenCores = round3((l2 - l1) / secs)
		id.MachineCores = round3((m2 - m1) / secs)
		r.logf("holding %d idle sockets costs the hub %.2f cores (%s); gateways count %.0f client sockets after opening, %.0f after settling, %.0f after holding",
			rep.Opened, id.HubCPUCores, procCores(id.HubCPUByProc), id.ServerSocketsOpened, id.ServerSocketsSettled, id.ServerSocketsHeld)
	}
	return ctx.Err()
}

// stepPhase offers one rate: warmup, measure window, drain.
func (r *runner) stepPhase(ctx context.Context, rate float64) error {
	cfg := r.cfg
	var active []*runtimeSim
	for _, rt := range r.runtimes {
		if rt != nil && len(rt.sessions) > 0 {
			active = append(active, rt)
		}
	}
	if len(active) == 0 {
		return errors.New("no runtime has a session")
	}
	fanout := int64(cfg.Clients)
	st := &step{rate: rate, fanout: fanout}
	pStart := time.Now().Add(200 * time.Millisecond)
	wStart := pStart.Add(cfg.Warmup)
	wEnd := wStart.Add(cfg.Measure)
	st.pStart, st.wStart, st.wEnd = pStart.UnixNano(), wStart.UnixNano(), wEnd.UnixNano()
	r.c.cur.Store(st)
	var start *hubSnapshot
	if fanout == 0 {
		start = r.hub.snapshot(ctx) // the stored frames are counted from here
	}
	r.logf("step %.0f frames/s offered (%.0f/s to deliver): warmup %s, measure %s", rate, rate*float64(fanout), cfg.Warmup, cfg.Measure)
	var wg sync.WaitGroup
	per := rate / float64(len(active))
	for i, rt := range active {
		phase := float64(i) / float64(len(active))
		if cfg.Lockstep {
			phase = 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.pace(st, per, pStart, phase, wEnd, cfg.Size)
		}()
	}
	sleepUntil(ctx, wStart)
	a := r.hub.snapshot(ctx)
	la := selfCPU(r.kids.pids())
	ma := machineBusy()
	g0, d0, e0, lost0 := r.c.gaps.Load(), r.c.dups.Load(), r.c.rtErrFrames.Load(), r.c.clientsLost.Load()
	sleepUntil(ctx, wEnd)
	b := r.hub.snapshot(ctx)
	lb := selfCPU(r.kids.pids())
	mb := machineBusy()
	e1 := r.c.rtErrFrames.Load()
	wg.Wait()
	drainStart := time.Now()
	copies, readErr := fanout, error(nil)
	if fanout == 0 {
		copies = 1 // one stored copy of each frame
		r.awaitStored(ctx, start, st, wEnd.Add(cfg.Drain))
	} else {
		r.drain(ctx, st, wEnd)
	}
	drained := time.Since(drainStart)
	c := r.hub.snapshot(ctx)
	if fanout == 0 {
		readErr = r.readBackStep(ctx, st, time.Now().Add(cfg.Drain))
	}
	r.c.cur.Store(nil)

	m := cfg.Measure.Seconds()
	s := StepResult{
		OfferedIngest: rate, OfferedDelivered: rate * float64(fanout), MeasureSeconds: m,
		Sent: st.sent.Load(), SendErrors: st.sendErr.Load(), RuntimeErrors: e1 - e0,
		Expected: st.sent.Load() * copies, Received: st.recv.Load(), Late: st.late.Load(), ReadBack: fanout == 0,
		Gaps: r.c.gaps.Load() - g0, Dups: r.c.dups.Load() - d0, ClientsLost: r.c.clientsLost.Load() - lost0,
		DrainSeconds: round3(drained.Seconds()), BehindMaxMs: round3(float64(st.behindMax.Load()) / 1e6),
		Latency: latencyOf(&st.lat), LatencyWrite: latencyOf(&st.latWrite),
		HubCPUByProc: map[string]float64{},
	}
	s.SentFPS = round1(float64(s.Sent) / m)
	s.IngestedFPS = round1(float64(s.Sent-s.RuntimeErrors) / m)
	s.DeliveredFPS = round1(float64(st.recvWall.Load()) / m)
	s.ReceivedFPS = round1(float64(s.Received) / m)
	s.Missing = max(s.Expected-s.Received, 0)
	secs := b.At.Sub(a.At).Seconds()
	s.HubIngestedFPS = round1(r.hub.gatewayDelta(a, b, `switchyard_gateway_frames_in_total{dialect="runtime"}`) / secs)
	if v, ok := promDeltaOf(a, b, "session", metricSessionAppends); ok {
		s.AppendedFPS = round1(v / secs)
	}
	s.PersistedFPS = round1(r.appended(a, b) / secs)
	s.SlowConsumer = r.hub.gatewayDelta(a, c, "switchyard_gateway_slow_consumer_drops_total")
	s.Internals = r.internals(a, b, secs)
	by, total := cpuDelta(a, b)
	for k, v := range by {
		s.HubCPUByProc[k] = round3(v / secs)
	}
	s.HubCPUCores = round3(total / secs)
	if s.DeliveredFPS > 0 {
		s.CPUPer10kFPS = round3(s.HubCPUCores / (s.DeliveredFPS / 10000))
	}
	if s.IngestedFPS > 0 {
		s.CPUPer1kIngest = round3(s.HubCPUCores / (s.IngestedFPS / 1000))
	}
	s.LoadgenCores = round3((lb - la) / secs)
	s.MachineCores = round3((mb - ma) / secs)
	s.OtherCores = round3(math.Max(s.MachineCores-s.HubCPUCores-s.LoadgenCores, 0))
	r.res.Steps = append(r.res.Steps, s)
	r.logf("  sent %.0f/s, delivered %.0f/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, missing %d, hub %.2f cores (%s), loadgen %.2f cores",
		s.SentFPS, s.DeliveredFPS, s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Missing, s.HubCPUCores, procCores(s.HubCPUByProc), s.LoadgenCores)
	if s.OtherCores > 0.25 {
		r.problem("at %.0f/s offered, processes outside the hub and load generator used %.2f cores of the machine during the window", rate, s.OtherCores)
	}
	switch {
	case s.Missing > 0 && s.ReadBack:
		r.problem("at %.0f/s offered, %d of %d frames were not found in the transcripts read back", rate, s.Missing, s.Expected)
	case s.Missing > 0:
		r.problem("at %.0f/s offered, %d of %d frames were not delivered within %s after the window", rate, s.Missing, s.Expected, cfg.Drain)
	}
	if readErr != nil {
		r.problem("at %.0f/s offered, reading the transcripts back failed: %v", rate, readErr)
	}
	if s.SendErrors > 0 || s.RuntimeErrors > 0 {
		r.problem("at %.0f/s offered, %d runtime writes failed and %d error frames came back", rate, s.SendErrors, s.RuntimeErrors)
	}
	return ctx.Err()
}

// drain waits for the frames of st's window still in flight to reach the
// subscribers.
func (r *runner) drain(ctx context.Context, st *step, wEnd time.Time) {
	for {
		exp := st.sent.Load() * st.fanout
		now := time.Now()
		if st.recv.Load() >= exp || now.After(wEnd.Add(r.cfg.Drain)) || ctx.Err() != nil {
			return
		}
		if last := st.lastRecv.Load(); now.Sub(time.Unix(0, last)) > 3*time.Second && now.Sub(wEnd) > 3*time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// internals are hub metrics that explain a step: where time goes inside
// the pipeline (means over the window), when the processes expose them.
func (r *runner) internals(a, b *hubSnapshot, secs float64) map[string]float64 {
	out := map[string]float64{}
	mean := func(key, sum, count string, gateways bool, name string) {
		var ds, dc float64
		if gateways {
			ds, dc = r.hub.gatewayDelta(a, b, sum), r.hub.gatewayDelta(a, b, count)
		} else {
			var ok1, ok2 bool
			ds, ok1 = promDeltaOf(a, b, name, sum)
			dc, ok2 = promDeltaOf(a, b, name, count)
			if !ok1 || !ok2 {
				return
			}
		}
		if dc > 0 {
			out[key] = round3(ds / dc * 1000)
		}
	}
	mean("gateway_jetstream_publish_ms_mean", "switchyard_gateway_publish_seconds_sum", "switchyard_gateway_publish_seconds_count", true, "")
	mean("session_handle_ms_mean", "switchyard_session_handle_seconds_sum", "switchyard_session_handle_seconds_count", false, "session")
	if v, ok := promDeltaOf(a, b, "session", "switchyard_session_handle_seconds_count"); ok {
		out["session_handled_per_s"] = round1(v / secs)
		// Busy fraction of the partitions: handle time per second of
		// window, over the number of partitions (at most one message of
		// a partition is in flight).
		if hs, ok := promDeltaOf(a, b, "session", "switchyard_session_handle_seconds_sum"); ok {
			out["session_partitions_busy"] = round3(hs / secs)
		}
	}
	if v := r.hub.gatewayDelta(a, b, `switchyard_gateway_frames_out_total{dialect="client"}`); v > 0 {
		out["gateway_client_frames_out_per_s"] = round1(v / secs)
	}
	if v := r.hub.gatewayDelta(a, b, "switchyard_gateway_gap_repairs_total"); v > 0 {
		out["gateway_gap_repairs"] = v
	}
	if v := r.hub.gatewayDelta(a, b, "switchyard_gateway_duplicate_events_total"); v > 0 {
		out["gateway_duplicate_events"] = v
	}
	return out
}

// teardown closes every socket this run opened.
func (r *runner) teardown() {
	r.c.cur.Store(nil)
	_ = parallel(len(r.clients), 64, func(i int) error {
		if cl := r.clients[i]; cl != nil {
			cl.close()
		}
		return nil
	})
	for _, rt := range r.runtimes {
		if rt != nil {
			rt.close()
		}
	}
	r.mu.Lock()
	idle, kids := r.idle, r.kids
	r.mu.Unlock()
	var lost int64
	why := map[string]int{}
	if idle != nil {
		lost += idle.close()
		why = idle.reasons()
	}
	if kids != nil {
		n, w := kids.stop()
		lost += n
		for k, v := range w {
			why[k] += v
		}
	}
	r.c.mu.Lock()
	for k, v := range why {
		r.c.closeReasons["idle: "+k] += v
	}
	r.c.mu.Unlock()
	r.res.Totals.IdleLost = lost
	if r.res.Idle != nil {
		r.res.Idle.Lost = lost
	}
	r.logf("closed every socket")
}

// parallel runs f(0..n-1) with at most conc at once and returns the
// first errors (up to 5).
func parallel(n, conc int, f func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	failed := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					failed++
					if len(errs) < 5 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("%d of %d failed: %w", failed, n, errors.Join(errs...))
	}
	return nil
}

func countNonNil[T any](s []*T) int {
	n := 0
	for _, v := range s {
		if v != nil {
			n++
		}
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func sleepUntil(ctx context.Context, t time.Time) { sleepCtx(ctx, time.Until(t)) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
