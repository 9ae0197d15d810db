package main

import (
	"fmt"
	"io"
	"strings"
)

// ui renders frames. Agent stdout goes to out untouched, so the client can
// be piped; status lines, stderr output and prompts go to err. Only the
// chat loop goroutine writes.
type ui struct {
	out, err io.Writer
	color    bool
	midLine  bool // the last output chunk did not end a line
}

// output prints an agent.output chunk.
func (u *ui) output(channel, content string) {
	switch channel {
	case "system":
		if s := strings.TrimRight(content, "\n"); s != "" {
			u.status("%s", s)
		}
		return
	case "stderr":
		io.WriteString(u.err, content)
	default:
		io.WriteString(u.out, content)
	}
	if content != "" {
		u.midLine = !strings.HasSuffix(content, "\n")
	}
}

// status prints a dim line of its own.
func (u *ui) status(format string, args ...any) {
	u.line(u.dim(fmt.Sprintf(format, args...)))
}

// errorf prints an undimmed line.
func (u *ui) errorf(format string, args ...any) {
	u.line(fmt.Sprintf(format, args...))
}

// prompt asks a question and leaves the cursor after it.
func (u *ui) prompt(format string, args ...any) {
	u.breakLine()
	fmt.Fprintf(u.err, format, args...)
}

func (u *ui) line(s string) {
	u.breakLine()
	fmt.Fprintln(u.err, s)
}

func (u *ui) breakLine() {
	if u.midLine {
		fmt.Fprintln(u.err)
		u.midLine = false
	}
}

func (u *ui) dim(s string) string {
	if !u.color {
		return s
	}
	return "\x1b[2m" + s + "\x1b[0m"
}
