package edge

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Batching of a streaming (runtime) socket's frames into SY_IN. While the
// socket's reader already holds the next frame (ws MoreBuffered) or the
// socket's work queue is behind, an accepted frame is held instead of
// published; the held frames go out, one message per partition
// (bus.Batch), when the reader has nothing more buffered (ws
// OnReadDrained), the work queue empties or starts long work (Do), a frame
// finds the socket caught up, admission is about to pause the socket, the
// socket ends, or a partition's batch is full. A frame that comes alone is
// published alone, as before: batches form only where frames queue up, so
// batching adds no wait to a frame and takes per-message cost (store,
// delivery, ack) off the spine under load.
const (
	maxBatchFrames = 64
	maxBatchBytes  = 256 << 10
	// batchFrameSlack is what a frame adds to a batch beyond its own size
	// (field tags, its trace context).
	batchFrameSlack = 96
)

// heldFrame is one accepted frame waiting to be published.
type heldFrame struct {
	env  *syv1.Envelope
	ref  string // the sender's id of the frame
	span trace.Span
	ctx  context.Context
	size int
}

// heldBatch is the held frames of one partition, in the order they came.
type heldBatch struct {
	part    int
	subject string // the first frame's SY_IN subject
	frames  []heldFrame
	bytes   int
}

// held is a streaming socket's frames not yet published: a batch per
// partition, in the order of their first frames (a few at a time, so a
// list is searched).
type held struct {
	mu      sync.Mutex
	batches []heldBatch
}

// hold queues f for partition p, publishing that partition's batch first
// when f would not fit in it (the batch keeps its place in the order).
func (c *Conn) hold(p int, subject string, f heldFrame) {
	h := &c.held
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.batches, func(b heldBatch) bool { return b.part == p })
	if i < 0 {
		h.batches = append(h.batches, heldBatch{part: p, subject: subject})
		i = len(h.batches) - 1
	}
	b := &h.batches[i]
	limit := min(maxBatchBytes, int(c.s.bus.NC.MaxPayload())-busHeaderSlack)
	if len(b.frames) >= maxBatchFrames || (len(b.frames) > 0 && b.bytes+f.size+batchFrameSlack > limit) {
		c.publishBatch(b)
		b.subject = subject
	}
	b.frames = append(b.frames, f)
	b.bytes += f.size + batchFrameSlack
}

// flushHeld publishes every held frame, a message per partition.
func (c *Conn) flushHeld() {
	h := &c.held
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.batches {
		c.publishBatch(&h.batches[i])
	}
	h.batches = h.batches[:0]
}

// publishBatch publishes b's frames (alone when it holds one) and empties
// it; the socket's ack goroutine settles them. With h.mu held.
func (c *Conn) publishBatch(b *heldBatch) {
	frames := b.frames
	b.frames, b.bytes = nil, 0
	env := frames[0].env
	if len(frames) > 1 {
		ctxs := make([]context.Context, len(frames))
		envs := make([]*syv1.Envelope, len(frames))
		for i, f := range frames {
			ctxs[i], envs[i] = f.ctx, f.env
		}
		env = bus.Batch(ctxs, envs)
	}
	fut, err := c.s.bus.PublishAsync(frames[0].ctx, b.subject, env)
	if err != nil {
		for _, f := range frames {
			c.notAccepted(f.ctx, f.env, f.ref, f.span, err)
			f.span.End()
		}
		return
	}
	c.s.m.batchFrames.Observe(float64(len(frames)))
	c.acks <- inflight{fut: fut, frames: frames, start: time.Now()}
}
