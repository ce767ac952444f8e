package admin

import (
	"runtime"
	"runtime/debug"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// showVersion answers name/value rows: mysqlmux's version and the commit it was built from (as
// Go records them in the binary), and the Go release and platform.
func (h *handler) showVersion(string) (*mysql.Result, error) {
	version, revision, revTime, modified := "unknown", "unknown", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				revTime = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	return resultset([]string{"name", "value"}, [][]any{
		{"version", version},
		{"revision", revision},
		{"revision_time", revTime},
		{"modified", modified},
		{"go", runtime.Version()},
		{"platform", runtime.GOOS + "/" + runtime.GOARCH},
	})
}
