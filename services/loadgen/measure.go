package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is what /proc tells about one process.
type procStat struct {
	CPU float64 // user+system seconds
	RSS int64   // bytes
}

const clockTicks = 100 // USER_HZ on Linux

func readProc(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, rss 24.
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	return procStat{CPU: (ut + st) / clockTicks, RSS: rssPages * int64(os.Getpagesize())}, nil
}

// selfCPU is the CPU time of this process and of its running children.
func selfCPU(children []int) float64 {
	total := 0.0
	if st, err := readProc(os.Getpid()); err == nil {
		total += st.CPU
	}
	for _, pid := range children {
		if st, err := readProc(pid); err == nil {
			total += st.CPU
		}
	}
	return total
}

// promSample is one scrape of a Prometheus text endpoint: series name with
// labels → value.
type promSample map[string]float64

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

func scrape(ctx context.Context, url string) (promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseProm(resp.Body)
}

func parseProm(r io.Reader) (promSample, error) {
	out := promSample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces.
		end := strings.LastIndexByte(line, '}')
		rest := line
		name := ""
		if end >= 0 {
			name, rest = line[:end+1], line[end+1:]
		} else {
			sp := strings.IndexByte(line, ' ')
			if sp < 0 {
				continue
			}
			name, rest = line[:sp], line[sp:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] = v
	}
	return out, sc.Err()
}

// sum adds every series of a metric (all label sets).
func (p promSample) sum(name string) (float64, bool) {
	total, found := 0.0, false
	for k, v := range p {
		if k == name || (strings.HasPrefix(k, name+"{")) {
			total += v
			found = true
		}
	}
	return total, found
}

// get returns one series, e.g. `switchyard_gateway_frames_in_total{dialect="runtime"}`.
func (p promSample) get(series string) float64 { return p[series] }

// machineBusy is the CPU time (seconds, all cores) the whole machine spent
// not idle, from /proc/stat.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	busy := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}
