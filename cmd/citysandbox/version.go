package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/citysandbox
//
// Left empty, they come from the build information the go command records: the module's
// version (go install …@v1.2.0) and the VCS revision of a build inside a checkout.
var (
	version string
	commit  string
)

func init() {
	version, commit = buildVersion(version, commit, debug.ReadBuildInfo)
}

// buildVersion fills an unset version or commit from the build information: the main module's
// version, the vcs.revision (marked "-dirty" when vcs.modified). What is still unknown is "dev"
// and "unknown".
func buildVersion(v, c string, read func() (*debug.BuildInfo, bool)) (string, string) {
	if info, ok := read(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if c == "" {
			var rev, modified string
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "-dirty"
			}
			c = rev
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

// versionLine is what "citysandbox version" prints.
func versionLine() string {
	return fmt.Sprintf("citysandbox %s (commit %s, %s %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
