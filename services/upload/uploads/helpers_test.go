package uploads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/telemetry"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/upload"
)

const mib = 1 << 20

func testConfig(t testing.TB) Config {
	t.Helper()
	var c Config
	if err := config.Load(&c, "upload-test", nil); err != nil {
		t.Fatal(err)
	}
	c.RequestTimeout = 10 * time.Second
	return c
}

// startService runs one replica on its own NATS connection.
func startService(t testing.TB, url, name string, mods ...func(*Config)) (*Service, *bus.Bus) {
	t.Helper()
	b := testenv.Bus(t, url, name)
	cfg := testConfig(t)
	for _, m := range mods {
		m(&cfg)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "upload-test", Pod: name, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, b, tel)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, b
}

// newClient connects a client (a gateway) on its own connection.
func newClient(t testing.TB, url, name string, o upload.ClientOptions) *upload.Client {
	t.Helper()
	return upload.NewClient(testenv.Bus(t, url, name), o)
}

// setup starts NATS, one replica and one client.
func setup(t testing.TB, mods ...func(*Config)) (string, *Service, *upload.Client) {
	t.Helper()
	n := testenv.NATS(t)
	s, _ := startService(t, n.URL(), "upload-1", mods...)
	return n.URL(), s, newClient(t, n.URL(), "gateway-1", upload.ClientOptions{Timeout: 10 * time.Second})
}

func testData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// putAll sends data as chunks of size cs, in order, with or without
// checksums.
func putAll(t testing.TB, c *upload.Client, id, path string, data []byte, cs int, withSum bool) upload.ChunkResult {
	t.Helper()
	var last upload.ChunkResult
	for off := 0; off < len(data); off += cs {
		end := min(off+cs, len(data))
		ch := upload.Chunk{UploadID: id, FilePath: path, Offset: int64(off), Data: data[off:end]}
		if withSum {
			ch.Checksum = sha(data[off:end])
		}
		r, err := c.PutChunk(ctxT(t), ch)
		if err != nil {
			t.Fatalf("chunk %s@%d: %v", path, off, err)
		}
		last = r
	}
	return last
}

// readAll reads a stored file back through the client.
func readAll(t testing.TB, c *upload.Client, id, path string) []byte {
	t.Helper()
	fi, err := c.StatPath(ctxT(t), id, path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	r, err := c.Open(ctxT(t), fi)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return buf.Bytes()
}

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }
