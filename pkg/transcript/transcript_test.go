package transcript_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/testenv"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, url string) *bus.Bus { return testenv.Bus(t, url, "transcript-test") }

// setup starts NATS with Switchyard's streams and opens a store.
func setup(t *testing.T) (string, *bus.Bus, *transcript.Store) {
	t.Helper()
	url, b := testenv.Streams(t)
	ctx := testCtx(t, 10*time.Second)
	st, err := transcript.Open(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	return url, b, st
}

func output(session, id string) *syv1.Envelope {
	return &syv1.Envelope{Id: id, Type: "agent.output", SessionId: session, Ts: "2024-01-15T10:30:06Z",
		Body: &syv1.Envelope_AgentOutput{AgentOutput: &syv1.AgentOutput{SessionId: session, MessageId: id, Seq: 99, Channel: "stdout", Content: "chunk " + id}}}
}

// readAll returns the whole transcript of a session.
func readAll(t *testing.T, ctx context.Context, st *transcript.Store, session string) []*syv1.Envelope {
	t.Helper()
	page, err := st.ReadAfter(ctx, session, 0, 0, 100000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if page.More {
		t.Fatalf("one read of %s left More set", session)
	}
	return page.Messages
}

func mustMarshal(t *testing.T, env *syv1.Envelope) []byte {
	t.Helper()
	b, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenWithoutStream(t *testing.T) {
	n := testenv.NATS(t)
	if _, err := transcript.Open(testCtx(t, 5*time.Second), connect(t, n.URL())); err == nil {
		t.Error("Open without EnsureStreams succeeded")
	}
}

// Each session's seqs are 1, 2, 3 … without gaps, however the sessions'
// appends interleave in the stream; agent.output's payload seq is the
// hub's seq too.
func TestAppendGaplessInterleaved(t *testing.T) {
	_, _, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w := transcript.NewWriter(st)
	pattern := "aababcabccbaaacbbca" // session per append
	want := map[string][]string{}
	for i, c := range pattern {
		session := "sess-" + string(c)
		id := "m" + strconv.Itoa(i)
		got, err := w.Append(ctx, output(session, id))
		if err != nil {
			t.Fatal(err)
		}
		want[session] = append(want[session], id)
		n := int64(len(want[session]))
		if got.GetSeq() != n || got.GetAgentOutput().GetSeq() != n || got.GetId() != id {
			t.Fatalf("append %s to %s: seq %d payload seq %d id %s, want %d", id, session, got.GetSeq(), got.GetAgentOutput().GetSeq(), got.GetId(), n)
		}
	}
	for session, ids := range want {
		msgs := readAll(t, ctx, st, session)
		if len(msgs) != len(ids) {
			t.Fatalf("%s: %d messages, want %d", session, len(msgs), len(ids))
		}
		for i, m := range msgs {
			if m.GetSeq() != int64(i+1) || m.GetId() != ids[i] || m.GetSessionId() != session || m.GetAgentOutput().GetContent() != "chunk "+ids[i] {
				t.Errorf("%s[%d] = seq %d id %s", session, i, m.GetSeq(), m.GetId())
			}
		}
		pos, err := st.Last(ctx, session)
		if err != nil || pos.Seq != int64(len(ids)) || pos.StreamSeq == 0 {
			t.Errorf("Last(%s) = %+v, %v", session, pos, err)
		}
	}
	if pos, err := st.Last(ctx, "never-written"); err != nil || pos != (transcript.Position{}) {
		t.Errorf("Last of an empty session = %+v, %v", pos, err)
	}
}

// A writer whose cached end is stale (another writer appended meanwhile)
// retries and still takes the next seq; Forget drops the cache.
func TestAppendStaleCache(t *testing.T) {
	_, _, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w1, w2 := transcript.NewWriter(st), transcript.NewWriter(st)
	steps := []struct {
		w   *transcript.Writer
		seq int64
	}{{w1, 1}, {w2, 2}, {w1, 3}, {w1, 4}, {w2, 5}, {w2, 6}, {w1, 7}}
	for i, s := range steps {
		got, err := s.w.Append(ctx, output("s", "m"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if got.GetSeq() != s.seq {
			t.Fatalf("step %d: seq %d, want %d", i, got.GetSeq(), s.seq)
		}
		if i == 3 {
			w1.Forget("s")
		}
	}
}

// Writers racing on one session (two session-service replicas during a
// failover) never take the same seq and never leave a gap.
func TestAppendRacingWriters(t *testing.T) {
	url, _, st1 := setup(t)
	ctx := testCtx(t, 60*time.Second)
	st2, err := transcript.Open(ctx, connect(t, url)) // the other replica has its own connection
	if err != nil {
		t.Fatal(err)
	}
	writers := []*transcript.Writer{transcript.NewWriter(st1), transcript.NewWriter(st2)}
	const perWriter = 40
	var (
		mu       sync.Mutex
		seqs     = map[int64]string{}
		exhaust  int
		wg       sync.WaitGroup
		failures = make(chan error, 2*perWriter)
	)
	for wi, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id := fmt.Sprintf("w%d-%d", wi, i)
				var got *syv1.Envelope
				var err error
				for try := 0; try < 20; try++ {
					got, err = w.Append(ctx, output("race", id))
					if err == nil || !strings.Contains(err.Error(), "too many concurrent writers") {
						break
					}
					// The session service nak-s and retries such a message.
					mu.Lock()
					exhaust++
					mu.Unlock()
				}
				if err != nil {
					failures <- err
					return
				}
				mu.Lock()
				if prev, dup := seqs[got.GetSeq()]; dup {
					failures <- fmt.Errorf("seq %d given to %s and %s", got.GetSeq(), prev, id)
				}
				seqs[got.GetSeq()] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	msgs := readAll(t, ctx, st1, "race")
	if len(msgs) != 2*perWriter {
		t.Fatalf("%d messages stored, want %d", len(msgs), 2*perWriter)
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m.GetSeq() != int64(i+1) {
			t.Fatalf("message %d has seq %d: gap or duplicate", i, m.GetSeq())
		}
		if ids[m.GetId()] {
			t.Fatalf("id %s stored twice", m.GetId())
		}
		ids[m.GetId()] = true
		if seqs[m.GetSeq()] != m.GetId() {
			t.Errorf("seq %d stored as %s, Append reported %s", m.GetSeq(), m.GetId(), seqs[m.GetSeq()])
		}
	}
	t.Logf("appends that exhausted their retries: %d", exhaust)
}

// Re-appending an envelope with an id already stored (a redelivered
// inbound message) returns the stored copy and takes no new seq, from the
// same writer or a fresh one; the id is scoped by session.
func TestAppendDuplicateReturnsStored(t *testing.T) {
	_, _, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w := transcript.NewWriter(st)
	first, err := w.Append(ctx, output("s", "dup"))
	if err != nil {
		t.Fatal(err)
	}
	stored := proto.Clone(first).(*syv1.Envelope)
	for _, id := range []string{"x1", "x2"} {
		if _, err := w.Append(ctx, output("s", id)); err != nil {
			t.Fatal(err)
		}
	}
	for name, wr := range map[string]*transcript.Writer{"same writer": w, "fresh writer": transcript.NewWriter(st)} {
		again := output("s", "dup")
		again.GetAgentOutput().Content = "a different retry body"
		got, err := wr.Append(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, stored) {
			t.Errorf("%s: duplicate returned %v, want the stored %v", name, got, stored)
		}
	}
	// The writer's end is still right after a duplicate.
	next, err := w.Append(ctx, output("s", "x3"))
	if err != nil || next.GetSeq() != 4 {
		t.Fatalf("append after duplicates: seq %d, %v; want 4", next.GetSeq(), err)
	}
	if msgs := readAll(t, ctx, st, "s"); len(msgs) != 4 {
		t.Errorf("%d messages stored, want 4", len(msgs))
	}
	other, err := w.Append(ctx, output("s2", "dup"))
	if err != nil || other.GetSeq() != 1 || other.GetSessionId() != "s2" {
		t.Errorf("same id in another session: %v, %v", other, err)
	}
}

// TestReadAfterRanges checks ReadAfter for every after in [0, N], several
// upTo limits and page sizes 1..7, paging until More is false: the pages
// hold exactly seq (after, min(N, upTo)] in order. Other sessions are
// interleaved in the stream (before, between and after the session's
// messages), which is what the binary search over stream sequences must
// skip.
//
// The afters are split over fresh servers: each ReadAfter currently leaves
// a consumer behind (TestReadAfterLeavesNoConsumers), and nats-server
// refuses more than 1000 consumers per stream by default.
func TestReadAfterRanges(t *testing.T) {
	const n = 12
	for _, group := range [][2]int64{{0, 4}, {5, 8}, {9, n}} {
		t.Run(fmt.Sprintf("after %d-%d", group[0], group[1]), func(t *testing.T) {
			_, _, st := setup(t)
			ctx := testCtx(t, 60*time.Second)
			ids := seedInterleaved(t, ctx, transcript.NewWriter(st), "target", n)
			for after := group[0]; after <= group[1]; after++ {
				checkRanges(t, ctx, st, "target", ids, after)
			}
		})
	}
}

// seedInterleaved appends n messages of session with 0-3 messages of other
// sessions between them and a few before the first; it returns the ids by
// seq-1.
func seedInterleaved(t *testing.T, ctx context.Context, w *transcript.Writer, session string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < 5; i++ {
		if _, err := w.Append(ctx, output("noise-"+strconv.Itoa(i%2), "pre"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		id := "t" + strconv.Itoa(i)
		if _, err := w.Append(ctx, output(session, id)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		for j := 0; j < (i*7)%4; j++ {
			if _, err := w.Append(ctx, output("noise-"+strconv.Itoa(j), fmt.Sprintf("n%d-%d", i, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

func checkRanges(t *testing.T, ctx context.Context, st *transcript.Store, session string, ids []string, after int64) {
	t.Helper()
	n := int64(len(ids))
	upTos := map[int64]bool{0: true, 1: true, after: true, after + 1: true, after + 3: true, n - 1: true, n: true, n + 5: true}
	for upTo := range upTos {
		limit := n
		if upTo > 0 && upTo < limit {
			limit = upTo
		}
		for maxMsgs := 1; maxMsgs <= 7; maxMsgs++ {
			cur := after
			var got []int64
			for {
				page, err := st.ReadAfter(ctx, session, cur, upTo, maxMsgs, 1<<20)
				if err != nil {
					t.Fatalf("ReadAfter(after %d, upTo %d, max %d) from %d: %v", after, upTo, maxMsgs, cur, err)
				}
				wantLen := max(0, min(int64(maxMsgs), limit-cur))
				if int64(len(page.Messages)) != wantLen {
					t.Fatalf("ReadAfter(%d, upTo %d, max %d): %d messages, want %d", cur, upTo, maxMsgs, len(page.Messages), wantLen)
				}
				last := cur
				for _, m := range page.Messages {
					got = append(got, m.GetSeq())
					if m.GetSessionId() != session || m.GetId() != ids[m.GetSeq()-1] {
						t.Fatalf("seq %d is %s of %s", m.GetSeq(), m.GetId(), m.GetSessionId())
					}
					last = m.GetSeq()
				}
				if page.Last != last || page.More != (last < limit) || page.End.Seq != n {
					t.Fatalf("ReadAfter(%d, upTo %d, max %d): Last %d More %v End %d; want %d %v %d", cur, upTo, maxMsgs, page.Last, page.More, page.End.Seq, last, last < limit, n)
				}
				if !page.More {
					break
				}
				cur = page.Last
			}
			for i, s := range got {
				if s != after+int64(i)+1 {
					t.Fatalf("after %d upTo %d max %d: seqs %v", after, upTo, maxMsgs, got)
				}
			}
			if int64(len(got)) != max(0, limit-after) {
				t.Fatalf("after %d upTo %d max %d: %d messages, want %d", after, upTo, maxMsgs, len(got), max(0, limit-after))
			}
		}
	}
}

func TestReadAfterLimits(t *testing.T) {
	_, _, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w := transcript.NewWriter(st)
	for i := 0; i < 5; i++ {
		if _, err := w.Append(ctx, output("s", "m"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	// maxBytes bounds a page (history.response frames must fit a client's
	// send queue): the first message always comes, however large, and
	// paging by bytes still delivers everything once, in order.
	page, err := st.ReadAfter(ctx, "s", 1, 0, 100, 1)
	if err != nil || len(page.Messages) != 1 || page.Last != 2 || !page.More {
		t.Errorf("maxBytes 1: %d messages last %d more %v, %v", len(page.Messages), page.Last, page.More, err)
	}
	one := len(mustMarshal(t, output("s", "m0")))
	for _, budget := range []int{1, one, one + 1, 2 * one, 3*one + 1} {
		cur, pages := int64(0), 0
		for {
			page, err := st.ReadAfter(ctx, "s", cur, 0, 100, budget)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Messages) == 0 || len(page.Messages) > budget/one+1 {
				t.Fatalf("budget %d (message ~%d bytes): page of %d messages", budget, one, len(page.Messages))
			}
			for _, m := range page.Messages {
				if m.GetSeq() != cur+1 {
					t.Fatalf("budget %d: seq %d after %d", budget, m.GetSeq(), cur)
				}
				cur = m.GetSeq()
			}
			if !page.More {
				break
			}
		}
		if cur != 5 {
			t.Errorf("budget %d: paging ended at %d", budget, cur)
		}
	}
	// Beyond the end, and an unknown session: empty, not an error.
	for _, tc := range []struct {
		session string
		after   int64
		end     int64
	}{{"s", 5, 5}, {"s", 9, 5}, {"unknown", 0, 0}, {"unknown", 3, 0}} {
		page, err := st.ReadAfter(ctx, tc.session, tc.after, 0, 10, 1<<20)
		if err != nil || len(page.Messages) != 0 || page.More || page.Last != tc.after || page.End.Seq != tc.end {
			t.Errorf("ReadAfter(%s, %d) = %d messages last %d more %v end %d, %v", tc.session, tc.after, len(page.Messages), page.Last, page.More, page.End.Seq, err)
		}
	}
}

// Replays must not leave server-side consumers behind: every subscribe of
// every client calls ReadAfter, and an ordered consumer left on the
// transcript stream lives on for its inactivity threshold (5 minutes).
func TestReadAfterLeavesNoConsumers(t *testing.T) {
	_, b, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w := transcript.NewWriter(st)
	for i := 0; i < 3; i++ {
		if _, err := w.Append(ctx, output("s", "m"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := st.ReadAfter(ctx, "s", 0, 0, 10, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	// Deletion may be asynchronous: wait for the count to drop (no event).
	var consumers int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if consumers = info.State.Consumers; consumers == 0 {
			return
		}
	}
	t.Errorf("%d consumers left on %s after 10 replays", consumers, bus.StreamTranscript())
}

// AppendFresh stores an envelope whose id nobody can send again without a
// Nats-Msg-Id, so the stream keeps no dedupe entry for it; Append keeps
// one. Both take the session's next seq and read back the same.
func TestAppendFreshKeepsNoDedupeEntry(t *testing.T) {
	_, b, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	w := transcript.NewWriter(st)
	stream, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	header := func() string {
		t.Helper()
		m, err := stream.GetLastMsgForSubject(ctx, bus.TranscriptSubject("s"))
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get(jetstream.MsgIDHeader)
	}
	if env, err := w.AppendFresh(ctx, output("s", "fresh")); err != nil || env.GetSeq() != 1 {
		t.Fatalf("AppendFresh: seq %d, %v", env.GetSeq(), err)
	}
	if h := header(); h != "" {
		t.Fatalf("AppendFresh stored Nats-Msg-Id %q", h)
	}
	if env, err := w.Append(ctx, output("s", "kept")); err != nil || env.GetSeq() != 2 {
		t.Fatalf("Append: seq %d, %v", env.GetSeq(), err)
	}
	if h := header(); h != "s/kept" {
		t.Fatalf("Append stored Nats-Msg-Id %q, want s/kept", h)
	}
	// With no dedupe entry, the same id stored fresh again is a new entry.
	if env, err := w.AppendFresh(ctx, output("s", "fresh")); err != nil || env.GetSeq() != 3 {
		t.Fatalf("AppendFresh again: seq %d, %v; want 3", env.GetSeq(), err)
	}
	got := readAll(t, ctx, st, "s")
	if len(got) != 3 || got[0].GetId() != "fresh" || got[1].GetId() != "kept" || got[2].GetSeq() != 3 {
		t.Fatalf("transcript %v", got)
	}
}
