package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef0123456789abcdef-test"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(sub string, exp time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(exp).Unix()}
}

func newVerifier(t *testing.T, cfg Config) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = time.Hour
	}
	if cfg.UnknownKIDRefresh == 0 {
		cfg.UnknownKIDRefresh = MinUnknownKIDRefresh
	}
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHS256(t *testing.T) {
	v := newVerifier(t, Config{HMACSecret: secret, Audience: "switchyard", Issuer: "https://idp.example", Leeway: time.Second})
	good := func(mut func(jwt.MapClaims)) string {
		c := claims("alice", time.Hour)
		c["aud"], c["iss"], c["org"] = "switchyard", "https://idp.example", "acme"
		if mut != nil {
			mut(c)
		}
		return sign(t, jwt.SigningMethodHS256, []byte(secret), "", c)
	}
	c, err := v.Verify(context.Background(), good(nil))
	if err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	if c.Subject != "alice" || c.Org != "acme" || time.Until(c.Expires) < 59*time.Minute || time.Until(c.Expires) > time.Hour {
		t.Fatalf("claims %+v", c)
	}
	// aud as a list holding ours is fine.
	if _, err := v.Verify(context.Background(), good(func(c jwt.MapClaims) { c["aud"] = []string{"other", "switchyard"} })); err != nil {
		t.Fatalf("aud list refused: %v", err)
	}

	bad := map[string]string{
		"expired":       good(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"wrong secret":  sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", claims("alice", time.Hour)),
		"wrong aud":     good(func(c jwt.MapClaims) { c["aud"] = "other" }),
		"no aud":        good(func(c jwt.MapClaims) { delete(c, "aud") }),
		"wrong iss":     good(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }),
		"no sub":        good(func(c jwt.MapClaims) { delete(c, "sub") }),
		"not yet valid": good(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }),
		"iat in future": good(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }),
		"HS384":         sign(t, jwt.SigningMethodHS384, []byte(secret), "", claims("alice", time.Hour)),
		"none alg":      sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("alice", time.Hour)),
		"garbage":       "a.b.c",
		"empty":         "",
	}
	for name, tok := range bad {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), bad["expired"]); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: err %v, want ErrExpired", err)
	}
	// Within the leeway an just-expired token still passes.
	if _, err := v.Verify(context.Background(), good(func(c jwt.MapClaims) { c["exp"] = time.Now().Unix() })); err != nil {
		t.Errorf("token expiring now refused despite 1s leeway: %v", err)
	}
	// No exp: accepted, Expires zero (the socket is never closed for expiry).
	c, err = v.Verify(context.Background(), good(func(c jwt.MapClaims) { delete(c, "exp") }))
	if err != nil || !c.Expires.IsZero() {
		t.Errorf("token without exp: %+v %v", c, err)
	}
}

func TestHS256SecretFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Config{HMACSecretFile: f})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, []byte(secret), "", claims("bob", time.Minute))); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cfg  Config
		want string
	}{
		"nothing":       {Config{}, "neither"},
		"short secret":  {Config{HMACSecret: "short"}, "at least 32"},
		"both secrets":  {Config{HMACSecret: secret, HMACSecretFile: short}, "not both"},
		"short file":    {Config{HMACSecretFile: short}, "at least 32"},
		"missing file":  {Config{HMACSecretFile: "/nonexistent/secret"}, "SY_JWT_HMAC_SECRET_FILE"},
		"jwks scheme":   {Config{JWKSURL: "ftp://idp/jwks", Refresh: time.Hour, UnknownKIDRefresh: time.Minute}, "http(s)"},
		"refresh low":   {Config{JWKSURL: "https://idp/jwks", Refresh: time.Millisecond, UnknownKIDRefresh: time.Millisecond}, "SY_JWT_JWKS_REFRESH"},
		"refresh high":  {Config{JWKSURL: "https://idp/jwks", Refresh: 48 * time.Hour, UnknownKIDRefresh: time.Minute}, "SY_JWT_JWKS_REFRESH"},
		"kid refresh":   {Config{JWKSURL: "https://idp/jwks", Refresh: time.Minute, UnknownKIDRefresh: time.Hour}, "SY_JWT_JWKS_MIN_REFRESH"},
		"leeway":        {Config{HMACSecret: secret, Leeway: time.Hour}, "SY_JWT_LEEWAY"},
		"url with pass": {Config{JWKSURL: "ftp://user:hunter2@idp/jwks", Refresh: time.Hour, UnknownKIDRefresh: time.Minute}, "idp/jwks"},
	}
	for name, c := range cases {
		_, err := New(context.Background(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one mentioning %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks the URL password: %v", name, err)
		}
	}
}

// jwksServer serves a JWK Set that tests can replace (key rotation) or
// take down (503).
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	down    bool
	fetches atomic.Int32
	fetched chan struct{} // one value per fetch, dropped when nobody waits
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{fetched: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		defer func() {
			select {
			case s.fetched <- struct{}{}:
			default:
			}
		}()
		s.mu.Lock()
		body, down := s.body, s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

type pubKey struct {
	kid string
	alg jwkset.ALG
	key crypto.PublicKey
}

func (s *jwksServer) serve(t *testing.T, keys ...pubKey) {
	t.Helper()
	st := jwkset.NewMemoryStorage()
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.KeyWrite(context.Background(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := st.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var check struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(body, &check); err != nil || len(check.Keys) != len(keys) {
		t.Fatalf("JWKS body %s: %v", body, err)
	}
	s.mu.Lock()
	s.body, s.down = body, false
	s.mu.Unlock()
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWKSRS256AndES256(t *testing.T) {
	rk, ek := rsaKey(t), ecKey(t)
	srv := newJWKSServer(t)
	srv.serve(t, pubKey{"rsa-1", jwkset.AlgRS256, &rk.PublicKey}, pubKey{"ec-1", jwkset.AlgES256, &ek.PublicKey})
	v := newVerifier(t, Config{JWKSURL: srv.URL + "/jwks.json", Issuer: "https://idp.example"})

	ok := func(c jwt.MapClaims) jwt.MapClaims { c["iss"] = "https://idp.example"; return c }
	for name, tok := range map[string]string{
		"RS256":        sign(t, jwt.SigningMethodRS256, rk, "rsa-1", ok(claims("alice", time.Hour))),
		"ES256":        sign(t, jwt.SigningMethodES256, ek, "ec-1", ok(claims("bob", time.Hour))),
		"ES256 no kid": sign(t, jwt.SigningMethodES256, ek, "", ok(claims("carol", time.Hour))),
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	other := rsaKey(t)
	for name, tok := range map[string]string{
		"RS256 other key":      sign(t, jwt.SigningMethodRS256, other, "rsa-1", ok(claims("alice", time.Hour))),
		"RS256 expired":        sign(t, jwt.SigningMethodRS256, rk, "rsa-1", ok(claims("alice", -time.Hour))),
		"RS256 wrong iss":      sign(t, jwt.SigningMethodRS256, rk, "rsa-1", claims("alice", time.Hour)),
		"kid of the EC key":    sign(t, jwt.SigningMethodRS256, rk, "ec-1", ok(claims("alice", time.Hour))),
		"HS256 without secret": sign(t, jwt.SigningMethodHS256, []byte(secret), "", ok(claims("alice", time.Hour))),
		// Algorithm confusion: the RSA public key's bytes as an HMAC secret.
		"HS256 with the public key": sign(t, jwt.SigningMethodHS256, []byte(rk.N.Bytes()), "rsa-1", ok(claims("alice", time.Hour))),
		"none alg":                  sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", ok(claims("alice", time.Hour))),
	} {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
}

func TestJWKSKeyRotation(t *testing.T) {
	k1, k2 := ecKey(t), ecKey(t)
	srv := newJWKSServer(t)
	srv.serve(t, pubKey{"k1", jwkset.AlgES256, &k1.PublicKey})
	v := newVerifier(t, Config{JWKSURL: srv.URL}) // background refresh 1h: only the unknown kid refetches
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k1, "k1", claims("alice", time.Hour))); err != nil {
		t.Fatal(err)
	}
	before := srv.fetches.Load()
	// The IdP rotates: k2 added, k1 dropped.
	srv.serve(t, pubKey{"k2", jwkset.AlgES256, &k2.PublicKey})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k2, "k2", claims("alice", time.Hour))); err != nil {
		t.Fatalf("token of the new kid refused: %v", err)
	}
	if srv.fetches.Load() != before+1 {
		t.Errorf("fetches %d -> %d, want exactly one refetch for the unknown kid", before, srv.fetches.Load())
	}
	// k1 was revoked with the refetch.
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k1, "k1", claims("alice", time.Hour))); !errors.Is(err, ErrInvalid) {
		t.Errorf("token of the dropped kid: err %v, want ErrInvalid", err)
	}
}

func TestJWKSUnknownKIDRefetchIsRateLimited(t *testing.T) {
	k := ecKey(t)
	srv := newJWKSServer(t)
	srv.serve(t, pubKey{"k1", jwkset.AlgES256, &k.PublicKey})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := New(ctx, Config{JWKSURL: srv.URL, Refresh: time.Hour, UnknownKIDRefresh: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	start := srv.fetches.Load()
	for i := range 20 {
		tok := sign(t, jwt.SigningMethodES256, k, "bogus-"+string(rune('a'+i)), claims("mallory", time.Hour))
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bogus kid accepted: %v", err)
		}
	}
	if n := srv.fetches.Load() - start; n > 1 {
		t.Errorf("20 bogus kids caused %d JWKS fetches, want at most 1 per SY_JWT_JWKS_MIN_REFRESH", n)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	k := rsaKey(t)
	srv := newJWKSServer(t)
	srv.setDown(true)
	v := newVerifier(t, Config{JWKSURL: srv.URL}) // must not fail: the IdP may come up later
	tok := sign(t, jwt.SigningMethodRS256, k, "r1", claims("alice", time.Hour))
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("verify with no keys: err %v, want ErrInvalid", err)
	}
	srv.serve(t, pubKey{"r1", jwkset.AlgRS256, &k.PublicKey}) // the IdP is back
	// The next token with the (still unknown) kid waits for the refetch limiter
	// (UnknownKIDRefresh = 100ms here) and then fetches.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := v.Verify(ctx, tok)
	if err != nil || c.Subject != "alice" {
		t.Fatalf("after the JWKS came back: %+v %v", c, err)
	}
}

func TestJWKSUnreachableAtStart(t *testing.T) {
	// A port nobody listens on: connection refused, New still succeeds.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	v := newVerifier(t, Config{JWKSURL: "http://" + addr + "/jwks", Leeway: time.Second})
	k := ecKey(t)
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k, "x", claims("alice", time.Hour))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	k1, k2 := ecKey(t), ecKey(t)
	srv := newJWKSServer(t)
	srv.serve(t, pubKey{"k1", jwkset.AlgES256, &k1.PublicKey})
	v := newVerifier(t, Config{JWKSURL: srv.URL, Refresh: MinRefresh, UnknownKIDRefresh: MinRefresh})
	srv.serve(t, pubKey{"k2", jwkset.AlgES256, &k2.PublicKey})
	select {
	case <-srv.fetched: // drop a signal from before the rotation
	default:
	}
	// The ticker fetches every second. The store is replaced after the
	// response is read, so wait for three fetches: the second surely read
	// the new set, and the third began after the second was stored.
	for i := range 3 {
		select {
		case <-srv.fetched:
		case <-time.After(10 * time.Second):
			t.Fatalf("background JWKS fetch %d not seen within 10s at SY_JWT_JWKS_REFRESH=1s", i+1)
		}
	}
	// k2 is now known without any unknown-kid fetch: the limiter is spent.
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cancelled ctx: Verify must not fetch, only use the cache
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, k2, "k2", claims("alice", time.Hour))); err != nil {
		t.Fatalf("key from the background refresh not used: %v", err)
	}
}

func TestHMACAndJWKSTogether(t *testing.T) {
	k := ecKey(t)
	srv := newJWKSServer(t)
	srv.serve(t, pubKey{"k1", jwkset.AlgES256, &k.PublicKey})
	v := newVerifier(t, Config{HMACSecret: secret, JWKSURL: srv.URL})
	for name, tok := range map[string]string{
		"HS256": sign(t, jwt.SigningMethodHS256, []byte(secret), "", claims("svc", time.Hour)),
		"ES256": sign(t, jwt.SigningMethodES256, k, "k1", claims("alice", time.Hour)),
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig": true,
		"ct-secret":        false,
		"a.b":              false,
		"a.b.c.d":          false,
		"a .b.c":           false,
		"dev-client-token": false,
	} {
		if LooksLikeJWT(s) != want {
			t.Errorf("LooksLikeJWT(%q) = %v", s, !want)
		}
	}
}
