package parity

import (
	"context"
	"fmt"
	"sync"
)

// A client is run twice: through the proxy, and on its own direct connection (the ground truth).
// Each side runs the same script in its own goroutine, so that a client waiting on one server
// never holds up the other side (a client blocked on the direct server while it holds the proxy's
// only connection would stall every proxy client); a pair compares the outcomes as they come.

// side is one client session on one side.
type side struct {
	c   *Conn
	ids map[int]uint32 // binary statement handles → ids on this connection
	k   *killer
}

// killer KILLs clients of one side (through the proxy, or on the direct server).
type killer struct {
	mu sync.Mutex
	c  *Conn
}

// dialSide logs in on one side of e.
func dialSide(ctx context.Context, e *env, l Login, throughProxy bool) (*side, error) {
	c, err := Dial(ctx, e.login(l, throughProxy))
	if err != nil {
		where := "direct"
		if throughProxy {
			where = "through the proxy"
		}
		return nil, fmt.Errorf("parity: login %s: %w", where, err)
	}
	k := e.killers[1]
	if throughProxy {
		k = e.killers[0]
	}
	return &side{c: c, ids: map[int]uint32{}, k: k}, nil
}

// do runs one step.
func (s *side) do(step Step) Outcome {
	c := s.c
	switch step.Op {
	case OpQuery:
		return c.Query(step.SQL)
	case OpPrepare:
		id, o := c.Prepare(step.SQL)
		if o.Prep != nil {
			s.ids[step.Stmt] = id
		} else {
			delete(s.ids, step.Stmt)
		}
		return o
	case OpExecute:
		// An unknown handle (its prepare failed) executes id 0, which no server gives out.
		return c.Execute(s.ids[step.Stmt], step.Args)
	case OpClose:
		o := c.CloseStmt(s.ids[step.Stmt])
		delete(s.ids, step.Stmt)
		return o
	case OpReset:
		clear(s.ids)
		return c.ResetConnection()
	case OpChangeUser:
		o := c.ChangeUser(step.User, step.Pass, step.DB)
		if o.Err == nil {
			clear(s.ids)
		}
		return o
	case OpInitDB:
		return c.InitDB(step.DB)
	case OpSetOption:
		return c.SetMultiStatements(step.On)
	case OpPing:
		return c.Ping()
	case OpKill:
		return s.kill(step.On)
	case OpDrop:
		c.Abort()
	case OpQuit:
		c.Quit()
	}
	return Outcome{NoReply: true}
}

// kill has the side's killer KILL this session (with COM_PROCESS_KILL when command), then checks it is gone: its next command fails
// (an error packet, or the socket closed).
func (s *side) kill(command bool) Outcome {
	s.k.mu.Lock()
	var o Outcome
	if command {
		o = s.k.c.ProcessKill(s.c.ID)
	} else {
		o = s.k.c.Query(fmt.Sprintf("KILL %d", s.c.ID))
	}
	s.k.mu.Unlock()
	if o.Err != nil {
		return o
	}
	if p := s.c.Ping(); p.Err != nil || p.Lost != "" {
		o.Lost = "killed"
	}
	s.c.Close()
	return o
}

// probe runs an observer's probe statements. It stops at the first whose outcome differs from
// ref's (the fresh direct connection's), and returns both and the kind of state that probe looks
// for ("" when all agree).
func probe(p, ref *Conn, qs []probeQuery) (po, do Outcome, kind string) {
	for _, q := range qs {
		po, do = p.Query(q.sql), ref.Query(q.sql)
		if q.differs(po, do) {
			return po, do, q.kindOf(po, do)
		}
	}
	return po, do, ""
}

// pair collects the outcomes of a client's two sides and compares them in script order.
type pair struct {
	mu       sync.Mutex
	steps    []Step
	p, d     []Outcome
	seqs     []int64 // the recorded event of each proxy step
	compared int
	failed   bool
	onFail   func(*Failure, int64) bool // true: the failure ends the pair
	label    string
}

func newPair(label string, steps []Step, onFail func(*Failure, int64) bool) *pair {
	return &pair{label: label, steps: steps, onFail: onFail}
}

// put adds the outcome of step i of one side (steps come in order on each side) and compares
// every step both sides have done.
func (pr *pair) put(proxySide bool, o Outcome, seq int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if proxySide {
		pr.p = append(pr.p, o)
		pr.seqs = append(pr.seqs, seq)
	} else {
		pr.d = append(pr.d, o)
	}
	for !pr.failed && pr.compared < min(len(pr.p), len(pr.d)) {
		i := pr.compared
		pr.compared++
		if directRefusedChangeUser(pr.steps[i], pr.p[i], pr.d[i]) {
			pr.failed = true // the two sessions are no longer the same: the client ends here
			break
		}
		if f := judgeStep(pr.label, pr.steps[i], pr.p[i], pr.d[i]); f != nil && pr.onFail(f, pr.seqs[i]) {
			pr.failed = true
		}
	}
}

// directRefusedChangeUser: the twin server answered a COM_CHANGE_USER with ERROR 1047 (Unknown
// command), whatever the proxy answered (it accepted it, or refused it for a wrong password or
// database as the server should have). MariaDB does this now and then under the fuzzer's
// concurrent load (seen after the client's own XA transactions and after an earlier refused
// change user; never when the case is replayed step by step), so it is the reference failing,
// not the proxy: the client's script ends on both sides, uncompared from there.
func directRefusedChangeUser(s Step, po, do Outcome) bool {
	return s.Op == OpChangeUser && po.Lost == "" && do.Err != nil && do.Err.Code == 1047 &&
		(po.Err == nil || po.Err.Code != 1047)
}

// stopped reports whether a difference ended the pair.
func (pr *pair) stopped() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.failed
}
