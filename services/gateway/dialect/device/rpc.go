package device

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	dev "github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// The path of a device RPC (docs/architecture.md, "Device controllers"):
//
//  1. controller's pod B: the frame → device.request{request_id} with
//     origin = the controller's Route; the device's socket is looked up
//     once per request (sy_endpoints → runtime id → Redis sy:rt:<runtime>)
//     and the envelope is sent as a NATS request to sy.gw.<A>, whose
//     delivery ack says the frame is queued on the device's socket (no
//     ack, no record: error 404 "offline"). A timer answers 500 after
//     SY_DEVICE_REQUEST_TIMEOUT.
//  2. device's pod A: the delivery hook notes request_id → origin (and the
//     device's conn) in memory; the amurg room renders the frame.
//  3. A: the agent's device.response / device.event are taken by the
//     ingest hooks (never published on SY_IN) and sent to sy.gw.<B> with
//     target = the origin Route.
//  4. B: the delivery hook matches request_id with the waiting request,
//     gives the envelope the controller's frame id and the core renders it
//     (or the next step of complete_upload runs).

// relay sends one controller request to the device.
func (d *Dialect) relay(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	payload, err := compactPayload(fr.Payload)
	if err != nil {
		sendError(c, fr.ID, dev.CodeBadRequest, err.Error())
		return
	}
	d.request(ctx, c, st, &pending{id: fr.ID, op: fr.Type}, d.cfg.DeviceRequestTimeout,
		func(rid, hub, hubName string) *syv1.Envelope {
			return &syv1.Envelope{Type: codec.TypeDeviceRequest, Body: &syv1.Envelope_DeviceRequest{DeviceRequest: &syv1.DeviceRequest{
				RequestId: rid, Op: fr.Type, Payload: payload, HubId: hub, HubName: hubName}}}
		})
}

// request registers p, builds the envelope for its request_id and sends
// it to the device's socket; failures answer the controller with p.id.
func (d *Dialect) request(ctx context.Context, c *edge.Conn, st *state, p *pending, timeout time.Duration,
	build func(rid, hub, hubName string) *syv1.Envelope) {
	info, err := d.locate(ctx, st.deviceID)
	switch {
	case errors.Is(err, errNoDevice):
		d.fail(c, p, dev.CodeNotFound, "no device "+st.deviceID)
		return
	case err != nil:
		d.s.Log().WarnContext(ctx, "device lookup failed", "device", st.deviceID, "err", err)
		d.fail(c, p, dev.CodeInternal, "the hub cannot find the device now; retry")
		return
	case info.pod == "":
		d.fail(c, p, dev.CodeNotFound, "device "+st.deviceID+" is offline")
		return
	}
	hub, hubName := st.hub()
	st.mu.Lock()
	st.nextReq++
	rid := "dr-" + nuid.Next() + "-" + strconv.FormatUint(st.nextReq, 36)
	st.pending[rid] = p
	p.timer = time.AfterFunc(timeout, func() { d.timedOut(c, st, rid, timeout) })
	st.mu.Unlock()
	env := build(rid, hub, hubName)
	env.Id, env.Origin, env.Target = rid, c.Route(), &syv1.Route{Pod: info.pod, ConnId: info.conn}
	rctx, cancel := context.WithTimeout(ctx, deliveryWait)
	defer cancel()
	ack, err := d.s.Bus().Request(rctx, bus.PodSubject(info.pod), env)
	if err == nil && ack.GetError() == nil {
		return
	}
	if st.take(rid) == nil {
		return // answered or timed out meanwhile
	}
	msg := "device " + st.deviceID + " is offline"
	if err == nil {
		msg += ": " + ack.GetError().GetMessage()
	}
	d.fail(c, p, dev.CodeNotFound, msg)
}

// deliveryWait bounds the wait for the device pod's delivery ack.
const deliveryWait = 2 * time.Second

// fail answers a request that could not be sent.
func (d *Dialect) fail(c *edge.Conn, p *pending, code int, msg string) {
	if p.then != nil {
		p.then(&syv1.DeviceResponse{Op: p.op, Error: &syv1.DeviceError{Code: int32(code), Message: msg}})
		return
	}
	sendError(c, p.id, code, msg)
}

// compactPayload is a controller's payload as the device gets it: a
// compact JSON object, or nil for none.
func compactPayload(raw json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return b.Bytes(), nil
}

func (d *Dialect) timedOut(c *edge.Conn, st *state, rid string, timeout time.Duration) {
	p := st.take(rid)
	if p == nil {
		return
	}
	msg := "device " + st.deviceID + " did not answer " + p.op + " within " + timeout.String()
	if p.then != nil {
		p.then(&syv1.DeviceResponse{RequestId: rid, Op: p.op, Error: &syv1.DeviceError{Code: dev.CodeInternal, Message: msg}})
	} else {
		sendError(c, p.id, dev.CodeInternal, msg)
	}
	d.cancelOnDevice(c.Context(), st, &syv1.DeviceCancel{RequestId: rid, UploadId: p.uploadID, Reason: "timeout"})
}

// cancelOnDevice tells the device to stop an operation (best effort).
func (d *Dialect) cancelOnDevice(ctx context.Context, st *state, m *syv1.DeviceCancel) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliveryWait)
	defer cancel()
	info, err := d.locate(ctx, st.deviceID)
	if err != nil || info.pod == "" {
		return
	}
	env := &syv1.Envelope{Id: nuid.Next(), Type: codec.TypeDeviceCancel, Target: &syv1.Route{Pod: info.pod, ConnId: info.conn},
		Body: &syv1.Envelope_DeviceCancel{DeviceCancel: m}}
	_ = d.s.Bus().Send(ctx, bus.PodSubject(info.pod), env)
}

// toDevice (delivery hook, device's pod) remembers where the answer to a
// device.request / device.upload_ready goes.
func (d *Dialect) toDevice(_ context.Context, c *edge.Conn, env *syv1.Envelope) error {
	if env.GetOrigin() == nil {
		return edge.DeliveryError("device request without origin")
	}
	ttl := d.cfg.DeviceRequestTimeout
	rid, upload := env.GetDeviceRequest().GetRequestId(), ""
	if u := env.GetDeviceUploadReady(); u != nil {
		rid, upload, ttl = u.GetRequestId(), u.GetUploadId(), d.cfg.DeviceInstallTimeout
	}
	d.routes.put(rid, upload, route{origin: env.GetOrigin(), deviceConn: c.ID()}, ttl+time.Minute)
	return nil
}

// cancelToDevice (delivery hook, device's pod): a cancelled request is
// answered no more; a late answer from the device is refused.
func (d *Dialect) cancelToDevice(_ context.Context, c *edge.Conn, env *syv1.Envelope) error {
	if rid := env.GetDeviceCancel().GetRequestId(); rid != "" {
		d.routes.take(rid, c.ID())
	}
	return nil
}

// fromDeviceResponse (ingest hook, device's pod) sends a device's answer
// to the controller's pod instead of SY_IN.
func (d *Dialect) fromDeviceResponse(ctx context.Context, c *edge.Conn, env *syv1.Envelope) bool {
	rid := env.GetDeviceResponse().GetRequestId()
	r, ok := d.routes.take(rid, c.ID())
	if !ok {
		c.SendError("", errcode.InvalidMessage, "no device.request "+rid+" is waiting for an answer (answered, timed out, or not this device's)")
		return false
	}
	d.forward(ctx, c, env, r)
	return false
}

// fromDeviceEvent (ingest hook) forwards a device's push event to the
// controller of its operation.
func (d *Dialect) fromDeviceEvent(ctx context.Context, c *edge.Conn, env *syv1.Envelope) bool {
	ev := env.GetDeviceEvent()
	r, ok := d.routes.get(ev.GetRequestId(), ev.GetUploadId(), c.ID())
	if !ok {
		c.SendError("", errcode.InvalidMessage, "device.event for no operation in progress on this device")
		return false
	}
	d.forward(ctx, c, env, r)
	return false
}

func (d *Dialect) forward(ctx context.Context, c *edge.Conn, env *syv1.Envelope, r route) {
	env.Origin, env.Target, env.RuntimeId = c.Route(), r.origin, c.Principal()
	if env.GetId() == "" {
		env.Id = nuid.Next()
	}
	if err := d.s.Bus().Send(ctx, bus.PodSubject(r.origin.GetPod()), env); err != nil {
		d.s.Log().WarnContext(ctx, "device answer not forwarded", "type", env.GetType(), "err", err)
	}
}

// errHandled refuses the core's rendering of a delivery the room answered
// itself (a step of complete_upload).
var errHandled = edge.DeliveryError("handled by the device room")

// responseToController (delivery hook, controller's pod) matches a
// device's answer with the waiting request.
func (d *Dialect) responseToController(_ context.Context, c *edge.Conn, env *syv1.Envelope) error {
	if c.Dialect() != Name {
		return edge.DeliveryError("device.response for a socket that is not a device controller")
	}
	st := stateOf(c)
	r := env.GetDeviceResponse()
	p := st.take(r.GetRequestId())
	if p == nil {
		return edge.DeliveryError("no request " + r.GetRequestId() + " waiting (timed out)")
	}
	if p.then != nil {
		p.then(r)
		return errHandled
	}
	env.Id = p.id
	if r.GetOp() == "" {
		r.Op = p.op
	}
	return nil
}

// eventToController (delivery hook) passes an event on to the controller
// whose operation it belongs to.
func (d *Dialect) eventToController(_ context.Context, c *edge.Conn, env *syv1.Envelope) error {
	if c.Dialect() != Name {
		return edge.DeliveryError("device.event for a socket that is not a device controller")
	}
	ev := env.GetDeviceEvent()
	if !stateOf(c).knows(ev.GetRequestId(), ev.GetUploadId()) {
		return edge.DeliveryError("device.event for no operation of this socket")
	}
	return nil
}

// route is where a device's answers to one request go.
type route struct {
	origin     *syv1.Route
	deviceConn string
}

type routeEntry struct {
	route
	upload  string
	expires time.Time
}

// routeTable (device's pod, in memory) maps request ids and upload ids of
// operations in progress on local device sockets to their controllers. It
// dies with the pod, as do the device sockets it serves.
type routeTable struct {
	mu       sync.Mutex
	requests map[string]*routeEntry
	uploads  map[string]*routeEntry
	sweep    time.Time
}

func newRouteTable() *routeTable {
	return &routeTable{requests: map[string]*routeEntry{}, uploads: map[string]*routeEntry{}}
}

func (t *routeTable) put(rid, upload string, r route, ttl time.Duration) {
	now := time.Now()
	e := &routeEntry{route: r, upload: upload, expires: now.Add(ttl)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.sweep) > time.Minute {
		t.sweep = now
		for k, v := range t.requests {
			if now.After(v.expires) {
				delete(t.requests, k)
			}
		}
		for k, v := range t.uploads {
			if now.After(v.expires) {
				delete(t.uploads, k)
			}
		}
	}
	t.requests[rid] = e
	if upload != "" {
		t.uploads[upload] = e
	}
}

// take removes the route of an answered request sent by deviceConn.
func (t *routeTable) take(rid, deviceConn string) (route, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.requests[rid]
	if e == nil || e.deviceConn != deviceConn {
		return route{}, false
	}
	delete(t.requests, rid)
	if e.upload != "" && t.uploads[e.upload] == e {
		delete(t.uploads, e.upload)
	}
	return e.route, true
}

// get finds the route of an operation in progress by request or upload id.
func (t *routeTable) get(rid, upload, deviceConn string) (route, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.requests[rid]
	if e == nil && upload != "" {
		e = t.uploads[upload]
	}
	if e == nil || e.deviceConn != deviceConn || time.Now().After(e.expires) {
		return route{}, false
	}
	return e.route, true
}
