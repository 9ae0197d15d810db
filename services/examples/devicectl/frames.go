package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// The controller side of document 001, built here by hand (not with
// pkg/dialect/device) so the tests check one against the other.

// message is the document's envelope.
type message struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *wireError) Error() string { return fmt.Sprintf("error %d: %s", e.Code, e.Message) }

// textFrame renders {id, type, payload}.
func textFrame(id, typ string, payload any) ([]byte, error) {
	m := message{ID: id, Type: typ}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", typ, err)
		}
		m.Payload = b
	}
	return json.Marshal(m)
}

type chunkHeader struct {
	ID       string `json:"id"`
	UploadID string `json:"uploadId"`
	FilePath string `json:"filePath"`
	Offset   int64  `json:"offset"`
	Checksum string `json:"checksum,omitempty"`
}

// chunkFrame renders [4-byte big-endian header length][JSON header][data];
// withChecksum adds the hex sha256 of data to the header.
func chunkFrame(h chunkHeader, data []byte, withChecksum bool) ([]byte, error) {
	if withChecksum {
		s := sha256.Sum256(data)
		h.Checksum = hex.EncodeToString(s[:])
	} else {
		h.Checksum = ""
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+len(hb)+len(data))
	binary.BigEndian.PutUint32(out, uint32(len(hb)))
	out = append(out, hb...)
	return append(out, data...), nil
}

// Payloads the controller sends and reads (document field names).
type hubConnected struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform,omitempty"`
	HubID    string `json:"hubId"`
	Token    string `json:"token"`
}

type pairingRequired struct {
	Code      string `json:"code"`
	ExpiresIn int    `json:"expiresIn"`
}

type pairConfirm struct {
	Code string `json:"code"`
}

type pairSuccess struct {
	Token string `json:"token"`
}

type pairFailed struct {
	Reason string `json:"reason"`
}

type agentStatus struct {
	Name              string `json:"name"`
	Version           string `json:"version"`
	Platform          string `json:"platform"`
	AcceptConnections bool   `json:"acceptConnections"`
}

type uploadConfig struct {
	GameName    string `json:"gameName"`
	InstallPath string `json:"installPath,omitempty"`
	Executable  string `json:"executable,omitempty"`
}

type uploadFile struct {
	RelativePath string `json:"relativePath"`
	Size         int64  `json:"size"`
}

type initUpload struct {
	Config    uploadConfig `json:"config"`
	TotalSize int64        `json:"totalSize"`
	Files     []uploadFile `json:"files"`
}

type uploadInitResponse struct {
	UploadID  string `json:"uploadId"`
	ChunkSize int    `json:"chunkSize"`
}

type uploadChunkResponse struct {
	UploadID     string `json:"uploadId"`
	BytesWritten int64  `json:"bytesWritten"`
	TotalWritten int64  `json:"totalWritten"`
}

type shortcutConfig struct {
	Name string `json:"name"`
	Exe  string `json:"exe"`
}

type completeUpload struct {
	UploadID       string          `json:"uploadId"`
	CreateShortcut bool            `json:"createShortcut"`
	Shortcut       *shortcutConfig `json:"shortcut,omitempty"`
}

type uploadRef struct {
	UploadID string `json:"uploadId"`
}

type uploadProgress struct {
	UploadID         string  `json:"uploadId"`
	TransferredBytes int64   `json:"transferredBytes"`
	TotalBytes       int64   `json:"totalBytes"`
	CurrentFile      string  `json:"currentFile"`
	Percentage       float64 `json:"percentage"`
}

type operationEvent struct {
	Type     string  `json:"type"`
	Status   string  `json:"status"`
	GameName string  `json:"gameName"`
	Progress float64 `json:"progress"`
	Message  string  `json:"message"`
}

type uploadStatus struct {
	UploadID     string `json:"uploadId"`
	ChunkSize    int    `json:"chunkSize"`
	TotalSize    int64  `json:"totalSize"`
	TotalWritten int64  `json:"totalWritten"`
	Files        []struct {
		Path   string     `json:"path"`
		Size   int64      `json:"size"`
		Ranges [][2]int64 `json:"ranges"`
	} `json:"files"`
}

// stored reports whether [off, end) lies inside one of the ranges.
func (s *uploadStatus) stored(path string, off, end int64) bool {
	for _, f := range s.Files {
		if f.Path != path {
			continue
		}
		for _, r := range f.Ranges {
			if r[0] <= off && end <= r[1] {
				return true
			}
		}
	}
	return false
}
