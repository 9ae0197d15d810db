package bus

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A forming cluster's answers are retried; anything else is returned at once.
func TestRetryTransient(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := retryTransient(ctx, func() error {
		calls++
		if calls < 3 {
			return &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("peer offline twice: err %v after %d calls, want success on the third", err, calls)
	}
	calls = 0
	bad := errors.New("invalid stream config")
	if err := retryTransient(ctx, func() error { calls++; return bad }); !errors.Is(err, bad) || calls != 1 {
		t.Fatalf("a lasting error: %v after %d calls, want it at once", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	calls = 0
	if err := retryTransient(cctx, func() error { calls++; return context.DeadlineExceeded }); err == nil || calls != 1 {
		t.Fatalf("ended context: %v after %d calls", err, calls)
	}
}
