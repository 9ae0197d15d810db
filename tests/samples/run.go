// Package samples runs the sample clients of the protocol documents
// against a hub and returns what they print, so tests can assert the
// documents' own clients work unchanged.
//
// The files next to this one are the samples of document 000 (push
// channels) exactly as the document prints them: the only change is the
// Python indentation, which the document's text lost (Python cannot run
// without it; every line's content is the document's, checked by
// TestSamplesAreTheDocuments). Host and port are changed at run time
// only: Run writes the sample to a temporary file with the document's
// base URL "ws://localhost:29123" replaced by the one given.
// Document 002 (chat stream) has no sample clients, only JSON examples;
// pkg/dialect/chat tests those frame by frame.
package samples

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

//go:embed notification.py notification.js statechange.py statechange.js
var files embed.FS

// DocumentBaseURL is the base URL the document's samples connect to.
const DocumentBaseURL = "ws://localhost:29123"

// Sample is one sample client of a document.
type Sample struct {
	// Name is the sample's file name under tests/samples.
	Name string
	// Lang is "python" or "node".
	Lang string
}

// The samples of document 000.
var (
	NotificationPython = Sample{"notification.py", "python"}
	NotificationNode   = Sample{"notification.js", "node"}
	StateChangePython  = Sample{"statechange.py", "python"}
	StateChangeNode    = Sample{"statechange.js", "node"}

	All = []Sample{NotificationPython, NotificationNode, StateChangePython, StateChangeNode}
)

// Source is the sample's text as stored (the document's base URL).
func (s Sample) Source() (string, error) {
	b, err := files.ReadFile(s.Name)
	if err != nil {
		return "", fmt.Errorf("samples: %w", err)
	}
	return string(b), nil
}

// Interpreter finds the program that runs the sample: a python3 that can
// import websockets (Debian's /usr/bin/python3 with python3-websockets
// first, then python3 on PATH), or node ≥ 20. The error says what to
// install (scripts/test-deps.sh installs both).
func (s Sample) Interpreter() (path string, args []string, err error) {
	switch s.Lang {
	case "python":
		for _, p := range []string{"/usr/bin/python3", "python3"} {
			full, err := exec.LookPath(p)
			if err != nil {
				continue
			}
			if exec.Command(full, "-c", "import websockets").Run() == nil {
				return full, []string{"-u"}, nil
			}
		}
		return "", nil, errors.New("no python3 with the websockets module (Debian: apt-get install python3-websockets; or run scripts/test-deps.sh)")
	case "node":
		full, err := exec.LookPath("node")
		if err != nil {
			return "", nil, errors.New("no node on PATH (Debian: apt-get install nodejs, version 20 or later; or run scripts/test-deps.sh)")
		}
		out, err := exec.Command(full, "-e", "process.stdout.write(process.versions.node.split('.')[0])").Output()
		var major int
		if err == nil {
			_, err = fmt.Sscanf(string(out), "%d", &major)
		}
		if err != nil || major < 20 {
			return "", nil, fmt.Errorf("node %s is too old: the samples need WebSocket (node 20 or later)", strings.TrimSpace(string(out)))
		}
		// Node 20 has WebSocket behind this flag; later versions accept it.
		return full, []string{"--experimental-websocket"}, nil
	}
	return "", nil, fmt.Errorf("samples: unknown language %q", s.Lang)
}

// Process is a running sample.
type Process struct {
	// Lines receives each line the sample prints on stdout; it is closed
	// when the sample exits (or is stopped).
	Lines <-chan string

	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr *lockedBuffer
	done   chan struct{}
	err    error
	dir    string
}

// Start runs the sample against baseURL ("ws://127.0.0.1:8080"). It is
// stopped when ctx ends or Stop is called; either way it is bounded by
// limit.
func Start(ctx context.Context, s Sample, baseURL string, limit time.Duration) (*Process, error) {
	bin, args, err := s.Interpreter()
	if err != nil {
		return nil, err
	}
	src, err := s.Source()
	if err != nil {
		return nil, err
	}
	if !strings.Contains(src, DocumentBaseURL) {
		return nil, fmt.Errorf("samples: %s does not connect to %s", s.Name, DocumentBaseURL)
	}
	dir, err := os.MkdirTemp("", "sy-sample-")
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	path := filepath.Join(dir, s.Name)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(src, DocumentBaseURL, strings.TrimRight(baseURL, "/"))), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("samples: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	cmd := exec.CommandContext(ctx, bin, append(args, path)...)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	p := &Process{cmd: cmd, cancel: cancel, stderr: &lockedBuffer{}, done: make(chan struct{}), dir: dir}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("samples: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("samples: start %s: %w", s.Name, err)
	}
	lines := make(chan string, 1024)
	p.Lines = lines
	go p.read(stdout, lines)
	return p, nil
}

func (p *Process) read(stdout io.Reader, lines chan<- string) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		lines <- sc.Text()
	}
	p.err = p.cmd.Wait()
	p.cancel()
	os.RemoveAll(p.dir)
	close(lines)
	close(p.done)
}

// Stop ends the sample (if it still runs) and waits for it; lines not
// yet read from Lines are discarded.
func (p *Process) Stop() {
	p.cancel()
	p.drain()
}

// Wait waits for the sample to exit and returns its error (nil for exit
// status 0; a killed sample reports the signal). Read Lines first: lines
// not yet read are discarded.
func (p *Process) Wait() error {
	p.drain()
	return p.err
}

func (p *Process) drain() {
	for range p.Lines {
	}
	<-p.done
}

// Stderr is what the sample wrote on stderr so far (a traceback, …).
func (p *Process) Stderr() string { return p.stderr.String() }

// Result is what a sample did.
type Result struct {
	Lines  []string
	Stderr string
	// Err is the process's exit error: nil when it exited with status 0.
	Err error
}

// Run runs the sample until it exits or limit passes, and returns every
// line it printed.
func Run(ctx context.Context, s Sample, baseURL string, limit time.Duration) (Result, error) {
	p, err := Start(ctx, s, baseURL, limit)
	if err != nil {
		return Result{}, err
	}
	var r Result
	for l := range p.Lines {
		r.Lines = append(r.Lines, l)
	}
	r.Err = p.Wait()
	r.Stderr = p.Stderr()
	return r, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
