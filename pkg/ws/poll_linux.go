//go:build linux

package ws

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller waits for parked sockets to become readable: one epoll set and
// one goroutine for every socket of the process. A socket is armed one
// shot (EPOLLONESHOT) when it parks and woken on its own goroutine when
// the peer sends anything (a frame, a pong, FIN or RST), so an idle socket
// holds no goroutine. The sockets stay registered with the Go runtime's
// own poller too (it serves their reads once they are woken); epoll sets
// are independent of each other.
type poller struct {
	once  sync.Once
	err   error // the epoll set could not be made: no socket parks
	epfd  int
	file  *os.File // epfd, kept open and registered with the Go runtime's poller
	mu    sync.Mutex
	conns map[int32]*Conn // registered fd → socket (until forget)
}

var readiness poller

// start makes the epoll set. Its descriptor is itself waited on by the Go
// runtime's poller (it is readable while events are pending), so the
// goroutine that collects events parks like any reader instead of holding
// a thread in epoll_wait.
func (p *poller) start() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err == nil {
		err = unix.SetNonblock(fd, true) // so that os.NewFile makes it pollable
	}
	if err != nil {
		p.err = fmt.Errorf("ws: epoll_create1: %w", err)
		return
	}
	f := os.NewFile(uintptr(fd), "ws-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		p.err = fmt.Errorf("ws: epoll set: %w", err)
		return
	}
	p.epfd, p.file = fd, f
	p.conns = make(map[int32]*Conn)
	go p.run(rc)
}

// arm registers c's socket (or re-arms it) for one readiness wake-up.
// It fails once forget was called: the socket is closing.
func (p *poller) arm(c *Conn) error {
	p.once.Do(p.start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if c.pollGone {
		return errPollClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(c.fd)}
	op := unix.EPOLL_CTL_MOD
	if !c.polled {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(p.epfd, op, c.fd, &ev); err != nil {
		return fmt.Errorf("ws: epoll_ctl fd %d: %w", c.fd, err)
	}
	c.polled = true
	p.conns[int32(c.fd)] = c
	return nil
}

// forget removes c's socket before its descriptor is closed (so a number
// reused by a later socket never reaches c) and refuses later arms.
func (p *poller) forget(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.pollGone = true
	if !c.polled {
		return
	}
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	if p.conns[int32(c.fd)] == c {
		delete(p.conns, int32(c.fd))
	}
	c.polled = false
}

// run wakes the sockets epoll reports readable (woken: without blocking;
// a socket with more than pongs to read gets a reader goroutine). An
// event for a socket that is not parked (one reported before it was
// forgotten or re-armed) is dropped there.
func (p *poller) run(rc syscall.RawConn) {
	events := make([]unix.EpollEvent, 256)
	woken := make([]*Conn, 0, len(events))
	for {
		var n int
		var werr error
		// Read calls the function at once and again each time the set is
		// readable, until it reports events or an error.
		err := rc.Read(func(uintptr) bool {
			n, werr = unix.EpollWait(p.epfd, events, 0)
			return n > 0 || (werr != nil && !errors.Is(werr, unix.EINTR))
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			// Never seen; parked sockets then end by their silence timers
			// and new ones read on goroutines of their own.
			p.mu.Lock()
			p.err = fmt.Errorf("ws: epoll_wait: %w", err)
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		for i := range n {
			if c := p.conns[events[i].Fd]; c != nil {
				woken = append(woken, c)
			}
		}
		p.mu.Unlock()
		for i, c := range woken {
			c.woken()
			woken[i] = nil
		}
		woken = woken[:0]
	}
}

// readNow reads what the socket holds without waiting for more.
func (c *Conn) readNow(p []byte) (n int, err error) {
	if rerr := c.raw.Read(func(fd uintptr) bool {
		n, err = syscall.Read(int(fd), p)
		return true
	}); rerr != nil {
		return 0, rerr
	}
	return max(n, 0), err
}
