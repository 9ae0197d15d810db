package amurg

import (
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Encode renders an Envelope as the JSON frame a socket of the given role
// receives. It is called once per frame per gateway pod, never per
// recipient: the bytes are shared by every local subscriber.
func Encode(env *syv1.Envelope, role Role) ([]byte, error) {
	if h := env.GetHistoryResponse(); h != nil {
		return encodeHistory(env, h, role)
	}
	f, err := frameOf(env, role)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("amurg: encode %s: %w", env.GetType(), err)
	}
	return b, nil
}

func frameOf(env *syv1.Envelope, role Role) (*outFrame, error) {
	f := &outFrame{Type: env.GetType(), ID: env.GetId(), SessionID: env.GetSessionId(), Seq: env.GetSeq(), Ts: env.GetTs()}
	if role == RoleRuntime {
		// The seq extension is for clients; runtimes see the document's frames.
		f.Seq = 0
	}
	p, err := payloadOf(env, role)
	if err != nil {
		return nil, err
	}
	f.Payload = p
	return f, nil
}

func payloadOf(env *syv1.Envelope, role Role) (any, error) {
	switch b := env.GetBody().(type) {
	case nil:
		return nil, nil
	case *syv1.Envelope_HelloAck:
		return helloAckJSON{OK: b.HelloAck.GetOk(), Error: b.HelloAck.GetError(), Warnings: b.HelloAck.GetWarnings()}, nil
	case *syv1.Envelope_SessionCreate:
		m := b.SessionCreate
		return sessionCreateJSON{SessionID: m.GetSessionId(), EndpointID: m.GetEndpointId(), UserID: m.GetUserId()}, nil
	case *syv1.Envelope_SessionCreated:
		m := b.SessionCreated
		return sessionCreatedJSON{SessionID: m.GetSessionId(), OK: m.GetOk(), NativeHandle: m.GetNativeHandle(), Error: m.GetError()}, nil
	case *syv1.Envelope_SessionClose:
		return sessionCloseJSON{SessionID: b.SessionClose.GetSessionId(), Reason: b.SessionClose.GetReason()}, nil
	case *syv1.Envelope_UserMessage:
		m := b.UserMessage
		return userMessageJSON{SessionID: m.GetSessionId(), MessageID: m.GetMessageId(), Content: m.GetContent(), Followup: m.GetFollowup()}, nil
	case *syv1.Envelope_AgentOutput:
		m := b.AgentOutput
		return agentOutputJSON{SessionID: m.GetSessionId(), MessageID: m.GetMessageId(), Seq: m.GetSeq(), Channel: m.GetChannel(), Content: m.GetContent(), Final: m.GetFinal()}, nil
	case *syv1.Envelope_TurnStarted:
		return turnStartedJSON{SessionID: b.TurnStarted.GetSessionId(), InResponseTo: b.TurnStarted.GetInResponseTo()}, nil
	case *syv1.Envelope_TurnCompleted:
		m := b.TurnCompleted
		return turnCompletedJSON{SessionID: m.GetSessionId(), InResponseTo: m.GetInResponseTo(), ExitCode: m.ExitCode, TurnOutcomeFields: outcomeJSON(m.GetOutcome())}, nil
	case *syv1.Envelope_StopRequest:
		return sessionOnlyJSON{SessionID: b.StopRequest.GetSessionId()}, nil
	case *syv1.Envelope_StopAck:
		return stopAckJSON{SessionID: b.StopAck.GetSessionId(), OK: b.StopAck.GetOk(), Error: b.StopAck.GetError()}, nil
	case *syv1.Envelope_PermissionRequest:
		m := b.PermissionRequest
		return permissionRequestJSON{SessionID: m.GetSessionId(), RequestID: m.GetRequestId(), Tool: m.GetTool(), Description: m.GetDescription(), Resource: m.GetResource()}, nil
	case *syv1.Envelope_PermissionResponse:
		m := b.PermissionResponse
		out := permissionResponseJSON{SessionID: m.GetSessionId(), RequestID: m.GetRequestId(), Approved: m.GetApproved(), AlwaysAllow: m.GetAlwaysAllow()}
		if role == RoleClient {
			out.Reason = m.GetReason()
		}
		return out, nil
	case *syv1.Envelope_File:
		return fileOf(b.File, role), nil
	}
	return payloadOf2(env, role)
}

func payloadOf2(env *syv1.Envelope, role Role) (any, error) {
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_EndpointConfigUpdate:
		m := b.EndpointConfigUpdate
		return endpointConfigUpdateJSON{EndpointID: m.GetEndpointId(), Security: structJSON(m.GetSecurity()), Limits: structJSON(m.GetLimits())}, nil
	case *syv1.Envelope_EndpointConfigAck:
		m := b.EndpointConfigAck
		return endpointConfigAckJSON{EndpointID: m.GetEndpointId(), OK: m.GetOk(), Error: m.GetError()}, nil
	case *syv1.Envelope_TokenRefresh:
		return tokenRefreshJSON{Token: b.TokenRefresh.GetToken(), ExpiresAt: b.TokenRefresh.GetExpiresAt()}, nil
	case *syv1.Envelope_Subscribe:
		return subscribeJSON{SessionID: b.Subscribe.GetSessionId(), AfterSeq: b.Subscribe.GetAfterSeq()}, nil
	case *syv1.Envelope_Unsubscribe:
		return sessionOnlyJSON{SessionID: b.Unsubscribe.GetSessionId()}, nil
	case *syv1.Envelope_Error:
		return errorJSON{Code: b.Error.GetCode(), Message: b.Error.GetMessage()}, nil
	case *syv1.Envelope_RuntimeStatus:
		return runtimeStatusJSON{SessionID: env.GetSessionId(), RuntimeID: b.RuntimeStatus.GetRuntimeId(), Online: b.RuntimeStatus.GetOnline()}, nil
	}
	if p, ok := devicePayloadOf(env); ok {
		return p, nil
	}
	return payloadOfChat(env, role)
}

func fileOf(m *syv1.FileTransfer, role Role) fileJSON {
	md := m.GetMetadata()
	out := fileJSON{SessionID: m.GetSessionId(), Metadata: fileMetadataJSON{FileID: md.GetFileId(), Name: md.GetName(), MimeType: md.GetMimeType(), Size: md.GetSize()}}
	if role == RoleRuntime {
		out.Data = m.GetData()
	}
	return out
}

// encodeHistory renders a history.response in one pass: each message is
// rendered once and its bytes are copied into the page, instead of being
// re-scanned by json.Marshal as a json.RawMessage. The bytes equal what
// json.Marshal of the frame gives (TestHistoryEncodingMatchesMarshal).
func encodeHistory(env *syv1.Envelope, h *syv1.HistoryResponse, role Role) ([]byte, error) {
	head := outFrame{Type: env.GetType(), ID: env.GetId(), SessionID: env.GetSessionId(), Seq: env.GetSeq(), Ts: env.GetTs()}
	if role == RoleRuntime {
		head.Seq = 0
	}
	hb, err := json.Marshal(head) // without payload: ends in '}'
	if err != nil {
		return nil, fmt.Errorf("amurg: encode %s: %w", env.GetType(), err)
	}
	sid, _ := json.Marshal(h.GetSessionId())
	b := make([]byte, 0, len(hb)+128+64*len(h.GetMessages()))
	b = append(b, hb[:len(hb)-1]...)
	b = append(b, `,"payload":{"session_id":`...)
	b = append(b, sid...)
	b = append(b, `,"after_seq":`...)
	b = strconv.AppendInt(b, h.GetAfterSeq(), 10)
	b = append(b, `,"last_seq":`...)
	b = strconv.AppendInt(b, h.GetLastSeq(), 10)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, h.GetHasMore())
	if h.GetFirstSeq() != 0 {
		b = append(b, `,"first_seq":`...)
		b = strconv.AppendInt(b, h.GetFirstSeq(), 10)
	}
	if h.GetTrimmed() {
		b = append(b, `,"trimmed":true`...)
	}
	b = append(b, `,"messages":`...)
	if b, err = appendAll(b, h.GetMessages(), role); err != nil {
		return nil, err
	}
	if len(h.GetPendingPermissions()) > 0 {
		b = append(b, `,"pending_permissions":`...)
		if b, err = appendAll(b, h.GetPendingPermissions(), role); err != nil {
			return nil, err
		}
	}
	return append(b, "}}"...), nil
}

// appendAll appends envs rendered as a JSON array.
func appendAll(b []byte, envs []*syv1.Envelope, role Role) ([]byte, error) {
	b = append(b, '[')
	for i, m := range envs {
		if i > 0 {
			b = append(b, ',')
		}
		f, err := Encode(m, role)
		if err != nil {
			return nil, err
		}
		b = append(b, f...)
	}
	return append(b, ']'), nil
}

func structJSON(s *structpb.Struct) json.RawMessage {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s.AsMap())
	if err != nil {
		return nil
	}
	return b
}

// ErrorFrame renders an error frame.
func ErrorFrame(sessionID, code, message, ts string) []byte {
	b, _ := json.Marshal(outFrame{Type: TypeError, SessionID: sessionID, Ts: ts, Payload: errorJSON{Code: code, Message: message}})
	return b
}
