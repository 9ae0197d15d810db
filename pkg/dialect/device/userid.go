package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// UserID is a Steam user id. The document's own examples disagree: it is
// a JSON number in list_shortcuts and create_shortcut and a string in
// delete_shortcut and apply_artwork. UserID accepts either everywhere and
// remembers which it was, so a payload re-encodes exactly as it came. The
// digits are kept as text: 76561198012345678 does not fit a float64.
type UserID struct {
	// Digits is the id in decimal, without sign or quotes.
	Digits string
	// Number is true when the id came (or goes) as a JSON number.
	Number bool
}

// ErrUserID is the error of an id that is neither a non-negative integer
// nor a string of one.
var ErrUserID = errors.New("userId must be a non-negative integer or a string of digits")

// NumericUserID is the id as a JSON number.
func NumericUserID(id uint64) UserID {
	return UserID{Digits: strconv.FormatUint(id, 10), Number: true}
}

// StringUserID is the id as a JSON string.
func StringUserID(digits string) UserID { return UserID{Digits: digits} }

// String is the id's digits.
func (u UserID) String() string { return u.Digits }

// IsZero reports an absent id.
func (u UserID) IsZero() bool { return u.Digits == "" }

// Uint64 is the id as a number, when it fits.
func (u UserID) Uint64() (uint64, error) { return strconv.ParseUint(u.Digits, 10, 64) }

// MarshalJSON renders the id in the form it came in.
func (u UserID) MarshalJSON() ([]byte, error) {
	if u.Number && allDigits(u.Digits) {
		return []byte(u.Digits), nil
	}
	return json.Marshal(u.Digits)
}

// UnmarshalJSON takes a JSON number (an integer) or a string. An empty
// string is an absent id; a string of something other than digits is
// refused, as is a fraction, an exponent or a sign.
func (u *UserID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*u = UserID{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return ErrUserID
		}
		if s != "" && !allDigits(s) {
			return ErrUserID
		}
		*u = UserID{Digits: s}
		return nil
	}
	if !allDigits(string(b)) {
		return ErrUserID
	}
	*u = UserID{Digits: string(b), Number: true}
	return nil
}

func allDigits(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
