package edge

// ChatConfig is the chat room's settings (services/gateway/dialect/chat,
// docs/configuration.md): which endpoint a chat socket talks to, what a
// follow-up during a stream does, attachments, the compatibility port.
type ChatConfig struct {
	CompatListen     string   `flag:"chat-compat-listen" env:"SY_CHAT_COMPAT_LISTEN" default:"" usage:"extra address serving the chat stream at /ws?token=… (document 002's URL); empty: off (the dev stack opens 127.0.0.1:3000)"`
	DefaultEndpoint  string   `flag:"chat-default-endpoint" env:"SY_CHAT_DEFAULT_ENDPOINT" default:"" usage:"endpoint a chat socket talks to when no mapping of SY_CHAT_ENDPOINTS applies; empty: the only endpoint registered, if there is exactly one"`
	Endpoints        []string `flag:"chat-endpoints" env:"SY_CHAT_ENDPOINTS" default:"" usage:"comma list of channel:<channel_id>=<endpoint> and user:<user_id>=<endpoint> (channel first, then user, then the default)"`
	FollowupMode     string   `flag:"chat-followup-mode" env:"SY_CHAT_FOLLOWUP_MODE" default:"inject" usage:"what a chat message sent while a stream runs does: inject (into the running turn) or queue (a new turn after it)"`
	FollowupModes    []string `flag:"chat-followup-modes" env:"SY_CHAT_FOLLOWUP_MODES" default:"" usage:"comma list of <endpoint>=inject|queue overriding SY_CHAT_FOLLOWUP_MODE per endpoint"`
	AttachEnabled    bool     `flag:"chat-attachments-enabled" env:"SY_CHAT_ATTACHMENTS_ENABLED" default:"true" usage:"accept attachments on chat messages"`
	AttachExtensions []string `flag:"chat-attachments-allowed-extensions" env:"SY_CHAT_ATTACHMENTS_ALLOWED_EXTENSIONS" default:"" usage:"comma list of allowed attachment extensions (png or .png); empty: any"`
	AttachMaxBytes   int64    `flag:"chat-attachments-max-bytes" env:"SY_CHAT_ATTACHMENTS_MAX_BYTES" default:"7340032" usage:"largest decoded attachment (bytes); at most SY_MAX_FILE_BYTES applies as well"`
	AttachMaxFiles   int      `flag:"chat-attachments-max-files" env:"SY_CHAT_ATTACHMENTS_MAX_FILES" default:"10" usage:"attachments one chat message may carry (0: no bound)"`
	// CompatOptional (no flag; the dev stack sets it): a compatibility
	// address that cannot be bound is logged instead of failing the start.
	CompatOptional bool
}
