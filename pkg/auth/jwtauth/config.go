package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// Bounds of the JWKS refresh settings (Validate enforces them).
const (
	MinRefresh           = time.Second
	MaxRefresh           = 24 * time.Hour
	MinUnknownKIDRefresh = 100 * time.Millisecond
	// MinHMACSecretBytes: RFC 7518 §3.2 wants an HS256 key of at least the hash size.
	MinHMACSecretBytes = 32
)

// Config selects how client JWTs are verified. It embeds into a service's
// config struct (pkg/config tags): at least one of the HMAC secret (HS256) or
// the JWKS URL (RS256, ES256, ... from the identity provider's key set) turns
// JWT client authentication on; with neither, Enabled is false.
type Config struct {
	HMACSecret     string        `flag:"jwt-hmac-secret" env:"SY_JWT_HMAC_SECRET" default:"" usage:"shared secret for HS256 client JWTs (at least 32 bytes; prefer SY_JWT_HMAC_SECRET_FILE)"`
	HMACSecretFile string        `flag:"jwt-hmac-secret-file" env:"SY_JWT_HMAC_SECRET_FILE" default:"" usage:"file holding the HS256 secret (a mounted Secret); trailing newlines are dropped"`
	JWKSURL        string        `flag:"jwt-jwks-url" env:"SY_JWT_JWKS_URL" default:"" usage:"JWKS URL of the identity provider for RS256/ES256 client JWTs (fetched at start and refreshed in the background)"`
	Audience       string        `flag:"jwt-audience" env:"SY_JWT_AUDIENCE" default:"" usage:"required aud claim of client JWTs (empty: not checked)"`
	Issuer         string        `flag:"jwt-issuer" env:"SY_JWT_ISSUER" default:"" usage:"required iss claim of client JWTs (empty: not checked)"`
	Leeway         time.Duration `flag:"jwt-leeway" env:"SY_JWT_LEEWAY" default:"5s" usage:"clock skew allowed on exp, nbf and iat of client JWTs"`
	Refresh        time.Duration `flag:"jwt-jwks-refresh" env:"SY_JWT_JWKS_REFRESH" default:"1h" usage:"how often the JWKS is fetched again in the background (1s..24h)"`
	// UnknownKIDRefresh is the least time between two fetches triggered by a
	// token whose kid is not in the cached set (a key rotation).
	UnknownKIDRefresh time.Duration `flag:"jwt-jwks-min-refresh" env:"SY_JWT_JWKS_MIN_REFRESH" default:"30s" usage:"least time between JWKS fetches caused by an unknown kid (100ms..jwt-jwks-refresh)"`

	// Logger receives JWKS refresh failures (never tokens); nil = slog.Default().
	Logger *slog.Logger `json:"-"`
	// HTTPTimeout bounds one JWKS fetch; 0 = 10s.
	HTTPTimeout time.Duration `json:"-"`
}

// Enabled reports whether any JWT verification is configured.
func (c Config) Enabled() bool {
	return c.HMACSecret != "" || c.HMACSecretFile != "" || c.JWKSURL != ""
}

// Validate checks the settings without touching the network or files.
func (c Config) Validate() error {
	var errs []error
	if c.HMACSecret != "" && c.HMACSecretFile != "" {
		errs = append(errs, errors.New("jwtauth: set SY_JWT_HMAC_SECRET or SY_JWT_HMAC_SECRET_FILE, not both"))
	}
	if c.HMACSecret != "" && len(c.HMACSecret) < MinHMACSecretBytes {
		errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_HMAC_SECRET is %d bytes, want at least %d", len(c.HMACSecret), MinHMACSecretBytes))
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_JWKS_URL: %w", err))
		case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_JWKS_URL %q: want an http(s)://host/... URL", redact(u)))
		}
	}
	if c.Leeway < 0 || c.Leeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_LEEWAY %s: want 0..5m", c.Leeway))
	}
	if c.JWKSURL != "" {
		if c.Refresh < MinRefresh || c.Refresh > MaxRefresh {
			errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_JWKS_REFRESH %s: want %s..%s", c.Refresh, MinRefresh, MaxRefresh))
		}
		if c.UnknownKIDRefresh < MinUnknownKIDRefresh || c.UnknownKIDRefresh > c.Refresh {
			errs = append(errs, fmt.Errorf("jwtauth: SY_JWT_JWKS_MIN_REFRESH %s: want %s..SY_JWT_JWKS_REFRESH (%s)", c.UnknownKIDRefresh, MinUnknownKIDRefresh, c.Refresh))
		}
	}
	return errors.Join(errs...)
}

// secret returns the HS256 key from the value or the file ("" = none).
func (c Config) secret() ([]byte, error) {
	if c.HMACSecretFile == "" {
		if c.HMACSecret == "" {
			return nil, nil
		}
		return []byte(c.HMACSecret), nil
	}
	b, err := os.ReadFile(c.HMACSecretFile)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: SY_JWT_HMAC_SECRET_FILE: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if len(s) < MinHMACSecretBytes {
		return nil, fmt.Errorf("jwtauth: SY_JWT_HMAC_SECRET_FILE %s holds %d bytes, want at least %d", c.HMACSecretFile, len(s), MinHMACSecretBytes)
	}
	return []byte(s), nil
}

// redact drops user info and query (which may carry credentials) from a URL
// for messages and logs.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}
