package uploads

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-hub/switchyard/pkg/upload"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytes    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchyard_upload_requests_total",
			Help: "Upload service requests by operation and outcome (ok or the error reason)."}, []string{"op", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchyard_upload_request_seconds",
			Help: "Time to handle one upload service request.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"op"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_upload_stored_bytes_total",
			Help: "Chunk bytes stored durably (duplicates not counted)."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.bytes)
	}
	return m
}

func (m *metrics) observe(op string, err *upload.Error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = err.Reason
	}
	m.requests.WithLabelValues(op, outcome).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}
