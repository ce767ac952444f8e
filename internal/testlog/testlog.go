// Package testlog collects what a component logs (log/slog, text format), for tests that check
// its log lines.
package testlog

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log is a log destination that keeps every line; safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Logger returns a logger writing to l, at every level.
func (l *Log) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Lines returns the lines logged so far that contain every one of parts.
func (l *Log) Lines(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.buf.String()) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

// Await returns the lines that contain every one of parts once there is at least one, waiting up
// to 10 s: a component may log just after the effect the test saw. It fails the test if none
// comes.
func (l *Log) Await(tb testing.TB, parts ...string) []string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if lines := l.Lines(parts...); len(lines) > 0 {
			return lines
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no log line with %q in 10 s; the log:\n%s", parts, strings.Join(l.Lines(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
