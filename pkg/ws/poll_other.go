//go:build !linux

package ws

import "errors"

// poller is Linux's epoll set; elsewhere sockets never park (each keeps its
// reader goroutine).
type poller struct{}

var readiness poller

var errNoPoller = errors.New("ws: parking idle sockets needs epoll (Linux)")

func (*poller) arm(*Conn) error { return errNoPoller }

func (*poller) forget(c *Conn) { c.pollGone = true }

// readNow is never called where sockets do not park.
func (c *Conn) readNow([]byte) (int, error) { return 0, errNoPoller }
