package transcript_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func appendN(t *testing.T, w *transcript.Writer, session string, from, to int) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	for i := from; i <= to; i++ {
		env, err := w.Append(ctx, output(session, "m"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if env.GetSeq() != int64(i) {
			t.Fatalf("%s: message %d got seq %d", session, i, env.GetSeq())
		}
	}
}

func seqs(envs []*syv1.Envelope) []int64 {
	out := make([]int64, 0, len(envs))
	for _, e := range envs {
		out = append(out, e.GetSeq())
	}
	return out
}

// TestPerSessionCapTrimsOnlyThatSession: a session over
// SY_TRANSCRIPT_MAX_MSGS_PER_SESSION loses its own oldest entries, another
// session keeps all of its own, and a reader of the trimmed range learns
// that it was trimmed (issue 9 item 2).
func TestPerSessionCapTrimsOnlyThatSession(t *testing.T) {
	_, b, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	if err := b.EnsureStreams(ctx, bus.Limits{TranscriptMaxMsgsPerSession: 3, Owner: true}); err != nil {
		t.Fatal(err)
	}
	w := transcript.NewWriter(st)
	appendN(t, w, "quiet", 1, 2)
	appendN(t, w, "loud", 1, 8)
	page, err := st.ReadAfter(ctx, "loud", 0, 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(page.Messages); len(got) != 3 || got[0] != 6 || !page.Trimmed || page.FirstAvailable != 6 || page.Last != 8 {
		t.Fatalf("loud from 0: seqs %v trimmed %v first %d last %d; want [6 7 8], trimmed, first 6, last 8", got, page.Trimmed, page.FirstAvailable, page.Last)
	}
	page, err = st.ReadAfter(ctx, "loud", 6, 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(page.Messages); len(got) != 2 || page.Trimmed || page.FirstAvailable != 6 {
		t.Fatalf("loud after 6: seqs %v trimmed %v first %d", got, page.Trimmed, page.FirstAvailable)
	}
	page, err = st.ReadAfter(ctx, "loud", 0, 4, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || !page.Trimmed || page.Last != 4 || page.More {
		t.Fatalf("loud (0,4]: %v trimmed %v last %d more %v; want nothing, trimmed, last 4", seqs(page.Messages), page.Trimmed, page.Last, page.More)
	}
	if got := readAll(t, ctx, st, "quiet"); len(got) != 2 {
		t.Fatalf("the quiet session lost entries to the loud one: %v", seqs(got))
	}
}

// TestSeqNeverGoesBackAfterFullTrim: when every entry of a session is gone
// (retention by age or stream bytes), the next append continues after the
// seq floor in the session's record instead of restarting at 1.
func TestSeqNeverGoesBackAfterFullTrim(t *testing.T) {
	_, b, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	const session = "trimmed-1"
	w := transcript.NewWriter(st)
	appendN(t, w, session, 1, 3)
	// The session service records the floor in the session's record.
	kv, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := proto.Marshal(&syv1.SessionInfo{Id: session, Status: "active", LastSeq: 3})
	if _, err := kv.Put(ctx, session, data); err != nil {
		t.Fatal(err)
	}
	stream, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(bus.TranscriptSubject(session))); err != nil {
		t.Fatal(err)
	}
	// The writer that wrote 1..3 (stale cache) and a fresh one (another replica).
	if env, err := w.Append(ctx, output(session, "after-trim")); err != nil || env.GetSeq() != 4 {
		t.Fatalf("append after the trim: seq %d, %v; want 4", env.GetSeq(), err)
	}
	if env, err := transcript.NewWriter(st).Append(ctx, output(session, "after-trim-2")); err != nil || env.GetSeq() != 5 {
		t.Fatalf("append by a new writer: seq %d, %v; want 5", env.GetSeq(), err)
	}
	page, err := st.ReadAfter(ctx, session, 0, 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(page.Messages); len(got) != 2 || got[0] != 4 || !page.Trimmed || page.FirstAvailable != 4 {
		t.Fatalf("after the trim: seqs %v trimmed %v first %d", got, page.Trimmed, page.FirstAvailable)
	}
	// Everything gone again: the end is the floor, and a read says trimmed.
	data, _ = proto.Marshal(&syv1.SessionInfo{Id: session, Status: "active", LastSeq: 5})
	if _, err := kv.Put(ctx, session, data); err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(bus.TranscriptSubject(session))); err != nil {
		t.Fatal(err)
	}
	end, err := st.Last(ctx, session)
	if err != nil || end.Seq != 5 {
		t.Fatalf("end after a full trim: %+v, %v; want seq 5", end, err)
	}
	page, err = st.ReadAfter(ctx, session, 2, 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || !page.Trimmed || page.FirstAvailable != 0 || page.Last != 5 {
		t.Fatalf("fully trimmed read: %v trimmed %v first %d last %d", seqs(page.Messages), page.Trimmed, page.FirstAvailable, page.Last)
	}
}
