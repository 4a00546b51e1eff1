package sandbox

import (
	"os"
	"sync"

	"github.com/gin-gonic/gin"
)

var quietGin sync.Once

// quietGinDebug keeps gin from printing its "[GIN-debug]" lines (a warning per engine and a line
// per route, some 130 for every sandbox) to the embedder's stdout. gin decides that from one
// process-wide mode, with no per-engine switch, so this is the one global the package sets: the
// first New in a process whose GIN_MODE is unset, with gin still in its default debug mode, puts
// gin in release mode. An explicit GIN_MODE (GIN_MODE=debug brings the lines back) or a release or
// test mode the process set with gin.SetMode before that first New is left as it is.
func quietGinDebug() {
	quietGin.Do(func() {
		if _, set := os.LookupEnv(gin.EnvGinMode); !set && gin.Mode() == gin.DebugMode {
			gin.SetMode(gin.ReleaseMode)
		}
	})
}
