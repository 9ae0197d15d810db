package device

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-hub/switchyard/pkg/namespace"
	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

// BucketPairing is the KV bucket of device pairing (docs/architecture.md,
// "Device controllers"):
//
//	c.<device>.<hub key>  → codeRecord  (pending 6-digit code; deleted on use)
//	t.<device>.<hub key>  → tokenRecord (sha256 of the controller's token)
//	w.d.<device>          → attempts    (wrong codes per device, fixed window)
//	w.a.<address key>     → attempts    (wrong codes per source address)
//	x.<device>            → "blocked"   (admin: refuse controllers with 406)
//
// <hub key> and <address key> are the first 32 hex digits of the sha256 of
// the hubId / the source IP, so any text is a valid key.
func BucketPairing() string { return namespace.Stream("sy_device_pairing") }

type codeRecord struct {
	Code      string    `json:"code"`
	DeviceID  string    `json:"device_id"`
	HubID     string    `json:"hub_id"`
	HubName   string    `json:"hub_name,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

type tokenRecord struct {
	SHA256   string    `json:"sha256"`
	DeviceID string    `json:"device_id"`
	HubID    string    `json:"hub_id"`
	HubName  string    `json:"hub_name,omitempty"`
	Created  time.Time `json:"created"`
}

type attempts struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

// pairStore keeps pairing state in BucketPairing; any gateway serves any
// controller from it.
type pairStore struct {
	kv  jetstream.KeyValue
	cfg *edge.Config
	now func() time.Time
}

func digestKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func codeKey(device, hub string) string   { return "c." + device + "." + digestKey(hub) }
func tokenKey(device, hub string) string  { return "t." + device + "." + digestKey(hub) }
func devAttemptsKey(device string) string { return "w.d." + device }
func blockKey(device string) string       { return "x." + device }

// addrAttemptsKey counts by IP, not by port.
func addrAttemptsKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return "w.a." + digestKey(host)
}

// newCode issues a fresh 6-digit code for (device, hub), replacing any
// earlier one.
func (p *pairStore) newCode(ctx context.Context, device, hub, hubName string) (codeRecord, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return codeRecord{}, err
	}
	rec := codeRecord{Code: fmt.Sprintf("%06d", n.Int64()), DeviceID: device, HubID: hub, HubName: hubName,
		ExpiresAt: p.now().Add(p.cfg.DevicePairingCodeTTL).UTC().Truncate(time.Millisecond)}
	b, _ := json.Marshal(rec)
	if _, err := p.kv.Put(ctx, codeKey(device, hub), b); err != nil {
		return codeRecord{}, fmt.Errorf("store pairing code: %w", err)
	}
	return rec, nil
}

// Pairing refusals (pair_failed reason).
const (
	reasonInvalid  = "invalid code"
	reasonExpired  = "expired code"
	reasonNoCode   = "no pairing code pending: send hub_connected for a new one"
	reasonLimited  = "too many wrong codes: try again later"
	reasonConsumed = "code already used"
)

// confirm checks a typed code; on success the code is consumed and a new
// token returned (its sha256 stored). reason is the pair_failed reason.
func (p *pairStore) confirm(ctx context.Context, device, hub, hubName, remote, code string) (token, reason string, err error) {
	now := p.now()
	if limited, err := p.limited(ctx, device, remote, now); err != nil || limited {
		return "", reasonLimited, err
	}
	key := codeKey(device, hub)
	e, err := p.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", reasonNoCode, p.wrong(ctx, device, remote, now)
	}
	if err != nil {
		return "", "", fmt.Errorf("read pairing code: %w", err)
	}
	var rec codeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return "", "", fmt.Errorf("pairing code record: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(code)), []byte(rec.Code)) != 1 {
		return "", reasonInvalid, p.wrong(ctx, device, remote, now)
	}
	if now.After(rec.ExpiresAt) {
		_ = p.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		return "", reasonExpired, nil
	}
	// Single use: only the delete of the revision read wins.
	if err := p.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return "", reasonConsumed, nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	b, _ := json.Marshal(tokenRecord{SHA256: tokenDigest(token), DeviceID: device, HubID: hub, HubName: hubName, Created: now.UTC()})
	if _, err := p.kv.Put(ctx, tokenKey(device, hub), b); err != nil {
		return "", "", fmt.Errorf("store pairing token: %w", err)
	}
	return token, "", nil
}

func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// checkToken reports whether token is the one paired for (device, hub).
func (p *pairStore) checkToken(ctx context.Context, device, hub, token string) (bool, error) {
	if token == "" {
		return false, nil
	}
	e, err := p.kv.Get(ctx, tokenKey(device, hub))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read pairing token: %w", err)
	}
	var rec tokenRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return false, fmt.Errorf("pairing token record: %w", err)
	}
	return subtle.ConstantTimeCompare([]byte(tokenDigest(token)), []byte(rec.SHA256)) == 1, nil
}

// revoke deletes the token of (device, hub); false when there was none.
func (p *pairStore) revoke(ctx context.Context, device, hub string) (bool, error) {
	key := tokenKey(device, hub)
	if _, err := p.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, p.kv.Purge(ctx, key)
}

// limited reports whether the device or the address used up its wrong
// attempts in the current window.
func (p *pairStore) limited(ctx context.Context, device, remote string, now time.Time) (bool, error) {
	for _, k := range []struct {
		key   string
		limit int
	}{{devAttemptsKey(device), p.cfg.DevicePairingPerDev}, {addrAttemptsKey(remote), p.cfg.DevicePairingPerAddr}} {
		a, _, err := p.attempts(ctx, k.key)
		if err != nil {
			return false, err
		}
		if now.Sub(a.Start) < p.cfg.DevicePairingWindow && a.Count >= k.limit {
			return true, nil
		}
	}
	return false, nil
}

func (p *pairStore) attempts(ctx context.Context, key string) (attempts, uint64, error) {
	e, err := p.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return attempts{}, 0, nil
	}
	if err != nil {
		return attempts{}, 0, fmt.Errorf("read pairing attempts: %w", err)
	}
	var a attempts
	_ = json.Unmarshal(e.Value(), &a)
	return a, e.Revision(), nil
}

// wrong counts a wrong code for the device and the address (CAS, so
// concurrent attempts on several gateways are all counted).
func (p *pairStore) wrong(ctx context.Context, device, remote string, now time.Time) error {
	for _, key := range []string{devAttemptsKey(device), addrAttemptsKey(remote)} {
		if err := p.count(ctx, key, now); err != nil {
			return err
		}
	}
	return nil
}

func (p *pairStore) count(ctx context.Context, key string, now time.Time) error {
	for try := 0; try < 10; try++ {
		a, rev, err := p.attempts(ctx, key)
		if err != nil {
			return err
		}
		if now.Sub(a.Start) >= p.cfg.DevicePairingWindow {
			a = attempts{Start: now.UTC()}
		}
		a.Count++
		b, _ := json.Marshal(a)
		if rev == 0 {
			_, err = p.kv.Create(ctx, key, b)
		} else {
			_, err = p.kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			return nil
		}
	}
	return errors.New("pairing attempts: too much contention")
}

// pendingCodes lists unexpired codes (GET /v1/pairings).
func (p *pairStore) pendingCodes(ctx context.Context) ([]codeRecord, error) {
	lister, err := p.kv.ListKeysFiltered(ctx, "c.>")
	if err != nil {
		return nil, err
	}
	now := p.now()
	out := []codeRecord{}
	for key := range lister.Keys() {
		e, err := p.kv.Get(ctx, key)
		if err != nil {
			continue // consumed meanwhile
		}
		var rec codeRecord
		if json.Unmarshal(e.Value(), &rec) == nil && now.Before(rec.ExpiresAt) {
			out = append(out, rec)
		}
	}
	return out, nil
}

// blocked reports the admin switch of a device.
func (p *pairStore) blocked(ctx context.Context, device string) (bool, error) {
	_, err := p.kv.Get(ctx, blockKey(device))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (p *pairStore) setBlocked(ctx context.Context, device string, blocked bool) error {
	if blocked {
		_, err := p.kv.Put(ctx, blockKey(device), []byte("blocked"))
		return err
	}
	return p.kv.Purge(ctx, blockKey(device))
}
