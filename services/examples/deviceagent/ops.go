package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/switchyard-hub/switchyard/pkg/dialect/device"
)

// opError is a failed operation with the document's error code.
type opError struct {
	code int
	msg  string
}

func (e *opError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.msg) }

func fail(code int, format string, a ...any) *opError {
	return &opError{code: code, msg: fmt.Sprintf(format, a...)}
}

// operate runs one document operation and builds its device.response.
func (a *agent) operate(ctx context.Context, r deviceRequest) deviceResponse {
	resp := deviceResponse{RequestID: r.RequestID, Op: r.Op, Type: device.ResponseType(r.Op)}
	payload, err := a.dispatch(ctx, r)
	if err != nil {
		var oe *opError
		if !errors.As(err, &oe) {
			oe = fail(device.CodeInternal, "%v", err)
		}
		resp.Type, resp.Error = "", &deviceError{Code: oe.code, Message: oe.msg}
		a.log.Info("operation failed", "op", r.Op, "code", oe.code, "err", oe.msg)
		return resp
	}
	resp.Payload = payload
	a.log.Info("operation done", "op", r.Op, "request", r.RequestID)
	return resp
}

func (a *agent) dispatch(_ context.Context, r deviceRequest) (any, error) {
	switch r.Op {
	case device.TypeGetInfo:
		return device.InfoResponse{Agent: device.AgentInfo{ID: a.cfg.id, Name: a.cfg.name, Platform: runtime.GOOS, Version: version, Capabilities: capabilities}}, nil
	case device.TypeGetConfig:
		return device.ConfigResponse{InstallPath: a.cfg.dir}, nil
	case device.TypeGetSteamUsers:
		users := []device.SteamUser{}
		for _, u := range a.cfg.steamUsers {
			users = append(users, device.SteamUser{ID: device.StringUserID(u.id), Name: u.name})
		}
		return device.SteamUsersResponse{Users: users}, nil
	case device.TypeListShortcuts:
		var p device.ListShortcuts
		if err := decode(r, &p); err != nil {
			return nil, err
		}
		return device.ShortcutsResponse{Shortcuts: a.shortcuts.list(p.UserID.Digits)}, nil
	case device.TypeCreateShortcut:
		return a.createShortcut(r)
	case device.TypeDeleteShortcut:
		return a.deleteShortcut(r)
	case device.TypeApplyArtwork:
		return a.applyArtwork(r)
	case device.TypeRestartSteam:
		return device.SteamResponse{Success: true, Message: "Steam restarted"}, nil
	}
	return nil, fail(device.CodeNotImplemented, "%s is not implemented by this device", r.Op)
}

func decode(r deviceRequest, v any) error {
	if len(r.Payload) == 0 || string(r.Payload) == "null" {
		return fail(device.CodeBadRequest, "%s needs a payload", r.Op)
	}
	if err := json.Unmarshal(r.Payload, v); err != nil {
		return fail(device.CodeBadRequest, "%s payload: %v", r.Op, err)
	}
	return nil
}

func (a *agent) createShortcut(r deviceRequest) (any, error) {
	var p device.CreateShortcut
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if p.UserID.IsZero() && len(a.cfg.steamUsers) > 0 {
		// complete_upload's shortcut names no user: the device's first.
		p.UserID = device.StringUserID(a.cfg.steamUsers[0].id)
	}
	if p.UserID.IsZero() || p.Shortcut.Name == "" || p.Shortcut.Exe == "" {
		return nil, fail(device.CodeBadRequest, "create_shortcut needs userId (or a -steam-users entry), shortcut.name and shortcut.exe")
	}
	sc := device.Shortcut{AppID: appID(p.Shortcut.Exe, p.Shortcut.Name), Name: p.Shortcut.Name, Exe: p.Shortcut.Exe, StartDir: p.Shortcut.StartDir, Artwork: p.Shortcut.Artwork}
	if err := a.shortcuts.put(p.UserID.Digits, sc); err != nil {
		return nil, err
	}
	return device.OperationResult{AppID: sc.AppID}, nil
}

func (a *agent) deleteShortcut(r deviceRequest) (any, error) {
	var p device.DeleteShortcut
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if err := a.shortcuts.remove(p.UserID.Digits, p.AppID); err != nil {
		return nil, err
	}
	msg := "Shortcut deleted"
	if p.RestartSteam {
		msg += "; Steam restarted"
	}
	return device.OperationResult{Success: device.Succeeded(true), Message: msg}, nil
}

func (a *agent) applyArtwork(r deviceRequest) (any, error) {
	var p device.ApplyArtwork
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	res := device.ArtworkResponse{Applied: []string{}}
	good := device.Artwork{}
	for _, k := range []struct {
		kind string
		url  string
		dst  *string
	}{{"grid", p.Artwork.Grid, &good.Grid}, {"hero", p.Artwork.Hero, &good.Hero}, {"logo", p.Artwork.Logo, &good.Logo}, {"icon", p.Artwork.Icon, &good.Icon}} {
		if k.url == "" {
			continue
		}
		if u, err := url.Parse(k.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			res.Failed = append(res.Failed, device.ArtworkFailure{Type: k.kind, Error: "not an http(s) URL"})
			continue
		}
		*k.dst = k.url
		res.Applied = append(res.Applied, k.kind)
	}
	if err := a.shortcuts.setArtwork(p.UserID.Digits, p.AppID, good); err != nil {
		return nil, err
	}
	return res, nil
}

// appID is how Steam numbers a non-Steam shortcut: the CRC-32 of exe and
// name with the top bit set.
func appID(exe, name string) int64 {
	return int64(crc32.ChecksumIEEE([]byte(exe+name)) | 0x80000000)
}

// shortcutStore keeps shortcuts per Steam user id in <dir>/shortcuts.json.
type shortcutStore struct {
	path string
	mu   sync.Mutex
}

func newShortcutStore(dir string) *shortcutStore {
	return &shortcutStore{path: filepath.Join(dir, "shortcuts.json")}
}

func (s *shortcutStore) load() (map[string][]device.Shortcut, error) {
	all := map[string][]device.Shortcut{}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return all, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shortcuts: %w", err)
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("shortcuts file %s: %w", s.path, err)
	}
	return all, nil
}

func (s *shortcutStore) save(all map[string][]device.Shortcut) error {
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write shortcuts: %w", err)
	}
	return os.Rename(tmp, s.path)
}

func (s *shortcutStore) list(user string) []device.Shortcut {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.load()
	if err != nil || all[user] == nil {
		return []device.Shortcut{}
	}
	return all[user]
}

func (s *shortcutStore) update(fn func(all map[string][]device.Shortcut) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(all); err != nil {
		return err
	}
	return s.save(all)
}

func (s *shortcutStore) put(user string, sc device.Shortcut) error {
	return s.update(func(all map[string][]device.Shortcut) error {
		list := slices.DeleteFunc(all[user], func(o device.Shortcut) bool { return o.AppID == sc.AppID })
		all[user] = append(list, sc)
		return nil
	})
}

func (s *shortcutStore) remove(user string, id int64) error {
	return s.update(func(all map[string][]device.Shortcut) error {
		n := len(all[user])
		all[user] = slices.DeleteFunc(all[user], func(o device.Shortcut) bool { return o.AppID == id })
		if len(all[user]) == n {
			return fail(device.CodeNotFound, "user %s has no shortcut %d", user, id)
		}
		return nil
	})
}

func (s *shortcutStore) setArtwork(user string, id int64, art device.Artwork) error {
	return s.update(func(all map[string][]device.Shortcut) error {
		for i := range all[user] {
			if sc := &all[user][i]; sc.AppID == id {
				merged := art
				if old := sc.Artwork; old != nil {
					merged = device.Artwork{Grid: pick(art.Grid, old.Grid), Hero: pick(art.Hero, old.Hero), Logo: pick(art.Logo, old.Logo), Icon: pick(art.Icon, old.Icon)}
				}
				sc.Artwork = &merged
				return nil
			}
		}
		return fail(device.CodeNotFound, "user %s has no shortcut %d", user, id)
	})
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
