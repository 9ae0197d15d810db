package chat

import (
	"context"
	"fmt"
	"sort"
	"strings"

	codec "github.com/switchyard-hub/switchyard/pkg/dialect/chat"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// settings are the parsed edge.ChatConfig.
type settings struct {
	defaultEndpoint string
	byChannel       map[string]string // channel_id → endpoint
	byUser          map[string]string // user id → endpoint
	followup        string            // default follow-up mode
	followupBy      map[string]string // endpoint → follow-up mode
	attachments     codec.AttachmentSettings
}

func parseSettings(c edge.ChatConfig, maxFileBytes int64) (*settings, error) {
	st := &settings{defaultEndpoint: c.DefaultEndpoint, byChannel: map[string]string{}, byUser: map[string]string{},
		followup: c.FollowupMode, followupBy: map[string]string{}}
	for _, e := range c.Endpoints {
		k, ep, ok := strings.Cut(strings.TrimSpace(e), "=")
		scope, name, ok2 := strings.Cut(k, ":")
		if !ok || !ok2 || name == "" || ep == "" {
			return nil, fmt.Errorf("chat: SY_CHAT_ENDPOINTS entry %q: want channel:<channel_id>=<endpoint> or user:<user_id>=<endpoint>", e)
		}
		switch scope {
		case "channel":
			st.byChannel[name] = ep
		case "user":
			st.byUser[name] = ep
		default:
			return nil, fmt.Errorf("chat: SY_CHAT_ENDPOINTS entry %q: scope %q is neither channel nor user", e, scope)
		}
	}
	if !validMode(st.followup) {
		return nil, fmt.Errorf("chat: SY_CHAT_FOLLOWUP_MODE %q: want inject or queue", st.followup)
	}
	for _, e := range c.FollowupModes {
		ep, mode, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok || ep == "" || !validMode(mode) {
			return nil, fmt.Errorf("chat: SY_CHAT_FOLLOWUP_MODES entry %q: want <endpoint>=inject|queue", e)
		}
		st.followupBy[ep] = mode
	}
	maxBytes := c.AttachMaxBytes
	if maxBytes <= 0 || maxBytes > maxFileBytes {
		maxBytes = maxFileBytes // files are stored like POST /files: its limit holds too
	}
	if c.AttachMaxFiles < 0 {
		return nil, fmt.Errorf("chat: SY_CHAT_ATTACHMENTS_MAX_FILES %d must not be negative", c.AttachMaxFiles)
	}
	st.attachments = codec.AttachmentSettings{Enabled: c.AttachEnabled, AllowedExtensions: c.AttachExtensions,
		MaxFileBytes: maxBytes, MaxFiles: c.AttachMaxFiles}
	return st, nil
}

func validMode(m string) bool { return m == kind.FollowupInject || m == kind.FollowupQueue }

// mode is the follow-up mode of an endpoint.
func (st *settings) mode(endpoint string) string {
	if m, ok := st.followupBy[endpoint]; ok {
		return m
	}
	return st.followup
}

// endpoint picks the endpoint of a message: by channel, then by user,
// then the default; without a default, the only registered endpoint.
func (d *Dialect) endpoint(ctx context.Context, user, channel string) (string, error) {
	if ep, ok := d.cfg.byChannel[channel]; ok {
		return ep, nil
	}
	if ep, ok := d.cfg.byUser[user]; ok {
		return ep, nil
	}
	if d.cfg.defaultEndpoint != "" {
		return d.cfg.defaultEndpoint, nil
	}
	recs, err := d.s.Catalog().Endpoints(ctx)
	if err != nil {
		return "", err
	}
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.GetEndpoint().GetId())
	}
	sort.Strings(ids)
	if len(ids) == 1 {
		return ids[0], nil
	}
	return "", nil
}
