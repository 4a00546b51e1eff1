//go:build unix

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockPath returns the file whose lock says who owns the data file at path. The lock is not taken
// on the data file itself because buntdb replaces that file when it compacts it, which would
// leave the lock on a file nobody uses.
func lockPath(path string) string { return path + ".lock" }

// lock takes the owner's lock beside the data file at path, without waiting: when another
// process holds it, lock fails at once with an *InUseError, having written nothing. The lock
// file holds the owner's process id, so that the refusal can name it. The file stays when the
// owner closes: removing it would let two processes lock two different files of the same name.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(path), os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: data file %s: directory %s does not exist", path, filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err) // the error names the lock file
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner, _ := os.ReadFile(lockPath(path))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(owner)))
			return nil, &InUseError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// unlock gives the lock back (closing the file releases it); a nil f (a store in memory) has
// none.
func unlock(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
