package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Result is everything one run measured; it is what -json writes.
type Result struct {
	Label   string       `json:"label"`
	Started time.Time    `json:"started"`
	Machine Machine      `json:"machine"`
	Config  ConfigView   `json:"config"`
	Setup   SetupResult  `json:"setup"`
	Idle    *IdleResult  `json:"idle,omitempty"`
	Steps   []StepResult `json:"steps"`
	Totals  Totals       `json:"totals"`
	// BackgroundCores is how busy the machine was just before the run.
	BackgroundCores float64  `json:"background_cores"`
	Problems        []string `json:"problems,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores     int     `json:"cores"`
	MemGiB    float64 `json:"mem_gib"`
	GoVersion string  `json:"go_version"`
	Kernel    string  `json:"kernel"`
	CPUModel  string  `json:"cpu_model"`
	FDLimit   uint64  `json:"fd_limit"`
}

// ConfigView is the run's configuration as reported.
type ConfigView struct {
	Gateways          []string  `json:"gateways"`
	Runtimes          int       `json:"runtimes"`
	Sessions          int       `json:"sessions"`
	ClientsPerSession int       `json:"clients_per_session"`
	Idle              int       `json:"idle"`
	Size              int       `json:"size"`
	Rates             []float64 `json:"rates"`
	Lockstep          bool      `json:"lockstep,omitempty"`
	WarmupS           float64   `json:"warmup_s"`
	MeasureS          float64   `json:"measure_s"`
	SourceAddrs       int       `json:"source_addrs"`
	IdleProcs         int       `json:"idle_procs"`
	Watched           []string  `json:"watched"`
}

// SetupResult is the connect phase of runtimes, sessions and subscribers.
type SetupResult struct {
	Runtimes          int     `json:"runtimes"`
	RuntimeSeconds    float64 `json:"runtime_seconds"`
	Sessions          int     `json:"sessions"`
	SessionsPerSecond float64 `json:"sessions_per_second"`
	Clients           int     `json:"clients"`
	ClientsPerSecond  float64 `json:"clients_per_second"` // connect + subscribe + history.response
	// Partitions of the session service's inbound stream (SY_PARTITIONS)
	// and how many of the sessions hash to each: the busiest partition
	// carries this share of the offered load.
	Partitions            int     `json:"partitions,omitempty"`
	PartitionSessions     []int   `json:"partition_sessions,omitempty"`
	BusiestPartitionShare float64 `json:"busiest_partition_share,omitempty"`
}

// IdleResult is the idle-socket phase.
type IdleResult struct {
	Requested      int     `json:"requested"`
	Opened         int     `json:"opened"`
	Failed         int     `json:"failed"`
	Procs          int     `json:"procs"`
	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectRate    float64 `json:"connect_rate"` // sockets/s
	// Hub CPU while the sockets were being opened.
	ConnectHubCores     float64            `json:"connect_hub_cpu_cores"`
	ConnectHubByProc    map[string]float64 `json:"connect_hub_cpu_by_proc,omitempty"`
	ConnectLoadgenCores float64            `json:"connect_loadgen_cpu_cores"`
	ConnectMachineCores float64            `json:"connect_machine_cpu_cores"`
	Gateways            []GatewayIdle      `json:"gateways"`
	Processes           []ProcessRSS       `json:"processes"`
	HubRSSPerSock       float64            `json:"hub_rss_per_socket"` // every measured hub process together
	HoldSeconds         float64            `json:"hold_seconds"`
	HubCPUCores         float64            `json:"hub_cpu_cores"` // while only holding the sockets
	HubCPUByProc        map[string]float64 `json:"hub_cpu_by_proc"`
	LoadgenCores        float64            `json:"loadgen_cpu_cores"`
	MachineCores        float64            `json:"machine_cpu_cores"`
	Lost                int64              `json:"lost"` // sockets that ended before the run closed them
	// Client sockets the gateways count (switchyard_gateway_connections)
	// right after opening, after the settle wait and after the hold.
	ServerSocketsOpened  float64  `json:"server_sockets_opened"`
	ServerSocketsSettled float64  `json:"server_sockets_settled"`
	ServerSocketsHeld    float64  `json:"server_sockets_held"`
	Errors               []string `json:"errors,omitempty"`
}

// GatewayIdle is one gateway's memory growth with the idle sockets.
type GatewayIdle struct {
	Gateway        string  `json:"gateway"`
	Sockets        int     `json:"sockets"`
	RSSBefore      int64   `json:"rss_before"`
	RSSAfter       int64   `json:"rss_after"`
	BytesPerSocket float64 `json:"bytes_per_socket"`
}

// ProcessRSS is one measured process's resident memory before and after.
type ProcessRSS struct {
	Name      string `json:"name"`
	RSSBefore int64  `json:"rss_before"`
	RSSAfter  int64  `json:"rss_after"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	Samples uint64  `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p999_ms"`
	Max     float64 `json:"max_ms"`
}

// StepResult is one offered rate.
type StepResult struct {
	OfferedIngest    float64            `json:"offered_ingest_fps"`    // agent.output frames/s the runtimes were to send
	OfferedDelivered float64            `json:"offered_delivered_fps"` // × subscribers per session
	MeasureSeconds   float64            `json:"measure_seconds"`
	Sent             int64              `json:"sent"`
	SentFPS          float64            `json:"sent_fps"`
	SendErrors       int64              `json:"send_errors"`
	RuntimeErrors    int64              `json:"runtime_error_frames"`
	IngestedFPS      float64            `json:"ingested_fps"`     // sent − refused, per second
	HubIngestedFPS   float64            `json:"hub_ingested_fps"` // gateways' runtime frames_in
	AppendedFPS      float64            `json:"appended_fps,omitempty"`
	PersistedFPS     float64            `json:"persisted_fps"`       // runtime frames the hub stored (direct appends + session appends), per second of window
	ReadBack         bool               `json:"read_back,omitempty"` // -clients 0: received counts the window's frames found in the transcripts read back
	Expected         int64              `json:"expected"`
	Received         int64              `json:"received"`
	DeliveredFPS     float64            `json:"delivered_fps"` // frames that reached clients during the window
	ReceivedFPS      float64            `json:"received_fps"`  // frames sent in the window that reached clients (by the end of the drain), per second of window
	Missing          int64              `json:"missing"`       // expected − received after the drain
	Late             int64              `json:"late"`
	Gaps             int64              `json:"gaps"`
	Dups             int64              `json:"dups"`
	SlowConsumer     float64            `json:"slow_consumer_drops"`
	ClientsLost      int64              `json:"clients_lost"`
	DrainSeconds     float64            `json:"drain_seconds"`
	BehindMaxMs      float64            `json:"sender_behind_max_ms"`
	Latency          Latency            `json:"latency"`       // receive − scheduled send
	LatencyWrite     Latency            `json:"latency_write"` // receive − actual write
	HubCPUCores      float64            `json:"hub_cpu_cores"`
	HubCPUByProc     map[string]float64 `json:"hub_cpu_by_proc"`
	CPUPer10kFPS     float64            `json:"cpu_cores_per_10k_delivered_fps"`
	CPUPer1kIngest   float64            `json:"cpu_cores_per_1k_ingested_fps"`
	LoadgenCores     float64            `json:"loadgen_cpu_cores"`
	MachineCores     float64            `json:"machine_cpu_cores"` // every process on the machine
	OtherCores       float64            `json:"other_cpu_cores"`   // neither hub nor load generator
	Internals        map[string]float64 `json:"internals,omitempty"`
}

// Totals are counted over the whole run.
type Totals struct {
	SlowConsumerDrops float64        `json:"slow_consumer_drops"`
	ClientsLost       int64          `json:"clients_lost"`
	IdleLost          int64          `json:"idle_lost"`
	Gaps              int64          `json:"gaps"`
	Dups              int64          `json:"dups"`
	ClientErrorFrames int64          `json:"client_error_frames"`
	RuntimeErrFrames  int64          `json:"runtime_error_frames"`
	CloseReasons      map[string]int `json:"close_reasons,omitempty"`
	ErrorSamples      []string       `json:"error_samples,omitempty"`
	MaxDeliveredFPS   float64        `json:"max_delivered_fps"`
	Seconds           float64        `json:"seconds"`
}

func latencyOf(h *hist) Latency {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latency{Samples: h.count(), P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Max: ms(time.Duration(h.max.Load()))}
}

func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				_, _ = fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%f", &kb)
			}
		}
		m.MemGiB = math.Round(kb/1024/1024*10) / 10
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		m.FDLimit = rl.Cur
	}
	return m
}

func writeResult(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// printSummary writes a human summary of one run.
func printSummary(w io.Writer, r *Result) {
	fmt.Fprintf(w, "== %s: %d gateway(s), %d runtimes, %d sessions × %d subscribers, %d-byte content\n",
		r.Label, len(r.Config.Gateways), r.Setup.Runtimes, r.Setup.Sessions, r.Config.ClientsPerSession, r.Config.Size)
	if r.Setup.Clients > 0 {
		fmt.Fprintf(w, "   setup: %d sessions (%.0f/s), %d subscribed clients (%.0f sockets/s)\n",
			r.Setup.Sessions, r.Setup.SessionsPerSecond, r.Setup.Clients, r.Setup.ClientsPerSecond)
	}
	if id := r.Idle; id != nil {
		fmt.Fprintf(w, "   idle: %d/%d sockets open in %.1fs (%.0f/s) from %d child process(es); hub RSS/socket %s; holding them: hub %.2f cores (%s); lost %d\n",
			id.Opened, id.Requested, id.ConnectSeconds, id.ConnectRate, id.Procs, kib(id.HubRSSPerSock), id.HubCPUCores, procCores(id.HubCPUByProc), id.Lost)
		for _, g := range id.Gateways {
			fmt.Fprintf(w, "     %-28s %6d sockets  RSS %s → %s  = %s/socket\n", g.Gateway, g.Sockets, mib(g.RSSBefore), mib(g.RSSAfter), kib(g.BytesPerSocket))
		}
		for _, e := range id.Errors {
			fmt.Fprintf(w, "     error: %s\n", e)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "   %9s %9s %9s %9s %10s %10s %8s %8s %8s %8s %6s %7s %9s %6s\n", "offer/s", "sent/s", "ingest/s", "stored/s", "deliver/s", "offer×fan", "p50ms", "p99ms", "p999ms", "maxms", "cores", "c/10k", "missing", "drops")
		for _, s := range r.Steps {
			fmt.Fprintf(w, "   %9.0f %9.0f %9.0f %9.0f %10.0f %10.0f %8.2f %8.2f %8.2f %8.1f %6.2f %7.2f %9d %6.0f\n",
				s.OfferedIngest, s.SentFPS, s.IngestedFPS, s.PersistedFPS, s.DeliveredFPS, s.OfferedDelivered, s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Latency.Max,
				s.HubCPUCores, s.CPUPer10kFPS, s.Missing, s.SlowConsumer)
		}
		if last := r.Steps[len(r.Steps)-1]; len(last.HubCPUByProc) > 0 {
			fmt.Fprintf(w, "   hub CPU by process at %.0f/s offered: %s (load generator %.2f cores)\n", last.OfferedIngest, procCores(last.HubCPUByProc), last.LoadgenCores)
		}
	}
	t := r.Totals
	fmt.Fprintf(w, "   totals: max delivered %.0f/s, slow-consumer drops %.0f, clients lost %d, idle lost %d, gaps %d, dups %d, error frames %d client / %d runtime\n",
		t.MaxDeliveredFPS, t.SlowConsumerDrops, t.ClientsLost, t.IdleLost, t.Gaps, t.Dups, t.ClientErrorFrames, t.RuntimeErrFrames)
	for k, v := range t.CloseReasons {
		fmt.Fprintf(w, "   closed: %d× %s\n", v, k)
	}
	for _, e := range t.ErrorSamples {
		fmt.Fprintf(w, "   error frame: %s\n", e)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "   PROBLEM: %s\n", p)
	}
}

func procCores(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, m[n]))
	}
	return strings.Join(parts, ", ")
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
func mib(b int64) string   { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// tableMain prints Markdown tables of one or more result files.
func tableMain(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: sy-loadgen table FILE.json[=label] …")
	}
	var results []*Result
	for _, a := range args {
		path, label, _ := strings.Cut(a, "=")
		r, err := readResult(path)
		if err != nil {
			return err
		}
		if label != "" {
			r.Label = label
		}
		results = append(results, r)
	}
	w := os.Stdout
	fmt.Fprintln(w, "| run | offered ingest/s | offered delivered/s | ingested/s | delivered/s | p50 ms | p99 ms | p99.9 ms | max ms | hub cores | cores per 10k delivered/s | load generator cores | other processes' cores | missing | slow-consumer drops |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		for _, s := range r.Steps {
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %d | %.0f |\n",
				r.Label, s.OfferedIngest, s.OfferedDelivered, s.IngestedFPS, s.DeliveredFPS, s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Latency.Max,
				s.HubCPUCores, s.CPUPer10kFPS, s.LoadgenCores, s.OtherCores, s.Missing, s.SlowConsumer)
		}
	}
	idle := false
	for _, r := range results {
		idle = idle || r.Idle != nil
	}
	if idle {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| run | idle sockets open | connect rate /s | hub / load generator / machine cores while connecting | gateway | sockets | RSS before | RSS after | per socket | hub RSS per socket (all processes) | hub cores holding them | lost |")
		fmt.Fprintln(w, "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range results {
			id := r.Idle
			if id == nil {
				continue
			}
			for _, g := range id.Gateways {
				fmt.Fprintf(w, "| %s | %d/%d | %.0f | %.2f / %.2f / %.2f | %s | %d | %s | %s | %s | %s | %.2f | %d |\n", r.Label, id.Opened, id.Requested, id.ConnectRate,
					id.ConnectHubCores, id.ConnectLoadgenCores, id.ConnectMachineCores,
					g.Gateway, g.Sockets, mib(g.RSSBefore), mib(g.RSSAfter), kib(g.BytesPerSocket), kib(id.HubRSSPerSock), id.HubCPUCores, id.Lost)
			}
		}
	}
	return nil
}
