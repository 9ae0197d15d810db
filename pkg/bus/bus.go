// Package bus is Switchyard's NATS layer: one connection per process, the
// JetStream streams and KV buckets, protobuf Envelope publishing with
// dedupe ids and W3C trace context in headers, request/reply, and ordered
// partitioned consumers.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/proto"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Header names.
const (
	HeaderType = "Sy-Type"
)

// Bus is a NATS connection with its JetStream context.
type Bus struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	log *slog.Logger
}

// Connect dials NATS and keeps reconnecting forever; a process started
// before NATS comes up waits for it. extra options (authentication, TLS)
// are applied after the defaults and may override them.
func Connect(ctx context.Context, url, name string, log *slog.Logger, extra ...nats.Option) (*Bus, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(64 << 20),
		nats.PingInterval(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Error("nats async error", "subject", subj, "err", err)
		}),
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect: %w", err) // no URL: it may hold a password
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return &Bus{NC: nc, JS: js, log: log}, nil
}

// Close drains subscriptions and closes the connection.
func (b *Bus) Close() {
	if err := b.NC.Drain(); err != nil {
		b.NC.Close()
	}
}

// Ready reports whether the connection is up.
func (b *Bus) Ready() bool { return b.NC.IsConnected() }

// NewMsg encodes env into a NATS message for subject, with the session and
// envelope id as Nats-Msg-Id and the trace context of ctx in its headers.
func NewMsg(ctx context.Context, subject string, env *syv1.Envelope) (*nats.Msg, error) {
	return newMsg(ctx, subject, env, true)
}

// NewFreshMsg is NewMsg without Nats-Msg-Id, for an envelope whose id was
// just made for it: nothing can send it again, so the stream keeps no dedupe
// entry for it.
func NewFreshMsg(ctx context.Context, subject string, env *syv1.Envelope) (*nats.Msg, error) {
	return newMsg(ctx, subject, env, false)
}

func newMsg(ctx context.Context, subject string, env *syv1.Envelope, dedupe bool) (*nats.Msg, error) {
	data, err := proto.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("bus: marshal %s: %w", env.GetType(), err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	if dedupe && env.GetId() != "" {
		// Dedupe ids are scoped by session: ids chosen by clients only
		// need to be unique within their session.
		m.Header.Set(jetstream.MsgIDHeader, env.GetSessionId()+"/"+env.GetId())
	}
	m.Header.Set(HeaderType, env.GetType())
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(m.Header))
	return m, nil
}

// Decode reads the Envelope of a message and the trace context it carries.
func Decode(ctx context.Context, data []byte, h nats.Header) (context.Context, *syv1.Envelope, error) {
	env := &syv1.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		return ctx, nil, fmt.Errorf("bus: decode envelope: %w", err)
	}
	if h != nil {
		ctx = otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(h))
	}
	return ctx, env, nil
}

// Publish stores env on a JetStream subject and waits for the ack. opts add
// expectations (e.g. jetstream.WithExpectLastSequencePerSubject).
func (b *Bus) Publish(ctx context.Context, subject string, env *syv1.Envelope, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	m, err := NewMsg(ctx, subject, env)
	if err != nil {
		return nil, err
	}
	ack, err := b.JS.PublishMsg(ctx, m, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: publish %s to %s: %w", env.GetType(), subject, err)
	}
	return ack, nil
}

// PublishAsync stores env on a JetStream subject without waiting; the
// future reports the ack. Publishes from one connection keep their order.
func (b *Bus) PublishAsync(ctx context.Context, subject string, env *syv1.Envelope) (jetstream.PubAckFuture, error) {
	m, err := NewMsg(ctx, subject, env)
	if err != nil {
		return nil, err
	}
	f, err := b.JS.PublishMsgAsync(m)
	if err != nil {
		return nil, fmt.Errorf("bus: publish %s to %s: %w", env.GetType(), subject, err)
	}
	return f, nil
}

// Send publishes env on a core NATS subject (at most once).
func (b *Bus) Send(ctx context.Context, subject string, env *syv1.Envelope) error {
	m, err := NewMsg(ctx, subject, env)
	if err != nil {
		return err
	}
	if err := b.NC.PublishMsg(m); err != nil {
		return fmt.Errorf("bus: send %s to %s: %w", env.GetType(), subject, err)
	}
	return nil
}

// Request sends env on a core subject and waits for one Envelope reply.
func (b *Bus) Request(ctx context.Context, subject string, env *syv1.Envelope) (*syv1.Envelope, error) {
	m, err := NewMsg(ctx, subject, env)
	if err != nil {
		return nil, err
	}
	resp, err := b.NC.RequestMsgWithContext(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("bus: request %s on %s: %w", env.GetType(), subject, err)
	}
	_, out, err := Decode(ctx, resp.Data, resp.Header)
	return out, err
}

// Reply answers a request message with env.
func (b *Bus) Reply(ctx context.Context, req *nats.Msg, env *syv1.Envelope) error {
	if req.Reply == "" {
		return errors.New("bus: reply to a message without a reply subject")
	}
	return b.Send(ctx, req.Reply, env)
}

// IsWrongLastSequence reports whether err is JetStream's answer to a
// publish whose expected last subject sequence did not match.
func IsWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// HeaderCarrier adapts nats.Header to OpenTelemetry's TextMapCarrier.
type HeaderCarrier nats.Header

func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// WaitReady waits until JetStream answers (NATS may still be starting).
func (b *Bus) WaitReady(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := b.JS.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		b.log.Info("waiting for NATS JetStream", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: jetstream not ready: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
