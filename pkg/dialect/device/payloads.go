package device

// Payloads of the document, field names exactly as it shows them. Fields
// the document shows in every example have no omitempty; optional ones do,
// so each of its examples re-encodes byte for byte.

// HubConnected is the controller's handshake. Platform is not in the
// document but real controllers send it.
type HubConnected struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform,omitempty"`
	HubID    string `json:"hubId"`
	Token    string `json:"token"`
}

// AgentStatus follows a successful handshake or pairing.
type AgentStatus struct {
	Name              string `json:"name"`
	Version           string `json:"version"`
	Platform          string `json:"platform"`
	AcceptConnections bool   `json:"acceptConnections"`
}

// PairingRequired answers a handshake without a valid token.
type PairingRequired struct {
	Code      string `json:"code"`
	ExpiresIn int    `json:"expiresIn"` // seconds
}

// PairConfirm carries the code the user typed.
type PairConfirm struct {
	Code string `json:"code"`
}

// PairSuccess carries the token the controller stores.
type PairSuccess struct {
	Token string `json:"token"`
}

// PairFailed says why pairing failed.
type PairFailed struct {
	Reason string `json:"reason"`
}

// InfoResponse answers get_info.
type InfoResponse struct {
	Agent AgentInfo `json:"agent"`
}

// AgentInfo describes the device.
type AgentInfo struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Platform     string   `json:"platform"`
	Version      string   `json:"version,omitempty"`
	Capabilities []string `json:"capabilities"`
}

// ConfigResponse answers get_config.
type ConfigResponse struct {
	InstallPath string `json:"installPath"`
}

// SteamUsersResponse answers get_steam_users.
type SteamUsersResponse struct {
	Users []SteamUser `json:"users"`
}

// SteamUser is one Steam account on the device (id a string in the
// document; a number is accepted too).
type SteamUser struct {
	ID   UserID `json:"id"`
	Name string `json:"name"`
}

// ListShortcuts asks for one user's shortcuts.
type ListShortcuts struct {
	UserID UserID `json:"userId"`
}

// ShortcutsResponse answers list_shortcuts.
type ShortcutsResponse struct {
	Shortcuts []Shortcut `json:"shortcuts"`
}

// Shortcut is one Steam shortcut on the device.
type Shortcut struct {
	AppID    int64    `json:"appId"`
	Name     string   `json:"name"`
	Exe      string   `json:"exe"`
	StartDir string   `json:"startDir,omitempty"`
	Artwork  *Artwork `json:"artwork,omitempty"`
}

// CreateShortcut asks for a new shortcut; answered with operation_result
// {appId}.
type CreateShortcut struct {
	UserID   UserID         `json:"userId"`
	Shortcut ShortcutConfig `json:"shortcut"`
}

// ShortcutConfig describes a shortcut to create (also in complete_upload,
// where exe is relative to the game's directory).
type ShortcutConfig struct {
	Name     string   `json:"name"`
	Exe      string   `json:"exe"`
	StartDir string   `json:"startDir,omitempty"`
	Artwork  *Artwork `json:"artwork,omitempty"`
}

// Artwork holds image URLs by kind.
type Artwork struct {
	Grid string `json:"grid,omitempty"`
	Hero string `json:"hero,omitempty"`
	Logo string `json:"logo,omitempty"`
	Icon string `json:"icon,omitempty"`
}

// Kinds lists the kinds that have a URL, in a fixed order.
func (a *Artwork) Kinds() []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, k := range []struct{ name, url string }{{"grid", a.Grid}, {"hero", a.Hero}, {"logo", a.Logo}, {"icon", a.Icon}} {
		if k.url != "" {
			out = append(out, k.name)
		}
	}
	return out
}

// DeleteShortcut removes a shortcut; answered with operation_result.
type DeleteShortcut struct {
	UserID       UserID `json:"userId"`
	AppID        int64  `json:"appId"`
	RestartSteam bool   `json:"restartSteam,omitempty"`
}

// ApplyArtwork sets the artwork of an existing shortcut.
type ApplyArtwork struct {
	UserID  UserID  `json:"userId"`
	AppID   int64   `json:"appId"`
	Artwork Artwork `json:"artwork"`
}

// ArtworkResponse answers apply_artwork.
type ArtworkResponse struct {
	Applied []string         `json:"applied"`
	Failed  []ArtworkFailure `json:"failed,omitempty"`
}

// ArtworkFailure is one kind that could not be applied.
type ArtworkFailure struct {
	Type  string `json:"type"`
	Error string `json:"error"`
}

// SteamResponse answers restart_steam.
type SteamResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// OperationResult answers create_shortcut ({appId}), delete_shortcut,
// complete_upload ({success, path, appId}) and cancel_upload. Success is
// a pointer because the document's create_shortcut answer has none.
type OperationResult struct {
	Success *bool  `json:"success,omitempty"`
	Path    string `json:"path,omitempty"`
	AppID   int64  `json:"appId,omitempty"`
	Message string `json:"message,omitempty"`
}

// Succeeded is an OperationResult with success set.
func Succeeded(ok bool) *bool { return &ok }

// InitUpload starts an upload.
type InitUpload struct {
	Config    UploadConfig `json:"config"`
	TotalSize int64        `json:"totalSize"`
	Files     []UploadFile `json:"files"`
}

// UploadConfig names the game and where it goes.
type UploadConfig struct {
	GameName    string `json:"gameName"`
	InstallPath string `json:"installPath,omitempty"`
	Executable  string `json:"executable,omitempty"`
}

// UploadFile is one declared file; RelativePath uses '/' (Decode turns a
// Windows '\' into '/').
type UploadFile struct {
	RelativePath string `json:"relativePath"`
	Size         int64  `json:"size"`
}

// UploadInitResponse answers init_upload.
type UploadInitResponse struct {
	UploadID  string `json:"uploadId"`
	ChunkSize int    `json:"chunkSize"`
}

// UploadChunkResponse acknowledges one binary chunk (with the chunk
// header's id).
type UploadChunkResponse struct {
	UploadID     string `json:"uploadId"`
	BytesWritten int64  `json:"bytesWritten"`
	TotalWritten int64  `json:"totalWritten"`
}

// CompleteUpload finalizes an upload.
type CompleteUpload struct {
	UploadID       string          `json:"uploadId"`
	CreateShortcut bool            `json:"createShortcut"`
	Shortcut       *ShortcutConfig `json:"shortcut,omitempty"`
}

// CancelUpload discards an upload.
type CancelUpload struct {
	UploadID string `json:"uploadId"`
}

// UploadProgress is pushed while an upload is received.
type UploadProgress struct {
	UploadID         string  `json:"uploadId"`
	TransferredBytes int64   `json:"transferredBytes"`
	TotalBytes       int64   `json:"totalBytes"`
	CurrentFile      string  `json:"currentFile"`
	Percentage       float64 `json:"percentage"`
}

// OperationEvent is pushed while the device works (install, delete, …).
type OperationEvent struct {
	Type     string  `json:"type"`
	Status   string  `json:"status"` // StatusStart, StatusProgress, StatusComplete, StatusError
	GameName string  `json:"gameName"`
	Progress float64 `json:"progress"`
	Message  string  `json:"message"`
}

// GetUploadStatus (extension) asks which ranges of an upload are stored.
type GetUploadStatus struct {
	UploadID string `json:"uploadId"`
}

// UploadStatusResponse (extension) answers get_upload_status. Ranges are
// half-open byte ranges [start, end) of each file that are stored and
// acknowledged, sorted and merged; a complete file has [[0, size]].
type UploadStatusResponse struct {
	UploadID     string       `json:"uploadId"`
	ChunkSize    int          `json:"chunkSize"`
	TotalSize    int64        `json:"totalSize"`
	TotalWritten int64        `json:"totalWritten"`
	Files        []FileStatus `json:"files"`
}

// FileStatus is one declared file of an upload and what is stored of it.
type FileStatus struct {
	Path   string     `json:"path"`
	Size   int64      `json:"size"`
	Ranges [][2]int64 `json:"ranges"`
}
