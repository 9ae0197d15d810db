package edge

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/auth/jwtauth"
)

// Principal is who a client credential names.
type Principal struct {
	User    string    // the user id: the token table's user, or the JWT's sub
	Org     string    // the JWT's optional org claim ("" for static tokens)
	Expires time.Time // the JWT's exp; zero: never (static tokens)
}

// Authenticate is the one check of a client's credential, for REST and
// every socket dialect: the token of "Authorization: Bearer" or ?token=
// (Bearer), looked up in the static table (SY_CLIENT_TOKENS) first, then,
// when it looks like a JWT and JWTs are configured (SY_JWT_*), verified
// (signature, exp with leeway, aud, iss). A socket admitted with an
// expiring principal is closed with 4001 "token expired" at Expires
// (Admission.Expires). Tokens are never logged.
//
// Within one route served with Handle, the credential is checked once: the
// route and its AfterHTTP hooks share the answer (a JWT is verified once).
func (s *Server) Authenticate(r *http.Request) (Principal, bool) {
	if m, ok := r.Context().Value(authOnceKey{}).(*authOnce); ok {
		m.once.Do(func() { m.p, m.ok = s.authenticateToken(r.Context(), Bearer(r)) })
		return m.p, m.ok
	}
	return s.authenticateToken(r.Context(), Bearer(r))
}

// AdminName looks token up in SY_ADMIN_TOKENS (parsed once, by New): the
// one admin rule of admin REST (rest.Admin) and the push channels.
func (s *Server) AdminName(token string) (string, bool) { return s.admins.Lookup(token) }

// authOnce is one request's Authenticate answer (afterHTTP).
type authOnce struct {
	once sync.Once
	p    Principal
	ok   bool
}

type authOnceKey struct{}

func (s *Server) authenticateToken(ctx context.Context, token string) (Principal, bool) {
	if token == "" {
		return Principal{}, false
	}
	if user, ok := s.clients.Lookup(token); ok {
		return Principal{User: user}, true
	}
	if s.jwt == nil || !jwtauth.LooksLikeJWT(token) {
		return Principal{}, false
	}
	c, err := s.jwt.Verify(ctx, token)
	if err != nil {
		s.log.DebugContext(ctx, "client JWT refused", "err", err) // jwt errors never quote the token
		return Principal{}, false
	}
	return Principal{User: c.Subject, Org: c.Org, Expires: c.Expires}, true
}

// newVerifier builds the JWT verifier when SY_JWT_* configure one; its JWKS
// refresh ends with ctx.
func newVerifier(ctx context.Context, cfg Config, s *Server) (*jwtauth.Verifier, error) {
	if !cfg.Config.Enabled() {
		return nil, nil
	}
	jc := cfg.Config
	jc.Logger = s.log
	return jwtauth.New(ctx, jc)
}

// expireAt closes c with 4001 "token expired" when its credential lapses;
// the returned stop is called when the socket ends.
func expireAt(c *Conn, at time.Time) (stop func()) {
	if at.IsZero() {
		return func() {}
	}
	t := time.AfterFunc(time.Until(at), func() { c.Close(ReasonTokenExpired, "") })
	return func() { t.Stop() }
}
