package config

import (
	"io"
)

// Defaults sets every field of cfg (a pointer to a struct) that has a
// `default:` tag to that default, ignoring the environment and the command
// line: the same table Load and Describe read, so a configuration built in
// code (a test, the dev stack) is never left at zeros.
func Defaults(cfg any) error {
	return load(cfg, "defaults", nil, func(string) (string, bool) { return "", false }, io.Discard)
}
