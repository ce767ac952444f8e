package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestErrorKind(t *testing.T) {
	missing := &mysql.MySQLError{Number: 1146, SQLState: [5]byte{'4', '2', 'S', '0', '2'}, Message: "Table 'test.nope' doesn't exist"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err      error
		want     string
		answered bool
	}{
		{missing, "1146", true},
		{fmt.Errorf("point select: %w", missing), "1146", true},
		{&mysql.MySQLError{Number: 1040, Message: "Too many connections"}, "1040", true},
		{sql.ErrNoRows, KindNoRows, true},
		{refused, KindNetwork, false},
		{mysql.ErrInvalidConn, KindNetwork, false},
		{sql.ErrConnDone, KindNetwork, false},
		{context.DeadlineExceeded, KindTimeout, false},
		{errors.New("something else"), KindOther, false},
	}
	for _, c := range cases {
		if got := ErrorKind(c.err); got != c.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", c.err, got, c.want)
		}
		if got := serverAnswered(c.err); got != c.answered {
			t.Errorf("serverAnswered(%v) = %v, want %v", c.err, got, c.answered)
		}
	}
}

func TestErrorsCountAndMerge(t *testing.T) {
	a, b := Errors{}, Errors{}
	first := &mysql.MySQLError{Number: 1146, Message: "first"}
	a.add(first)
	a.add(&mysql.MySQLError{Number: 1146, Message: "second"})
	b.add(&mysql.MySQLError{Number: 1146, Message: "third"})
	b.add(&mysql.MySQLError{Number: 1213, Message: strings.Repeat("x", 1000)})
	a.merge(b)
	if a["1146"].Count != 3 || a["1213"].Count != 1 || a.Total() != 4 {
		t.Errorf("counts %d, %d, total %d; want 3, 1, 4", a["1146"].Count, a["1213"].Count, a.Total())
	}
	if a["1146"].Message != first.Error() {
		t.Errorf("message %q, want the first one seen", a["1146"].Message)
	}
	if n := len(a["1213"].Message); n > maxMessage+len("…") {
		t.Errorf("message of %d bytes kept, want at most %d", n, maxMessage)
	}
}

func TestValidateNamesFlag(t *testing.T) {
	cases := map[string]func(c *Config){
		"-workload":   func(c *Config) { c.Workload = "nope" },
		"-clients":    func(c *Config) { c.Clients = 0 },
		"-duration":   func(c *Config) { c.Duration, c.Queries = 0, 0 },
		"-addr":       func(c *Config) { c.Targets = nil },
		"-target-pid": func(c *Config) { c.Targets[0].PID = -1 },
		"-table-size": func(c *Config) { c.TableSize = 0 },
	}
	for flag, mutate := range cases {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), flag) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", flag, err, flag)
		}
	}
	idle := DefaultConfig()
	idle.Workload, idle.Duration, idle.Queries = "idle", 0, 10
	if err := idle.Validate(); err == nil {
		t.Error("idle without a duration: want an error")
	}
	if c := DefaultConfig(); c.Validate() != nil {
		t.Errorf("defaults invalid: %v", c.Validate())
	}
}

func TestSampleProc(t *testing.T) {
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss <= 0 || s.cpu < 0 {
		t.Errorf("own process: rss %d, cpu %v", s.rss, s.cpu)
	}
	if _, err := sampleProc(1 << 30); err == nil || !strings.Contains(err.Error(), "-target-pid") {
		t.Errorf("missing process: err = %v, want one naming -target-pid", err)
	}
}
