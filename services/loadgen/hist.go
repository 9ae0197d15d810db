package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear latency histogram: 64 sub-buckets per
// power of two (values within ~1.6%), from 1 ns to ~2^40 ns (18 minutes).
type hist struct {
	counts [41 * histSub]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const histSubBits = 6
const histSub = 1 << histSubBits

func histIndex(v int64) int {
	if v < 1 {
		v = 1
	}
	e := bits.Len64(uint64(v)) - 1 // 2^e <= v < 2^(e+1)
	if e < histSubBits {
		return int(v) // exact below 64 ns
	}
	if e > 40 {
		return len((&hist{}).counts) - 1
	}
	sub := int(uint64(v)>>(uint(e)-histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + sub
}

// histValue is the upper end of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub + histSubBits - 1
	sub := i % histSub
	lo := (int64(histSub) + int64(sub)) << uint(e-histSubBits)
	return lo + (int64(1)<<uint(e-histSubBits) - 1)
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the value below which a fraction q of the samples lie.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

func (h *hist) count() uint64 { return h.n.Load() }
