package bench

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
)

// plan holds a round's statement texts, built once and shared read-only by every client.
type plan struct {
	tableSize int
	// Per sbtest table, index 0 for sbtest1.
	point, updateK, updateC, del, insert []string
	large                                string
}

func newPlan(cfg *Config) *plan {
	p := &plan{tableSize: cfg.TableSize, large: "SELECT id, k, c, pad FROM " + largeTable}
	for i := 1; i <= cfg.Tables; i++ {
		t := sbTable(i)
		p.point = append(p.point, "SELECT c FROM "+t+" WHERE id=?")
		p.updateK = append(p.updateK, "UPDATE "+t+" SET k=k+1 WHERE id=?")
		p.updateC = append(p.updateC, "UPDATE "+t+" SET c=? WHERE id=?")
		p.del = append(p.del, "DELETE FROM "+t+" WHERE id=?")
		p.insert = append(p.insert, "INSERT INTO "+t+" (id, k, c, pad) VALUES (?, ?, ?, ?)")
	}
	return p
}

// sbTable names the i-th sbtest table, from 1.
func sbTable(i int) string { return fmt.Sprintf("sbtest%d", i) }

// session is a client's state on its current connection.
type session struct {
	conn  *sql.Conn
	rng   *rand.Rand // the client's, kept across reconnections
	plan  *plan
	stmts []*sql.Stmt // prepared: the point select of each table
}

// table picks a random sbtest table, as an index into the plan's slices.
func (s *session) table() int { return s.rng.IntN(len(s.plan.point)) }

// id picks a random row id, uniformly.
func (s *session) id() int { return 1 + s.rng.IntN(s.plan.tableSize) }

// close closes the session's statements and returns its connection to the pool, which closes it
// (churn) or keeps it until the round ends.
func (s *session) close() {
	for _, st := range s.stmts {
		_ = st.Close()
	}
	_ = s.conn.Close()
}

// Sizes of sysbench's c and pad columns, in groups of 11 digits joined by '-'.
const (
	cGroups   = 10 // 119 characters, in CHAR(120)
	padGroups = 5  // 59 characters, in CHAR(60)
)

// sbText returns sysbench-style filler text: groups of 11 random digits joined by '-'.
func sbText(rng *rand.Rand, groups int) string {
	b := make([]byte, 0, groups*12)
	for g := range groups {
		if g > 0 {
			b = append(b, '-')
		}
		for range 11 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
	}
	return string(b)
}
