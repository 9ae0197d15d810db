package edge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/jsondepth"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/ownership"
	"github.com/switchyard-hub/switchyard/pkg/ws"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Conn is one accepted WebSocket, whatever its dialect: its identity
// (id, role, principal), its life (a context cancelled when it is
// released, the reason it closed) and what a dialect may do with it.
type Conn struct {
	id    string
	s     *Server
	d     Dialect
	role  kind.Role
	label string // dialect label of its metrics
	ws    *ws.Conn
	state any

	ctx    context.Context
	cancel context.CancelFunc

	// Metric children, resolved once per socket.
	framesIn, framesOut prometheus.Counter

	// limit bounds the frames this socket may send; nil: unlimited.
	limit *rate.Limiter
	// limited throttles rate_limited error frames to one per second.
	limited rate.Sometimes
	// acks (streaming sockets: runtimes) carries in-flight publishes to the
	// goroutine that waits for their JetStream acks, in order.
	acks chan inflight
	// held (streaming sockets) is frames waiting to go with the ones behind them (batch.go).
	held held
	// direct (runtime sockets, SY_DIRECT_APPEND) is the per-session state of
	// output appended to transcripts from this socket (direct.go).
	direct *direct

	work       *serial // frame work off the read loop (Do, Serial)
	deliveries *serial // directed envelopes for this socket, in order

	authed    atomic.Bool // the principal is known (Authenticate) or the socket is anonymous
	authTimer *time.Timer // the auth deadline (nil: none)
	authBy    time.Time   // when it fires
	// peerCode is the close code the peer sent (0: none), set when the read loop ends.
	peerCode int

	mu           sync.Mutex
	principalKey string // role/principal counted against SY_MAX_SOCKETS_PER_PRINCIPAL
	principal    string
	runtime      string // runtime id this socket claimed (ClaimRuntime)
	reason       CloseReason
	subs         map[string]*subscription // session id → subscription
}

// ID is the socket's conn id (<pod>-<boot>-<n>).
func (c *Conn) ID() string { return c.id }

// Role is the part the socket plays.
func (c *Conn) Role() kind.Role { return c.role }

// Dialect is the name of the socket's dialect.
func (c *Conn) Dialect() string { return c.d.Name() }

// State is the dialect's per-socket state (Admission.State).
func (c *Conn) State() any { return c.state }

// Context is cancelled when the socket is released.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the socket has ended.
func (c *Conn) Done() <-chan struct{} { return c.ws.Done() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() string { return c.ws.RemoteAddr() }

// Principal is the socket's user id or runtime id ("" until known).
func (c *Conn) Principal() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// Send queues a frame; it never blocks (a full queue drops the socket).
func (c *Conn) Send(f Frame) error {
	var err error
	if f.Binary {
		err = c.ws.SendBinary(f.Data)
	} else {
		err = c.ws.Send(f.Data)
	}
	if err == nil {
		c.framesOut.Inc()
	}
	return err
}

// SendEnvelope renders env in the socket's dialect and queues it.
func (c *Conn) SendEnvelope(env *syv1.Envelope) error {
	render := func() (Frame, error) { return c.d.Render(env, c.role) }
	if cr, ok := c.d.(ConnRenderer); ok {
		render = func() (Frame, error) { return cr.RenderConn(c, env) }
	}
	f, err := render()
	if err != nil {
		return err
	}
	return c.Send(f)
}

// SendError sends the dialect's error frame with a hub error code.
func (c *Conn) SendError(session, code, message string) {
	c.s.m.errors.WithLabelValues(code).Inc()
	_ = c.SendEnvelope(ErrorEnvelope(session, code, message))
}

// SendErrorRef is SendError about one frame the socket sent: ref, the
// frame's own id, is the error envelope's id, and each dialect renders it
// where its document puts a reply's reference (amurg: the top-level "id";
// device: the request id).
func (c *Conn) SendErrorRef(ref, session, code, message string) {
	c.s.m.errors.WithLabelValues(code).Inc()
	env := ErrorEnvelope(session, code, message)
	env.Id = ref
	_ = c.SendEnvelope(env)
}

// ErrorEnvelope is an error with a hub error code (pkg/errcode).
func ErrorEnvelope(session, code, message string) *syv1.Envelope {
	return &syv1.Envelope{Type: kind.Error, SessionId: session, Ts: clock.Stamp(time.Now()),
		Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: code, Message: message}}}
}

// Close sends what is queued, then closes the socket for reason with the
// reason's code; text "" is the reason's default text. The first reason
// given is the one counted.
func (c *Conn) Close(reason CloseReason, text string) {
	c.setReason(reason)
	if text == "" {
		text = reason.Text()
	}
	c.ws.Close(reason.Code(), text)
}

func (c *Conn) setReason(r CloseReason) {
	c.mu.Lock()
	if c.reason == "" {
		c.reason = r
	}
	c.mu.Unlock()
}

// Do runs fn off the read loop, after the socket's earlier queued work
// and in order with it; ctx is the socket's. Work that waits on the
// network (a replay, a request to another service) goes here.
func (c *Conn) Do(fn func(ctx context.Context)) {
	work := func() { fn(c.ctx) }
	if c.acks != nil {
		// Long work: frames held to go with the ones behind them go first.
		work = func() { c.flushHeld(); fn(c.ctx) }
	}
	if !c.work.push(work) {
		c.backlog()
	}
}

// Serial runs fn at once on the caller's goroutine when no work is
// queued, else queues it behind that work: short work that must keep its
// order relative to Do.
func (c *Conn) Serial(fn func(ctx context.Context)) {
	if !c.work.inline(func() { fn(c.ctx) }) {
		c.backlog()
	}
}

func (c *Conn) backlog() {
	select {
	case <-c.ctx.Done():
	default:
		c.Close(ReasonBacklog, "")
	}
}

// Limited counts a frame in and reports whether it is over the socket's
// rate; the sender then gets error{rate_limited} (at most one a second).
func (c *Conn) limitedFrame() bool {
	c.framesIn.Inc()
	if c.limit == nil || c.limit.Allow() {
		return false
	}
	c.s.m.errors.WithLabelValues(errcode.RateLimited).Inc()
	c.limited.Do(func() {
		_ = c.SendEnvelope(ErrorEnvelope("", errcode.RateLimited, "too many frames: this socket may send "+
			strconv.FormatFloat(float64(c.limit.Limit()), 'f', -1, 64)+" per second; frames above it are dropped"))
	})
	return true
}

// ClaimRuntime makes this socket the one of runtime rid (the newest claim
// wins), records it as the socket's principal, and tells the session
// service the runtime is online. When the socket ends while it still
// holds the claim, the runtime is announced offline.
//
// It authenticates the socket as rid first (Authenticate): it fails with
// ErrTooManySockets when the runtime holds too many sockets here.
func (c *Conn) ClaimRuntime(ctx context.Context, rid string) error {
	if err := c.Authenticate(rid); err != nil {
		return err
	}
	c.mu.Lock()
	c.runtime = rid
	c.mu.Unlock()
	if err := c.s.reg.ClaimRuntime(ctx, rid, c.id); err != nil {
		return err
	}
	if err := c.s.reg.AddConn(ctx, c.id, c.connInfo()); err != nil {
		c.s.log.WarnContext(ctx, "ownership not recorded", "conn", c.id, "err", err)
	}
	return nil
}

// AnnounceRuntime publishes the runtime.status of the socket's runtime.
func (c *Conn) AnnounceRuntime(ctx context.Context, online bool) {
	c.mu.Lock()
	rid := c.runtime
	c.mu.Unlock()
	if rid != "" {
		c.s.announceRuntime(ctx, rid, online)
	}
}

// connInfo is the socket's ownership record. Its first field stays the
// role ("runtime", "client"): the relay finds a runtime's sockets by it.
func (c *Conn) connInfo() ownership.ConnInfo {
	return ownership.ConnInfo{Dialect: c.role.String(), Principal: c.Principal(), Remote: c.RemoteAddr()}
}

// serve runs one upgrade request of dialect d under the core's limits
// (limits.go): drain (503), sockets per source address and per principal
// (429), the auth deadline, the frame limits and the read budget.
func (s *Server) serve(d Dialect, w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.refuseUpgrade(w, http.StatusServiceUnavailable, ReasonDraining, "draining: this gateway is shutting down; connect again (to any gateway)")
		return
	}
	addr := s.sourceAddr(r)
	if !s.takeAddr(addr) {
		s.refuseUpgrade(w, http.StatusTooManyRequests, ReasonTooManySockets,
			errcode.TooManySockets+": at most "+strconv.Itoa(s.cfg.MaxSocketsPerIP)+" sockets per source address on this gateway (SY_MAX_SOCKETS_PER_IP)")
		return
	}
	// The address stays counted while the socket lives: read drops it
	// when the socket ends; every refusal before that drops it here.
	handedOver := false
	defer func() {
		if !handedOver {
			s.dropAddr(addr)
		}
	}()
	adm, err := d.Accept(r)
	if err != nil {
		status := http.StatusForbidden
		var ref *Refusal
		if errors.As(err, &ref) && ref.Status != 0 {
			status = ref.Status
		}
		http.Error(w, err.Error(), status)
		return
	}
	var key string
	if adm.Principal != "" {
		if key = principalKey(adm.Role.String(), adm.Principal); !s.takePrincipal(key) {
			s.refuseUpgrade(w, http.StatusTooManyRequests, ReasonTooManySockets,
				errcode.TooManySockets+": at most "+strconv.Itoa(s.cfg.MaxSocketsPerPrincipal)+" sockets per principal on this gateway (SY_MAX_SOCKETS_PER_PRINCIPAL)")
			return
		}
	}
	up := ws.Upgrader()
	up.CheckOrigin = s.originCheck(d)
	if adm.Role == kind.RoleRuntime {
		up.ReadBufferSize = ws.StreamReadBufferBytes // runtimes stream frames in
	}
	wc, err := ws.Upgrade(up, w, r) // queued frames: one write(2) per wake-up; idle: no reader goroutine
	if err != nil {
		if key != "" {
			s.dropPrincipal(key)
		}
		return // the upgrader has answered (400 for a non-upgrade request, 403 for a foreign Origin)
	}
	c := s.newConn(d, adm, wc)
	c.principalKey = key
	if adm.Principal != "" || adm.Anonymous {
		c.authed.Store(true)
		c.ws.Authenticate()
	} else {
		c.armAuthDeadline()
	}
	s.register(r.Context(), c)
	if s.draining.Load() {
		// Upgraded while the drain began: the drain's list of sockets may
		// have been taken before this one registered, so it closes itself.
		c.Close(drainReason(d), "")
	}
	// The handler returns and the socket is read on goroutines of its own
	// (none while it is idle), so net/http's per-connection state (two 4 KiB
	// buffers, the request) and its serving goroutine's grown stack are not
	// kept per socket.
	handedOver = true
	go s.read(d, c, addr, adm.Expires)
}

// read opens the socket for its dialect and serves its frames until it
// ends, then releases it and its source address.
func (s *Server) read(d Dialect, c *Conn, addr string, expires time.Time) {
	stopExpiry := expireAt(c, expires)
	d.Open(c)
	c.ws.Serve(func(binary bool, data []byte) {
		if c.limitedFrame() {
			return
		}
		if !binary && jsondepth.Exceeds(data, MaxJSONDepth) {
			c.SendError("", errcode.InvalidMessage, "the frame nests objects and arrays deeper than "+strconv.Itoa(MaxJSONDepth))
			return
		}
		d.Frame(c, Frame{Binary: binary, Data: data})
	}, func(err error) {
		stopExpiry()
		c.setReason(endReason(err))
		c.peerCode = peerCloseCode(err)
		s.log.Debug("socket ended", "conn", c.id, "dialect", d.Name(), "principal", c.Principal(), "err", err)
		s.release(c)
		s.dropAddr(addr)
	})
}

func (s *Server) newConn(d Dialect, adm Admission, raw *websocket.Conn) *Conn {
	o := s.cfg.WSOptions()
	o.Budget = s.budget
	o.Streaming = adm.Role == kind.RoleRuntime // runtimes stream: their reader never parks
	wc := ws.New(raw, o)
	label := adm.Label
	if label == "" {
		label = d.Name()
	}
	c := &Conn{id: s.newConnID(), s: s, d: d, role: adm.Role, label: label, ws: wc, state: adm.State,
		principal: adm.Principal, limited: rate.Sometimes{Interval: time.Second},
		framesIn: s.m.framesIn.WithLabelValues(label), framesOut: s.m.framesOut.WithLabelValues(label),
		work: newSerial(maxQueuedWork), deliveries: newSerial(maxQueuedDeliveries)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.limit = s.limiter(adm.Role)
	if adm.Role == kind.RoleRuntime {
		c.acks = make(chan inflight, ingestWindow)
		go s.awaitAcks(c)
		if s.cfg.DirectAppend {
			c.direct = newDirect()
		}
		wc.OnReadDrained = c.flushHeld
		c.work.drained = func() {
			if !wc.MoreBuffered() { // else the reader flushes when it has read what is there
				c.flushHeld()
			}
		}
	}
	drops := s.m.drops.WithLabelValues(label)
	wc.OnOverflow = func() {
		drops.Inc()
		c.setReason(ReasonSlowConsumer)
	}
	return c
}

// limiter is the frame rate limit of a new socket of role (nil: none).
func (s *Server) limiter(role kind.Role) *rate.Limiter {
	limit, burst := s.cfg.RateLimit, s.cfg.RateBurst
	if role == kind.RoleRuntime {
		limit, burst = s.cfg.RuntimeRateLimit, s.cfg.RuntimeRateBurst
	}
	if limit <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(limit), max(burst, 1))
}

func (s *Server) register(ctx context.Context, c *Conn) {
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	s.m.conns.WithLabelValues(c.label).Inc()
	if err := s.reg.AddConn(ctx, c.id, c.connInfo()); err != nil {
		s.log.Warn("ownership not recorded", "conn", c.id, "err", err)
	}
}

// release forgets a finished socket everywhere: its work stops (its
// context is cancelled first, so waiting work returns), it leaves every
// session, and a runtime it still held is announced offline.
func (s *Server) release(c *Conn) {
	c.cancel()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	c.work.stop()
	c.deliveries.stop()
	c.d.Closed(c)
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	s.m.conns.WithLabelValues(c.label).Dec()
	c.mu.Lock()
	reason, key := c.reason, c.principalKey
	c.mu.Unlock()
	if key != "" {
		s.dropPrincipal(key)
	}
	s.m.closes.WithLabelValues(c.label, string(reason), closeCodeLabel(reason, c.peerCode)).Inc()
	s.topics.leaveAll(c)
	if c.acks != nil {
		c.flushHeld() // frames read before the socket ended are accepted
		close(c.acks) // nothing ingests any more: the read loop and the work have ended
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	c.mu.Lock()
	rid := c.runtime
	c.mu.Unlock()
	if rid != "" {
		// One compare-and-delete: announce the runtime offline only if this
		// socket still held it (a runtime that reconnected is not offline).
		released, err := s.reg.ReleaseRuntime(ctx, rid, c.id)
		if err != nil {
			s.log.Warn("runtime ownership not released", "runtime", rid, "err", err)
		}
		if released {
			s.announceRuntime(ctx, rid, false)
		}
	}
	if err := s.reg.RemoveConn(ctx, c.id); err != nil {
		s.log.Warn("ownership not removed", "conn", c.id, "err", err)
	}
}

// Conn returns the local socket with this id, or nil.
func (s *Server) Conn(id string) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// Bearer extracts a token from "Authorization: Bearer …" or ?token=
// (browsers cannot set headers on a WebSocket).
func Bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("token")
}
