package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// idleReport is what opening a batch of idle sockets gave.
type idleReport struct {
	Opened     int            `json:"opened"`
	Failed     int            `json:"failed"`
	ElapsedNS  int64          `json:"elapsed_ns"`
	PerGateway []int          `json:"per_gateway"`
	Errors     map[string]int `json:"errors,omitempty"`
	Lost       int64          `json:"lost"` // set when the batch is closed
	LostWhy    map[string]int `json:"lost_why,omitempty"`
}

// idleSet holds open idle sockets: each has a goroutine reading it, which
// answers the gateway's pings (gorilla's default ping handler).
type idleSet struct {
	mu       sync.Mutex
	conns    []*websocket.Conn
	stopping atomic.Bool
	lost     atomic.Int64
	wg       sync.WaitGroup
	why      map[string]int // why lost sockets ended
}

// openIdle opens n authenticated /ws/client sockets, numbered from start
// (which spreads them round-robin over the gateways and source addresses).
// A socket counts as open once the gateway answered a ping frame with a
// pong frame, which it only does for an authenticated socket.
func openIdle(ctx context.Context, d *sockDialer, gateways []string, token string, start, n, conc int) (*idleSet, idleReport) {
	set := &idleSet{}
	rep := idleReport{PerGateway: make([]int, len(gateways)), Errors: map[string]int{}}
	var mu sync.Mutex
	next := atomic.Int64{}
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				k := start + i
				g := k % len(gateways)
				conn, err := openOneIdle(ctx, d, clientURL(gateways[g], token), k)
				mu.Lock()
				if err != nil {
					rep.Failed++
					msg := err.Error()
					if len(msg) > 120 {
						msg = msg[:120]
					}
					rep.Errors[msg]++
				} else {
					rep.Opened++
					rep.PerGateway[g]++
				}
				mu.Unlock()
				if err == nil {
					set.add(conn)
				}
			}
		}()
	}
	wg.Wait()
	rep.ElapsedNS = int64(time.Since(began))
	if len(rep.Errors) == 0 {
		rep.Errors = nil
	}
	return set, rep
}

func openOneIdle(ctx context.Context, d *sockDialer, u string, k int) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := d.dial(dctx, u, k)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(conn, outFrame{Type: "ping"}); err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	var f inFrame
	if json.Unmarshal(data, &f) != nil || f.Type != "pong" {
		_ = conn.Close()
		return nil, fmt.Errorf("expected pong, got %.100s", data)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, nil
}

func (s *idleSet) add(conn *websocket.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				if !s.stopping.Load() {
					s.lost.Add(1)
					s.mu.Lock()
					if s.why == nil {
						s.why = map[string]int{}
					}
					s.why[closeReason(err)]++
					s.mu.Unlock()
				}
				return
			}
		}
	}()
}

// closeReason names why a socket ended: its close code, or the error
// without addresses.
func closeReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "close " + strconv.Itoa(ce.Code) + " " + ce.Text
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// reasons returns why lost sockets ended.
func (s *idleSet) reasons() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.why {
		out[k] = v
	}
	return out
}

// close closes every socket (close frame, then TCP) and returns how many
// had ended before they were asked to.
func (s *idleSet) close() int64 {
	s.stopping.Store(true)
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	const workers = 64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(conns); i += workers {
				_ = conns[i].WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(500*time.Millisecond))
				_ = conns[i].Close()
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return s.lost.Load()
}

// ---- child processes ----

// idleWorkerMain is a child process: it opens its share of idle sockets,
// prints an idleReport line, holds them until its standard input closes
// (or -max-life passes), closes them and prints a final line.
func idleWorkerMain(args []string) error {
	fs := flag.NewFlagSet("sy-loadgen idle-worker", flag.ContinueOnError)
	gateways := fs.String("gateways", "", "comma list of gateway base URLs")
	token := fs.String("client-token", "", "client token")
	start := fs.Int("start", 0, "number of the first socket")
	n := fs.Int("n", 0, "sockets to open")
	src := fs.String("src", "127.0.0.1", "comma list of source addresses")
	conc := fs.Int("concurrency", 128, "sockets opened at once")
	maxLife := fs.Duration("max-life", 10*time.Minute, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := parseRunFlags([]string{"-gateways", *gateways, "-src", *src, "-rate", "0"})
	if err != nil {
		return err
	}
	time.AfterFunc(*maxLife, func() {
		fmt.Fprintln(os.Stderr, "sy-loadgen idle-worker: max-life reached")
		os.Exit(3)
	})
	ctx, cancel := context.WithTimeout(context.Background(), *maxLife)
	defer cancel()
	d := newSockDialer(cfg.Src, 512, 512)
	set, rep := openIdle(ctx, d, cfg.Gateways, *token, *start, *n, *conc)
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(rep); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	rep = idleReport{Lost: set.close(), LostWhy: set.reasons()}
	return out.Encode(rep)
}

// idleChildren is a set of running idle-worker processes.
type idleChildren struct {
	procs []*idleChild
}

type idleChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startIdleChildren forks procs children that together open n sockets,
// and waits for each to report.
func startIdleChildren(c *Config, n, procs int) (*idleChildren, idleReport, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, idleReport{}, err
	}
	src := make([]string, len(c.Src))
	for i, ip := range c.Src {
		src[i] = ip.String()
	}
	kids := &idleChildren{}
	per := (n + procs - 1) / procs
	began := time.Now()
	for p, start := 0, 0; p < procs && start < n; p++ {
		cnt := min(per, n-start)
		cmd := exec.Command(exe, "idle-worker", "-gateways", strings.Join(c.Gateways, ","), "-client-token", c.ClientToken,
			"-start", strconv.Itoa(start), "-n", strconv.Itoa(cnt), "-src", strings.Join(src, ","),
			"-concurrency", strconv.Itoa(c.Concurrency), "-max-life", c.Deadline.String())
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = childAttr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			kids.stop()
			return nil, idleReport{}, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			kids.stop()
			return nil, idleReport{}, err
		}
		if err := cmd.Start(); err != nil {
			kids.stop()
			return nil, idleReport{}, err
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		kids.procs = append(kids.procs, &idleChild{cmd: cmd, stdin: stdin, out: sc})
		start += cnt
	}
	total := idleReport{PerGateway: make([]int, len(c.Gateways)), Errors: map[string]int{}}
	var errs []error
	for _, k := range kids.procs {
		var rep idleReport
		if !k.out.Scan() {
			errs = append(errs, fmt.Errorf("idle worker %d ended without a report", k.cmd.Process.Pid))
			continue
		}
		if err := json.Unmarshal(k.out.Bytes(), &rep); err != nil {
			errs = append(errs, fmt.Errorf("idle worker %d: %w", k.cmd.Process.Pid, err))
			continue
		}
		total.Opened += rep.Opened
		total.Failed += rep.Failed
		for g, v := range rep.PerGateway {
			if g < len(total.PerGateway) {
				total.PerGateway[g] += v
			}
		}
		for e, v := range rep.Errors {
			total.Errors[e] += v
		}
	}
	total.ElapsedNS = int64(time.Since(began))
	if len(total.Errors) == 0 {
		total.Errors = nil
	}
	return kids, total, errors.Join(errs...)
}

func (k *idleChildren) pids() []int {
	if k == nil {
		return nil
	}
	var out []int
	for _, p := range k.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}

// stop tells every child to close its sockets and collects how many were
// lost while they were held.
func (k *idleChildren) stop() (int64, map[string]int) {
	why := map[string]int{}
	if k == nil {
		return 0, why
	}
	var mu sync.Mutex
	var lost atomic.Int64
	var wg sync.WaitGroup
	for _, p := range k.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.stdin.Close()
			got := make(chan struct{})
			go func() {
				defer close(got)
				if p.out.Scan() {
					var rep idleReport
					if json.Unmarshal(p.out.Bytes(), &rep) == nil {
						lost.Add(rep.Lost)
						mu.Lock()
						for r, n := range rep.LostWhy {
							why[r] += n
						}
						mu.Unlock()
					}
				}
			}()
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
			}
			waited := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
				<-waited
			}
		}()
	}
	wg.Wait()
	return lost.Load(), why
}

// kill ends every child at once (hard deadline).
func (k *idleChildren) kill() {
	if k == nil {
		return
	}
	for _, p := range k.procs {
		_ = p.cmd.Process.Kill()
	}
}

func topErrors(m map[string]int, n int) []string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%d× %s", all[i].v, all[i].k))
	}
	return out
}
