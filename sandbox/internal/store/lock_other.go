//go:build !unix

package store

import "os"

// lockPath returns the file whose lock says who owns the data file at path.
func lockPath(path string) string { return path + ".lock" }

// lock does nothing where the sandbox knows no advisory file lock: there, two processes must not
// be started on one data file.
func lock(string) (*os.File, error) { return nil, nil }

func unlock(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
