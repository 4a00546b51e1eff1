package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/citysandbox/citysandbox/fixtures"
)

// FixturesDir opens dir as fixtures for WithFixtures, and refuses a directory that does not
// exist, is not a directory, or holds none of the fixture files the built-in fixtures have
// (wechat.yaml, jincheng.yaml, …): such a directory would start a sandbox with an empty world
// without a word.
func FixturesDir(dir string) (fs.FS, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	fsys := os.DirFS(dir)
	names, err := fs.Glob(fixtures.FS, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := fs.Stat(fsys, name); err == nil {
			return fsys, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s holds no fixtures (none of %s)", dir, strings.Join(names, ", "))
}
