package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"

	"github.com/go-sql-driver/mysql"
)

// Error kinds for errors that carry no MySQL error code.
const (
	KindNetwork = "network" // connection refused, reset or closed; the client reconnects
	KindTimeout = "timeout" // dial, read or context deadline
	KindNoRows  = "no-rows" // a point select found no row: the tables are smaller than -table-size
	KindOther   = "other"
)

// ErrorKind returns the key under which err is counted: the MySQL error code for an error the
// server sent (for example "1146" or "1040"), else one of the Kind constants.
func ErrorKind(err error) string {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case errors.As(err, &me):
		return strconv.Itoa(int(me.Number))
	case errors.Is(err, sql.ErrNoRows):
		return KindNoRows
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.As(err, &ne), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindNetwork
	}
	return KindOther
}

// serverAnswered reports whether err is a reply of the server (an error packet, or no row), after
// which the connection is still usable. After any other error the client drops its connection.
func serverAnswered(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) || errors.Is(err, sql.ErrNoRows)
}

// ErrorStat counts the errors of one kind.
type ErrorStat struct {
	Count   int64  `json:"count"`
	Message string `json:"message"` // the first one seen
}

// Errors counts errors by ErrorKind.
type Errors map[string]*ErrorStat

// maxMessage bounds the example message kept per kind.
const maxMessage = 200

func (e Errors) add(err error) {
	k := ErrorKind(err)
	if s := e[k]; s != nil {
		s.Count++
		return
	}
	msg := err.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	e[k] = &ErrorStat{Count: 1, Message: msg}
}

func (e Errors) merge(o Errors) {
	for k, s := range o {
		if mine := e[k]; mine != nil {
			mine.Count += s.Count
			continue
		}
		e[k] = &ErrorStat{Count: s.Count, Message: s.Message}
	}
}

// Total returns the number of errors of every kind.
func (e Errors) Total() int64 {
	var n int64
	for _, s := range e {
		n += s.Count
	}
	return n
}
