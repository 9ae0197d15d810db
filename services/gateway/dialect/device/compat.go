package device

import (
	"context"
	"sort"
	"strings"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/amurg"
	dev "github.com/switchyard-hub/switchyard/pkg/dialect/device"
)

// compatDevice chooses the device of a socket on the compatibility
// listener (ws://host:port/ws, the document's URL, which names no
// device): SY_DEVICE_COMPAT_DEVICE, else the only device online. None
// online, or several and none configured, is refused with error 404 and
// a message that says what to do.
func (d *Dialect) compatDevice(ctx context.Context) (string, *refusal) {
	if id := d.cfg.DeviceCompatDevice; id != "" {
		return id, nil
	}
	online, err := d.onlineDevices(ctx)
	if err != nil {
		return "", &refusal{dev.CodeInternal, "the hub cannot list its devices now; retry"}
	}
	switch len(online) {
	case 1:
		return online[0], nil
	case 0:
		return "", &refusal{dev.CodeNotFound, "no device is online"}
	}
	return "", &refusal{dev.CodeNotFound, "several devices are online (" + strings.Join(online, ", ") +
		"): connect to /ws/device/{device_id} on the hub's main port, or name one in SY_DEVICE_COMPAT_DEVICE"}
}

// onlineDevices are the ids of device endpoints whose runtime has a socket.
func (d *Dialect) onlineDevices(ctx context.Context) ([]string, error) {
	recs, err := d.s.Catalog().Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	byRuntime := map[string][]string{}
	var rids []string
	for _, r := range recs {
		if _, ok, err := codec.DeviceOf(r.GetEndpoint()); err != nil || !ok {
			continue
		}
		if byRuntime[r.GetRuntimeId()] == nil {
			rids = append(rids, r.GetRuntimeId())
		}
		byRuntime[r.GetRuntimeId()] = append(byRuntime[r.GetRuntimeId()], r.GetEndpoint().GetId())
	}
	on, err := d.s.Owners().RuntimesOnline(ctx, rids)
	if err != nil {
		return nil, err
	}
	var out []string
	for rid, ids := range byRuntime {
		if on[rid] {
			out = append(out, ids...)
		}
	}
	sort.Strings(out)
	return out, nil
}
