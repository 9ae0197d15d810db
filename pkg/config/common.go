package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
)

// Common is the configuration every service shares.
type Common struct {
	Pod          string `flag:"pod" env:"SY_POD" default:"" usage:"name of this pod/process (default: hostname-pid)"`
	NATSURL      string `flag:"nats-url" env:"SY_NATS_URL" default:"nats://127.0.0.1:4222" usage:"NATS server URL(s), comma separated"`
	RedisURL     string `flag:"redis-url" env:"SY_REDIS_URL" default:"redis://127.0.0.1:6379/0" usage:"Redis URL for connection ownership"`
	OTLPEndpoint string `flag:"otlp-endpoint" env:"SY_OTLP_ENDPOINT" default:"" usage:"OTLP/HTTP trace endpoint, e.g. http://jaeger:4318 (empty: tracing export off)"`
	LogLevel     string `flag:"log-level" env:"SY_LOG_LEVEL" default:"info" usage:"debug, info, warn or error"`
	LogFormat    string `flag:"log-format" env:"SY_LOG_FORMAT" default:"text" usage:"text or json"`
	// Partitions is the number of ordered partitions of the inbound and
	// runtime-command streams. Every service of a deployment must agree.
	Partitions int `flag:"partitions" env:"SY_PARTITIONS" default:"16" usage:"ordered partitions of the session and runtime command streams (all services must agree)"`
	// Replicas of JetStream streams (1 for a single NATS server, 3 for a cluster).
	StreamReplicas int `flag:"stream-replicas" env:"SY_STREAM_REPLICAS" default:"1" usage:"JetStream replicas for Switchyard's streams and buckets"`
	// Namespace prefixes every stream, bucket, subject and Redis key
	// (pkg/namespace), so installations can share one NATS account and
	// one Redis. Every service of an installation must agree.
	Namespace string `flag:"namespace" env:"SY_NAMESPACE" default:"" usage:"prefix of every NATS stream, bucket and subject and every Redis key (letters, digits, - and _; all services of an installation must agree); empty: the unprefixed names"`
	// Heartbeat is how often a pod refreshes its ownership records; OwnerTTL
	// is how long they live without a refresh.
	Heartbeat time.Duration `flag:"heartbeat" env:"SY_HEARTBEAT" default:"5s" usage:"ownership heartbeat period"`
	OwnerTTL  time.Duration `flag:"owner-ttl" env:"SY_OWNER_TTL" default:"15s" usage:"ownership record TTL (must exceed heartbeat)"`
	// RequestTimeout bounds every request that waits on a runtime.
	RequestTimeout time.Duration `flag:"request-timeout" env:"SY_REQUEST_TIMEOUT" default:"30s" usage:"timeout for requests answered by a runtime"`

	// Redis high availability (pkg/process.Redis): SY_REDIS_URL alone is
	// one server; SY_REDIS_ADDRS with SY_REDIS_MASTER_NAME is Sentinel,
	// with SY_REDIS_CLUSTER a Redis Cluster.
	RedisAddrs            []string `flag:"redis-addrs" env:"SY_REDIS_ADDRS" default:"" usage:"comma list of host:port: the Sentinels (with -redis-master-name) or Cluster seed nodes (with -redis-cluster); when set, -redis-url is not used"`
	RedisMasterName       string   `flag:"redis-master-name" env:"SY_REDIS_MASTER_NAME" default:"" usage:"Sentinel master name (Sentinel mode)"`
	RedisCluster          bool     `flag:"redis-cluster" env:"SY_REDIS_CLUSTER" default:"false" usage:"Redis Cluster mode: -redis-addrs are seed nodes (or the host of -redis-url when -redis-addrs is empty)"`
	RedisUsername         string   `flag:"redis-username" env:"SY_REDIS_USERNAME" default:"" usage:"Redis ACL user (overrides the URL's)"`
	RedisPassword         string   `flag:"redis-password" env:"SY_REDIS_PASSWORD" default:"" usage:"Redis password (overrides the URL's; mount it from a Secret)"`
	RedisSentinelPassword string   `flag:"redis-sentinel-password" env:"SY_REDIS_SENTINEL_PASSWORD" default:"" usage:"password of the Sentinels themselves, if they require one"`

	// NATS authentication beyond user:password in the URL (pkg/process).
	NATSCreds   string `flag:"nats-creds" env:"SY_NATS_CREDS" default:"" usage:"NATS credentials file (JWT + nkey seed, as from nsc)"`
	NATSNkey    string `flag:"nats-nkey" env:"SY_NATS_NKEY" default:"" usage:"NATS nkey seed file (user nkey authentication)"`
	NATSTLSCA   string `flag:"nats-tls-ca" env:"SY_NATS_TLS_CA" default:"" usage:"PEM file of the CA(s) that sign the NATS servers' certificates"`
	NATSTLSCert string `flag:"nats-tls-cert" env:"SY_NATS_TLS_CERT" default:"" usage:"PEM client certificate for NATS (TLS client authentication; needs -nats-tls-key)"`
	NATSTLSKey  string `flag:"nats-tls-key" env:"SY_NATS_TLS_KEY" default:"" usage:"PEM private key of -nats-tls-cert"`
}

// LogLevels are the values SY_LOG_LEVEL accepts.
var LogLevels = []string{"debug", "info", "warn", "error"}

// PodName returns the configured pod name or a hostname-pid default.
func (c *Common) PodName() string {
	if c.Pod != "" {
		return c.Pod
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "pod"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// CheckWindow checks a partition window setting (field of cfg): the
// messages of one partition its owner holds at a time.
func CheckWindow(cfg any, field string, n int) error {
	if n < 1 || n > 1024 {
		return Invalid(cfg, field, n, "want 1..1024")
	}
	return nil
}

// Validate checks the shared settings. Every error names the setting (its
// environment variable and flag), what it wants and the value it got.
func (c *Common) Validate() error {
	var errs []error
	bad := func(field string, got any, want string, args ...any) {
		errs = append(errs, Invalid(c, field, got, fmt.Sprintf(want, args...)))
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		bad("Partitions", c.Partitions, "want 1..1024")
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad("StreamReplicas", c.StreamReplicas, "want 1..5 (JetStream's limit; 3 for a 3-node cluster)")
	}
	if err := namespace.Check(c.Namespace); err != nil {
		bad("Namespace", c.Namespace, "%v", err)
	}
	if c.Heartbeat <= 0 {
		bad("Heartbeat", c.Heartbeat, "want a positive duration")
	}
	if c.OwnerTTL <= c.Heartbeat {
		bad("OwnerTTL", c.OwnerTTL, "must exceed %s (%s)", Name(c, "Heartbeat"), c.Heartbeat)
	}
	if c.RequestTimeout <= 0 {
		bad("RequestTimeout", c.RequestTimeout, "want a positive duration")
	}
	if strings.ContainsAny(c.Pod, ". *>") {
		bad("Pod", c.Pod, "pod name must not contain '.', ' ', '*' or '>' (it is a NATS subject token)")
	}
	if !slices.Contains(LogLevels, strings.ToLower(c.LogLevel)) {
		bad("LogLevel", c.LogLevel, "want one of %s", strings.Join(LogLevels, ", "))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LogFormat", c.LogFormat, "want text or json")
	}
	if err := CheckNATSURLs(c.NATSURL); err != nil {
		bad("NATSURL", RedactURL(c.NATSURL), "%v", err)
	}
	errs = append(errs, c.validateRedis(), c.validateNATSAuth())
	return errors.Join(errs...)
}

func (c *Common) validateRedis() error {
	var errs []error
	bad := func(field string, got any, want string, args ...any) {
		errs = append(errs, Invalid(c, field, got, fmt.Sprintf(want, args...)))
	}
	for _, a := range c.RedisAddrs {
		if err := checkHostPort(a); err != nil {
			bad("RedisAddrs", a, "want host:port: %v", err)
		}
	}
	switch {
	case c.RedisMasterName != "" && c.RedisCluster:
		bad("RedisCluster", c.RedisCluster, "Sentinel (%s) and Cluster are exclusive: set one", Name(c, "RedisMasterName"))
	case c.RedisMasterName != "" && len(c.RedisAddrs) == 0:
		bad("RedisAddrs", "", "Sentinel mode (%s=%q) needs the Sentinels' addresses", Name(c, "RedisMasterName"), c.RedisMasterName)
	case len(c.RedisAddrs) > 0 && c.RedisMasterName == "" && !c.RedisCluster:
		bad("RedisAddrs", strings.Join(c.RedisAddrs, ","), "say what they are: set %s (Sentinel) or %s=true (Cluster)", Name(c, "RedisMasterName"), Name(c, "RedisCluster"))
	case len(c.RedisAddrs) == 0:
		o, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			bad("RedisURL", RedactURL(c.RedisURL), "want redis://[user:password@]host:port/db, rediss://… or unix://…: %v", err)
		} else if c.RedisCluster && o.DB != 0 {
			bad("RedisURL", RedactURL(c.RedisURL), "Redis Cluster has only database 0, not %d", o.DB)
		}
	}
	return errors.Join(errs...)
}

func (c *Common) validateNATSAuth() error {
	var errs []error
	if c.NATSCreds != "" && c.NATSNkey != "" {
		errs = append(errs, Invalid(c, "NATSNkey", c.NATSNkey, "a creds file ("+Name(c, "NATSCreds")+") and an nkey seed are exclusive: set one"))
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		errs = append(errs, Invalid(c, "NATSTLSCert", c.NATSTLSCert, "a client certificate needs its key ("+Name(c, "NATSTLSKey")+") and the key its certificate"))
	}
	for _, f := range []string{"NATSCreds", "NATSNkey", "NATSTLSCA", "NATSTLSCert", "NATSTLSKey"} {
		path := fieldString(c, f)
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, Invalid(c, f, path, "want a readable file: "+err.Error()))
		}
	}
	return errors.Join(errs...)
}

// CheckNATSURLs checks a comma-separated list of NATS server URLs the way
// nats.go reads them (a missing scheme means nats://).
func CheckNATSURLs(list string) error {
	urls := splitList(list)
	if len(urls) == 0 {
		return errors.New("want at least one URL, e.g. nats://127.0.0.1:4222")
	}
	for _, s := range urls {
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("%s: %w", RedactURL(s), errors.Unwrap(err))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%s: scheme %q: want nats://, tls://, ws:// or wss://", u.Redacted(), u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%s: no host", u.Redacted())
		}
		if p := u.Port(); p != "" {
			if err := checkHostPort(u.Host); err != nil {
				return fmt.Errorf("%s: %w", u.Redacted(), err)
			}
		}
	}
	return nil
}

func checkHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	var n int
	if _, err := fmt.Sscan(port, &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != port {
		return fmt.Errorf("port %q is not 1..65535", port)
	}
	return nil
}

// RedactURL hides the password of every URL in a comma list, also in one
// that does not parse, so an error message never carries a secret.
func RedactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		s = strings.TrimSpace(s)
		if u, err := url.Parse(s); err == nil && u.User != nil {
			parts[i] = u.Redacted()
			continue
		}
		scheme, rest, found := strings.Cut(s, "://")
		if !found {
			scheme, rest = "", s
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user, _, hasPass := strings.Cut(rest[:at], ":")
			if hasPass {
				user += ":xxxxx"
			}
			rest = user + rest[at:]
		}
		if found {
			s = scheme + "://" + rest
		} else {
			s = rest
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}
