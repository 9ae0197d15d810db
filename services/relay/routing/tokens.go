package routing

// Runtime tokens. Two kinds are accepted on runtime.hello:
//
//   - pre-shared tokens of SY_RUNTIME_TOKENS (no expiry);
//   - hub-issued tokens: 32 random bytes (base64url), valid for
//     SY_RUNTIME_TOKEN_TTL, refreshed by the runtime's gateway before they
//     expire (the previous token then keeps working for
//     SY_RUNTIME_TOKEN_GRACE).
//
// A token itself is never stored or logged; KV sy_tokens holds
//
//	t.<sha256 hex>  TokenRecord{runtime_id, issued_at, expires_at}
//	r.<runtime_id>  RuntimeTokenState{revoked_at}
//	i.<runtime_id>  index of the runtime's hub tokens: one line
//	                "<sha256 hex> <expires unix ms>" per token, so a
//	                revocation deletes them without scanning the bucket;
//	                expired entries (and their t.* keys) are pruned
//	                whenever a token is added, and at most
//	                maxTokensPerRuntime stay live (the oldest retire).
//
// A revocation (revoked_at set) refuses the pre-shared tokens for that
// runtime id and every hub token issued before it, until the admin issues
// a new token (which clears revoked_at).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-hub/switchyard/pkg/auth"
	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

func tokenKey(digest string) string { return "t." + digest }
func stateKey(rid string) string    { return "r." + rid }
func indexKey(rid string) string    { return "i." + rid }

// storedTime is the precision of issued_at / revoked_at / expires_at in KV
// (the wire shows milliseconds).
const storedTime = time.RFC3339Nano

func formatStored(t time.Time) string { return t.UTC().Format(storedTime) }

// tokenCheck is the outcome of checking a token for a runtime id.
type tokenCheck struct {
	ok        bool
	reason    string // why not ok (safe to show: never the token)
	preShared bool
	expiresAt time.Time         // hub tokens
	rec       *syv1.TokenRecord // hub tokens
	revokedAt string            // the runtime's revoked_at as read
}

// checkToken decides whether the token with this digest may act as
// runtime rid now. err is for trouble with the token store.
func (s *Service) checkToken(ctx context.Context, rid, digest string, now time.Time) (tokenCheck, error) {
	if !bus.ValidToken(rid) || !auth.ValidDigest(digest) {
		return tokenCheck{reason: "invalid runtime token"}, nil
	}
	st, err := s.tokenState(ctx, rid)
	if err != nil {
		return tokenCheck{}, err
	}
	chk := tokenCheck{revokedAt: st.GetRevokedAt()}
	var revokedAt time.Time
	if chk.revokedAt != "" {
		if revokedAt, err = time.Parse(storedTime, chk.revokedAt); err != nil {
			return tokenCheck{}, fmt.Errorf("routing: revoked_at of %s: %w", rid, err)
		}
	}
	if s.tokens.AllowsRuntimeDigest(digest, rid) {
		if chk.revokedAt != "" {
			chk.reason = "runtime token revoked"
			return chk, nil
		}
		chk.ok, chk.preShared = true, true
		return chk, nil
	}
	rec := &syv1.TokenRecord{}
	if found, err := s.getProto(ctx, tokenKey(digest), rec); err != nil {
		return tokenCheck{}, err
	} else if !found || rec.GetRuntimeId() != rid {
		chk.reason = "invalid runtime token"
		return chk, nil
	}
	issued, err1 := time.Parse(storedTime, rec.GetIssuedAt())
	expires, err2 := time.Parse(storedTime, rec.GetExpiresAt())
	switch {
	case err1 != nil || err2 != nil:
		chk.reason = "invalid runtime token"
	case !now.Before(expires):
		chk.reason = "runtime token expired"
	case chk.revokedAt != "" && issued.Before(revokedAt):
		chk.reason = "runtime token revoked"
	default:
		chk.ok, chk.expiresAt, chk.rec = true, expires, rec
	}
	return chk, nil
}

func (s *Service) tokenState(ctx context.Context, rid string) (*syv1.RuntimeTokenState, error) {
	st := &syv1.RuntimeTokenState{}
	_, err := s.getProto(ctx, stateKey(rid), st)
	return st, err
}

func (s *Service) getProto(ctx context.Context, key string, into proto.Message) (bool, error) {
	e, err := s.admin.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("routing: get %s/%s: %w", bus.BucketTokens(), keyKind(key), err)
	}
	if err := proto.Unmarshal(e.Value(), into); err != nil {
		return false, fmt.Errorf("routing: decode %s/%s: %w", bus.BucketTokens(), keyKind(key), err)
	}
	return true, nil
}

func (s *Service) putProto(ctx context.Context, key string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := s.admin.kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("routing: put %s/%s: %w", bus.BucketTokens(), keyKind(key), err)
	}
	return nil
}

// keyKind names a key in errors without its digest (t.* keys are token
// digests: not secret, but nothing a log needs).
func keyKind(key string) string {
	if strings.HasPrefix(key, "t.") {
		return "t.<digest>"
	}
	return key
}

// issue creates a hub token for rid and returns it with its expiry. The
// token leaves this function only towards the runtime (or the admin).
func (s *Service) issue(ctx context.Context, rid string, now time.Time) (string, time.Time, error) {
	tok, err := auth.NewToken()
	if err != nil {
		return "", time.Time{}, err
	}
	digest := auth.Digest(tok)
	exp := now.Add(s.cfg.RuntimeTokenTTL)
	rec := &syv1.TokenRecord{RuntimeId: rid, IssuedAt: formatStored(now), ExpiresAt: formatStored(exp)}
	if err := s.putProto(ctx, tokenKey(digest), rec); err != nil {
		return "", time.Time{}, err
	}
	if err := s.indexAdd(ctx, rid, digest, exp, now); err != nil {
		_ = s.admin.kv.Purge(ctx, tokenKey(digest))
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// maxTokensPerRuntime bounds the live hub tokens of one runtime id (and
// so the size of its index value).
const maxTokensPerRuntime = 64

type indexEntry struct {
	digest  string
	expires int64 // unix ms
}

func parseIndex(b []byte) []indexEntry {
	var out []indexEntry
	for _, line := range strings.Split(string(b), "\n") {
		d, ms, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || !auth.ValidDigest(d) {
			continue
		}
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, indexEntry{d, n})
	}
	return out
}

func formatIndex(es []indexEntry) []byte {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %d\n", e.digest, e.expires)
	}
	return []byte(b.String())
}

// indexAdd records a new token of rid in i.<rid> (compare-and-set) and
// prunes entries that expired.
func (s *Service) indexAdd(ctx context.Context, rid, digest string, exp, now time.Time) error {
	key := indexKey(rid)
	for attempt := 0; attempt < 16; attempt++ {
		var cur []indexEntry
		var rev uint64
		e, err := s.admin.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("routing: get %s/%s: %w", bus.BucketTokens(), key, err)
		default:
			cur, rev = parseIndex(e.Value()), e.Revision()
		}
		keep := []indexEntry{{digest, exp.UnixMilli()}}
		var pruned []string
		for _, ie := range cur {
			if ie.expires <= now.UnixMilli() {
				pruned = append(pruned, ie.digest)
			} else if ie.digest != digest {
				keep = append(keep, ie)
			}
		}
		// Bounded: a runtime that keeps saying hello with its pre-shared
		// token gets a new token each time; the oldest ones retire early.
		if len(keep) > maxTokensPerRuntime {
			sort.SliceStable(keep[1:], func(a, b int) bool { return keep[1+a].expires > keep[1+b].expires })
			for _, ie := range keep[maxTokensPerRuntime:] {
				pruned = append(pruned, ie.digest)
			}
			keep = keep[:maxTokensPerRuntime]
		}
		if rev == 0 {
			_, err = s.admin.kv.Create(ctx, key, formatIndex(keep))
		} else {
			_, err = s.admin.kv.Update(ctx, key, formatIndex(keep), rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || bus.IsWrongLastSequence(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("routing: update %s/%s: %w", bus.BucketTokens(), key, err)
		}
		for _, d := range pruned {
			_ = s.admin.kv.Purge(ctx, tokenKey(d))
		}
		return nil
	}
	return fmt.Errorf("routing: update %s/%s: too many concurrent writers", bus.BucketTokens(), key)
}

// revoke refuses every current token of rid (pre-shared ones included)
// from now on and deletes its hub tokens.
func (s *Service) revoke(ctx context.Context, rid string, now time.Time) error {
	if err := s.putProto(ctx, stateKey(rid), &syv1.RuntimeTokenState{RevokedAt: formatStored(now)}); err != nil {
		return err
	}
	e, err := s.admin.kv.Get(ctx, indexKey(rid))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("routing: get %s/%s: %w", bus.BucketTokens(), indexKey(rid), err)
	}
	for _, ie := range parseIndex(e.Value()) {
		if err := s.admin.kv.Purge(ctx, tokenKey(ie.digest)); err != nil {
			return fmt.Errorf("routing: purge a token of %s: %w", rid, err)
		}
	}
	return s.admin.kv.Purge(ctx, indexKey(rid))
}

// refreshRequest serves bus.SubjRelayRefresh(): the gateway of a runtime's
// socket asks for a new token in exchange for the current one, which it
// names by digest (TokenRefresh.token = sha256 hex of the current token).
func (s *Service) refreshRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	return s.refresh1(ctx, env.GetRuntimeId(), env.GetTokenRefresh().GetToken())
}

func (s *Service) refresh1(ctx context.Context, rid, digest string) *syv1.Envelope {
	now := s.clock.Now()
	chk, err := s.checkToken(ctx, rid, digest, now)
	if err != nil {
		s.log.ErrorContext(ctx, "runtime token not checked", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "token store unavailable, retry")
	}
	if !chk.ok {
		s.log.WarnContext(ctx, "runtime token refresh refused", "runtime_id", rid, "reason", chk.reason)
		return errorEnvelope(errcode.AuthFailed, chk.reason)
	}
	tok, exp, err := s.issue(ctx, rid, now)
	if err != nil {
		s.log.ErrorContext(ctx, "runtime token not issued", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "token store unavailable, retry")
	}
	if !chk.preShared {
		// The previous token keeps working for the grace period only.
		if graceEnd := now.Add(s.cfg.RuntimeTokenGrace); graceEnd.Before(chk.expiresAt) {
			chk.rec.ExpiresAt = formatStored(graceEnd)
			if err := s.putProto(ctx, tokenKey(digest), chk.rec); err != nil {
				s.log.WarnContext(ctx, "previous runtime token not shortened", "runtime_id", rid, "err", err)
			}
		}
	}
	// A revocation that raced with this refresh wins.
	if st, err := s.tokenState(ctx, rid); err == nil && st.GetRevokedAt() != chk.revokedAt && st.GetRevokedAt() != "" {
		_ = s.admin.kv.Purge(ctx, tokenKey(auth.Digest(tok)))
		return errorEnvelope(errcode.AuthFailed, "runtime token revoked")
	}
	s.log.DebugContext(ctx, "runtime token refreshed", "runtime_id", rid, "expires_at", clock.Stamp(exp))
	return &syv1.Envelope{Type: kind.TokenRefresh, RuntimeId: rid,
		Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: tok, ExpiresAt: clock.Stamp(exp)}}}
}

// tokensRequest serves bus.SubjRelayTokens() (admin REST): revoke every
// token of a runtime id and disconnect it, or issue a new token.
func (s *Service) tokensRequest(ctx context.Context, env *syv1.Envelope) *syv1.Envelope {
	rid := env.GetRuntimeId()
	switch {
	case !bus.ValidToken(rid):
		return errorEnvelope(errcode.InvalidMessage, "runtime ids are 1-128 characters of [A-Za-z0-9_-]")
	case env.GetType() == kind.TokensRevoke:
		return s.revoke1(ctx, rid)
	case env.GetType() == kind.TokensIssue:
		return s.issue1(ctx, rid)
	}
	return errorEnvelope(errcode.InvalidMessage, "unknown tokens request "+env.GetType())
}

func (s *Service) revoke1(ctx context.Context, rid string) *syv1.Envelope {
	now := s.clock.Now()
	if err := s.revoke(ctx, rid, now); err != nil {
		s.log.ErrorContext(ctx, "runtime tokens not revoked", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "token store unavailable, retry")
	}
	closed := s.disconnectRuntime(ctx, rid)
	s.log.InfoContext(ctx, "runtime tokens revoked", "runtime_id", rid, "sockets_closed", len(closed))
	st := &syv1.RuntimeStatus{RuntimeId: rid}
	if len(closed) > 0 {
		st.Route = closed[0]
	}
	return &syv1.Envelope{Type: kind.TokensRevoke, RuntimeId: rid, Ts: clock.Stamp(now),
		Body: &syv1.Envelope_RuntimeStatus{RuntimeStatus: st}}
}

func (s *Service) issue1(ctx context.Context, rid string) *syv1.Envelope {
	now := s.clock.Now()
	if err := s.admin.kv.Purge(ctx, stateKey(rid)); err != nil {
		s.log.ErrorContext(ctx, "runtime revocation not cleared", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "token store unavailable, retry")
	}
	tok, exp, err := s.issue(ctx, rid, now)
	if err != nil {
		s.log.ErrorContext(ctx, "runtime token not issued", "runtime_id", rid, "err", err)
		return errorEnvelope(errcode.Unavailable, "token store unavailable, retry")
	}
	s.log.InfoContext(ctx, "runtime token issued by an admin", "runtime_id", rid, "expires_at", clock.Stamp(exp))
	return &syv1.Envelope{Type: kind.TokenRefresh, RuntimeId: rid,
		Body: &syv1.Envelope_TokenRefresh{TokenRefresh: &syv1.TokenRefresh{Token: tok, ExpiresAt: clock.Stamp(exp)}}}
}

// disconnectRuntime closes every live socket of runtime rid (the one in
// sy:rt:<rid>, and older ones a newer hello superseded, found in the pods'
// connection records) with error{auth_failed} and close 1008.
func (s *Service) disconnectRuntime(ctx context.Context, rid string) []*syv1.Route {
	targets := map[string]string{} // conn → pod
	if pod, conn, ok, err := s.owners.Runtime(ctx, rid); err != nil {
		s.log.WarnContext(ctx, "runtime socket not looked up", "runtime_id", rid, "err", err)
	} else if ok {
		targets[conn] = pod
	}
	if pods, err := s.owners.Pods(ctx, s.cfg.OwnerTTL); err == nil {
		for _, pod := range pods {
			conns, err := s.owners.Conns(ctx, pod)
			if err != nil {
				continue
			}
			for conn, info := range conns {
				if f := strings.Fields(info); len(f) >= 2 && f[0] == kind.RoleRuntime.String() && f[1] == rid {
					targets[conn] = pod
				}
			}
		}
	}
	var closed []*syv1.Route
	for conn, pod := range targets {
		route := &syv1.Route{Pod: pod, ConnId: conn, Dialect: kind.RoleRuntime.String(), Role: kind.RoleRuntime.String()}
		env := &syv1.Envelope{Type: kind.ConnClose, RuntimeId: rid, Ts: clock.Stamp(time.Now()), Target: route,
			Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: errcode.AuthFailed, Message: "runtime token revoked"}}}
		dctx, cancel := context.WithTimeout(ctx, s.cfg.DeliveryWait)
		reply, err := s.bus.Request(dctx, bus.PodSubject(pod), env)
		cancel()
		if err != nil || reply.GetError() != nil {
			s.log.WarnContext(ctx, "revoked runtime's socket not closed", "runtime_id", rid, "pod", pod, "conn", conn, "err", err)
			continue
		}
		closed = append(closed, route)
	}
	return closed
}

func errorEnvelope(code, msg string) *syv1.Envelope {
	return &syv1.Envelope{Type: kind.Error, Body: &syv1.Envelope_Error{Error: &syv1.Error{Code: code, Message: msg}}}
}
