package cluster

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/testenv"
)

// TestNamespacesShareOneNATSAndRedis: two installations (dev stacks with
// SY_NAMESPACE blue and green) on one NATS account and one Redis, with the
// same pod name, runtime id and endpoint id. Each serves its own runtime,
// sessions and transcripts; nothing of one reaches the other; every
// stream, bucket and Redis key carries its namespace.
func TestNamespacesShareOneNATSAndRedis(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), redis: testenv.StartRedis(t), health: map[*proc]string{}}
	t.Cleanup(c.stop)
	c.startNATS(1)
	for _, ns := range []string{"blue", "green"} {
		addr := freeAddr(t)
		p := &proc{name: ns, bin: "sy-devstack", log: filepath.Join(c.dir, ns+".log"), env: []string{
			"SY_NAMESPACE=" + ns, "SY_NATS_URL=nats://" + c.natsAddr, "SY_REDIS_URL=" + c.redis.URL(), "SY_LISTEN=" + addr,
			"SY_LOG_LEVEL=warn", "SY_CHAT_COMPAT_LISTEN=", "SY_DEV_DEVICE_COMPAT=",
			"SY_RUNTIME_TOKENS=" + runtimeToken + "=*", "SY_CLIENT_TOKENS=" + clientToken + "=alice",
		}}
		p.start(t)
		c.gateways, c.gwAddrs, c.health[p] = append(c.gateways, p), append(c.gwAddrs, addr), addr
		c.waitReady(p, addr)
	}

	const n = 200
	sids := make([]string, 2)
	for gw := range 2 {
		rt := c.connectRuntime(gw, "r1", "ep1") // the same ids in both
		sids[gw] = c.createSession(gw, rt, "ep1")
		f := newFollower()
		p := c.subscribed(gw, sids[gw], 0, f)
		if err := <-stream(rt, sids[gw], 1, n, 0); err != nil {
			t.Fatal(err)
		}
		f.follow(t, p, n)
		f.exact(t, c.gateways[gw].name+" client", n)
	}

	// Each installation lists only its own session.
	for gw, sid := range sids {
		body := c.getJSON(gw, "/v1/sessions")
		if !strings.Contains(body, sid) || strings.Contains(body, sids[1-gw]) {
			t.Fatalf("%s lists %s, want its session %s only", c.gateways[gw].name, body, sid)
		}
	}

	// Names on the shared servers.
	nc, err := nats.Connect("nats://" + c.natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var streams []string
	for name := range js.StreamNames(ctx).Name() {
		streams = append(streams, name)
	}
	for _, ns := range []string{"blue", "green"} {
		for _, want := range []string{ns + "_SY_IN", ns + "_SY_EVT", ns + "_SY_RT", "KV_" + ns + "_sy_sessions", "KV_" + ns + "_sy_endpoints", "OBJ_" + ns + "_sy_files"} {
			if !slices.Contains(streams, want) {
				t.Errorf("stream %s missing; streams: %v", want, streams)
			}
		}
	}
	for _, name := range streams {
		if !strings.Contains(name, "blue_") && !strings.Contains(name, "green_") {
			t.Errorf("stream %s carries no namespace", name)
		}
	}
	for gw, ns := range []string{"blue", "green"} {
		st, err := js.Stream(ctx, ns+"_SY_EVT")
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Subjects[ns+".sy.evt."+sids[gw]] == 0 || info.State.Subjects[ns+".sy.evt."+sids[1-gw]] != 0 {
			t.Errorf("%s_SY_EVT subjects %v: want its own session's transcript only", ns, info.State.Subjects)
		}
	}
	rdb := c.rdb()
	for _, ns := range []string{"blue", "green"} {
		if v := rdb.Get(t.Context(), ns+":sy:rt:r1").Val(); !strings.HasPrefix(v, "dev-gateway ") {
			t.Errorf("Redis %s:sy:rt:r1 = %q, want this installation's socket", ns, v)
		}
	}
	if keys := rdb.Keys(t.Context(), "sy:*").Val(); len(keys) != 0 {
		t.Errorf("Redis keys without a namespace: %v", keys)
	}
}
