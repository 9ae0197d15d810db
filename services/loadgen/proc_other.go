//go:build !linux

package main

import "syscall"

// childAttr: elsewhere idle workers end by their own -max-life.
func childAttr() *syscall.SysProcAttr { return nil }
