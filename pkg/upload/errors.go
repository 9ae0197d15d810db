package upload

import (
	"errors"
	"fmt"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Numeric codes are the device document's error codes (001, "Error
// Codes"); the gateway puts them into the frame's error.code unchanged.
const (
	CodeBadRequest = 400
	CodeNotFound   = 404
	CodeConflict   = 409
	CodeInternal   = 500
)

// Reasons say which rule refused an operation (docs/errors.md, "Upload
// errors"). Each maps to exactly one code (ReasonCode).
const (
	ReasonBadRequest       = "bad_request"       // 400: a malformed request (empty path, negative size, duplicate path, ...)
	ReasonChecksumMismatch = "checksum_mismatch" // 400: the chunk's sha256 is not the header's checksum
	ReasonOutOfRange       = "out_of_range"      // 400: offset or offset+length outside the declared file
	ReasonOverTotal        = "over_total"        // 400: the declared files add up to more than totalSize
	ReasonChunkTooLarge    = "chunk_too_large"   // 400: chunk over the configured limit or the NATS max payload
	ReasonIncomplete       = "incomplete"        // 400: complete_upload while a declared file has missing bytes
	ReasonUnknownUpload    = "unknown_upload"    // 404: no such upload (or another user's)
	ReasonUnknownFile      = "unknown_file"      // 404: the upload declares no such file path
	ReasonNotActive        = "not_active"        // 409: the upload is already completed or cancelled
	ReasonChunkConflict    = "chunk_conflict"    // 409: other bytes are already stored at this offset and length
	ReasonTokenInvalid     = "token_invalid"     // 404 (HTTP 403): the download token is missing, expired or for another upload
	ReasonUnavailable      = "unavailable"       // 500 (HTTP 503): NATS/JetStream did not answer; retry
	ReasonInternal         = "internal"          // 500: a bug
)

// Reasons lists every reason, for documentation checks.
var Reasons = []string{
	ReasonBadRequest, ReasonChecksumMismatch, ReasonOutOfRange, ReasonOverTotal, ReasonChunkTooLarge,
	ReasonIncomplete, ReasonUnknownUpload, ReasonUnknownFile, ReasonNotActive, ReasonChunkConflict, ReasonTokenInvalid,
	ReasonUnavailable, ReasonInternal,
}

// ReasonCode is the device-document code of a reason.
func ReasonCode(reason string) int32 {
	switch reason {
	case ReasonBadRequest, ReasonChecksumMismatch, ReasonOutOfRange, ReasonOverTotal, ReasonChunkTooLarge, ReasonIncomplete:
		return CodeBadRequest
	case ReasonUnknownUpload, ReasonUnknownFile, ReasonTokenInvalid:
		return CodeNotFound
	case ReasonNotActive, ReasonChunkConflict:
		return CodeConflict
	default:
		return CodeInternal
	}
}

// Error is a refused upload operation.
type Error struct {
	Code    int32  // device-document code
	Reason  string // Reason* constant
	Message string // for humans
}

func (e *Error) Error() string {
	return fmt.Sprintf("upload: %s (%d): %s", e.Reason, e.Code, e.Message)
}

// Errorf builds an Error for reason.
func Errorf(reason, format string, args ...any) *Error {
	return &Error{Code: ReasonCode(reason), Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error; any other error is "unavailable"
// (the bus failed) with the error's text.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(ReasonUnavailable, "%v", err)
}

// IsReason reports whether err is an *Error with reason.
func IsReason(err error, reason string) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == reason
}

// ToProto renders err for a reply (nil for nil).
func ToProto(err error) *syv1.UploadError {
	e := AsError(err)
	if e == nil {
		return nil
	}
	return &syv1.UploadError{Code: e.Code, Reason: e.Reason, Message: e.Message}
}

// FromProto turns a reply's error into an error (nil when absent).
func FromProto(pe *syv1.UploadError) error {
	if pe == nil || pe.GetReason() == "" {
		return nil
	}
	return &Error{Code: pe.GetCode(), Reason: pe.GetReason(), Message: pe.GetMessage()}
}
