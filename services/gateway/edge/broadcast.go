package edge

import (
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Broadcast queues env on every local socket that match accepts (nil:
// every socket), rendered once per dialect and role among them and shared
// by their sockets. It never blocks on a socket (a full queue drops that
// socket) and returns how many sockets it was queued on. Push channels
// deliver their pod-wide frames with it.
func (s *Server) Broadcast(env *syv1.Envelope, match func(*Conn) bool) int {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var r renders
	n := 0
	for _, c := range conns {
		if match != nil && !match(c) {
			continue
		}
		f, ok := r.frame(s, c, env)
		if ok && len(f.Data) > 0 && c.Send(f) == nil { // an empty rendering: nothing for that dialect
			n++
		}
	}
	return n
}
