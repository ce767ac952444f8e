package parity

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestScratchThroughput(t *testing.T) {
	c, _ := strconv.Atoi(os.Getenv("CAP"))
	cl, _ := strconv.Atoi(os.Getenv("CLIENTS"))
	n, _ := strconv.ParseInt(os.Getenv("N"), 10, 64)
	rep := Run(t, Options{Proxied: proxied, Direct: direct, Cap: c, Clients: cl, Statements: n, Duration: 30 * time.Second,
		Known: []string{"difference", "foreign"}, Logf: func(string, ...any) {}, Drops: os.Getenv("DROPS") != "", CheckLeaks: os.Getenv("LEAKS") != ""})
	t.Logf("THROUGHPUT %s known=%d leaks=%v", rep, len(rep.Known), rep.Leaks)
}
