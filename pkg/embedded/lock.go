package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrDirLocked is returned by LockDir when another process holds the lock.
var ErrDirLocked = errors.New("directory is locked by another process")

// LockFile is the name of the lock file LockDir creates in a directory.
const LockFile = "switchyard.lock"

// DirLock is a held lock on a data directory.
type DirLock struct{ f *os.File }

// LockDir takes an exclusive advisory lock (flock) on dir/switchyard.lock,
// creating dir when missing, so two processes never share one JetStream
// store. The lock holds until Unlock or the process ends (also on a
// crash: the kernel releases it). When another process holds it, the
// error wraps ErrDirLocked and names that process's pid.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		b, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			holder := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(holder); perr != nil {
				holder = "unknown"
			}
			return nil, fmt.Errorf("%w (pid %s holds %s)", ErrDirLocked, holder, path)
		}
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &DirLock{f: f}, nil
}

// Unlock releases the lock.
func (l *DirLock) Unlock() {
	if l != nil && l.f != nil {
		_ = funlock(l.f)
		_ = l.f.Close()
		l.f = nil
	}
}
