//go:build linux

package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pacer waits for a frame's scheduled time on a timerfd read through the
// runtime's netpoller. time.Sleep wakes an idle process only at the
// millisecond ticks of epoll_wait's timeout (up to 1 ms late, and every
// sleeper due in the same tick wakes together), which would make an
// open-loop rate a train of clumps and add the clock's error to every
// latency; the kernel's high-resolution timer wakes the poller on time.
type pacer struct {
	fd  int
	f   *os.File
	buf [8]byte
}

func newPacer() (*pacer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return &pacer{fd: fd, f: os.NewFile(uintptr(fd), "pacer")}, nil
}

// waitUntil returns at unix time ns (at once if it has passed).
func (p *pacer) waitUntil(ns int64) {
	if ns-time.Now().UnixNano() <= 20_000 {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(ns)}
	if err := unix.TimerfdSettime(p.fd, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
		time.Sleep(time.Until(time.Unix(0, ns)))
		return
	}
	if _, err := p.f.Read(p.buf[:]); err != nil {
		time.Sleep(time.Until(time.Unix(0, ns)))
	}
}

func (p *pacer) close() { _ = p.f.Close() }
