package push

import syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"

// Reader is who holds a push socket, as the gateway authenticated it.
type Reader struct {
	// UserID is the client token's user; empty for an anonymous reader.
	UserID string
	// Org narrows hub-wide events; empty sees only hub-wide events without org.
	Org string
	// Admin readers see every event. The gateway decides who is an admin:
	// an admin token, and (dev-stack default) a token-less loopback reader,
	// as in the document, where the loopback binding is the trust boundary.
	Admin bool
}

// Visible is the scoping rule of the push channels. A reader sees an event
// iff
//
//  1. the reader is an admin, or
//  2. the event has a user_id and it is the reader's user id, or
//  3. the event is hub_wide and either has no org or the reader's org.
//
// Everything else, notably an event with neither user_id nor hub_wide
// (e.g. an admin REST call), is seen by admins only. An anonymous
// non-admin reader therefore sees hub-wide events without org only.
func Visible(r Reader, s *syv1.PushScope) bool {
	switch {
	case r.Admin:
		return true
	case s.GetUserId() != "" && s.GetUserId() == r.UserID:
		return true
	case s.GetHubWide():
		return s.GetOrg() == "" || s.GetOrg() == r.Org
	}
	return false
}
