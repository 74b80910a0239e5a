// Package buildinfo reports what build of chatbench is running, for
// `chatbench version` and for run metadata in results.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is chatbench's release version.
const Version = "0.1.0-dev"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"` // VCS revision, or "unknown" when built without VCS stamping
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Read returns the running binary's build information.
func Read() Info {
	in := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	return in
}
