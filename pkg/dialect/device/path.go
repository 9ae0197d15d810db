package device

import (
	"errors"
	"path"
	"strings"
)

// Path errors.
var (
	errEmptyPath    = errors.New("empty path")
	errAbsolutePath = errors.New("absolute path")
	errTraversal    = errors.New("path leaves its directory")
	errControl      = errors.New("path holds a NUL or control character")
	errLongPath     = errors.New("path is longer than 4096 bytes")
)

// CleanPath turns a declared file path into the form the hub stores and
// the device writes: '/'-separated (a Windows '\' becomes '/'), relative,
// without "." or ".." elements, no drive letter, no control characters.
// "a//b" and "./a" are cleaned; anything that would leave the upload's
// directory is an error.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", errEmptyPath
	}
	if len(p) > 4096 {
		return "", errLongPath
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "", errControl
		}
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if strings.HasPrefix(p, "/") || len(p) >= 2 && p[1] == ':' {
		return "", errAbsolutePath
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", errTraversal
		}
	}
	c := path.Clean(p)
	if c == "." || c == "" {
		return "", errEmptyPath
	}
	return c, nil
}

// CleanName checks a single path element (config.gameName): a directory
// name with no separator that CleanPath accepts.
func CleanName(name string) (string, error) {
	c, err := CleanPath(name)
	if err != nil {
		return "", err
	}
	if strings.Contains(c, "/") || c != name {
		return "", errors.New("must be a single directory name")
	}
	return c, nil
}
