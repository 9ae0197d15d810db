package edge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

type metrics struct {
	conns          *prometheus.GaugeVec
	framesIn       *prometheus.CounterVec
	framesOut      *prometheus.CounterVec
	drops          *prometheus.CounterVec
	errors         *prometheus.CounterVec
	publishLatency prometheus.Histogram
	batchFrames    prometheus.Histogram
	directAppends  prometheus.Counter
	fanout         prometheus.Histogram
	topics         prometheus.Gauge
	duplicates     prometheus.Counter
	gaps           prometheus.Counter
	replayed       prometheus.Counter
	closes         *prometheus.CounterVec
	refused        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		conns:          prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "switchyard_gateway_connections", Help: "Open WebSockets, by dialect label (the runtime/client dialect labels by role: runtime, client)."}, []string{"dialect"}),
		framesIn:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_frames_in_total", Help: "Frames read from sockets, by dialect."}, []string{"dialect"}),
		framesOut:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_frames_out_total", Help: "Frames queued to sockets, by dialect."}, []string{"dialect"}),
		drops:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_slow_consumer_drops_total", Help: "Sockets closed (4008) because their send queue overflowed, by dialect."}, []string{"dialect"}),
		errors:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_error_frames_total", Help: "error frames sent to sockets, by code."}, []string{"code"}),
		batchFrames:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_gateway_ingest_batch_frames", Help: "Frames of a runtime socket published to SY_IN as one message (1: alone).", Buckets: []float64{1, 2, 4, 8, 16, 32, 64}}),
		directAppends:  prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_direct_appends_total", Help: "Runtime output frames this pod appended to their transcripts itself, not through SY_IN and the session service (SY_DIRECT_APPEND)."}),
		publishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_gateway_publish_seconds", Help: "Time for JetStream to accept an inbound frame.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}),
		fanout:         prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchyard_gateway_fanout_subscribers", Help: "Local subscribers per delivered transcript event.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		topics:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchyard_gateway_followed_sessions", Help: "Sessions this pod holds NATS interest in."}),
		duplicates:     prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_duplicate_events_total", Help: "Live transcript events dropped as already delivered."}),
		gaps:           prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_gap_repairs_total", Help: "Gaps in live transcript events repaired from the stream."}),
		replayed:       prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_gateway_replayed_messages_total", Help: "Transcript messages sent in history.response frames."}),
		closes:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_closes_total", Help: "Sockets ended, by dialect label, close reason (edge.CloseReason) and WebSocket close code (the hub's, or the peer's when the peer closed; none: no close frame)."}, []string{"dialect", "reason", "code"}),
		refused:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_gateway_refused_sockets_total", Help: "Upgrades and authentications the core refused, by reason (draining, too_many_sockets)."}, []string{"reason"}),
	}
	budgetUsed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_read_budget_bytes", Help: "Read budget (SY_READ_BUDGET_BYTES) held by frames being read and handled."}, func() float64 {
		if s.budget == nil {
			return 0
		}
		return float64(s.budget.InUse())
	})
	budgetWaits := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchyard_gateway_read_budget_waits_total", Help: "Large frames that found the read budget used up and waited for it."}, func() float64 {
		if s.budget == nil {
			return 0
		}
		return float64(s.budget.Waits())
	})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_send_queue_bytes", Help: "Bytes waiting in all socket send queues of this pod."}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		total := 0
		for _, c := range s.conns {
			_, b := c.ws.Queued()
			total += b
		}
		return float64(total)
	})
	parked := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_sockets_parked", Help: "Open WebSockets waiting for their peer without a goroutine (idle; pkg/ws park.go)."}, func() float64 {
		return float64(ws.Parked())
	})
	writers := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_gateway_socket_writers", Help: "Socket writer goroutines running: writing, or lingering 200 ms for the next frame (pkg/ws)."}, func() float64 {
		return float64(ws.Writers())
	})
	reg.MustRegister(m.conns, m.framesIn, m.framesOut, m.drops, m.errors, m.publishLatency, m.batchFrames, m.directAppends, m.fanout, m.topics, m.duplicates, m.gaps, m.replayed, m.closes, m.refused, queue, budgetUsed, budgetWaits, parked, writers)
	return m
}
