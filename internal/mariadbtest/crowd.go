package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// CreatePlainUser creates user name with password at the hosts the test accounts use, with
// privileges on the test databases only. Unlike the test accounts (ALL PRIVILEGES, which include
// CONNECTION ADMIN), such a user gets no connection beyond max_connections: it sees the server
// full as an application's account does.
func (s *Server) CreatePlainUser(name, password string) error {
	for _, h := range []string{"%", "localhost", "127.0.0.1"} {
		acct := quote(name) + "@" + quote(h)
		for _, q := range []string{
			"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY " + quote(password),
			"GRANT ALL PRIVILEGES ON `test`.* TO " + acct,
			"GRANT ALL PRIVILEGES ON `test2`.* TO " + acct,
		} {
			if err := s.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return nil
}

// Crowd is another application's connections to a server, counted against max_connections as
// any client's are.
type Crowd struct {
	db    *sql.DB
	conns []*sql.Conn
}

// Crowd opens connections to s as user (a plain user, see CreatePlainUser) until the server
// refuses one with ERROR 1040, then closes leave of them: the server has room for leave more
// connections of users without CONNECTION ADMIN. It gives up after 10000 connections.
func (s *Server) Crowd(user, password string, leave int) (*Crowd, error) {
	db, err := sql.Open("mysql", s.DSN(user, password, ""))
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(-1) // a connection released is closed, not kept
	c := &Crowd{db: db}
	ctx, cancel := context.WithTimeout(context.Background(), setupQueryWait)
	defer cancel()
	for len(c.conns) < 10000 {
		conn, err := db.Conn(ctx)
		if err == nil {
			err = conn.PingContext(ctx)
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1040 {
			if conn != nil {
				conn.Close()
			}
			if leave > len(c.conns) {
				c.Close()
				return nil, fmt.Errorf("mariadbtest: the server is full with %d connections of %s; cannot leave room for %d", len(c.conns), user, leave)
			}
			c.Release(leave)
			return c, nil
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("mariadbtest: crowd connection %d: %w", len(c.conns)+1, err)
		}
		c.conns = append(c.conns, conn)
	}
	c.Close()
	return nil, errors.New("mariadbtest: 10000 connections and the server is not full")
}

// Len is the number of connections the crowd holds.
func (c *Crowd) Len() int { return len(c.conns) }

// Release closes n of the crowd's connections (all it has, if fewer).
func (c *Crowd) Release(n int) {
	for ; n > 0 && len(c.conns) > 0; n-- {
		last := len(c.conns) - 1
		c.conns[last].Close()
		c.conns = c.conns[:last]
	}
}

// Close closes every connection of the crowd.
func (c *Crowd) Close() {
	c.Release(len(c.conns))
	c.db.Close()
}
