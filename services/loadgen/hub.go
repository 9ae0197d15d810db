package main

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// hubSource is one hub process (or one /metrics endpoint) that is measured.
type hubSource struct {
	Name    string
	PID     int    // read through /proc when set
	URL     string // /metrics when set
	Gateway int    // index into the gateways, -1 otherwise
}

// hubSnapshot is the state of every source at one moment.
type hubSnapshot struct {
	At   time.Time
	CPU  map[string]float64 // seconds; missing when unknown
	RSS  map[string]int64   // bytes; missing when unknown
	Prom map[string]promSample
}

type hub struct {
	sources []hubSource
	ngw     int
}

func newHub(c *Config) *hub {
	h := &hub{ngw: len(c.Gateways)}
	pids := map[string]int{}
	used := map[string]bool{}
	for _, w := range c.Watch {
		pids[w.Name] = w.PID
	}
	for i, g := range c.Gateways {
		name := "gateway" + strconv.Itoa(i)
		h.sources = append(h.sources, hubSource{Name: name, PID: pids[name], URL: g + "/metrics", Gateway: i})
		used[name] = true
	}
	for _, m := range c.Metrics {
		h.sources = append(h.sources, hubSource{Name: m.Name, PID: pids[m.Name], URL: m.URL, Gateway: -1})
		used[m.Name] = true
	}
	for _, w := range c.Watch {
		if !used[w.Name] {
			h.sources = append(h.sources, hubSource{Name: w.Name, PID: w.PID, Gateway: -1})
			used[w.Name] = true
		}
	}
	return h
}

func (h *hub) snapshot(ctx context.Context) *hubSnapshot {
	s := &hubSnapshot{At: time.Now(), CPU: map[string]float64{}, RSS: map[string]int64{}, Prom: map[string]promSample{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, src := range h.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prom promSample
			if src.URL != "" {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				prom, _ = scrape(sctx, src.URL)
				cancel()
			}
			var ps procStat
			var psOK bool
			if src.PID > 0 {
				var err error
				ps, err = readProc(src.PID)
				psOK = err == nil
			}
			mu.Lock()
			defer mu.Unlock()
			if prom != nil {
				s.Prom[src.Name] = prom
			}
			// CPU and RSS: /proc when the pid is known, else the process
			// collector of the /metrics endpoint.
			switch {
			case psOK:
				s.CPU[src.Name] = ps.CPU
			case prom != nil:
				if v, ok := prom.sum("process_cpu_seconds_total"); ok {
					s.CPU[src.Name] = v
				}
			}
			if v, ok := prom.sum("process_resident_memory_bytes"); ok && prom != nil {
				s.RSS[src.Name] = int64(v)
			} else if psOK {
				s.RSS[src.Name] = ps.RSS
			}
		}()
	}
	wg.Wait()
	return s
}

// cpuDelta is CPU seconds used by each source between two snapshots.
func cpuDelta(a, b *hubSnapshot) (map[string]float64, float64) {
	out := map[string]float64{}
	total := 0.0
	for name, vb := range b.CPU {
		if va, ok := a.CPU[name]; ok {
			out[name] = vb - va
			total += vb - va
		}
	}
	return out, total
}

// promDelta sums a metric over every gateway between two snapshots.
func (h *hub) gatewayDelta(a, b *hubSnapshot, series string) float64 {
	total := 0.0
	for i := 0; i < h.ngw; i++ {
		name := "gateway" + strconv.Itoa(i)
		pa, pb := a.Prom[name], b.Prom[name]
		if pa == nil || pb == nil {
			continue
		}
		va, _ := pa.sum(series)
		vb, _ := pb.sum(series)
		total += vb - va
	}
	return total
}

// promDeltaOf is the change of a metric of one named source.
func promDeltaOf(a, b *hubSnapshot, name, series string) (float64, bool) {
	pa, pb := a.Prom[name], b.Prom[name]
	if pa == nil || pb == nil {
		return math.NaN(), false
	}
	va, oka := pa.sum(series)
	vb, okb := pb.sum(series)
	return vb - va, oka && okb
}

// gatewaySum adds one series over every gateway of a snapshot.
func (h *hub) gatewaySum(s *hubSnapshot, series string) float64 {
	total := 0.0
	for i := 0; i < h.ngw; i++ {
		if p := s.Prom["gateway"+strconv.Itoa(i)]; p != nil {
			v, _ := p.sum(series)
			total += v
		}
	}
	return total
}
