//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// killProcessGroup keeps exec's default: cancellation kills the shell only.
func killProcessGroup(*exec.Cmd) {}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
