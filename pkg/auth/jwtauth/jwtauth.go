// Package jwtauth verifies client JSON Web Tokens: HS256 with a shared
// secret, and RS256/ES256 (and the other RSA, RSA-PSS, ECDSA and EdDSA
// algorithms) with keys from the identity provider's JWKS URL, cached and
// refreshed in the background and again when a token names an unknown kid.
//
// The user is the sub claim; exp is honoured (with Config.Leeway) and
// returned, so the gateway can close a long-lived socket when it lapses
// (CloseTokenExpired). aud and iss are checked when configured. Tokens are
// never logged. Parsing and signature checks are github.com/golang-jwt/jwt/v5,
// the key cache github.com/MicahParks/keyfunc/v3 (jwkset).
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Close code and reason for a socket whose token expired while open
// (Centrifugo closes such a connection with its own "expired" code and the
// client reconnects with a fresh token). 4001 is in the application range
// and clashes with no code of the hub (docs/errors.md: 1000, 1001, 1008,
// 1009, 1011, 1013, 4008, 4009) or of the protocol documents.
const (
	CloseTokenExpired       = 4001
	CloseReasonTokenExpired = "token expired"
)

// Errors (test with errors.Is). Every verification failure wraps ErrInvalid;
// an expired token also wraps ErrExpired.
var (
	ErrInvalid       = errors.New("jwtauth: invalid token")
	ErrExpired       = jwt.ErrTokenExpired
	ErrNotConfigured = errors.New("jwtauth: neither an HMAC secret nor a JWKS URL is configured")
)

// unknownKIDWait bounds how long a Verify waits for the unknown-kid refresh
// limiter and the fetch itself; a token with a bogus kid inside
// UnknownKIDRefresh of the last such fetch fails at once.
const unknownKIDWait = 5 * time.Second

// asymmetric algorithms accepted with JWKS keys. HS* is accepted only with
// the shared secret, never with a JWKS "oct" key; "none" never.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Claims is what the hub takes from a verified token.
type Claims struct {
	Subject string    // sub: the user id
	Expires time.Time // exp; zero when the token has none (never expires)
	Org     string    // optional "org" claim (tenant), "" when absent
}

// tokenClaims is the JSON shape parsed from the token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Org string `json:"org,omitempty"`
}

// Verifier checks tokens. It is safe for concurrent use; its JWKS refresh
// goroutine ends with the context given to New.
type Verifier struct {
	secret []byte
	jwks   keyfunc.Keyfunc
	parser *jwt.Parser
}

// New builds a Verifier. With a JWKS URL it fetches the set once (a server
// that is down at start is logged, not fatal: keys are fetched again in the
// background every Refresh and when a token names an unknown kid).
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if !cfg.Enabled() {
		return nil, ErrNotConfigured
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	v := &Verifier{secret: secret}
	var methods []string
	if secret != nil {
		methods = append(methods, "HS256")
	}
	if cfg.JWKSURL != "" {
		if v.jwks, err = newJWKS(ctx, cfg); err != nil {
			return nil, err
		}
		methods = append(methods, asymmetric...)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuedAt()}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func newJWKS(ctx context.Context, cfg Config) (keyfunc.Keyfunc, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	u, _ := url.Parse(cfg.JWKSURL) // Validate parsed it
	where := redact(u)
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	noErr := true
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		HTTPTimeout:               timeout,
		NoErrorReturnFirstHTTPReq: &noErr,
		RefreshInterval:           cfg.Refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(cfg.UnknownKIDRefresh), 1),
		RateLimitWaitMax:          min(unknownKIDWait, timeout),
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "jwtauth: JWKS fetch failed; keeping the keys already known", "url", where, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jwtauth: JWKS %s: %w", where, err)
	}
	return kf, nil
}

// Verify checks token and returns its claims. ctx bounds a JWKS fetch that an
// unknown kid may trigger.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	var tc tokenClaims
	_, err := v.parser.ParseWithClaims(token, &tc, v.keyFunc(ctx))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if strings.TrimSpace(tc.Subject) == "" {
		return Claims{}, fmt.Errorf("%w: no sub claim (the user id)", ErrInvalid)
	}
	c := Claims{Subject: tc.Subject, Org: tc.Org}
	if tc.ExpiresAt != nil {
		c.Expires = tc.ExpiresAt.Time
	}
	return c, nil
}

func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			if v.secret == nil {
				return nil, errors.New("HMAC-signed token but no shared secret configured")
			}
			return v.secret, nil
		}
		if v.jwks == nil {
			return nil, fmt.Errorf("%s-signed token but no JWKS URL configured", t.Method.Alg())
		}
		return v.jwks.KeyfuncCtx(ctx)(t)
	}
}

// LooksLikeJWT reports whether s has the three dot-separated parts of a
// compact JWS, so a gateway can try its static token table first and JWT
// verification only for such tokens.
func LooksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && !strings.ContainsAny(s, " \t\r\n")
}
