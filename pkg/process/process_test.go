package process

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/embedded"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
)

// logTap is a slog destination a test can wait on.
type logTap struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wake  chan struct{}
	lines []string
}

func newLogTap() *logTap { return &logTap{wake: make(chan struct{}, 1)} }

func (l *logTap) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.lines = append(l.lines, strings.Split(strings.TrimSpace(string(p)), "\n")...)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor waits until n lines contain every fragment.
func (l *logTap) waitFor(t *testing.T, n int, frags ...string) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		l.mu.Lock()
		var hits []string
		for _, line := range l.lines {
			ok := true
			for _, f := range frags {
				ok = ok && strings.Contains(line, f)
			}
			if ok {
				hits = append(hits, line)
			}
		}
		all := l.buf.String()
		l.mu.Unlock()
		if len(hits) >= n {
			return hits
		}
		select {
		case <-l.wake:
		case <-deadline:
			t.Fatalf("no %d log lines with %q in:\n%s", n, frags, all)
		}
	}
}

func defaults(t *testing.T) *config.Common {
	t.Helper()
	var c config.Common
	config.Defaults(&c)
	return &c
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := embedded.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An unreachable NATS is retried with backoff, each attempt logged with
// the URL but not its password, until the server comes up.
func TestConnectNATSRetriesUntilUp(t *testing.T) {
	port := freePort(t)
	c := defaults(t)
	c.NATSURL = "nats://app:s3cret@127.0.0.1:" + strconv.Itoa(port)
	tap := newLogTap()
	log := slog.New(slog.NewJSONHandler(tap, nil))
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := ConnectNATS(t.Context(), c, "test", log)
		if b != nil {
			defer b.Close()
		}
		done <- result{b != nil && b.NC.IsConnected(), err}
	}()
	hits := tap.waitFor(t, 2, `"msg":"nats unreachable, retrying"`, `app:xxxxx@127.0.0.1:`+strconv.Itoa(port), `"retry_in"`)
	var first, second struct {
		Attempt int    `json:"attempt"`
		RetryIn string `json:"retry_in"`
	}
	_ = json.Unmarshal([]byte(hits[0]), &first)
	_ = json.Unmarshal([]byte(hits[1]), &second)
	if first.Attempt != 1 || second.Attempt != 2 {
		t.Errorf("attempts logged %d, %d; want 1, 2", first.Attempt, second.Attempt)
	}
	opts := &server.Options{Host: "127.0.0.1", Port: port, Username: "app", Password: "s3cret", NoSigs: true}
	s := runServer(t, opts)
	defer s.Shutdown()
	select {
	case r := <-done:
		if r.err != nil || !r.ok {
			t.Fatalf("ConnectNATS after the server came up: ok=%v err=%v", r.ok, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ConnectNATS did not return after the server came up")
	}
	tap.waitFor(t, 1, `"msg":"nats connected"`)
	if strings.Contains(tap.buf.String(), "s3cret") {
		t.Errorf("a log line shows the password:\n%s", tap.buf.String())
	}
}

// ConnectNATS gives up when ctx ends, naming the URL.
func TestConnectNATSCancelled(t *testing.T) {
	c := defaults(t)
	c.NATSURL = "nats://127.0.0.1:" + strconv.Itoa(freePort(t))
	tap := newLogTap()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := ConnectNATS(ctx, c, "test", slog.New(slog.NewTextHandler(tap, nil)))
		errc <- err
	}()
	tap.waitFor(t, 1, "nats unreachable")
	cancel()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), c.NATSURL) {
		t.Errorf("cancelled connect: %v, want an error naming %s", err, c.NATSURL)
	}
}

func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, as PEM files in dir.
type pki struct {
	dir                                                  string
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "switchyard test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A NATS server that requires TLS with a client certificate and an nkey
// user: the settings SY_NATS_TLS_CA/CERT/KEY and SY_NATS_NKEY get in, and
// leaving out either the certificate or the nkey does not.
func TestNATSTLSAndNkey(t *testing.T) {
	p := newPKI(t)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	seedFile := filepath.Join(p.dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	s := runServer(t, &server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true,
		TLS: true, TLSVerify: true, TLSTimeout: 5,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		Nkeys:     []*server.NkeyUser{{Nkey: pub}},
	})
	defer s.Shutdown()
	url := "tls://127.0.0.1:" + strconv.Itoa(s.Addr().(*net.TCPAddr).Port)

	c := defaults(t)
	c.NATSURL, c.NATSNkey, c.NATSTLSCA, c.NATSTLSCert, c.NATSTLSKey = url, seedFile, p.caFile, p.clientCert, p.clientKey
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	b, err := ConnectNATS(ctx, c, "test", slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatalf("connect with TLS + nkey: %v", err)
	}
	defer b.Close()
	if !b.NC.TLSRequired() && b.NC.ConnectedUrl() == "" {
		t.Errorf("not connected over TLS")
	}
	if _, err := b.NC.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}
	sub, err := b.NC.SubscribeSync("t.x")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.NC.Publish("t.x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("round trip over TLS: %v", err)
	}

	// Each credential is needed: drop one, the server refuses.
	for name, mutate := range map[string]func(*config.Common){
		"no nkey":        func(c *config.Common) { c.NATSNkey = "" },
		"no client cert": func(c *config.Common) { c.NATSTLSCert, c.NATSTLSKey = "", "" },
		"no CA":          func(c *config.Common) { c.NATSTLSCA = "" },
	} {
		cc := *c
		mutate(&cc)
		opts, err := NATSAuth(&cc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		}
	}
}

// Bad credential files fail at once, naming the setting.
func TestNATSAuthBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for want, mutate := range map[string]func(*config.Common){
		"SY_NATS_NKEY":                        func(c *config.Common) { c.NATSNkey = junk },
		"SY_NATS_TLS_CA":                      func(c *config.Common) { c.NATSTLSCA = junk },
		"SY_NATS_TLS_CERT (-nats-tls-cert) /": func(c *config.Common) { c.NATSTLSCert, c.NATSTLSKey = junk, junk },
	} {
		c := defaults(t)
		mutate(c)
		if _, err := NATSAuth(c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// An unreachable Redis is probed with backoff, logged with its address
// (no password) on every attempt, until it answers.
func TestWatchRedis(t *testing.T) {
	port := freePort(t)
	c := defaults(t)
	c.RedisURL = "redis://:s3cret@127.0.0.1:" + strconv.Itoa(port) + "/0"
	rdb, err := Redis(c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	tap := newLogTap()
	done := make(chan error, 1)
	go func() { done <- WatchRedis(t.Context(), rdb, RedisTarget(c), slog.New(slog.NewTextHandler(tap, nil))) }()
	tap.waitFor(t, 2, "redis unreachable, retrying", ":xxxxx@127.0.0.1:"+strconv.Itoa(port), "retry_in=")
	srv, err := embedded.StartRedis("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.M.RequireAuth("s3cret")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WatchRedis did not see Redis come up")
	}
	tap.waitFor(t, 1, "redis connected")
	if strings.Contains(tap.buf.String(), "s3cret") {
		t.Errorf("log shows the password:\n%s", tap.buf.String())
	}
}

// The client kind follows the settings, and SY_REDIS_PASSWORD overrides
// the URL's.
func TestRedisClientKinds(t *testing.T) {
	c := defaults(t)
	c.RedisURL, c.RedisPassword, c.RedisUsername = "redis://u:urlpw@h:6380/3", "secretpw", "acl"
	rdb, err := Redis(c)
	if err != nil {
		t.Fatal(err)
	}
	cl, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("single URL: %T", rdb)
	}
	if o := cl.Options(); o.Addr != "h:6380" || o.DB != 3 || o.Password != "secretpw" || o.Username != "acl" || o.DialTimeout != 2*time.Second {
		t.Errorf("single URL options: %+v", o)
	}
	_ = rdb.Close()

	c = defaults(t)
	c.RedisCluster, c.RedisAddrs = true, []string{"a:1", "b:2"}
	rdb, _ = Redis(c)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Errorf("cluster: %T", rdb)
	}
	_ = rdb.Close()
	c.RedisAddrs = nil
	c.RedisURL = "redis://:pw@seed:7000/0"
	rdb, _ = Redis(c)
	if cc, ok := rdb.(*redis.ClusterClient); !ok || cc.Options().Addrs[0] != "seed:7000" || cc.Options().Password != "pw" {
		t.Errorf("cluster from URL: %T", rdb)
	}
	_ = rdb.Close()

	if got := RedisTarget(&config.Common{RedisMasterName: "m", RedisAddrs: []string{"s1:26379"}}); got != `sentinel master "m" via s1:26379` {
		t.Errorf("target: %s", got)
	}
}

// go-redis's own log lines come out of slog: with JSON logging every line
// is JSON (here: the failover client complaining about its Sentinels).
func TestRedisLogsThroughSlog(t *testing.T) {
	tap := newLogTap()
	redis.SetLogger(RedisLogger{Log: slog.New(slog.NewJSONHandler(tap, nil))})
	t.Cleanup(func() { redis.SetLogger(RedisLogger{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}) })
	c := defaults(t)
	c.RedisMasterName, c.RedisAddrs = "mymaster", []string{"127.0.0.1:" + strconv.Itoa(freePort(t))}
	rdb, err := Redis(c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping through an absent Sentinel succeeded")
	}
	tap.waitFor(t, 1, `"component":"go-redis"`, "sentinel")
	tap.mu.Lock()
	defer tap.mu.Unlock()
	for _, l := range tap.lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
}

func TestListenInUse(t *testing.T) {
	ln, err := Listen("SY_LISTEN (-listen)", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Listen("SY_LISTEN (-listen)", addr)
	if err == nil || !strings.Contains(err.Error(), "SY_LISTEN (-listen) "+addr+" is already in use") {
		t.Errorf("second listen: %v", err)
	}
	if _, err := Listen("x", "127.0.0.1:http-alt-nope"); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("bad address: %v", err)
	}
}

type recordingWorker struct{ started bool }

func (w *recordingWorker) Start(context.Context) error { w.started = true; return nil }
func (w *recordingWorker) Stop()                       {}
func (w *recordingWorker) Ready() error                { return nil }

// Serve binds its health address before it starts consuming: a port in
// use is the error, and the worker never started.
func TestServeReportsPortInUseBeforeStarting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tel, err := telemetry.Setup(t.Context(), telemetry.Options{Service: "t", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	w := &recordingWorker{}
	err = Serve(t.Context(), &Deps{Tel: tel}, w, busy.Addr().String(), Options{})
	if err == nil || !strings.Contains(err.Error(), "already in use") || w.started {
		t.Errorf("Serve on a busy port: err=%v started=%v", err, w.started)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("wrong error")
	}
}
