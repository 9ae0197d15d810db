package edge

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPHook runs after a route served through Server.Handle has answered,
// on the request's goroutine, with the status it answered (e.g. the push
// room's AppNotification after every non-GET REST call). Hooks must not
// write to the response.
type HTTPHook func(r *http.Request, status int)

// AfterHTTP runs hook after every route served with Handle, whenever the
// route was registered.
func (s *Server) AfterHTTP(hook HTTPHook) { s.httpHooks = append(s.httpHooks, hook) }

// RuntimeStatusHook runs once for every runtime online/offline transition
// this pod announces (Conn.AnnounceRuntime, and a released socket that
// still held its runtime).
type RuntimeStatusHook func(ctx context.Context, runtimeID string, online bool)

// OnRuntimeStatus runs hook on each runtime presence transition of this pod.
func (s *Server) OnRuntimeStatus(hook RuntimeStatusHook) { s.statusHooks = append(s.statusHooks, hook) }

// Registry is where rooms register their metrics (the pod's /metrics).
func (s *Server) Registry() prometheus.Registerer { return s.tel.Registry }

func (s *Server) afterHTTP(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.httpHooks) == 0 {
			h(w, r)
			return
		}
		// The route and the hooks authenticate the request once between them.
		r = r.WithContext(context.WithValue(r.Context(), authOnceKey{}, &authOnce{}))
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		for _, hook := range s.httpHooks {
			hook(r, status)
		}
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines) through the wrapper.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes on to the underlying writer when it can flush.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
