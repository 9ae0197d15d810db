package device

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	dev "github.com/switchyard-hub/switchyard/pkg/dialect/device"
	"github.com/switchyard-hub/switchyard/pkg/dialect/push"
	"github.com/switchyard-hub/switchyard/pkg/namespace"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// deviceInfo is a device's record and where its socket is.
type deviceInfo struct {
	caps      *codec.DeviceCaps
	runtimeID string
	pod, conn string // "" when offline
}

// errNoDevice: the endpoint is unknown or not a device.
var errNoDevice = errors.New("no such device")

// locate reads the device's endpoint record and its socket's owner.
func (d *Dialect) locate(ctx context.Context, deviceID string) (*deviceInfo, error) {
	rec, err := d.s.Catalog().Endpoint(ctx, deviceID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, errNoDevice
	}
	if err != nil {
		return nil, err
	}
	caps, ok, err := codec.DeviceOf(rec.GetEndpoint())
	if err != nil || !ok {
		return nil, errNoDevice
	}
	info := &deviceInfo{caps: caps, runtimeID: rec.GetRuntimeId()}
	pod, conn, online, err := d.s.Owners().Runtime(ctx, rec.GetRuntimeId())
	if err != nil {
		return nil, err
	}
	if online {
		info.pod, info.conn = pod, conn
	}
	return info, nil
}

// hubConnected is the handshake: agent_status for a controller whose
// token is paired with this device, else pairing_required with a new code
// (shown on the device, listed by GET /v1/pairings, logged, pushed).
func (d *Dialect) hubConnected(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	hc, _ := fr.Body.(*dev.HubConnected)
	if hc == nil || strings.TrimSpace(hc.HubID) == "" {
		sendError(c, fr.ID, dev.CodeBadRequest, "hub_connected needs a hubId")
		return
	}
	st.mu.Lock()
	if st.paired && st.hubID != hc.HubID {
		st.mu.Unlock()
		sendError(c, fr.ID, dev.CodeBadRequest, "this socket is already connected as hubId "+st.hubID)
		return
	}
	st.hubID, st.hubName, st.hasHello = hc.HubID, hc.Name, true
	st.mu.Unlock()
	info, ok := d.admit(ctx, c, st, fr.ID)
	if !ok {
		return
	}
	// The handshake names who the controller is: from here on it is
	// authenticated in the core's sense (no auth deadline, the full frame
	// limit, counted against the per-principal cap), paired or not — its
	// requests still get 401 until it is paired.
	if !c.Authenticated() {
		if err := c.Authenticate(st.owner()); err != nil {
			sendError(c, fr.ID, dev.CodeConflict, c.TooManySocketsText())
			c.Close(edge.ReasonTooManySockets, "")
			return
		}
	}
	valid, err := d.pairs.checkToken(ctx, st.deviceID, hc.HubID, hc.Token)
	if err != nil {
		d.unavailable(ctx, c, fr.ID, "check the token", err)
		return
	}
	if valid {
		d.connected(ctx, c, st, fr.ID, info)
		return
	}
	rec, err := d.pairs.newCode(ctx, st.deviceID, hc.HubID, hc.Name)
	if err != nil {
		d.unavailable(ctx, c, fr.ID, "issue a pairing code", err)
		return
	}
	shown := ""
	if d.cfg.DeviceShowCode {
		shown = rec.Code
	}
	secs := int(d.cfg.DevicePairingCodeTTL / time.Second)
	send(c, fr.ID, dev.TypePairingRequired, dev.PairingRequired{Code: shown, ExpiresIn: secs})
	d.announceCode(ctx, info, rec, secs)
}

// admit checks the device exists and accepts controllers; false: the
// socket was answered and closed.
func (d *Dialect) admit(ctx context.Context, c *edge.Conn, st *state, id string) (*deviceInfo, bool) {
	info, err := d.locate(ctx, st.deviceID)
	if errors.Is(err, errNoDevice) {
		d.refuseSocket(c, id, dev.CodeNotFound, "no device "+st.deviceID)
		return nil, false
	}
	if err != nil {
		d.unavailable(ctx, c, id, "find the device", err)
		return nil, false
	}
	blocked, err := d.pairs.blocked(ctx, st.deviceID)
	if err != nil {
		d.unavailable(ctx, c, id, "read the device's switch", err)
		return nil, false
	}
	if blocked || !info.caps.AcceptConnections {
		d.refuseSocket(c, id, dev.CodeNotAccepted, "device "+st.deviceID+" does not accept connections")
		return nil, false
	}
	st.mu.Lock()
	st.caps = deviceCaps{name: info.caps.Name, version: info.caps.Version, platform: info.caps.Platform, accept: info.caps.AcceptConnections}
	st.mu.Unlock()
	return info, true
}

func (d *Dialect) refuseSocket(c *edge.Conn, id string, code int, msg string) {
	sendError(c, id, code, msg)
	c.Close(edge.ReasonAuthFailed, strconv.Itoa(code))
}

func (d *Dialect) unavailable(ctx context.Context, c *edge.Conn, id, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	d.s.Log().WarnContext(ctx, "device controller: cannot "+what, "conn", c.ID(), "err", err)
	sendError(c, id, dev.CodeInternal, "the hub cannot "+what+" now; retry")
}

// connected claims (device, hubId) for this socket (409 when another
// socket holds it) and sends agent_status.
func (d *Dialect) connected(ctx context.Context, c *edge.Conn, st *state, id string, info *deviceInfo) {
	if !st.claimedAlready() {
		ok, err := d.claimPresence(ctx, c, st)
		if err != nil {
			d.unavailable(ctx, c, id, "record the connection", err)
			return
		}
		if !ok {
			hub, _ := st.hub()
			d.refuseSocket(c, id, dev.CodeConflict, "hubId "+hub+" is already connected to device "+st.deviceID)
			return
		}
	}
	st.mu.Lock()
	st.paired = true
	caps := st.caps
	st.mu.Unlock()
	send(c, id, dev.TypeAgentStatus, dev.AgentStatus{Name: caps.name, Version: caps.version, Platform: caps.platform, AcceptConnections: caps.accept})
	hub, _ := st.hub()
	d.s.Log().InfoContext(ctx, "device controller connected", "device", st.deviceID, "hub_id", hub, "conn", c.ID(), "device_pod", info.pod)
}

func (st *state) claimedAlready() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.claimed
}

// pairConfirm checks the typed code.
func (d *Dialect) pairConfirm(ctx context.Context, c *edge.Conn, st *state, fr *dev.Frame) {
	pc := fr.Body.(*dev.PairConfirm)
	st.mu.Lock()
	hub, hubName, hello, paired := st.hubID, st.hubName, st.hasHello, st.paired
	st.mu.Unlock()
	switch {
	case !hello:
		sendError(c, fr.ID, dev.CodeBadRequest, "send hub_connected before pair_confirm")
		return
	case paired:
		sendError(c, fr.ID, dev.CodeBadRequest, "this socket is already paired")
		return
	}
	token, reason, err := d.pairs.confirm(ctx, st.deviceID, hub, hubName, c.RemoteAddr(), pc.Code)
	if err != nil && reason == "" {
		d.unavailable(ctx, c, fr.ID, "check the code", err)
		return
	}
	if reason != "" {
		d.s.Log().InfoContext(ctx, "device pairing failed", "device", st.deviceID, "hub_id", hub, "remote", c.RemoteAddr(), "reason", reason)
		send(c, fr.ID, dev.TypePairFailed, dev.PairFailed{Reason: reason})
		return
	}
	info, ok := d.admit(ctx, c, st, fr.ID)
	if !ok {
		return
	}
	d.s.Log().InfoContext(ctx, "device paired", "device", st.deviceID, "hub_id", hub)
	send(c, fr.ID, dev.TypePairSuccess, dev.PairSuccess{Token: token})
	d.connected(ctx, c, st, fr.ID, info)
}

// announceCode shows the code on the device (device.pairing_code to its
// socket), logs it, and pushes a UserNotification (hub-wide, scoped to
// the device: devices have no owning user).
func (d *Dialect) announceCode(ctx context.Context, info *deviceInfo, rec codeRecord, secs int) {
	d.s.Log().InfoContext(ctx, "device pairing code", "device", rec.DeviceID, "hub_id", rec.HubID, "hub_name", rec.HubName,
		"code", rec.Code, "expires_at", rec.ExpiresAt, "device_online", info.pod != "")
	if info.pod != "" {
		env := &syv1.Envelope{Id: nuid.Next(), Type: codec.TypeDevicePairingCode, Target: &syv1.Route{Pod: info.pod, ConnId: info.conn},
			Body: &syv1.Envelope_DevicePairingCode{DevicePairingCode: &syv1.DevicePairingCode{
				Code: rec.Code, ExpiresIn: int32(secs), HubId: rec.HubID, HubName: rec.HubName}}}
		if err := d.s.Bus().Send(ctx, bus.PodSubject(info.pod), env); err != nil {
			d.s.Log().WarnContext(ctx, "pairing code not sent to the device", "device", rec.DeviceID, "err", err)
		}
	}
	details, _ := structpb.NewStruct(map[string]any{"code": rec.Code, "device_id": rec.DeviceID, "hub_id": rec.HubID,
		"expires_at": rec.ExpiresAt.Format(time.RFC3339)})
	hubName := rec.HubName
	if hubName == "" {
		hubName = rec.HubID
	}
	env, err := push.Wrap("pair-"+nuid.Next(), &syv1.UserNotification{
		Scope:    &syv1.PushScope{HubWide: true, DeviceId: rec.DeviceID},
		Category: "pairing", Title: "Pairing code for " + info.caps.Name,
		Message: hubName + " asks to pair with " + rec.DeviceID + ": code " + rec.Code + " (expires in " + strconv.Itoa(secs) + " s)",
		Details: details})
	if err == nil {
		err = d.s.Bus().Send(ctx, push.Subject(push.KindUserNotification), env)
	}
	if err != nil {
		d.s.Log().WarnContext(ctx, "pairing notification not pushed", "device", rec.DeviceID, "err", err)
	}
}

// Presence: one socket per (device, hubId) across the hub, in Redis:
// sy:devctl:<device>:<hub key> = "<pod> <conn>", TTL SY_OWNER_TTL,
// refreshed every SY_HEARTBEAT while the socket lives. A holder whose pod
// no longer answers, or whose socket is gone, is replaced (probe).
func presenceKey(device, hub string) string {
	return namespace.Key("sy:devctl:") + device + ":" + digestKey(hub)
}

var (
	refreshScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
	replaceScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 end return 0`)
)

func (d *Dialect) claimPresence(ctx context.Context, c *edge.Conn, st *state) (bool, error) {
	hub, _ := st.hub()
	key, me, ttl := presenceKey(st.deviceID, hub), d.s.Pod()+" "+c.ID(), d.cfg.OwnerTTL
	rdb := d.s.Owners().RDB
	for try := 0; try < 3; try++ {
		ok, err := rdb.SetNX(ctx, key, me, ttl).Result()
		if err != nil {
			return false, err
		}
		if !ok {
			holder, err := rdb.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return false, err
			}
			if holder != me && d.alive(ctx, holder) {
				return false, nil
			}
			if n, err := replaceScript.Run(ctx, rdb, []string{key}, holder, me, ttl.Milliseconds()).Int(); err != nil || n == 0 {
				continue
			}
		}
		st.mu.Lock()
		st.claimed = true
		st.mu.Unlock()
		go d.refreshPresence(c, key, me)
		return true, nil
	}
	return false, nil
}

func (d *Dialect) refreshPresence(c *edge.Conn, key, me string) {
	t := time.NewTicker(d.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.Context().Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.Context(), d.cfg.Heartbeat)
			_ = refreshScript.Run(ctx, d.s.Owners().RDB, []string{key}, me, d.cfg.OwnerTTL.Milliseconds()).Err()
			cancel()
		}
	}
}

func (d *Dialect) releasePresence(ctx context.Context, c *edge.Conn, st *state) {
	hub, _ := st.hub()
	_ = releaseScript.Run(ctx, d.s.Owners().RDB, []string{presenceKey(st.deviceID, hub)}, d.s.Pod()+" "+c.ID()).Err()
}

// kindProbe asks a pod whether one of its controller sockets is alive;
// the probe hook refuses the delivery with probeAlive, so nothing is sent
// to the socket, and a socket that is gone is answered by the core.
const (
	kindProbe  = "device.probe"
	probeAlive = "device controller alive"
)

func probeHook(context.Context, *edge.Conn, *syv1.Envelope) error {
	return edge.DeliveryError(probeAlive)
}

// alive reports whether the socket "<pod> <conn>" still exists.
func (d *Dialect) alive(ctx context.Context, holder string) bool {
	pod, conn, ok := strings.Cut(holder, " ")
	if !ok {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ack, err := d.s.Bus().Request(pctx, bus.PodSubject(pod), &syv1.Envelope{Id: nuid.Next(), Type: kindProbe, Target: &syv1.Route{Pod: pod, ConnId: conn}})
	if err != nil {
		return false // no pod answers: it is gone
	}
	return ack.GetError().GetMessage() == probeAlive
}
