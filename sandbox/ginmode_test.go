package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/citysandbox/citysandbox/sandbox"
)

const ginChildEnv = "CITYSANDBOX_TEST_GIN_CHILD"

// TestNewPrintsNoGinDebug builds a sandbox in a fresh process, as an embedder's test binary
// does (gin's mode is process-wide, so only a new process starts from gin's default), and looks
// at everything it wrote. With GIN_MODE=debug set explicitly, the lines come back: the capture
// sees them, and an explicit GIN_MODE is not overridden.
func TestNewPrintsNoGinDebug(t *testing.T) {
	if os.Getenv(ginChildEnv) == "1" {
		s, err := sandbox.New()
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		fmt.Printf("built; gin mode %s\n", gin.Mode())
		return
	}
	for _, tt := range []struct {
		ginMode string // "" leaves GIN_MODE unset
		debug   bool
	}{{"", false}, {"debug", true}, {"test", false}} {
		t.Run("GIN_MODE="+tt.ginMode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNewPrintsNoGinDebug$", "-test.count=1")
			cmd.Env = []string{ginChildEnv + "=1"}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, gin.EnvGinMode+"=") && !strings.HasPrefix(kv, ginChildEnv+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			want := "release"
			if tt.ginMode != "" {
				cmd.Env = append(cmd.Env, gin.EnvGinMode+"="+tt.ginMode)
				want = tt.ginMode
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "built; gin mode "+want+"\n") {
				t.Errorf("child did not build a sandbox in gin mode %s:\n%s", want, out)
			}
			if got := strings.Contains(string(out), "[GIN-debug]"); got != tt.debug {
				t.Errorf("[GIN-debug] printed: %v, want %v:\n%.2000s", got, tt.debug, out)
			}
		})
	}
}
