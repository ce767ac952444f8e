package proxy

import (
	"testing"
	"time"
)

// A session that holds a backend connection (kept for its warnings, say) and prepares a
// statement another session is preparing must not wait for that prepare: at a cap of 1 the other
// waits for the very connection this one holds. The soak found the whole proxy stalled so.
func TestMetaCacheHolderDoesNotWaitForAnotherPrepare(t *testing.T) {
	c := newMetaCache(10, 1<<20)
	started, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = c.getOrPrepare("k", true, func() (*stmtMeta, error) {
			close(started)
			<-release // waiting for a connection
			return &stmtMeta{key: "k"}, nil
		})
	}()
	<-started
	defer close(release)
	got := make(chan *stmtMeta, 1)
	go func() {
		m, _ := c.getOrPrepare("k", false, func() (*stmtMeta, error) { return &stmtMeta{key: "k", columns: 1}, nil })
		got <- m
	}()
	select {
	case m := <-got:
		if m.columns != 1 {
			t.Fatalf("got the other session's metadata %+v, want its own prepare's", m)
		}
	case <-time.After(10 * time.Second): // a hang, not a speed: the prepare itself takes nothing
		t.Fatal("a session holding a connection waited for another session's prepare")
	}
}
