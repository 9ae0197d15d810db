package transcript_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/transcript"
)

// TestLiveCarriesOnlyWhatWasStored reproduces issue 9 item 4 (a live
// subscriber got an old frame under a new seq after a NATS restart) and
// holds its fix.
//
// The cause: a JetStream publish to sy.evt.<session> is also a core NATS
// message, delivered to every core subscriber whether or not the stream
// accepts it. Two appends the stream refuses happen after a restart: a
// redelivered inbound message (its Nats-Msg-Id was stored already: the
// stream answers "duplicate") written by a replica whose cache of the
// session's end is newer, and an append by a replica whose cache is older
// (wrong expected sequence). Both reach core subscribers with a seq the
// stream gave to a different message. The fix: gateways follow
// bus.LiveSubject, which SY_EVT republishes only after storing.
func TestLiveCarriesOnlyWhatWasStored(t *testing.T) {
	_, b, st := setup(t)
	ctx := testCtx(t, 20*time.Second)
	const session = "live-1"
	core, err := b.NC.SubscribeSync(bus.TranscriptSubject(session))
	if err != nil {
		t.Fatal(err)
	}
	live, err := b.NC.SubscribeSync(bus.LiveSubject(session))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	w := transcript.NewWriter(st)
	stale := transcript.NewWriter(st) // another replica: its cache is filled now, at seq 1
	if _, err := w.Append(ctx, output(session, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Append(ctx, output(session, "a")); err != nil { // a duplicate; stale's cache now ends at seq 1
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, output(session, "b")); err != nil {
		t.Fatal(err)
	}
	// A redelivery of "a" to w (cache at seq 2): published as seq 3, refused as a duplicate.
	if got, err := w.Append(ctx, output(session, "a")); err != nil || got.GetSeq() != 1 {
		t.Fatalf("redelivered a: seq %d, %v (want the stored seq 1)", got.GetSeq(), err)
	}
	// "c" through the stale writer (cache at seq 1): published as seq 2, refused, then stored as 3.
	if got, err := stale.Append(ctx, output(session, "c")); err != nil || got.GetSeq() != 3 {
		t.Fatalf("c: seq %d, %v", got.GetSeq(), err)
	}
	if got, err := w.Append(ctx, output(session, "d")); err != nil || got.GetSeq() != 4 {
		t.Fatalf("d: seq %d, %v", got.GetSeq(), err)
	}

	stream, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64][]byte{}
	for seq := uint64(1); ; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		s, _ := transcript.SeqOfHeader(m.Header)
		stored[s] = m.Data
	}
	if len(stored) != 4 {
		t.Fatalf("stored %d messages, want 4", len(stored))
	}

	// The cause: core interest saw frames the stream refused, under seqs
	// that belong to other messages.
	wrong := 0
	for {
		m, err := core.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		s, _ := transcript.SeqOfHeader(m.Header)
		if !bytes.Equal(m.Data, stored[s]) {
			t.Logf("core: seq %d carries %s", s, m.Header.Get("Nats-Msg-Id"))
			wrong++
		}
	}
	// Refused: a@2 (stale, duplicate), a@3 (w, duplicate), c@2 (stale,
	// wrong sequence), d@3 (w, wrong sequence: c took 3).
	if wrong != 4 {
		t.Fatalf("core interest delivered %d frames that differ from the stored ones under their seq, want the 4 refused appends", wrong)
	}

	// The fix: the live subject carries seq 1..4 exactly as stored.
	for want := int64(1); want <= 4; want++ {
		m, err := live.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("live: waiting for seq %d: %v (SY_EVT must republish to %s)", want, err, bus.LiveSubject(session))
		}
		s, err := transcript.SeqOfHeader(m.Header)
		if err != nil || s != want {
			t.Fatalf("live: got seq %d (%v), want %d", s, err, want)
		}
		if !bytes.Equal(m.Data, stored[s]) {
			t.Fatalf("live: seq %d carries bytes the stream did not store under it", s)
		}
	}
	if n, _, _ := live.Pending(); n != 0 {
		t.Fatalf("live: %d frames more than were stored", n)
	}
	t.Logf("core interest delivered %d refused appends; live delivered only the 4 stored", wrong)
}
