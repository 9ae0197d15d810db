package ownership_test

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
)

// TestMassDisconnectRemovesEveryRecord: thousands of sockets closing at
// once (a drain, a network blip) are all removed from Redis, each caller
// returning only once its removal is stored.
func TestMassDisconnectRemovesEveryRecord(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	reg := ownership.NewRegistry(rdb, "pod-a", time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const n = 5000
	for i := 0; i < n; i++ {
		must(t, reg.AddConn(ctx, fmt.Sprint("c", i), ownership.ConnInfo{Dialect: "client", Principal: "u"}))
		must(t, reg.Subscribe(ctx, fmt.Sprint("s", i%50), fmt.Sprint("c", i)))
	}
	if got := rdb.HLen(ctx, "sy:pod:pod-a:conns").Val(); got != n {
		t.Fatalf("%d conns recorded, want %d", got, n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- reg.RemoveConn(ctx, fmt.Sprint("c", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if got := rdb.HLen(ctx, "sy:pod:pod-a:conns").Val(); got != 0 {
		t.Fatalf("%d conn records left after every socket closed", got)
	}
	for i := 0; i < 50; i++ {
		if got := rdb.SCard(ctx, fmt.Sprint("sy:sub:s", i, ":pod-a")).Val(); got != 0 {
			t.Fatalf("session s%d still has %d subscribers", i, got)
		}
	}
}
