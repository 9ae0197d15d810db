package sessions

// Per-user quotas on what users add to transcripts (issue 9: one user must
// not be able to push everyone's history out of SY_EVT). A user's
// user.message frames, over all sessions and replicas, are counted in
// fixed windows in the sy_quotas bucket (key u.<sha256 of the user id>,
// compare-and-set): SY_USER_MESSAGES_PER_MINUTE frames per minute and
// SY_USER_BYTES_PER_HOUR stored bytes per hour. A frame over either is
// refused with a directed error{quota_exceeded} (like turn_in_progress)
// and neither stored nor sent to the runtime.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
)

// quotaLimits: 0 means no limit.
type quotaLimits struct {
	messagesPerMinute int64
	bytesPerHour      int64
}

func (l quotaLimits) off() bool { return l.messagesPerMinute <= 0 && l.bytesPerHour <= 0 }

// quotaWindow is one user's counters: messages in the minute starting at
// minute, bytes in the hour starting at hour (unix seconds).
type quotaWindow struct {
	minute, messages int64
	hour, bytes      int64
}

func (w quotaWindow) String() string {
	return fmt.Sprintf("%d %d %d %d", w.minute, w.messages, w.hour, w.bytes)
}

func parseQuotaWindow(b []byte) quotaWindow {
	f := strings.Fields(string(b))
	if len(f) != 4 {
		return quotaWindow{}
	}
	var n [4]int64
	for i := range f {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return quotaWindow{}
		}
		n[i] = v
	}
	return quotaWindow{n[0], n[1], n[2], n[3]}
}

// admit counts one frame of size bytes at now. It returns the new window,
// or ok false with what was exceeded and when to retry.
func (w quotaWindow) admit(now time.Time, size int64, l quotaLimits) (next quotaWindow, ok bool, why string, retry time.Duration) {
	minute := now.Truncate(time.Minute).Unix()
	hour := now.Truncate(time.Hour).Unix()
	if w.minute != minute {
		w.minute, w.messages = minute, 0
	}
	if w.hour != hour {
		w.hour, w.bytes = hour, 0
	}
	if l.messagesPerMinute > 0 && w.messages+1 > l.messagesPerMinute {
		return w, false, fmt.Sprintf("%d user messages per minute", l.messagesPerMinute), time.Unix(minute, 0).Add(time.Minute).Sub(now)
	}
	if l.bytesPerHour > 0 && w.bytes+size > l.bytesPerHour {
		return w, false, fmt.Sprintf("%d transcript bytes per hour", l.bytesPerHour), time.Unix(hour, 0).Add(time.Hour).Sub(now)
	}
	w.messages++
	w.bytes += size
	return w, true, "", 0
}

// quotas is the shared counter store.
type quotas struct {
	kv     jetstream.KeyValue
	limits quotaLimits
}

func quotaKey(user string) string {
	sum := sha256.Sum256([]byte(user))
	return "u." + hex.EncodeToString(sum[:])
}

// maxQuotaAttempts bounds compare-and-set retries (one user, many sessions).
const maxQuotaAttempts = 16

// charge counts a frame for user. refusal is empty when it was admitted,
// else the text of the quota_exceeded error.
func (q *quotas) charge(ctx context.Context, user string, size int64, now time.Time) (refusal string, err error) {
	if q == nil || q.limits.off() {
		return "", nil
	}
	key := quotaKey(user)
	for attempt := 0; attempt < maxQuotaAttempts; attempt++ {
		var cur quotaWindow
		var rev uint64
		e, err := q.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return "", fmt.Errorf("sessions: read quota: %w", err)
		default:
			cur, rev = parseQuotaWindow(e.Value()), e.Revision()
		}
		next, ok, why, retry := cur.admit(now, size, q.limits)
		if !ok {
			return fmt.Sprintf("quota exceeded: %s for this user; retry in %s", why, retry.Round(time.Second)), nil
		}
		if rev == 0 {
			_, err = q.kv.Create(ctx, key, []byte(next.String()))
		} else {
			_, err = q.kv.Update(ctx, key, []byte(next.String()), rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || bus.IsWrongLastSequence(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("sessions: update quota: %w", err)
		}
		return "", nil
	}
	return "", fmt.Errorf("sessions: update quota of a user: too many concurrent writers")
}
