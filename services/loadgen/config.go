package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is one load run.
type Config struct {
	Label        string
	Gateways     []string // base URLs, http://host:port; runtimes use the first
	RuntimeToken string
	ClientToken  string
	Runtimes     int
	Sessions     int
	Clients      int // subscribed clients per session
	Idle         int // idle authenticated /ws/client sockets
	Size         int // bytes of agent.output content
	Rates        []float64
	Lockstep     bool // every runtime sends at the same instants (bursts)
	Warmup       time.Duration
	Measure      time.Duration
	Drain        time.Duration
	Src          []net.IP
	Procs        int // child processes for idle sockets; -1: as many as needed
	PerProc      int // idle sockets per child process at most
	Concurrency  int // sockets being connected at once (per process)
	IdleSettle   time.Duration
	IdleHold     time.Duration // idle CPU is measured over this window
	Watch        []watchSpec   // processes measured through /proc
	Metrics      []metricsSpec // extra /metrics endpoints (session, relay)
	JSON         string
	Deadline     time.Duration
	Quiet        bool
	QuietWait    time.Duration
	QuietBelow   float64
	Partitions   int
}

type watchSpec struct {
	Name string
	PID  int
}

type metricsSpec struct {
	Name string
	URL  string
}

func parseRunFlags(args []string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("sy-loadgen run", flag.ContinueOnError)
	gateways := fs.String("gateways", "http://127.0.0.1:8080", "comma list of gateway base URLs (runtimes connect to the first, clients round-robin over all)")
	fs.StringVar(&c.Label, "label", "", "name of this run in reports")
	fs.StringVar(&c.RuntimeToken, "runtime-token", "bench-rt", "runtime token (its runtime_id must be * in the relay's table)")
	fs.StringVar(&c.ClientToken, "client-token", "bench-client", "client token")
	fs.IntVar(&c.Runtimes, "runtimes", 4, "simulated runtimes (one endpoint each)")
	fs.IntVar(&c.Sessions, "sessions", 40, "sessions, spread over the runtimes")
	fs.IntVar(&c.Clients, "clients", 10, "subscribed client sockets per session (0: persisted ingest: nobody subscribes, and after each step the transcripts are read back to count what was stored)")
	fs.IntVar(&c.Idle, "idle", 0, "idle authenticated /ws/client sockets")
	fs.IntVar(&c.Size, "size", 100, "bytes of content per agent.output (at least 19: the send timestamp)")
	rates := fs.String("rate", "1000", "offered agent.output frames/s in total (sent by runtimes, paced); a comma list runs one step per rate")
	fs.BoolVar(&c.Lockstep, "lockstep", false, "every runtime sends at the same instants, a burst of one frame per runtime each interval (before 2026-12-03 the only pacing); default: runtimes take turns, so frames are evenly spaced")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "warmup per rate step (not measured)")
	fs.DurationVar(&c.Measure, "duration", 10*time.Second, "measure window per rate step")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "after a step, how long to wait at most for frames still in flight")
	src := fs.String("src", "127.0.0.1", "comma list of loopback source addresses for sockets (each gives ~28k ports)")
	fs.IntVar(&c.Procs, "procs", -1, "child processes holding the idle sockets (0: this process; -1: enough for -per-proc each)")
	fs.IntVar(&c.PerProc, "per-proc", 16000, "idle sockets per child process at most (the fd limit is per process)")
	fs.IntVar(&c.Concurrency, "connect-concurrency", 128, "sockets being opened at once, per process")
	fs.DurationVar(&c.IdleSettle, "idle-settle", 6*time.Second, "wait after the idle sockets are open before measuring memory (one ping round)")
	fs.DurationVar(&c.IdleHold, "idle-hold", 10*time.Second, "window over which hub CPU with the idle sockets open is measured")
	watch := fs.String("watch", "", "comma list of name:pid of hub processes measured through /proc (gatewayN names gateway N)")
	metrics := fs.String("metrics", "", "comma list of name=URL of further /metrics endpoints (e.g. session=http://127.0.0.1:9090/metrics)")
	fs.StringVar(&c.JSON, "json", "", "write results as JSON to this file (- for stdout)")
	fs.DurationVar(&c.Deadline, "deadline", 0, "hard limit of the whole run (0: computed from the phases)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	fs.DurationVar(&c.QuietWait, "quiet-wait", 0, "before starting, wait at most this long for the machine to be nearly idle (shared machines)")
	fs.IntVar(&c.Partitions, "partitions", 16, "SY_PARTITIONS of the hub (to report how sessions spread over the session service's ordered partitions)")
	fs.Float64Var(&c.QuietBelow, "quiet-below", 0.3, "cores busy that count as nearly idle for -quiet-wait")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	for _, g := range splitList(*gateways) {
		u, err := url.Parse(g)
		if err != nil || (u.Scheme != "http" && u.Scheme != "ws") || u.Host == "" {
			errs = append(errs, fmt.Errorf("gateway %q: want http://host:port", g))
			continue
		}
		if !loopbackHost(u.Hostname()) {
			errs = append(errs, fmt.Errorf("gateway %q is not a loopback address: sy-loadgen only targets this machine", g))
		}
		u.Scheme = "http"
		c.Gateways = append(c.Gateways, strings.TrimSuffix(u.String(), "/"))
	}
	if len(c.Gateways) == 0 {
		errs = append(errs, errors.New("no -gateways"))
	}
	for _, r := range splitList(*rates) {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f < 0 || f > 1e6 {
			errs = append(errs, fmt.Errorf("rate %q: want 0..1e6 frames/s", r))
			continue
		}
		if f > 0 {
			c.Rates = append(c.Rates, f)
		}
	}
	for _, s := range splitList(*src) {
		ip := net.ParseIP(s)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			errs = append(errs, fmt.Errorf("source address %q: want an IPv4 loopback address (127.x.y.z)", s))
			continue
		}
		c.Src = append(c.Src, ip)
	}
	if len(c.Src) == 0 {
		c.Src = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	for _, w := range splitList(*watch) {
		name, p, ok := strings.Cut(w, ":")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || pid <= 0 || name == "" {
			errs = append(errs, fmt.Errorf("watch %q: want name:pid", w))
			continue
		}
		c.Watch = append(c.Watch, watchSpec{Name: name, PID: pid})
	}
	for _, m := range splitList(*metrics) {
		name, u, ok := strings.Cut(m, "=")
		pu, err := url.Parse(u)
		if !ok || name == "" || err != nil || !loopbackHost(pu.Hostname()) {
			errs = append(errs, fmt.Errorf("metrics %q: want name=http://127.0.0.1:port/metrics", m))
			continue
		}
		c.Metrics = append(c.Metrics, metricsSpec{Name: name, URL: u})
	}
	switch {
	case c.Runtimes < 0 || c.Sessions < 0 || c.Clients < 0 || c.Idle < 0:
		errs = append(errs, errors.New("counts must not be negative"))
	case len(c.Rates) > 0 && (c.Runtimes < 1 || c.Sessions < 1):
		errs = append(errs, errors.New("a rate needs at least one runtime and session"))
	case c.Sessions > 0 && c.Runtimes < 1:
		errs = append(errs, errors.New("sessions need at least one runtime"))
	}
	if c.Size < 19 || c.Size > 1<<20 {
		errs = append(errs, errors.New("size must be 19..1048576 bytes"))
	}
	if c.Runtimes+c.Sessions*c.Clients > 15000 {
		errs = append(errs, errors.New("runtimes + sessions×clients must stay under 15000 (one process's fd limit); use -idle for more sockets"))
	}
	if c.PerProc < 1 || c.PerProc > 18000 {
		errs = append(errs, errors.New("per-proc must be 1..18000"))
	}
	if c.Procs == 0 && c.Idle > c.PerProc {
		errs = append(errs, fmt.Errorf("-procs 0 holds at most -per-proc (%d) idle sockets in this process", c.PerProc))
	}
	if c.Concurrency < 1 {
		c.Concurrency = 1
	}
	if c.Warmup < 0 || c.Measure <= 0 || c.Drain < 0 {
		errs = append(errs, errors.New("durations must be positive"))
	}
	if c.Deadline == 0 {
		c.Deadline = c.plannedDuration()
	}
	return c, errors.Join(errs...)
}

// plannedDuration is a generous bound of everything the run does.
func (c *Config) plannedDuration() time.Duration {
	d := 2*time.Minute + c.QuietWait // setup and teardown
	d += time.Duration(c.Sessions) * 20 * time.Millisecond
	if c.Idle > 0 {
		d += time.Minute + time.Duration(c.Idle)*time.Millisecond + c.IdleSettle + c.IdleHold
	}
	d += time.Duration(len(c.Rates)) * (c.Warmup + c.Measure + c.Drain + 5*time.Second)
	return d
}

func (c *Config) idleProcs() int {
	if c.Idle == 0 {
		return 0
	}
	if c.Procs >= 0 {
		return c.Procs
	}
	return (c.Idle + c.PerProc - 1) / c.PerProc
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
