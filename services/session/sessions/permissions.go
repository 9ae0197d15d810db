package sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-hub/switchyard/pkg/bus"
	"github.com/switchyard-hub/switchyard/pkg/catalog"
	"github.com/switchyard-hub/switchyard/pkg/clock"
	"github.com/switchyard-hub/switchyard/pkg/errcode"
	"github.com/switchyard-hub/switchyard/pkg/kind"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

const resolvedByUser = "user:"

// permissionRequest stores a runtime's request as pending and shows it to
// subscribers, or answers it at once when the user chose always_allow for
// the tool in this session.
func (s *Service) permissionRequest(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	pr := env.GetPermissionRequest()
	rec, _, err := s.cat.Permission(ctx, info.GetId(), pr.GetRequestId())
	if err != nil {
		return err
	}
	seq, err := s.appendTranscriptSeq(ctx, env)
	if err != nil {
		return err
	}
	if rec == nil {
		rec = &syv1.PermissionRecord{Request: pr, RuntimeId: info.GetRuntimeId(), Seq: seq,
			Deadline: s.clock.Now().Add(s.cfg.PermissionTimeout).UTC().Format(time.RFC3339Nano)}
		if slices.Contains(info.GetAlwaysAllowTools(), pr.GetTool()) {
			rec.Resolved, rec.Approved, rec.ResolvedBy = true, true, "always_allow"
		}
		if err := s.cat.PutPermission(ctx, info.GetId(), rec, 0); err != nil {
			return err
		}
	} else if err := s.cat.SyncPending(ctx, info.GetId(), rec); err != nil {
		return err // a redelivery: heal the index if a crash split the writes
	}
	if rec.GetResolved() && rec.GetResolvedBy() == "always_allow" {
		return s.answerRuntime(ctx, info, env.GetId(), rec, true)
	}
	return nil
}

// permissionResponse takes the first answer from any client; later
// answers get permission_resolved.
func (s *Service) permissionResponse(ctx context.Context, env *syv1.Envelope, info *syv1.SessionInfo) error {
	resp := env.GetPermissionResponse()
	rec, rev, err := s.cat.Permission(ctx, info.GetId(), resp.GetRequestId())
	switch {
	case err != nil:
		return err
	case rec == nil:
		return s.reject(ctx, env, errcode.PermissionNotFound, "no permission request "+resp.GetRequestId()+" in this session")
	case rec.GetResolved() && rec.GetResolvedBy() != resolvedByUser+env.GetId():
		return s.reject(ctx, env, errcode.PermissionResolved, "permission request "+resp.GetRequestId()+" was already answered"+resolvedBy(rec))
	case !rec.GetResolved():
		rec.Resolved, rec.Approved, rec.ResolvedBy = true, resp.GetApproved(), resolvedByUser+env.GetId()
		if err := s.cat.PutPermission(ctx, info.GetId(), rec, rev); err != nil {
			if bus.IsWrongLastSequence(err) {
				return fmt.Errorf("sessions: permission %s changed meanwhile: %w", resp.GetRequestId(), err)
			}
			return err
		}
	}
	if resp.GetAlwaysAllow() && resp.GetApproved() {
		if err := s.allowTool(ctx, info.GetId(), rec.GetRequest().GetTool()); err != nil {
			return err
		}
	}
	return s.answerRuntime(ctx, info, env.GetId(), rec, resp.GetAlwaysAllow())
}

func resolvedBy(rec *syv1.PermissionRecord) string {
	switch by := rec.GetResolvedBy(); {
	case by == "timeout":
		return " (denied by the hub after the timeout)"
	case by == "always_allow":
		return " (approved by the hub: always allow)"
	case strings.HasPrefix(by, resolvedByUser):
		return " (by another client)"
	}
	return ""
}

func (s *Service) allowTool(ctx context.Context, session, tool string) error {
	_, err := s.cat.UpdateSession(ctx, session, func(si *syv1.SessionInfo) bool {
		if slices.Contains(si.GetAlwaysAllowTools(), tool) {
			return false
		}
		si.AlwaysAllowTools = append(si.AlwaysAllowTools, tool)
		return true
	})
	return err
}

// answerRuntime sends the decision to the runtime and records it in the
// transcript, so every subscriber sees the request is settled.
func (s *Service) answerRuntime(ctx context.Context, info *syv1.SessionInfo, id string, rec *syv1.PermissionRecord, alwaysAllow bool) error {
	reason := rec.GetResolvedBy()
	if strings.HasPrefix(reason, resolvedByUser) {
		reason = ""
	}
	resp := &syv1.PermissionResponse{SessionId: info.GetId(), RequestId: rec.GetRequest().GetRequestId(),
		Approved: rec.GetApproved(), AlwaysAllow: alwaysAllow, Reason: reason}
	answer := &syv1.Envelope{Id: id + ".answer", Type: kind.PermissionResponse, SessionId: info.GetId(),
		Ts: clock.Stamp(s.clock.Now()), Body: &syv1.Envelope_PermissionResponse{PermissionResponse: resp}}
	if err := s.appendTranscript(ctx, answer); err != nil {
		return err
	}
	return s.toRuntime(ctx, info, answer)
}

// permissionTimeout denies a request nobody answered in time. It arrives
// from the sweeper through the session's partition.
func (s *Service) permissionTimeout(ctx context.Context, env *syv1.Envelope) error {
	pr := env.GetPermissionRequest()
	rec, rev, err := s.cat.Permission(ctx, env.GetSessionId(), pr.GetRequestId())
	if err != nil || rec == nil {
		return err
	}
	if !rec.GetResolved() {
		rec.Resolved, rec.Approved, rec.ResolvedBy = true, false, "timeout"
		if err := s.cat.PutPermission(ctx, env.GetSessionId(), rec, rev); err != nil {
			return err
		}
	} else if rec.GetResolvedBy() != "timeout" {
		// Answered meanwhile; drop a pending entry a crash left behind.
		return s.cat.SyncPending(ctx, env.GetSessionId(), rec)
	}
	info, _, err := s.cat.Session(ctx, env.GetSessionId())
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.answerRuntime(ctx, info, env.GetId(), rec, false)
}
