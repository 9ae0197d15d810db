package process

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/redis/go-redis/v9"

	"github.com/switchyard-hub/switchyard/pkg/config"
)

// Redis opens the Redis client the settings describe, as a
// redis.UniversalClient:
//
//   - SY_REDIS_URL alone: one server (redis://, rediss:// or unix://), a
//     *redis.Client;
//   - SY_REDIS_ADDRS + SY_REDIS_MASTER_NAME: Sentinel; the client asks the
//     Sentinels for the master and follows failovers;
//   - SY_REDIS_CLUSTER=true: Redis Cluster, seeded by SY_REDIS_ADDRS (or
//     the URL's host when they are empty).
//
// SY_REDIS_USERNAME / SY_REDIS_PASSWORD, when set, override the URL's, so
// the URL can live in a ConfigMap and the password in a Secret. Timeouts
// are short, so an outage shows up as errors instead of hangs. Redis does
// not dial; see WatchRedis.
func Redis(c *config.Common) (redis.UniversalClient, error) {
	if len(c.RedisAddrs) > 0 {
		return redis.NewUniversalClient(haOptions(c, c.RedisAddrs)), nil
	}
	u, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("process: %s = %q: %w", config.Name(c, "RedisURL"), config.RedactURL(c.RedisURL), err)
	}
	if c.RedisCluster {
		o := haOptions(c, []string{u.Addr})
		o.TLSConfig = u.TLSConfig
		if o.Username == "" && o.Password == "" {
			o.Username, o.Password = u.Username, u.Password
		}
		return redis.NewClusterClient(o.Cluster()), nil
	}
	u.DialTimeout, u.ReadTimeout, u.WriteTimeout, u.MaxRetries = dialTimeout, ioTimeout, ioTimeout, maxRetries
	overrideAuth(c, &u.Username, &u.Password)
	return redis.NewClient(u), nil
}

const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
	maxRetries  = 2
)

// haOptions are the options of a Sentinel or Cluster client.
func haOptions(c *config.Common, addrs []string) *redis.UniversalOptions {
	o := &redis.UniversalOptions{
		Addrs:            addrs,
		MasterName:       c.RedisMasterName,
		IsClusterMode:    c.RedisCluster,
		SentinelPassword: c.RedisSentinelPassword,
		DialTimeout:      dialTimeout,
		ReadTimeout:      ioTimeout,
		WriteTimeout:     ioTimeout,
		MaxRetries:       maxRetries,
	}
	overrideAuth(c, &o.Username, &o.Password)
	return o
}

func overrideAuth(c *config.Common, user, pass *string) {
	if c.RedisUsername != "" {
		*user = c.RedisUsername
	}
	if c.RedisPassword != "" {
		*pass = c.RedisPassword
	}
}

// RedisTarget describes the Redis a setting block points at, for logs:
// never with a password.
func RedisTarget(c *config.Common) string {
	switch {
	case c.RedisMasterName != "":
		return fmt.Sprintf("sentinel master %q via %s", c.RedisMasterName, strings.Join(c.RedisAddrs, ","))
	case c.RedisCluster && len(c.RedisAddrs) > 0:
		return "cluster via " + strings.Join(c.RedisAddrs, ",")
	case c.RedisCluster:
		return "cluster via " + config.RedactURL(c.RedisURL)
	default:
		return config.RedactURL(c.RedisURL)
	}
}

// WatchRedis pings rdb with exponential backoff until it answers or ctx
// ends, logging every failed attempt with the (password-free) target and
// the wait before the next one, then once that Redis answers. It does not
// block the caller's work: commands meanwhile fail fast with errors the
// services already handle (a gateway refuses hellos with unavailable).
func WatchRedis(ctx context.Context, rdb redis.UniversalClient, target string, log *slog.Logger) error {
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return struct{}{}, rdb.Ping(pctx).Err()
	}, backoff.WithBackOff(newBackOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Warn("redis unreachable, retrying", "redis", target, "attempt", attempt, "retry_in", next.Round(time.Millisecond), "err", err)
	}))
	if err != nil {
		return fmt.Errorf("process: redis %s: %w", target, err)
	}
	log.Info("redis connected", "redis", target, "attempts", attempt)
	return nil
}

// newBackOff is the retry schedule of every connection: 250 ms doubling,
// jittered by half, at most 10 s apart.
func newBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.Multiplier = 2
	b.MaxInterval = 10 * time.Second
	return b
}

// RedisLogger routes go-redis's own log lines through slog, so a process
// that logs JSON logs only JSON. Install it with redis.SetLogger (Connect
// does); go-redis logs only troubles (pool, reconnects, failovers), so
// they are warnings.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
