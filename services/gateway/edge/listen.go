package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-hub/switchyard/pkg/config"
	"github.com/switchyard-hub/switchyard/pkg/health"
	"github.com/switchyard-hub/switchyard/pkg/process"
)

// Listeners are a gateway's bound sockets.
type Listeners struct {
	Public   net.Listener // SY_LISTEN: sockets and REST
	Internal net.Listener // SY_INTERNAL_LISTEN: metrics, health, pprof; nil when not set
}

// Bind binds the listeners of cfg, naming the setting of one that cannot be
// bound. Run binds them before it connects to NATS or Redis, so a port in
// use stops the gateway before it has written or consumed anything.
func Bind(cfg *Config) (Listeners, error) {
	var l Listeners
	var err error
	if l.Public, err = process.Listen(config.Name(cfg, "Listen"), cfg.Listen); err != nil {
		return l, err
	}
	if cfg.InternalListen != "" {
		if l.Internal, err = process.Listen(config.Name(cfg, "InternalListen"), cfg.InternalListen); err != nil {
			_ = l.Public.Close()
			return Listeners{}, err
		}
	}
	return l, nil
}

// UseListeners makes Start serve on listeners bound beforehand (Bind).
func (s *Server) UseListeners(l Listeners) { s.ln, s.internalLn = l.Public, l.Internal }

// serveHTTP starts the public server and, when configured, the internal
// one; /metrics, /healthz and /readyz go to the internal listener when
// there is one, else beside the sockets.
func (s *Server) serveHTTP() {
	if s.internalLn == nil {
		health.Handlers(s.mux, s.Ready, s.tel.MetricsHandler())
	} else {
		s.internalSrv = &http.Server{Handler: s.internalMux(), ReadHeaderTimeout: readHeaderTimeout}
		go s.serveOn(s.internalSrv, s.internalLn, "internal")
	}
	s.httpSrv = &http.Server{Handler: s.publicHandler(), ReadHeaderTimeout: readHeaderTimeout}
	go s.serveOn(s.httpSrv, s.ln, "public")
}

func (s *Server) serveOn(srv *http.Server, ln net.Listener, which string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("gateway http server stopped", "listener", which, "err", err)
	}
}

// internalMux serves health, metrics and net/http/pprof (never on the
// public listener).
func (s *Server) internalMux() *http.ServeMux {
	mux := http.NewServeMux()
	health.Handlers(mux, s.Ready, s.tel.MetricsHandler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// InternalAddr is the bound internal address ("" without one).
func (s *Server) InternalAddr() string {
	if s.internalLn == nil {
		return ""
	}
	return s.internalLn.Addr().String()
}

// secretParams are query parameters that carry credentials: browsers
// cannot set headers on a WebSocket, so tokens come as ?token=.
var secretParams = []string{"token", "access_token", "jwt", "auth"}

// Redacted is what a secret query parameter's value becomes in spans.
const Redacted = "REDACTED"

type requestURLKey struct{}

// publicHandler serves the mux with an HTTP server span per request
// (otelhttp, OpenTelemetry HTTP semantic conventions) whose attributes
// never see a credential: otelhttp reads a copy of the request with secret
// query parameters redacted, and the handlers get the real one. WebSocket
// upgrades get no HTTP span (it would last as long as the socket); their
// frames are traced one by one.
func (s *Server) publicHandler() http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if orig, ok := r.Context().Value(requestURLKey{}).(*http.Request); ok {
			r = r.WithContext(r.Context())
			r.URL, r.RequestURI = orig.URL, orig.RequestURI
		}
		if _, pattern := s.mux.Handler(r); pattern != "" {
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + routeOf(pattern))
			span.SetAttributes(semconv.HTTPRoute(routeOf(pattern)))
		}
		s.mux.ServeHTTP(w, r)
	})
	traced := otelhttp.NewHandler(inner, "gateway",
		otelhttp.WithTracerProvider(s.tel.TracerProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !websocket.IsWebSocketUpgrade(r) }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			traced.ServeHTTP(w, r)
			return
		}
		red := r.WithContext(context.WithValue(r.Context(), requestURLKey{}, r))
		u := *r.URL
		u.RawQuery = RedactQuery(r.URL.RawQuery)
		red.URL, red.RequestURI = &u, u.RequestURI()
		traced.ServeHTTP(w, red)
	})
}

// routeOf drops the method of a mux pattern ("GET /sessions/{id}").
func routeOf(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		return p
	}
	return pattern
}

// RedactQuery replaces the values of credential parameters in a raw query.
func RedactQuery(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Redacted // unparsable: keep none of it
	}
	changed := false
	for _, k := range secretParams {
		if _, ok := q[k]; ok {
			q.Set(k, Redacted)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}

// shutdownInternal stops the internal listener (last: /readyz reports the
// drain until the pod exits).
func (s *Server) shutdownInternal(ctx context.Context) {
	if s.internalSrv != nil {
		_ = s.internalSrv.Shutdown(ctx)
	}
}
