package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// Three clustered embedded servers form one JetStream cluster: an R3
// stream gets a leader and two current replicas, and a publish to one
// node is read from another.
func TestNATSCluster(t *testing.T) {
	ports := make([]int, 3)
	routes := make([]string, 3)
	for i := range ports {
		p, err := FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		ports[i], routes[i] = p, fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	var nodes []*NATS
	for i := range ports {
		n, err := StartNATSConfig(NATSConfig{Host: "127.0.0.1", Dir: t.TempDir(), Name: fmt.Sprintf("n%d", i+1),
			Cluster: "sy-test", ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Shutdown()
		if got, want := n.ClusterAddr(), fmt.Sprintf("127.0.0.1:%d", ports[i]); got != want {
			t.Fatalf("cluster address %s, want %s", got, want)
		}
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(nodes[0].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var s jetstream.Stream
	for s == nil {
		// Until the meta group has a leader, stream creation fails or
		// goes unanswered: each try has its own deadline.
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		s, err = js.CreateStream(actx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
		acancel()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("create R3 stream: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // polling the cluster's formation under ctx's deadline
		}
	}
	for {
		info, err := s.Info(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2 &&
			info.Cluster.Replicas[0].Current && info.Cluster.Replicas[1].Current {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("R3 stream never had a leader and two current replicas: %+v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := js.Publish(ctx, "t.1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	nc3, err := nats.Connect(nodes[2].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc3.Close()
	js3, _ := jetstream.New(nc3)
	s3, err := js3.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s3.GetLastMsgForSubject(ctx, "t.1")
	if err != nil || string(m.Data) != "hello" {
		t.Fatalf("read from node 3: %v %v", m, err)
	}
}

// Clustering settings are checked before anything starts.
func TestNATSClusterSettings(t *testing.T) {
	cases := []struct {
		c    NATSConfig
		want string
	}{
		{NATSConfig{}, ""},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "127.0.0.1:0"}, ""},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "127.0.0.1:6222", Routes: []string{"nats-route://h:6222", " nats://h2:1 "}}, ""},
		{NATSConfig{Name: "a", ClusterListen: "127.0.0.1:6222"}, "cluster: a clustered node needs the cluster's name"},
		{NATSConfig{Name: "a", Cluster: "c"}, "cluster listen: a clustered node needs"},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "6222"}, `cluster listen: address "6222": want host:port`},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "h:x"}, `port "x" is not a number`},
		{NATSConfig{Cluster: "c", ClusterListen: "h:1"}, "name: each node"},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "h:1", Routes: []string{"http://h:1"}}, `route "http://h:1": want nats-route://host:port`},
		{NATSConfig{Name: "a", Cluster: "c", ClusterListen: "h:1", Routes: []string{"nats-route://h"}}, "with a port"},
	}
	for _, tc := range cases {
		err := tc.c.CheckCluster()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	if _, err := StartNATSConfig(NATSConfig{Host: "127.0.0.1", Dir: t.TempDir(), Cluster: "c"}); err == nil || !strings.Contains(err.Error(), "cluster listen") {
		t.Errorf("start with a bad cluster setting: %v", err)
	}
}
