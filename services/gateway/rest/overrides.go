package rest

import syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"

// ConfigView is one endpoint config override as an admin gave it.
type ConfigView struct {
	Security map[string]any `json:"security,omitempty"`
	Limits   map[string]any `json:"limits,omitempty"`
}

// RefusedConfigView is an override the runtime refused, with its reason.
type RefusedConfigView struct {
	ConfigView
	Error string `json:"error"`
	At    string `json:"at,omitempty"`
}

// endpointConfigView is the override state of an endpoint (GET
// /endpoints): the override in force (the last one the runtime accepted),
// one waiting for the runtime's next hello, and the last one it refused.
type endpointConfigView struct {
	ConfigOverride *ConfigView        `json:"config_override,omitempty"`
	ConfigPending  *ConfigView        `json:"config_pending,omitempty"`
	ConfigRefused  *RefusedConfigView `json:"config_refused,omitempty"`
}

func configView(u *syv1.EndpointConfigUpdate) *ConfigView {
	if u == nil {
		return nil
	}
	v := &ConfigView{}
	if u.GetSecurity() != nil {
		v.Security = u.GetSecurity().AsMap()
	}
	if u.GetLimits() != nil {
		v.Limits = u.GetLimits().AsMap()
	}
	return v
}

func configViewOf(rec *syv1.EndpointRecord) endpointConfigView {
	v := endpointConfigView{ConfigOverride: configView(rec.GetOverride()), ConfigPending: configView(rec.GetPendingOverride())}
	if r := configView(rec.GetRefusedOverride()); r != nil {
		v.ConfigRefused = &RefusedConfigView{ConfigView: *r, Error: rec.GetRefusedError(), At: rec.GetRefusedAt()}
	}
	return v
}
