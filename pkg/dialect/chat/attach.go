package chat

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
)

// AttachmentSettings is the document's [attachments] settings.
type AttachmentSettings struct {
	// Enabled: when false every message with attachments is refused.
	Enabled bool
	// AllowedExtensions ("png" or ".png", any case); empty allows any.
	AllowedExtensions []string
	// MaxFileBytes bounds each decoded file; 0 means no bound.
	MaxFileBytes int64
	// MaxFiles bounds the attachments of one message; 0 means no bound.
	MaxFiles int
}

// AttachmentReason says why an attachment was refused.
type AttachmentReason string

const (
	ReasonDisabled  AttachmentReason = "attachments_disabled"
	ReasonTooMany   AttachmentReason = "too_many_attachments"
	ReasonBadName   AttachmentReason = "invalid_file_name"
	ReasonExtension AttachmentReason = "extension_not_allowed"
	ReasonTooLarge  AttachmentReason = "attachment_too_large"
)

// maxFileNameBytes bounds a file name, as for POST /files.
const maxFileNameBytes = 255

// AttachmentError is a refused message: nothing of it may be processed.
// The client gets Frame(), whose message names the reason and the file.
type AttachmentError struct {
	Reason AttachmentReason
	// Index and FileName of the refused attachment; -1 and "" when the
	// reason concerns the whole message (disabled, too many).
	Index    int
	FileName string
	Message  string
}

func (e *AttachmentError) Error() string { return string(e.Reason) + ": " + e.Message }

// Frame is the document's error frame for e.
func (e *AttachmentError) Frame() []byte { return ErrorFrame(e.Message) }

// ValidateAttachments checks every attachment of a message against the
// settings and returns the first refusal, or nil when all are accepted.
// Checks, in order: enabled, count, then per file name, extension, size.
func ValidateAttachments(atts []Attachment, s AttachmentSettings) *AttachmentError {
	if len(atts) == 0 {
		return nil
	}
	if !s.Enabled {
		return &AttachmentError{Reason: ReasonDisabled, Index: -1, Message: "attachments are disabled"}
	}
	if s.MaxFiles > 0 && len(atts) > s.MaxFiles {
		return &AttachmentError{Reason: ReasonTooMany, Index: -1,
			Message: fmt.Sprintf("too many attachments: %d (at most %d)", len(atts), s.MaxFiles)}
	}
	allowed := normalizeExtensions(s.AllowedExtensions)
	for i, a := range atts {
		if e := validateOne(i, a, allowed, s.MaxFileBytes); e != nil {
			return e
		}
	}
	return nil
}

func validateOne(i int, a Attachment, allowed []string, maxBytes int64) *AttachmentError {
	refuse := func(r AttachmentReason, format string, args ...any) *AttachmentError {
		return &AttachmentError{Reason: r, Index: i, FileName: a.FileName,
			Message: fmt.Sprintf("attachment %q rejected: ", a.FileName) + fmt.Sprintf(format, args...)}
	}
	name := BaseName(a.FileName)
	if name == "" || len(a.FileName) > maxFileNameBytes || strings.IndexFunc(a.FileName, unicode.IsControl) >= 0 {
		return refuse(ReasonBadName, "invalid file name")
	}
	ext := strings.ToLower(path.Ext(name))
	if len(allowed) > 0 && !slices.Contains(allowed, ext) {
		shown := ext
		if shown == "" {
			shown = "(none)"
		}
		return refuse(ReasonExtension, "file extension %s is not allowed (allowed: %s)", shown, strings.Join(allowed, ", "))
	}
	if maxBytes > 0 && int64(len(a.Data)) > maxBytes {
		return refuse(ReasonTooLarge, "%d bytes is more than the limit of %d bytes", len(a.Data), maxBytes)
	}
	return nil
}

// BaseName is the last element of a file name sent with either slash
// ("C:\Users\me\photo.png" → "photo.png"); "" for ".", ".." and names
// that end in a separator.
func BaseName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

func normalizeExtensions(exts []string) []string {
	out := make([]string, 0, len(exts))
	for _, e := range exts {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if !strings.HasPrefix(e, ".") {
			e = "." + e
		}
		out = append(out, e)
	}
	return out
}

// IsImage reports whether an attachment's type is one the document sends
// to the model for vision analysis (image/png, image/jpeg, image/gif,
// image/webp); others are files only.
func IsImage(mimeType string) bool {
	t, _, _ := strings.Cut(strings.ToLower(mimeType), ";")
	switch strings.TrimSpace(t) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}
