// Package integration holds end-to-end tests: real clients, the proxy in-process, a throwaway
// MariaDB started once for the package.
package integration

import (
	"os"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// db is the package's MariaDB (max_connections 40, as the core issue's load test asks).
var db *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(mariadbtest.Main(m, mariadbtest.Options{MaxConnections: 60}, &db))
}
