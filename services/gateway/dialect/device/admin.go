package device

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
	"github.com/switchyard-hub/switchyard/services/gateway/rest"
)

// PairingView is one pending pairing code (GET /v1/pairings).
type PairingView struct {
	Code      string `json:"code"`
	DeviceID  string `json:"device_id"`
	HubID     string `json:"hub_id"`
	ExpiresAt string `json:"expires_at"`
}

// listPairings: GET /v1/pairings (admin): the unexpired codes.
func (d *Dialect) listPairings(w http.ResponseWriter, r *http.Request, _ string) {
	recs, err := d.pairs.pendingCodes(r.Context())
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := make([]PairingView, 0, len(recs))
	for _, c := range recs {
		out = append(out, PairingView{Code: c.Code, DeviceID: c.DeviceID, HubID: c.HubID, ExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt < out[j].ExpiresAt })
	rest.WriteJSON(w, http.StatusOK, out)
}

// revokePairing: DELETE /v1/devices/{id}/pairings/{hub_id} (admin): the
// controller's token is deleted and its live socket, if any, closed
// (error 401, close 1008). 204, or 404 when nothing was paired.
func (d *Dialect) revokePairing(w http.ResponseWriter, r *http.Request, admin string) {
	device, hub := r.PathValue("id"), r.PathValue("hub_id")
	if !bus.ValidToken(device) || hub == "" {
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, "want /v1/devices/{device_id}/pairings/{hub_id}")
		return
	}
	found, err := d.pairs.revoke(r.Context(), device, hub)
	if err != nil {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	closed := d.closeController(r.Context(), device, hub)
	d.s.Log().InfoContext(r.Context(), "device pairing revoked", "device", device, "hub_id", hub, "admin", admin, "found", found, "socket_closed", closed)
	if !found {
		rest.WriteError(w, http.StatusNotFound, errcode.PairingNotFound, "device "+device+" has no pairing with hubId "+hub)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// closeController ends the live socket of (device, hub), wherever it is.
func (d *Dialect) closeController(ctx context.Context, device, hub string) bool {
	holder, err := d.s.Owners().RDB.Get(ctx, presenceKey(device, hub)).Result()
	if err != nil {
		return false
	}
	pod, conn, ok := strings.Cut(holder, " ")
	if !ok {
		return false
	}
	env := &syv1.Envelope{Id: nuid.Next(), Type: kind.ConnClose, Target: &syv1.Route{Pod: pod, ConnId: conn},
		Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: errcode.AuthFailed, Message: "pairing revoked by an administrator: pair again"}}}
	rctx, cancel := context.WithTimeout(ctx, deliveryWait)
	defer cancel()
	ack, err := d.s.Bus().Request(rctx, bus.PodSubject(pod), env)
	return err == nil && ack.GetError() == nil
}

// putAccept: PUT /v1/devices/{id}/accept {"accept": bool} (admin): the
// switch that makes the hub refuse the device's controllers with 406
// whatever the device declares.
func (d *Dialect) putAccept(w http.ResponseWriter, r *http.Request, admin string) {
	device := r.PathValue("id")
	var body struct {
		Accept *bool `json:"accept"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Accept == nil || !bus.ValidToken(device) {
		rest.WriteError(w, http.StatusBadRequest, errcode.InvalidMessage, `want {"accept": true|false} on /v1/devices/{device_id}/accept`)
		return
	}
	if err := d.pairs.setBlocked(r.Context(), device, !*body.Accept); err != nil && !errors.Is(err, context.Canceled) {
		rest.WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	d.s.Log().InfoContext(r.Context(), "device accept switch", "device", device, "accept", *body.Accept, "admin", admin)
	rest.WriteJSON(w, http.StatusOK, map[string]any{"device_id": device, "accept": *body.Accept})
}
