package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// foreseenWorld builds the City Service world ahead only for a store that will get the
// fixtures: in memory, or a file that is missing or empty; a file with state is resumed.
func TestForeseenWorldOnlyForAFreshStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty, full := filepath.Join(dir, "empty.db"), filepath.Join(dir, "full.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("*3\r\n$3\r\nset\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		store.Memory: true, filepath.Join(dir, "missing.db"): true, empty: true, full: false,
	} {
		cfg := configure([]Option{WithStorePath(path)})
		if got := foreseenWorld(cfg) != nil; got != want {
			t.Errorf("foreseenWorld for %s: %v, want %v", path, got, want)
		}
	}
}
