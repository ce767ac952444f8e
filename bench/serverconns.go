package bench

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// connSampleEvery is how often the server's Threads_connected is read during a measured phase.
const connSampleEvery = 100 * time.Millisecond

// ConnSamples are the connections the database server behind the target counted during a
// measured phase (Threads_connected, the sampler's own connection left out): what a proxy holds,
// or every client of a direct target.
type ConnSamples struct {
	Max     int64   `json:"max"`
	Mean    float64 `json:"mean"`
	Samples int     `json:"samples"`
}

// connSampler reads Config.Server's Threads_connected over one connection, opened before the
// clients connect so that a full server does not keep it out.
type connSampler struct {
	db   *sql.DB
	conn *sql.Conn
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	got  ConnSamples
	sum  int64
}

// newConnSampler connects to cfg.Server; nil when none is set or it cannot connect (said on
// cfg.Log: the round goes on without the figure).
func newConnSampler(ctx context.Context, cfg *Config) *connSampler {
	if cfg.Server == "" {
		return nil
	}
	db, err := openDB(cfg, cfg.Server, "", true)
	if err == nil {
		var conn *sql.Conn
		if conn, err = db.Conn(ctx); err == nil {
			return &connSampler{db: db, conn: conn}
		}
		_ = db.Close()
	}
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "-server %s: %v; backend connections not sampled this round\n", cfg.Server, err)
	}
	return nil
}

// start samples every connSampleEvery until stop.
func (s *connSampler) start(ctx context.Context) {
	if s == nil {
		return
	}
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		tick := time.NewTicker(connSampleEvery)
		defer tick.Stop()
		for {
			s.sample(ctx)
			select {
			case <-s.quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (s *connSampler) sample(ctx context.Context) {
	var name string
	var n int64
	if err := s.conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
		return
	}
	n-- // the sampler's own
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got.Max = max(s.got.Max, n)
	s.got.Samples++
	s.sum += n
}

// stop ends the sampling, closes the connection and returns the figures (nil without samples).
func (s *connSampler) stop() *ConnSamples {
	if s == nil {
		return nil
	}
	if s.quit != nil {
		close(s.quit)
		<-s.done
	}
	_ = s.conn.Close()
	_ = s.db.Close()
	if s.got.Samples == 0 {
		return nil
	}
	got := s.got
	got.Mean = float64(s.sum) / float64(got.Samples)
	return &got
}
