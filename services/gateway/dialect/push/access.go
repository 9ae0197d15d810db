package push

import (
	"net"
	"net/http"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// admit decides who an upgrade request is (the access rule,
// docs/protocol-notes.md "Push channels"):
//
//   - an admin token (SY_ADMIN_TOKENS) is an admin: it sees every event;
//   - a client token (SY_CLIENT_TOKENS) is that user: its own events and
//     hub-wide ones;
//   - an unknown token is refused (close 1008);
//   - no token from loopback, with SY_PUSH_LOOPBACK_OPEN (the dev stack),
//     is an admin: the document's trust boundary is the loopback binding;
//   - no token otherwise is refused when SY_PUSH_REQUIRE_TOKEN is set (the
//     chart's default), else an anonymous reader: hub-wide events only.
//
// The second result is the refusal's close text ("" when admitted).
func (d *Dialect) admit(r *http.Request) (codec.Reader, string) {
	cfg := d.s.Config()
	if tok := edge.Bearer(r); tok != "" {
		if name, ok := d.s.AdminName(tok); ok {
			return codec.Reader{UserID: name, Admin: true}, ""
		}
		if p, ok := d.s.Authenticate(r); ok {
			return codec.Reader{UserID: p.User, Org: p.Org}, ""
		}
		return codec.Reader{}, "auth_failed: unknown token"
	}
	switch {
	case cfg.PushLoopbackOpen && loopback(r):
		return codec.Reader{Admin: true}, ""
	case cfg.PushRequireToken:
		return codec.Reader{}, "auth_failed: push channels need a client token (?token= or Authorization: Bearer)"
	}
	return codec.Reader{}, ""
}

// loopback reports whether the request comes straight from a loopback
// address: a proxy header (X-Forwarded-For, Forwarded, X-Real-IP) means
// the peer is a proxy and the reader is somewhere else.
func loopback(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
