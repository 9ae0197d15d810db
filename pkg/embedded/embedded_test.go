package embedded

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sync setting reaches the JetStream file store.
func TestNATSSync(t *testing.T) {
	cases := []struct {
		sync     string
		interval time.Duration
		always   bool
	}{
		{"", 2 * time.Minute, false},
		{"10s", 10 * time.Second, false},
		{"always", 0, true},
		{"ALWAYS", 0, true},
	}
	for _, tc := range cases {
		n, err := StartNATSConfig(NATSConfig{Host: "127.0.0.1", Dir: t.TempDir(), Sync: tc.sync})
		if err != nil {
			t.Fatalf("%q: %v", tc.sync, err)
		}
		js := n.Server.JetStreamConfig()
		n.Shutdown()
		if js == nil || js.SyncAlways != tc.always || (!tc.always && js.SyncInterval != tc.interval) {
			t.Errorf("sync %q: JetStream config %+v", tc.sync, js)
		}
	}
	for _, bad := range []string{"soon", "0s", "-1m", "10"} {
		if _, err := StartNATSConfig(NATSConfig{Host: "127.0.0.1", Dir: t.TempDir(), Sync: bad}); err == nil || !strings.Contains(err.Error(), "always") {
			t.Errorf("sync %q: %v", bad, err)
		}
	}
}

// A second lock on the same directory fails naming the holder; after
// Unlock it can be taken again.
func TestLockDir(t *testing.T) {
	dir := t.TempDir() + "/data"
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	l.Unlock()
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

// Another process's lock is seen, and a killed holder leaves none behind.
func TestLockDirAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("EMBEDDED_LOCK_HOLD"); dir != "" {
		if _, err := LockDir(dir); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		select {} // hold until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDirAcrossProcesses$")
	cmd.Env = append(os.Environ(), "EMBEDDED_LOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("holder said %q", line)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("lock held by another process: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	l.Unlock()
}
