// Package transcript stores and replays session transcripts in the SY_EVT
// JetStream stream, one subject per session (sy.evt.<session>).
//
// Each stored Envelope carries its per-session seq (1, 2, 3, … with no
// gaps) in the envelope and in the Sy-Seq header. Appends use
// Nats-Expected-Last-Subject-Sequence, so two writers racing on one session
// cannot both take the same seq, and Nats-Msg-Id, so a redelivered inbound
// message is stored once.
package transcript

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// HeaderSeq holds the per-session seq of a stored message.
const HeaderSeq = "Sy-Seq"

// Store reads and writes transcripts.
type Store struct {
	b        *bus.Bus
	stream   jetstream.Stream
	sessions jetstream.KeyValue // SessionInfo.last_seq: the seq floor
}

// Open binds to the transcript stream and the sessions bucket (created by
// bus.EnsureStreams).
func Open(ctx context.Context, b *bus.Bus) (*Store, error) {
	st, err := b.JS.Stream(ctx, bus.StreamTranscript())
	if err != nil {
		return nil, fmt.Errorf("transcript: open stream: %w", err)
	}
	kv, err := b.KV(ctx, bus.BucketSessions())
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	return &Store{b: b, stream: st, sessions: kv}, nil
}

// Position is where a session's transcript ends.
type Position struct {
	Seq       int64  // per-session seq of the last message (0: empty)
	StreamSeq uint64 // its sequence in the stream (0: empty)
}

// Last returns the end of a session's transcript. Retention trims a
// session's oldest entries first, so while any entry is stored the newest
// is; when none is (a new session, or one trimmed away entirely) the end is
// the seq floor its writers keep in the session's record
// (SessionInfo.last_seq), so a seq is never given out twice.
func (s *Store) Last(ctx context.Context, session string) (Position, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, bus.TranscriptSubject(session))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		floor, err := s.Floor(ctx, session)
		return Position{Seq: floor}, err
	}
	if err != nil {
		return Position{}, fmt.Errorf("transcript: last of %s: %w", session, err)
	}
	seq, err := seqOf(m)
	return Position{Seq: seq, StreamSeq: m.Sequence}, err
}

func seqOf(m *jetstream.RawStreamMsg) (int64, error) {
	seq, err := SeqOfHeader(m.Header)
	if err != nil {
		return 0, fmt.Errorf("transcript: message %d: %w", m.Sequence, err)
	}
	return seq, nil
}

// SeqOfHeader reads the per-session seq of a stored (or republished)
// transcript message from its headers.
func SeqOfHeader(h nats.Header) (int64, error) {
	v := h.Get(HeaderSeq)
	seq, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("transcript: no valid %s header (%q)", HeaderSeq, v)
	}
	return seq, nil
}

// Floor is the seq floor of a session: the last seq the session service
// recorded in its record (0: none, or no record).
func (s *Store) Floor(ctx context.Context, session string) (int64, error) {
	if !bus.ValidToken(session) {
		return 0, nil
	}
	e, err := s.sessions.Get(ctx, session)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("transcript: seq floor of %s: %w", session, err)
	}
	info := &syv1.SessionInfo{}
	if err := proto.Unmarshal(e.Value(), info); err != nil {
		return 0, fmt.Errorf("transcript: seq floor of %s: %w", session, err)
	}
	return info.GetLastSeq(), nil
}

// first returns the lowest seq still stored for session and its stream
// sequence (0, 0: none stored).
func (s *Store) first(ctx context.Context, session string) (int64, uint64, error) {
	m, err := s.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(bus.TranscriptSubject(session)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("transcript: first of %s: %w", session, err)
	}
	seq, err := seqOf(m)
	return seq, m.Sequence, err
}

// Writer appends to transcripts. It caches each session's end so an append
// is one JetStream round trip; a stale cache costs one retry. It notes the
// seq of every append in its Floors, for the one running KeepFloors over them
// (the session service, a gateway).
type Writer struct {
	store  *Store
	mu     sync.Mutex
	ends   map[string]Position
	floors catalog.Floors
}

// maxCachedSessions bounds the writer's cache.
const maxCachedSessions = 100_000

// NewWriter returns a writer over store.
func NewWriter(store *Store) *Writer {
	return &Writer{store: store, ends: map[string]Position{}}
}

func (w *Writer) end(ctx context.Context, session string) (Position, error) {
	w.mu.Lock()
	p, ok := w.ends[session]
	w.mu.Unlock()
	if ok {
		return p, nil
	}
	return w.reload(ctx, session)
}

func (w *Writer) reload(ctx context.Context, session string) (Position, error) {
	p, err := w.store.Last(ctx, session)
	if err != nil {
		return p, err
	}
	w.remember(session, p)
	return p, nil
}

func (w *Writer) remember(session string, p Position) {
	w.mu.Lock()
	if len(w.ends) >= maxCachedSessions {
		clear(w.ends)
	}
	w.ends[session] = p
	w.mu.Unlock()
}

// Floors are the seqs this writer appended since they were last recorded.
// Whoever appends with the writer runs catalog.KeepFloors over them, which
// writes them into the session records (else they hold one entry per
// session appended to).
func (w *Writer) Floors() *catalog.Floors { return &w.floors }

// Forget drops a session from the cache (closed sessions).
func (w *Writer) Forget(session string) {
	w.mu.Lock()
	delete(w.ends, session)
	w.mu.Unlock()
}

// Entry is the transcript's copy of an inbound envelope: what it says and
// who sent it, without the routing of its way in (origin, target, receipt).
func Entry(env *syv1.Envelope) *syv1.Envelope {
	return &syv1.Envelope{
		Id: env.GetId(), Type: env.GetType(), SessionId: env.GetSessionId(), Ts: env.GetTs(),
		UserId: env.GetUserId(), RuntimeId: env.GetRuntimeId(), Body: env.GetBody(),
	}
}

// Append stores env as the next message of its session and returns it with
// Seq set. env.Id must be stable across retries of the same input: a
// duplicate returns the copy stored first.
func (w *Writer) Append(ctx context.Context, env *syv1.Envelope) (*syv1.Envelope, error) {
	return w.append(ctx, env, bus.NewMsg)
}

// AppendFresh is Append for an envelope whose id was just made for it (a
// frame its sender gave no id): nothing can send it again, so it is stored
// without a Nats-Msg-Id and the stream keeps no dedupe entry for it (at
// tens of thousands of frames a second, the stream's two-minute window of
// entries is a heap the server's GC scans again and again).
func (w *Writer) AppendFresh(ctx context.Context, env *syv1.Envelope) (*syv1.Envelope, error) {
	return w.append(ctx, env, bus.NewFreshMsg)
}

type newMsgFunc func(ctx context.Context, subject string, env *syv1.Envelope) (*nats.Msg, error)

func (w *Writer) append(ctx context.Context, env *syv1.Envelope, newMsg newMsgFunc) (*syv1.Envelope, error) {
	session := env.GetSessionId()
	for attempt := 0; attempt < 8; attempt++ {
		end, err := w.end(ctx, session)
		if err != nil {
			return nil, err
		}
		env.Seq = end.Seq + 1
		if ao := env.GetAgentOutput(); ao != nil {
			ao.Seq = env.Seq
		}
		m, err := newMsg(ctx, bus.TranscriptSubject(session), env)
		if err != nil {
			return nil, err
		}
		m.Header.Set(HeaderSeq, strconv.FormatInt(env.Seq, 10))
		ack, err := w.store.b.JS.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(end.StreamSeq))
		switch {
		case bus.IsWrongLastSequence(err):
			if _, err := w.reload(ctx, session); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("transcript: append %s to %s: %w", env.GetType(), session, err)
		case ack.Duplicate:
			if _, err := w.reload(ctx, session); err != nil {
				return nil, err
			}
			stored, err := w.store.get(ctx, ack.Sequence)
			if err == nil {
				w.floors.Note(session, stored.GetSeq()) // a writer that died may not have recorded it
			}
			return stored, err
		}
		w.remember(session, Position{Seq: env.Seq, StreamSeq: ack.Sequence})
		w.floors.Note(session, env.Seq)
		return env, nil
	}
	return nil, fmt.Errorf("transcript: append to %s: too many concurrent writers", session)
}

func (s *Store) get(ctx context.Context, streamSeq uint64) (*syv1.Envelope, error) {
	m, err := s.stream.GetMsg(ctx, streamSeq)
	if err != nil {
		return nil, fmt.Errorf("transcript: get %d: %w", streamSeq, err)
	}
	_, env, err := bus.Decode(ctx, m.Data, nil)
	return env, err
}

// startAfter finds the stream sequence of the first message of session
// with seq > after, by binary search over stream sequences (per-session
// seqs grow with stream sequence). It costs O(log stream size) lookups.
func (s *Store) startAfter(ctx context.Context, session string, after int64, end Position) (uint64, error) {
	subject := bus.TranscriptSubject(session)
	// P(x): the first message of the session at stream seq >= x has seq >
	// after. P is monotonic and P(end.StreamSeq) holds; find the least x.
	lo, hi := uint64(1), end.StreamSeq
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := s.stream.GetMsg(ctx, mid, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			return 0, fmt.Errorf("transcript: seek %s at %d: %w", session, mid, err)
		}
		seq, err := seqOf(m)
		if err != nil {
			return 0, err
		}
		if seq > after {
			hi = mid
		} else {
			lo = m.Sequence + 1 // no message of the session in [mid, m.Sequence] is past after
		}
	}
	return lo, nil
}

// Page is one batch of replayed messages.
type Page struct {
	Messages []*syv1.Envelope
	// Last is the seq of the last message in Messages (or the requested
	// after when empty); More says messages up to the requested limit remain.
	Last int64
	More bool
	End  Position
	// FirstAvailable is the lowest seq still stored for the session (0:
	// none is). Trimmed says part of the requested range, (after,
	// FirstAvailable) or all of it, was removed by retention: the page
	// then starts at FirstAvailable (Last is the range's end when nothing
	// of it is left). history.response shows them as first_seq / trimmed.
	FirstAvailable int64
	Trimmed        bool
}

// ReadAfter returns the messages of session with seq > after and, when
// upTo > 0, seq <= upTo: at most maxMsgs messages or about maxBytes of
// stored data. It reads no further than the end the transcript had when
// the call started.
func (s *Store) ReadAfter(ctx context.Context, session string, after, upTo int64, maxMsgs, maxBytes int) (Page, error) {
	end, err := s.Last(ctx, session)
	if err != nil {
		return Page{}, err
	}
	limit := end.Seq
	if upTo > 0 && upTo < limit {
		limit = upTo
	}
	return s.readRange(ctx, session, after, limit, end, maxMsgs, maxBytes)
}

func (s *Store) readRange(ctx context.Context, session string, after, limit int64, end Position, maxMsgs, maxBytes int) (Page, error) {
	page := Page{Last: after, End: end}
	if limit <= after {
		return page, nil
	}
	first, start, err := s.first(ctx, session)
	if err != nil {
		return page, err
	}
	page.FirstAvailable = first
	switch {
	case first == 0 || first > limit: // all of (after, limit] is gone
		page.Trimmed, page.Last = true, limit
		return page, nil
	case first > after+1:
		page.Trimmed, after, page.Last = true, first-1, first-1
	case after > 0:
		if start, err = s.startAfter(ctx, session, after, end); err != nil {
			return page, err
		}
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.TranscriptSubject(session)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return page, fmt.Errorf("transcript: replay %s: %w", session, err)
	}
	// An ordered consumer lives on the server until deleted (or 5 minutes
	// idle): delete it, or replays would exhaust the stream's consumer limit.
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			_ = s.stream.DeleteConsumer(context.WithoutCancel(ctx), info.Name)
		}
	}()
	want := int(min(limit-after, int64(maxMsgs)))
	bytes := 0
	for len(page.Messages) < want && bytes < maxBytes {
		batch, err := cons.Fetch(want-len(page.Messages), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return page, fmt.Errorf("transcript: replay %s: %w", session, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			_, env, err := bus.Decode(ctx, m.Data(), nil)
			if err != nil {
				return page, err
			}
			if env.GetSeq() <= page.Last || len(page.Messages) >= want || bytes >= maxBytes {
				continue
			}
			page.Messages = append(page.Messages, env)
			page.Last = env.GetSeq()
			bytes += len(m.Data())
		}
		if err := batch.Error(); err != nil {
			return page, fmt.Errorf("transcript: replay %s: %w", session, err)
		}
		if n == 0 {
			return page, fmt.Errorf("transcript: replay %s: stream ended at seq %d before %d", session, page.Last, limit)
		}
	}
	page.More = page.Last < limit
	return page, nil
}
