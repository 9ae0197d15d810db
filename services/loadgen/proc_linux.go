//go:build linux

package main

import "syscall"

// childAttr makes an idle worker die with its parent.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
