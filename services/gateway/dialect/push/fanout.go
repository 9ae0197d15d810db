package push

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// pendingBytes bounds the NATS client's buffer of the pod's push
// subscription; past it NATS drops events for this pod (counted).
const pendingBytes = 64 << 20

// fanout is the pod's one subscription to sy.push.> and its readers. An
// event is decoded and rendered once, then its bytes are queued by
// reference on each reader that may see it; a reader whose send queue is
// full is dropped by the core (close 4008), the others go on.
type fanout struct {
	s *edge.Server
	m *metrics

	mu  sync.Mutex // guards sub and changes to readers
	sub *nats.Subscription
	// readers is replaced, never changed in place, so the delivery loop
	// reads it without a lock.
	readers atomic.Pointer[[]*reader]
}

func newFanout(s *edge.Server) *fanout {
	f := &fanout{s: s}
	f.readers.Store(&[]*reader{})
	f.m = newMetrics(s.Registry(), f)
	return f
}

// add starts delivering to rd; the first reader of the pod subscribes.
func (f *fanout) add(rd *reader) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sub == nil {
		sub, err := f.s.Bus().NC.Subscribe(codec.SubjectAll(), f.deliver)
		if err != nil {
			return fmt.Errorf("push: subscribe %s: %w", codec.SubjectAll(), err)
		}
		_ = sub.SetPendingLimits(-1, pendingBytes)
		f.sub = sub
	}
	old := *f.readers.Load()
	next := make([]*reader, len(old), len(old)+1)
	copy(next, old)
	next = append(next, rd)
	f.readers.Store(&next)
	return nil
}

// remove stops delivering to rd; the last reader of the pod unsubscribes.
func (f *fanout) remove(rd *reader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.readers.Load()
	next := make([]*reader, 0, len(old))
	for _, r := range old {
		if r != rd {
			next = append(next, r)
		}
	}
	if len(next) == len(old) {
		return // never added (refused)
	}
	f.readers.Store(&next)
	if len(next) == 0 && f.sub != nil {
		if n, err := f.sub.Dropped(); err == nil && n > 0 {
			f.m.natsDropped.Add(float64(n))
		}
		_ = f.sub.Unsubscribe()
		f.sub = nil
	}
}

// deliver handles one event of the cluster (the subscription's goroutine).
func (f *fanout) deliver(m *nats.Msg) {
	env := &syv1.Envelope{}
	if err := proto.Unmarshal(m.Data, env); err != nil {
		f.m.bad.Inc()
		return
	}
	ev, err := codec.Render(env)
	if err != nil {
		f.m.bad.Inc()
		f.s.Log().Debug("push event not rendered", "subject", m.Subject, "err", err)
		return
	}
	f.m.events.WithLabelValues(channelLabel(ev.Channel)).Inc()
	frame := edge.Text(ev.JSON)
	for _, rd := range *f.readers.Load() {
		if rd.channel != ev.Channel || !rd.filter.Allows(ev.Type) || !codec.Visible(rd.who, ev.Scope) {
			continue
		}
		if rd.c.Send(frame) == nil {
			f.m.frames.Inc()
		}
	}
}

func channelLabel(c codec.Channel) string {
	if c == codec.ChannelStateChange {
		return "statechange"
	}
	return "notification"
}

type metrics struct {
	events      *prometheus.CounterVec
	frames      prometheus.Counter
	bad         prometheus.Counter
	natsDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, f *fanout) *metrics {
	m := &metrics{
		events:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_push_events_total", Help: "Push events this pod received from NATS and rendered once, by channel (notification, statechange)."}, []string{"channel"}),
		frames:      prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_push_frames_total", Help: "Push frames queued to local readers (one event, many readers)."}),
		bad:         prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_push_bad_events_total", Help: "Messages on sy.push.> that were not a renderable push envelope (dropped)."}),
		natsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_push_nats_dropped_total", Help: "Push events the NATS client dropped because this pod's push subscription fell behind (counted when it ends)."}),
	}
	readers := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_push_readers", Help: "Open push-channel readers on this pod (/notification and /statechange)."}, func() float64 {
		return float64(len(*f.readers.Load()))
	})
	reg.MustRegister(m.events, m.frames, m.bad, m.natsDropped, readers)
	return m
}
