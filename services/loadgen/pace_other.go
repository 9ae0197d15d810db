//go:build !linux

package main

import "time"

// pacer waits for a frame's scheduled time with time.Sleep (the Linux
// build uses a timerfd: see pace_linux.go).
type pacer struct{}

func newPacer() (*pacer, error) { return &pacer{}, nil }

func (p *pacer) waitUntil(ns int64) {
	if wait := ns - time.Now().UnixNano(); wait > 20_000 {
		time.Sleep(time.Duration(wait))
	}
}

func (p *pacer) close() {}
