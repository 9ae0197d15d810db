package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Validator is a config struct that checks itself (Common and every
// service's Config).
type Validator interface{ Validate() error }

// LoadOrExit is what a main calls: it loads cfg like Load, validates it
// when it is a Validator, and on any problem prints every bad setting to
// stderr and exits 2 (0 after -h). A process that cannot start always
// says why: a CrashLoop with empty logs is never a configuration error.
func LoadOrExit(cfg any, name string, args []string) {
	if code := loadReport(cfg, name, args, os.LookupEnv, os.Stderr); code >= 0 {
		os.Exit(code)
	}
}

// loadReport returns the exit code, or -1 to carry on.
func loadReport(cfg any, name string, args []string, lookup func(string) (string, bool), stderr io.Writer) int {
	err := load(cfg, name, args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		if v, ok := cfg.(Validator); ok {
			err = v.Validate()
		}
	}
	if err == nil {
		return -1
	}
	fmt.Fprintf(stderr, "%s: configuration is not valid:\n", name)
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimPrefix(line, "config: "); line != "" {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
	}
	fmt.Fprintf(stderr, "(%s -h lists every setting with its default)\n", name)
	return 2
}
