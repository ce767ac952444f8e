package parity

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
)

// proxied and direct are the package's two servers, started with the same options: the proxy's
// backend and the direct twins' server.
var proxied, direct *mariadbtest.Server

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	if proxied, err = mariadbtest.Start(mariadbtest.Options{}); err == nil {
		if direct, err = mariadbtest.Start(mariadbtest.Options{}); err != nil {
			_ = proxied.Stop()
			proxied = nil
		}
	}
	switch {
	case errors.Is(err, mariadbtest.ErrNotInstalled) && !mariadbtest.Required():
		fmt.Fprintf(os.Stderr, "parity: %v; tests that need it will be skipped\n", err)
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	for _, s := range []*mariadbtest.Server{proxied, direct} {
		if err := s.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "parity: stop: %v\n", err)
			code = 1
		}
	}
	return code
}
