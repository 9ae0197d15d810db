package process

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/config"
)

// NATSAuth turns the NATS authentication settings into connect options:
// a creds file (SY_NATS_CREDS: JWT + seed, re-read on every reconnect, so
// a rotated Secret is picked up), an nkey seed file (SY_NATS_NKEY), and
// TLS (SY_NATS_TLS_CA to verify the servers, SY_NATS_TLS_CERT/KEY to
// authenticate with a client certificate). User and password stay in the
// URL. Files are read here, so a bad one fails at start, naming its setting.
func NATSAuth(c *config.Common) ([]nats.Option, error) {
	var opts []nats.Option
	if c.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCreds))
	}
	if c.NATSNkey != "" {
		o, err := nats.NkeyOptionFromSeed(c.NATSNkey)
		if err != nil {
			return nil, fmt.Errorf("process: %s = %q: %w", config.Name(c, "NATSNkey"), c.NATSNkey, err)
		}
		opts = append(opts, o)
	}
	if c.NATSTLSCA == "" && c.NATSTLSCert == "" {
		return opts, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.NATSTLSCA != "" {
		pem, err := os.ReadFile(c.NATSTLSCA)
		if err != nil {
			return nil, fmt.Errorf("process: %s: %w", config.Name(c, "NATSTLSCA"), err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("process: %s = %q: no PEM certificate in the file", config.Name(c, "NATSTLSCA"), c.NATSTLSCA)
		}
	}
	if c.NATSTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.NATSTLSCert, c.NATSTLSKey)
		if err != nil {
			return nil, fmt.Errorf("process: %s / %s: %w", config.Name(c, "NATSTLSCert"), config.Name(c, "NATSTLSKey"), err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return append(opts, nats.Secure(tc)), nil
}

// ConnectNATS connects the bus, retrying with exponential backoff while
// the servers are unreachable (or refuse the credentials) and logging
// every attempt with the password-free URL, until ctx ends. Once
// connected, nats.go reconnects by itself forever; each failed reconnect
// is logged too.
func ConnectNATS(ctx context.Context, c *config.Common, name string, log *slog.Logger) (*bus.Bus, error) {
	auth, err := NATSAuth(c)
	if err != nil {
		return nil, err
	}
	target := config.RedactURL(c.NATSURL)
	opts := append(auth,
		nats.RetryOnFailedConnect(false),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats reconnect failed", "nats", target, "err", err)
		}))
	attempt := 0
	b, err := backoff.Retry(ctx, func() (*bus.Bus, error) {
		attempt++
		return bus.Connect(ctx, c.NATSURL, name, log, opts...)
	}, backoff.WithBackOff(newBackOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Warn("nats unreachable, retrying", "nats", target, "attempt", attempt, "retry_in", next.Round(time.Millisecond), "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("process: nats %s: %w", target, err)
	}
	log.Info("nats connected", "nats", b.NC.ConnectedUrlRedacted(), "attempts", attempt)
	return b, nil
}
