package amurg

// The protocol's two revisions. Document 003 names a runtime's agents
// "endpoints"; the later revision of the Amurg runtime names them "agents":
//
//	document 003 (RevisionEndpoints)     later revision (RevisionAgents)
//	runtime.hello {endpoints:[…]}        runtime.hello {agents:[…]}
//	session.create {endpoint_id}         session.create {agent_id}
//	endpoint.config_update {endpoint_id} agent.config_update {agent_id}
//	endpoint.config_ack {endpoint_id}    agent.config_ack {agent_id}
//
// Decode accepts both and says in RuntimeHello.revision which one a hello
// spoke; EncodeRevision answers a runtime in its own revision. Inside the
// hub there is one vocabulary (endpoints, pkg/kind).

import (
	"encoding/json"
	"fmt"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
	syv1 "github.com/switchyard-hub/switchyard/proto/switchyard/v1"
)

// Revisions of the runtime protocol (RuntimeHello.revision, where "" is
// RevisionEndpoints).
const (
	RevisionEndpoints = "endpoints" // document 003
	RevisionAgents    = "agents"    // the later Amurg runtime
)

// Wire types of the later revision.
const (
	TypeAgentConfigUpdate = "agent.config_update"
	TypeAgentConfigAck    = "agent.config_ack"
)

func init() {
	inbound[RoleRuntime][TypeAgentConfigAck] = true
	known[TypeAgentConfigAck], known[TypeAgentConfigUpdate] = true, true
}

type agentConfigUpdateJSON struct {
	AgentID  string          `json:"agent_id"`
	Security json.RawMessage `json:"security,omitempty"`
	Limits   json.RawMessage `json:"limits,omitempty"`
}

type agentConfigAckJSON struct {
	AgentID    string `json:"agent_id"`
	EndpointID string `json:"endpoint_id,omitempty"` // either name is read
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
}

type sessionCreateAgentJSON struct {
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	UserID    string `json:"user_id"`
}

// helloRevision names the revision of a hello from the lists it carried:
// RevisionAgents for "agents" alone, else "" (the document's; a hello with
// both lists registers both).
func helloRevision(p *runtimeHelloJSON) string {
	if p.Agents != nil && p.Endpoints == nil {
		return RevisionAgents
	}
	return ""
}

// helloListItem names entry i of the hello's endpoints then agents.
func helloListItem(p *runtimeHelloJSON, i int) string {
	if i < len(p.Endpoints) {
		return fmt.Sprintf("endpoints[%d].id", i)
	}
	return fmt.Sprintf("agents[%d].id", i-len(p.Endpoints))
}

// decodeAgents decodes the later revision's runtime frames into the hub's
// kinds; handled is false for other types.
func decodeAgents(f *Frame, env *syv1.Envelope) (handled bool, err *Error) {
	if f.Type != TypeAgentConfigAck {
		return false, nil
	}
	var p agentConfigAckJSON
	if err := unmarshalPayload(f, &p); err != nil {
		return true, err
	}
	id := p.AgentID
	if id == "" {
		id = p.EndpointID
	}
	if id == "" {
		return true, errorf(errcode.InvalidMessage, "%s needs an agent_id", f.Type)
	}
	env.Type, env.EndpointId = TypeEndpointConfigAck, id
	env.Body = &syv1.Envelope_EndpointConfigAck{EndpointConfigAck: &syv1.EndpointConfigAck{EndpointId: id, Ok: p.OK, Error: p.Error}}
	return true, nil
}

// EncodeRevision is Encode for a runtime socket that speaks revision rev:
// frames whose names differ between the revisions are rendered in rev's.
// Other roles and revisions get Encode's frames.
func EncodeRevision(env *syv1.Envelope, role Role, rev string) ([]byte, error) {
	if role != RoleRuntime || rev != RevisionAgents {
		return Encode(env, role)
	}
	f := &outFrame{Type: env.GetType(), ID: env.GetId(), SessionID: env.GetSessionId(), Ts: env.GetTs()}
	switch b := env.GetBody().(type) {
	case *syv1.Envelope_SessionCreate:
		m := b.SessionCreate
		f.Payload = sessionCreateAgentJSON{SessionID: m.GetSessionId(), AgentID: m.GetEndpointId(), UserID: m.GetUserId()}
	case *syv1.Envelope_EndpointConfigUpdate:
		m := b.EndpointConfigUpdate
		f.Type = TypeAgentConfigUpdate
		f.Payload = agentConfigUpdateJSON{AgentID: m.GetEndpointId(), Security: structJSON(m.GetSecurity()), Limits: structJSON(m.GetLimits())}
	default:
		return Encode(env, role)
	}
	out, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("amurg: encode %s: %w", env.GetType(), err)
	}
	return out, nil
}
