//go:build !unix

package embedded

import (
	"errors"
	"os"
)

// Without flock (Windows), the data directory is not locked.
var errWouldBlock = errors.New("would block")

func flock(*os.File) error   { return nil }
func funlock(*os.File) error { return nil }
