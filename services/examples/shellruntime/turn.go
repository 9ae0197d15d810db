package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchyard-hub/switchyard/services/examples/internal/frame"
)

// waitDelay bounds how long a finished (or killed) command's pipes may stay
// open, e.g. held by a background child.
const waitDelay = 2 * time.Second

// runTurn answers one user message: turn.started, the command's output,
// a final marker and turn.completed with the exit code.
func (s *session) runTurn(m userMessage) {
	timeout := fmt.Errorf("command timed out after %s", s.rt.cfg.timeout)
	ctx, cancel := context.WithTimeoutCause(s.ctx, s.rt.cfg.timeout, timeout)
	defer cancel()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	log := s.rt.log.With("session", s.id, "message", m.MessageID)
	log.Debug("turn started", "command", m.Content)
	s.beginTurn(stop)
	first, u := m, &usage{}
	var code int
	for started := false; ; started = true {
		u.NumTurns++
		u.InputTokens += int64(len(m.Content))
		tool := frame.NewID()
		code = s.execute(ctx, m, !started, tool)
		s.emit(frame.New("agent.tool_result", s.id, toolResult{SessionID: s.id, ToolUseID: tool,
			Content: fmt.Sprintf("exit code %d", code), IsError: code != 0}))
		next, ok := s.nextFollowup(ctx) // else ends the turn: a later stop.request finds nothing running
		if !ok {
			break
		}
		m = next
	}
	if ctx.Err() != nil {
		s.output("system", context.Cause(ctx).Error()+"\n", false)
	}
	s.output("system", "", true)
	u.OutputTokens = s.takeOutputBytes()
	s.emit(frame.New("turn.completed", s.id, turnCompleted{SessionID: s.id, InResponseTo: first.MessageID, ExitCode: code, Usage: u}))
	log.Info("turn completed", "exit_code", code)
}

// execute runs `<shell> -c <content>` in the session directory and sends
// turn.started once it runs (so a stop.request after turn.started always
// has a process to kill), then streams its output. It returns the exit
// code: 128+signal when killed, -1 when the command could not start.
// Each command is reported as a Bash tool call (agent.tool_use with id
// tool, after turn.started; agent.tool_result after it ends). first: the
// turn's first command, which sends turn.started.
func (s *session) execute(ctx context.Context, m userMessage, first bool, tool string) int {
	started := make(chan struct{}) // holds output back until turn.started is queued
	stdout := &chunkWriter{s: s, channel: "stdout", ready: started}
	stderr := &chunkWriter{s: s, channel: "stderr", ready: started}
	cmd := exec.CommandContext(ctx, s.rt.cfg.shell, "-c", m.Content)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "SY_SESSION_ID="+s.id)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	killProcessGroup(cmd)
	err := cmd.Start()
	if first {
		s.emit(frame.New("turn.started", s.id, turnStarted{SessionID: s.id, InResponseTo: m.MessageID}))
	}
	s.emit(frame.New("agent.tool_use", s.id, toolUse{SessionID: s.id, ID: tool, Name: "Bash", Input: map[string]any{"command": m.Content}}))
	close(started)
	if err != nil {
		if ctx.Err() == nil {
			s.output("system", fmt.Sprintf("cannot start %s: %v\n", s.rt.cfg.shell, err), false)
		}
		return -1
	}
	err = cmd.Wait()
	stdout.flush()
	stderr.flush()
	if _, isExit := errors.AsType[*exec.ExitError](err); err != nil && !isExit {
		s.rt.log.Debug("command wait", "session", s.id, "err", err)
	}
	if cmd.ProcessState == nil {
		return -1
	}
	return exitCode(cmd.ProcessState)
}

// emit queues a frame of this session unless the session is closed (the
// hub has forgotten it then). It blocks while the hub is unreachable.
func (s *session) emit(f frame.Out) {
	if s.ctx.Err() != nil {
		return
	}
	s.rt.send(s.ctx, f)
}

// output sends one agent.output chunk with the session's next seq.
func (s *session) output(channel, content string, final bool) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.seq++
	s.outBytes += int64(len(content))
	s.emit(frame.New("agent.output", s.id, agentOutput{
		SessionID: s.id, MessageID: frame.NewID(), Seq: s.seq,
		Channel: channel, Content: content, Final: final,
	}))
}

// chunkWriter turns each write of the command's stdout or stderr into an
// agent.output chunk. A UTF-8 sequence cut by a read boundary is held back
// for the next chunk, since JSON strings cannot carry half a character.
type chunkWriter struct {
	s       *session
	channel string
	ready   <-chan struct{} // closed once output may flow
	mu      sync.Mutex
	rest    []byte
	done    bool
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	<-w.ready
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil // a straggler after Wait gave up on the pipes
	}
	data := append(w.rest, p...)
	n := completeUTF8(data)
	w.rest = append([]byte(nil), data[n:]...)
	if n > 0 {
		w.s.output(w.channel, string(data[:n]), false)
	}
	return len(p), nil
}

// flush sends what is held back and ignores later writes.
func (w *chunkWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.rest) > 0 {
		w.s.output(w.channel, string(w.rest), false)
	}
	w.rest, w.done = nil, true
}

// completeUTF8 is the length of the longest prefix of b that does not end
// inside a multi-byte UTF-8 sequence.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
