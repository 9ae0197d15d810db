package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// readAhead is how many chunks a Reader fetches ahead of the one it
// serves: a reader holds at most readAhead+1 chunks in memory.
const readAhead = 2

// segment is a piece of the file served from one stored chunk: file bytes
// [from, to) are the chunk's bytes [from-chunkOffset, to-chunkOffset).
type segment struct {
	subject     string
	chunkOffset int64
	from, to    int64
}

// chunkRef is one stored chunk of a file.
type chunkRef struct {
	subject        string
	offset, length int64
}

// listChunks lists the stored chunks of a file from the stream's subjects.
func listChunks(ctx context.Context, st jetstream.Stream, uploadID string, index int) ([]chunkRef, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(ChunkFilter(uploadID, index)))
	if err != nil {
		return nil, fmt.Errorf("upload: list chunks of %s file %d: %w", uploadID, index, err)
	}
	refs := make([]chunkRef, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		o, l, ok := parseChunkSubject(subj)
		if ok && l > 0 {
			refs = append(refs, chunkRef{subject: subj, offset: o, length: l})
		}
	}
	return refs, nil
}

// plan covers [0, size) with stored chunks, preferring at each position
// the chunk that reaches furthest; it fails with ReasonIncomplete at the
// first gap.
func plan(refs []chunkRef, size int64) ([]segment, error) {
	sort.Slice(refs, func(i, j int) bool { return refs[i].offset < refs[j].offset })
	var segs []segment
	var pos int64
	i := 0
	for pos < size {
		best := -1
		for ; i < len(refs) && refs[i].offset <= pos; i++ {
			if end := refs[i].offset + refs[i].length; end > pos && (best < 0 || end > refs[best].offset+refs[best].length) {
				best = i
			}
		}
		if best < 0 {
			return nil, Errorf(ReasonIncomplete, "bytes from %d are not stored", pos)
		}
		// Chunks already passed end no later than best: the next round
		// goes on with the ones starting after pos.
		end := min(refs[best].offset+refs[best].length, size)
		segs = append(segs, segment{subject: refs[best].subject, chunkOffset: refs[best].offset, from: pos, to: end})
		pos = end
	}
	return segs, nil
}

// fetch is one chunk being read from the stream.
type fetch struct {
	done chan struct{}
	data []byte
	err  error
}

// Reader streams a stored file from JetStream, one chunk at a time with
// read-ahead; it never holds the whole file. It implements io.ReadSeeker
// (for http.ServeContent's Range support) and io.Closer.
type Reader struct {
	ctx    context.Context
	cancel context.CancelFunc
	st     jetstream.Stream
	segs   []segment
	size   int64
	pos    int64

	mu      sync.Mutex
	fetches map[int]*fetch
	// onRead, when set, is told about every Read (progress events).
	onRead func(n int, err error)
}

func newReader(ctx context.Context, st jetstream.Stream, segs []segment, size int64) *Reader {
	ctx, cancel := context.WithCancel(ctx)
	return &Reader{ctx: ctx, cancel: cancel, st: st, segs: segs, size: size, fetches: map[int]*fetch{}}
}

// Size is the file's size.
func (r *Reader) Size() int64 { return r.size }

// Read reads from the current position.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.read(p)
	if r.onRead != nil {
		r.onRead(n, err)
	}
	return n, err
}

func (r *Reader) read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].to > r.pos })
	if i >= len(r.segs) {
		return 0, io.ErrUnexpectedEOF
	}
	data, err := r.chunk(i)
	if err != nil {
		return 0, err
	}
	s := r.segs[i]
	lo, hi := r.pos-s.chunkOffset, s.to-s.chunkOffset
	if hi > int64(len(data)) {
		return 0, fmt.Errorf("upload: chunk %s holds %d bytes, want %d", s.subject, len(data), hi)
	}
	n := copy(p, data[lo:hi])
	r.pos += int64(n)
	return n, nil
}

// chunk returns the bytes of segment i's chunk, starting the fetches of
// the next readAhead segments and forgetting the ones behind.
func (r *Reader) chunk(i int) ([]byte, error) {
	r.mu.Lock()
	for j := range r.fetches {
		if j < i || j > i+readAhead {
			delete(r.fetches, j)
		}
	}
	for j := i; j <= i+readAhead && j < len(r.segs); j++ {
		if _, ok := r.fetches[j]; !ok {
			f := &fetch{done: make(chan struct{})}
			r.fetches[j] = f
			go r.load(f, r.segs[j].subject)
		}
	}
	f := r.fetches[i]
	r.mu.Unlock()
	select {
	case <-f.done:
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
	return f.data, f.err
}

func (r *Reader) load(f *fetch, subject string) {
	defer close(f.done)
	m, err := r.st.GetLastMsgForSubject(r.ctx, subject)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = Errorf(ReasonUnknownFile, "chunk %s is gone (upload deleted?)", subject)
		}
		f.err = fmt.Errorf("upload: read %s: %w", subject, err)
		return
	}
	f.data = m.Data
}

// Seek sets the position (io.Seeker).
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("upload: seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("upload: seek before start")
	}
	r.pos = offset
	return offset, nil
}

// Close stops read-ahead.
func (r *Reader) Close() error {
	r.cancel()
	return nil
}
