// Package device serves the device dialect (document 001) to controllers
// on the gateway core: /ws/device/{device_id}, /ws/device?device_id= and,
// on its own listener, the document's ws://host:port/ws. Switchyard plays
// the device's side of the document: it pairs controllers with devices
// (codes and tokens in the NATS KV bucket sy_device_pairing), relays every
// operation to the device agent's socket on whichever pod holds it
// (device.request on sy.gw.<pod>), and receives uploads into the upload
// service (pkg/upload) from which the device fetches them.
//
// The same room handles the device side of the relay on every pod: the
// device.request delivered to a local device socket records where its
// answer goes, and the device.response / device.event the agent sends are
// forwarded to the controller's pod instead of being published on SY_IN.
package device

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	dev "github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/pkg/upload"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// Name is the dialect's name on the core.
const Name = "device"

// Paths of the controller sockets.
const (
	PathDevice      = "/ws/device/{device_id}"
	PathDeviceQuery = "/ws/device"
	PathCompat      = "/ws" // on the compatibility listener only
)

// Dialect is the device dialect on one gateway.
type Dialect struct {
	s      *edge.Server
	cfg    *edge.Config
	up     *upload.Client
	pairs  *pairStore
	routes *routeTable
}

// ListenerName names the device compatibility listener (edge.Server.ListenAddr).
const ListenerName = "device-compat"

// CompatAddr is the bound address of s's compatibility listener ("" when
// it has none or before it started).
func CompatAddr(s *edge.Server) string { return s.ListenAddr(ListenerName) }

// Register serves the dialect on s (an edge.Room).
func Register(s *edge.Server) error {
	cfg := s.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := bus.EnsureKV(ctx, s.Bus().JS, jetstream.KeyValueConfig{
		Bucket: BucketPairing(), Description: "device pairing codes, controller tokens (sha256), wrong-attempt counters",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(cfg.StreamReplicas, 1),
	})
	if err != nil {
		return fmt.Errorf("device: bucket %s: %w", BucketPairing(), err)
	}
	d := &Dialect{s: s, cfg: cfg, up: upload.NewClient(s.Bus(), upload.ClientOptions{}),
		pairs: &pairStore{kv: kv, cfg: cfg, now: time.Now}, routes: newRouteTable()}
	s.Register(d)
	s.OnDeliver(codec.TypeDeviceRequest, d.toDevice)
	s.OnDeliver(codec.TypeDeviceUploadReady, d.toDevice)
	s.OnDeliver(codec.TypeDeviceCancel, d.cancelToDevice)
	s.OnDeliver(codec.TypeDeviceResponse, d.responseToController)
	s.OnDeliver(codec.TypeDeviceEvent, d.eventToController)
	s.OnDeliver(kindProbe, probeHook)
	s.OnIngest(codec.TypeDeviceResponse, d.fromDeviceResponse)
	s.OnIngest(codec.TypeDeviceEvent, d.fromDeviceEvent)
	s.Handle(upload.DownloadPattern, d.up.DownloadHandler(nil).ServeHTTP)
	admin := rest.Admin(s)
	for _, prefix := range rest.Prefixes {
		s.Handle("GET "+prefix+"/pairings", admin(d.listPairings))
		s.Handle("DELETE "+prefix+"/devices/{id}/pairings/{hub_id}", admin(d.revokePairing))
		s.Handle("PUT "+prefix+"/devices/{id}/accept", admin(d.putAccept))
	}
	if cfg.DeviceCompatListen != "" {
		mux := http.NewServeMux()
		mux.HandleFunc(PathCompat, s.Upgrade(d))
		// Optional: a compatibility port that is taken is logged and
		// skipped (the dev stack's fixed 127.0.0.1:9999; another dev stack
		// or test may hold it); the main listener serves /ws/device/{id}.
		s.Listen(ListenerName, cfg.DeviceCompatListen, mux, true)
	}
	return nil
}

// Name implements edge.Dialect.
func (d *Dialect) Name() string { return Name }

// Paths implements edge.Dialect.
func (d *Dialect) Paths() []string { return []string{PathDevice, PathDeviceQuery} }

// Accept implements edge.Dialect. A controller is anyone until it pairs;
// an optional client token (Bearer or ?token=) makes its uploads that
// user's (readable with GET /files/{id}). Which device it wants comes from
// the path, ?device_id=, or (compatibility listener) the configuration or
// the only device online; a socket whose device cannot be chosen is
// answered with an error frame and closed (Open).
func (d *Dialect) Accept(r *http.Request) (edge.Admission, error) {
	p, _ := d.s.Authenticate(r) // optional: a controller may also name a client user
	user := p.User
	st := &state{user: user, pending: map[string]*pending{}, uploads: map[string]*upInfo{},
		sem: make(chan struct{}, chunksInFlight)}
	switch {
	case r.URL.Path == PathCompat:
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		st.deviceID, st.refuse = d.compatDevice(ctx)
		cancel()
	case r.PathValue("device_id") != "":
		st.deviceID = r.PathValue("device_id")
	default:
		st.deviceID = r.URL.Query().Get("device_id")
	}
	if st.refuse == nil && !bus.ValidToken(st.deviceID) {
		st.refuse = &refusal{dev.CodeNotFound, fmt.Sprintf("no device %q: connect to /ws/device/{device_id} (or ?device_id=)", st.deviceID)}
	}
	return edge.Admission{Role: kind.RoleClient, Principal: user, Expires: p.Expires, Label: Name, State: st}, nil
}

// Open implements edge.Dialect: a socket whose device could not be chosen
// gets the reason and is closed.
func (d *Dialect) Open(c *edge.Conn) {
	if r := stateOf(c).refuse; r != nil {
		_ = c.Send(edge.Text(dev.ErrorReply("", r.code, r.message)))
		c.Close(edge.ReasonAuthFailed, "device unavailable")
	}
}

// Frame implements edge.Dialect.
func (d *Dialect) Frame(c *edge.Conn, f edge.Frame) {
	st := stateOf(c)
	if st.refuse != nil {
		return
	}
	if f.Binary {
		d.chunkFrame(c, st, f.Data)
		return
	}
	fr, derr := dev.Decode(f.Data)
	if derr != nil {
		_ = c.Send(edge.Text(dev.ErrorFor(derr)))
		return
	}
	switch fr.Type {
	case dev.TypePing:
		reply(c, &fr.Message, nil)
		return
	case dev.TypePong:
		return
	case dev.TypeHubConnected:
		c.Do(func(ctx context.Context) { d.hubConnected(ctx, c, st, fr) })
		return
	case dev.TypePairConfirm:
		c.Do(func(ctx context.Context) { d.pairConfirm(ctx, c, st, fr) })
		return
	}
	if !st.isPaired() {
		sendError(c, fr.ID, dev.CodeUnauthorized, "pairing required: send hub_connected (and pair_confirm with the code the device shows) first")
		return
	}
	switch fr.Type {
	case dev.TypeInitUpload:
		c.Do(func(ctx context.Context) { d.initUpload(ctx, c, st, fr) })
	case dev.TypeCompleteUpload:
		c.Do(func(ctx context.Context) { d.completeUpload(ctx, c, st, fr) })
	case dev.TypeCancelUpload:
		c.Do(func(ctx context.Context) { d.cancelUpload(ctx, c, st, fr) })
	case dev.TypeGetUploadStatus:
		c.Do(func(ctx context.Context) { d.uploadStatus(ctx, c, st, fr) })
	default:
		// The document's operations and any other type: the device answers.
		c.Do(func(ctx context.Context) { d.relay(ctx, c, st, fr) })
	}
}

// Render implements edge.Dialect: what reaches a controller socket from
// the bus (the device's answers, its events, the core's errors).
func (d *Dialect) Render(env *syv1.Envelope, _ kind.Role) (edge.Frame, error) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_DeviceResponse:
		return renderResponse(env.GetId(), b.DeviceResponse)
	case *syv1.Envelope_DeviceEvent:
		raw, err := dev.EncodeRaw("", b.DeviceEvent.GetType(), b.DeviceEvent.GetPayload())
		return edge.Text(raw), err
	case *syv1.Envelope_Error:
		return edge.Text(dev.ErrorReply(env.GetId(), numericCode(b.Error.GetCode()), b.Error.GetMessage())), nil
	}
	return edge.Frame{}, fmt.Errorf("device: no controller frame for %s", env.GetType())
}

func renderResponse(id string, r *syv1.DeviceResponse) (edge.Frame, error) {
	if e := r.GetError(); e != nil {
		return edge.Text(dev.ErrorReply(id, int(e.GetCode()), e.GetMessage())), nil
	}
	typ := r.GetType()
	if typ == "" {
		typ = dev.ResponseType(r.GetOp())
	}
	if typ == "" {
		typ = r.GetOp() + "_response"
	}
	raw, err := dev.EncodeRaw(id, typ, r.GetPayload())
	return edge.Text(raw), err
}

// numericCode maps a hub error code (pkg/errcode) to the document's table.
func numericCode(code string) int {
	switch code {
	case errcode.AuthFailed, errcode.Forbidden:
		return dev.CodeUnauthorized
	case errcode.InvalidMessage, errcode.RateLimited:
		return dev.CodeBadRequest
	}
	return dev.CodeInternal
}

// Closed implements edge.Dialect: waiting requests end with the socket,
// the controller's claim on (device, hubId) is released.
func (d *Dialect) Closed(c *edge.Conn) {
	st := stateOf(c)
	st.mu.Lock()
	for id, p := range st.pending {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(st.pending, id)
	}
	claimed := st.claimed
	st.mu.Unlock()
	if claimed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.releasePresence(ctx, c, st)
	}
}

// refusal is why a socket cannot be served (sent at Open).
type refusal struct {
	code    int
	message string
}

func stateOf(c *edge.Conn) *state { return c.State().(*state) }

// reply sends the documented answer to req.
func reply(c *edge.Conn, req *dev.Message, payload any) {
	b, err := dev.Reply(req, payload)
	if err != nil {
		b = dev.ErrorReply(req.ID, dev.CodeInternal, err.Error())
	}
	_ = c.Send(edge.Text(b))
}

// send sends a frame of type typ with id.
func send(c *edge.Conn, id, typ string, payload any) {
	b, err := dev.Encode(id, typ, payload)
	if err != nil {
		b = dev.ErrorReply(id, dev.CodeInternal, err.Error())
	}
	_ = c.Send(edge.Text(b))
}

func sendError(c *edge.Conn, id string, code int, message string) {
	_ = c.Send(edge.Text(dev.ErrorReply(id, code, message)))
}
