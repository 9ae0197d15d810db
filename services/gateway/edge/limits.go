package edge

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// The core's limits on sockets (issue 9 item 3), the same for every
// dialect:
//
//   - a socket whose principal is not known SY_AUTH_TIMEOUT after the
//     upgrade is closed 1008 (auth_timeout), unless its dialect admitted it
//     as anonymous (Admission.Anonymous);
//   - until then its frames are limited to SY_PREAUTH_MAX_MESSAGE_BYTES
//     (1009 above; pkg/ws), afterwards to SY_MAX_MESSAGE_BYTES;
//   - at most SY_MAX_SOCKETS_PER_IP sockets per source address (HTTP 429
//     at the upgrade) and SY_MAX_SOCKETS_PER_PRINCIPAL per role and
//     principal (HTTP 429 when the upgrade names it, else close 4029 when
//     the dialect authenticates it);
//   - frames beyond pkg/ws.FreeFrameBytes are read under the pod's read
//     budget SY_READ_BUDGET_BYTES (close 1013 after SY_READ_BUDGET_WAIT).

// ErrTooManySockets is returned by Conn.Authenticate when the principal
// already has SY_MAX_SOCKETS_PER_PRINCIPAL sockets on this pod.
var ErrTooManySockets = errors.New("too many sockets for this principal")

// Authenticate records the socket's principal (user id, runtime id, …)
// once its dialect has checked the credentials: the auth deadline stops
// and frames up to SY_MAX_MESSAGE_BYTES are read from now on. It fails
// with ErrTooManySockets when the principal already holds
// SY_MAX_SOCKETS_PER_PRINCIPAL sockets on this pod; the dialect then
// answers in its own words and closes with ReasonTooManySockets (if it
// does not, the auth deadline closes the socket).
func (c *Conn) Authenticate(principal string) error {
	if principal == "" {
		return errors.New("edge: empty principal")
	}
	c.mu.Lock()
	counted := c.principalKey != ""
	c.mu.Unlock()
	if !counted {
		key := principalKey(c.role.String(), principal)
		if !c.s.takePrincipal(key) {
			c.s.m.refused.WithLabelValues(string(ReasonTooManySockets)).Inc()
			return ErrTooManySockets
		}
		c.mu.Lock()
		c.principalKey = key
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.principal = principal
	c.mu.Unlock()
	c.authed.Store(true)
	c.ws.Authenticate()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	return nil
}

// Authenticated reports whether the socket's principal is known (or its
// dialect admitted it as anonymous).
func (c *Conn) Authenticated() bool { return c.authed.Load() }

// TooManySocketsText is the message of a principal-cap refusal.
func (c *Conn) TooManySocketsText() string {
	return fmt.Sprintf("%s: at most %d sockets per principal on this gateway (SY_MAX_SOCKETS_PER_PRINCIPAL)", errcode.TooManySockets, c.s.cfg.MaxSocketsPerPrincipal)
}

// AuthDeadline is when an unauthenticated socket is closed (zero: no
// deadline). A dialect bounds its credential checks by it, so a slow
// check answers in the dialect's words before the core closes.
func (c *Conn) AuthDeadline() time.Time { return c.authBy }

// armAuthDeadline closes the socket if it is not authenticated in time.
func (c *Conn) armAuthDeadline() {
	d := c.s.cfg.AuthTimeout
	c.authBy = time.Now().Add(d)
	c.authTimer = time.AfterFunc(d, func() {
		if c.Authenticated() {
			return
		}
		c.SendError("", errcode.AuthFailed, "not authenticated within "+d.String())
		c.Close(ReasonAuthTimeout, "")
	})
}

func principalKey(role, principal string) string { return role + "/" + principal }

// takePrincipal counts one more socket of key; false when at the cap.
func (s *Server) takePrincipal(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.cfg.MaxSocketsPerPrincipal; n > 0 && s.perPrincipal[key] >= n {
		return false
	}
	s.perPrincipal[key]++
	return true
}

func (s *Server) dropPrincipal(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perPrincipal[key]--; s.perPrincipal[key] <= 0 {
		delete(s.perPrincipal, key)
	}
}

// takeAddr counts one more socket from addr; false when at the cap.
func (s *Server) takeAddr(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.cfg.MaxSocketsPerIP; n > 0 && s.perAddr[addr] >= n {
		return false
	}
	s.perAddr[addr]++
	return true
}

func (s *Server) dropAddr(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perAddr[addr]--; s.perAddr[addr] <= 0 {
		delete(s.perAddr, addr)
	}
}

// SocketsFrom is how many sockets source address addr holds on this pod.
func (s *Server) SocketsFrom(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perAddr[addr]
}

// refuseUpgrade answers an upgrade the core refuses, counted by reason.
func (s *Server) refuseUpgrade(w http.ResponseWriter, status int, reason CloseReason, msg string) {
	s.m.refused.WithLabelValues(string(reason)).Inc()
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, msg, status)
}

// sourceAddr is the address a socket counts against: the peer's IP, or,
// when the peer is a trusted proxy (SY_TRUSTED_PROXIES), the right-most
// X-Forwarded-For address that is not one.
func (s *Server) sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(ip) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(hop) {
			return hop.Unmap().String()
		}
	}
	return host
}

func (s *Server) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseProxies reads SY_TRUSTED_PROXIES: CIDR prefixes or single IPs.
func parseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxies: %q is neither an IP nor a CIDR prefix", v)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// maxPayloadText names the NATS limit a frame exceeded.
func maxPayloadText(kind string, size int, limit int64) string {
	return kind + " is " + strconv.Itoa(size) + " bytes on the bus; the hub's NATS max_payload is " +
		strconv.FormatInt(limit, 10) + " bytes (frames over about " + strconv.FormatInt(limit-busHeaderSlack, 10) +
		" bytes are refused; the operator can raise max_payload on the NATS server)"
}
