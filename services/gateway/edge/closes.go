package edge

import (
	"errors"
	"net"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/pkg/ws"
)

// CloseReason is why a socket ended: the one key to its WebSocket close
// code, close text and the reason label of
// switchyard_gateway_closes_total{dialect,reason}.
type CloseReason string

// Close reasons: those with a code in closeCode are the hub's; the others
// (pong_timeout, peer_closed) name ends the peer or the network caused.
const (
	ReasonDraining       CloseReason = "draining"         // 1001: pod draining, reconnect elsewhere
	ReasonAuthFailed     CloseReason = "auth_failed"      // 1008: refused credentials (or revoked)
	ReasonUnavailable    CloseReason = "unavailable"      // 1013: the hub cannot serve now, retry
	ReasonBacklog        CloseReason = "backlog"          // 1013: the socket queued more work than allowed
	ReasonSlowConsumer   CloseReason = "slow_consumer"    // 4008: send queue overflow
	ReasonReplayOverflow CloseReason = "replay_overflow"  // 4008: live frames overflowed during a replay
	ReasonReplaced       CloseReason = "replaced"         // 4009: the same runtime connected again
	ReasonTooBig         CloseReason = "too_big"          // 1009: frame above the size limit (sent by the ws library)
	ReasonAuthTimeout    CloseReason = "auth_timeout"     // 1008: no principal within SY_AUTH_TIMEOUT
	ReasonTooManySockets CloseReason = "too_many_sockets" // 4029: the principal's socket cap (HTTP 429 at an upgrade)
	ReasonReadBudget     CloseReason = "read_budget"      // 1013: no read budget for a large frame in time (sent by the ws library)
	ReasonShutdown       CloseReason = "shutdown"         // 1000: pod draining, for dialects whose document closes normally (push)
	ReasonPongTimeout    CloseReason = "pong_timeout"     // the peer was silent past the pong wait
	ReasonPeerClosed     CloseReason = "peer_closed"      // the peer closed or the connection broke
)

// closeCode is the one table of close codes and texts.
var closeCode = map[CloseReason]struct {
	code int
	text string
}{
	ReasonDraining:       {ws.CloseGoingAway, "server draining, reconnect"},
	ReasonAuthFailed:     {ws.ClosePolicy, "auth_failed"},
	ReasonUnavailable:    {ws.CloseTryAgain, "unavailable"},
	ReasonBacklog:        {ws.CloseTryAgain, "too much work queued on this socket"},
	ReasonSlowConsumer:   {ws.CloseSlowConsumer, "send queue overflow"},
	ReasonReplayOverflow: {ws.CloseSlowConsumer, "live frames overflowed during history replay; subscribe again"},
	ReasonReplaced:       {ws.CloseReplaced, "replaced by a newer connection"},
	ReasonTooBig:         {ws.CloseTooBig, "message too big"},
	ReasonShutdown:       {ws.CloseNormal, "server shutting down"},
	ReasonAuthTimeout:    {ws.ClosePolicy, "auth_timeout: not authenticated in time"},
	ReasonTooManySockets: {ws.CloseTooManySockets, "too_many_sockets"},
	ReasonReadBudget:     {ws.CloseTryAgain, "gateway read budget exhausted; try again later"},
}

// Code is the WebSocket close code the hub sends for r (0: none, the
// peer or the network ended the socket).
func (r CloseReason) Code() int { return closeCode[r].code }

// Text is the close frame's default text for r.
func (r CloseReason) Text() string { return closeCode[r].text }

// endReason names how a read loop ended when the hub did not close it.
func endReason(err error) CloseReason {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, ws.ErrPreAuthTooBig):
		return ReasonTooBig
	case errors.Is(err, ws.ErrBudget):
		return ReasonReadBudget
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonPongTimeout
	}
	return ReasonPeerClosed
}
