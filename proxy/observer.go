package proxy

import (
	"time"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Observer receives measurements for statistics (the admin package's histograms and digests).
// Its methods run on the statement's path: they must be quick, never block and never allocate
// per call.
type Observer interface {
	// CommandDone is told about every client command once its answer's last byte was flushed,
	// on the session's goroutine.
	CommandDone(CommandStat)
	// BackendWaits returns the function every acquisition of a connection to the backend at
	// addr reports its wait to (called once per pool).
	BackendWaits(addr string) func(time.Duration)
}

// CommandStat is one finished client command.
type CommandStat struct {
	Command byte
	// Text is COM_QUERY's statement or the text of the prepared statement COM_STMT_EXECUTE ran;
	// nil for other commands, and for a LOAD DATA LOCAL INFILE (its file's packets took the
	// statement's place in the read buffer). Valid only during the call: copy what you keep.
	Text []byte
	// Duration is the time the client waited: from reading the command to the last byte of
	// the answer flushed.
	Duration time.Duration
	Rows     uint64 // rows sent, over all result sets
	ErrCode  uint16 // the error that ended the answer, 0 if none
}

// SetObserver installs o (nil: none) on the router and on every pool, present and future.
func (in *Instance) SetObserver(o Observer) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.observer = o
	for addr, p := range in.pools {
		p.SetWaitObserver(in.waitObserverLocked(addr))
	}
	if o == nil {
		in.router.observer.Store(nil)
		return
	}
	in.router.observer.Store(&o)
}

// waitObserverLocked is the wait observer of the pool for addr (nil without an Observer).
func (in *Instance) waitObserverLocked(addr string) func(time.Duration) {
	if in.observer == nil {
		return nil
	}
	return in.observer.BackendWaits(addr)
}

// statementText is what CommandStat.Text reports for the command pkt (nil without an observer),
// taken before the command runs: an EXECUTE's statement id in pkt is rewritten to the backend's.
func (s *Session) statementText(pkt []byte) []byte {
	if s.r.observer.Load() == nil {
		return nil
	}
	switch wire.Command(pkt[0]) {
	case wire.ComQuery:
		return pkt[1:]
	case wire.ComStmtExecute:
		if cs := s.stmts[le32(pkt[min(len(pkt), 1):])]; cs != nil {
			return cs.meta.query
		}
	}
	return nil
}

// observe reports the command cmd with text (see statementText) that began at start, and records
// when the session last finished a command (KILL IDLE CLIENTS).
func (s *Session) observe(cmd byte, text []byte, start time.Time) {
	end := time.Now()
	s.lastCommand.Store(end.UnixNano())
	o := s.r.observer.Load()
	if o == nil {
		return
	}
	code := s.c.LastError
	if code == 0 {
		code = s.relay.out.errCode
	}
	if s.relay.out.readClient {
		text = nil // the read buffer it was in now holds the file's packets
	}
	(*o).CommandDone(CommandStat{Command: cmd, Text: text, Duration: end.Sub(start), Rows: s.relay.out.rows, ErrCode: code})
}
