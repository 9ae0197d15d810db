package hubconn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
)

// HelloTimeout is how long a runtime waits for hello.ack (the hub's
// request timeout).
const HelloTimeout = 30 * time.Second

// Hello sends runtime.hello with payload on a fresh connection and waits
// for hello.ack, answering pings meanwhile: the handshake of every example
// that connects to /ws/runtime. A refusal the runtime cannot fix by
// reconnecting (ok:false, auth_failed, forbidden, invalid_message) is
// Permanent.
func Hello(ctx context.Context, conn *websocket.Conn, payload any, wait time.Duration, log *slog.Logger) error {
	if err := WriteFrame(conn, frame.Control("runtime.hello", payload), DefaultWriteTimeout); err != nil {
		return err
	}
	for ctx.Err() == nil {
		f, err := ReadFrame(conn, wait)
		if err != nil {
			return fmt.Errorf("waiting for hello.ack: %w", err)
		}
		switch f.Type {
		case "hello.ack":
			return checkHelloAck(f)
		case "error":
			return helloError(f)
		case "ping":
			if err := WriteFrame(conn, frame.Control("pong", nil), DefaultWriteTimeout); err != nil {
				return err
			}
		default:
			log.Debug("ignoring a frame that came before hello.ack", "type", f.Type)
		}
	}
	return ctx.Err()
}

func checkHelloAck(f frame.Frame) error {
	var ack struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := f.Decode(&ack); err != nil {
		return err
	}
	if !ack.OK {
		return Permanent(fmt.Errorf("hub rejected runtime.hello: %s", ack.Error))
	}
	return nil
}

func helloError(f frame.Frame) error {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := f.Decode(&e); err != nil {
		return err
	}
	err := fmt.Errorf("hub answered runtime.hello with error %s: %s", e.Code, e.Message)
	if e.Code == "auth_failed" || e.Code == "forbidden" || e.Code == "invalid_message" {
		return Permanent(err)
	}
	return err
}
