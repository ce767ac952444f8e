package backend

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// DialFailure is why a dial failed, as operators see it (the reason label of the metrics).
type DialFailure int

// Reasons a dial fails. The first three say the server has no room now (it may have later); the
// login ones say trying again fails the same way until someone changes a password, a grant or
// a certificate.
const (
	FailMaxConnections  DialFailure = iota // ERROR 1040: the server is at max_connections
	FailUserConnections                    // ERROR 1203 or 1226: the user is at its connection limit
	FailConnectTimeout                     // no login within connect_timeout
	FailUnreachable                        // refused, reset or closed before the login: the server is down
	FailLoginRefused                       // the server refused the login: access denied, unknown database, …
	FailTLS                                // the TLS handshake failed on its own terms
	FailOther                              // anything else (the connection's init statement failed, …)
	NumDialFailures
)

func (f DialFailure) String() string {
	switch f {
	case FailMaxConnections:
		return "max_connections"
	case FailUserConnections:
		return "max_user_connections"
	case FailConnectTimeout:
		return "connect_timeout"
	case FailUnreachable:
		return "unreachable"
	case FailLoginRefused:
		return "login_refused"
	case FailTLS:
		return "tls"
	case FailOther:
		return "other"
	}
	return ""
}

// serverFull says the server refused for lack of room: the dials the issue calls refused.
func (f DialFailure) serverFull() bool { return f <= FailConnectTimeout }

// login says the failure concerns the login (user, database, certificate), not the server's
// state: it fails the waiters of that login instead of making them wait.
func (f DialFailure) login() bool { return f == FailLoginRefused || f == FailTLS }

// state is the word SHOW POOLS shows while failures of this kind last.
func (f DialFailure) state() string {
	switch {
	case f.serverFull():
		return "server_full"
	case f == FailUnreachable:
		return "unreachable"
	case f.login():
		return "login_refused"
	}
	return "dial_failing"
}

// classify says why a dial failed.
func classify(err error) DialFailure {
	var me *mysql.MyError
	var ne net.Error
	switch {
	case errors.As(err, new(*TLSError)):
		return FailTLS
	case errors.Is(err, ErrUnknownUser):
		return FailLoginRefused
	case errors.As(err, &me):
		switch me.Code {
		case mysql.ER_CON_COUNT_ERROR:
			return FailMaxConnections
		case mysql.ER_TOO_MANY_USER_CONNECTIONS, mysql.ER_USER_LIMIT_REACHED:
			return FailUserConnections
		case mysql.ER_SERVER_SHUTDOWN:
			return FailUnreachable
		}
		return FailLoginRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return FailConnectTimeout
	case errors.As(err, new(*net.OpError)), errors.Is(err, mysql.ErrBadConn):
		return FailUnreachable
	}
	return FailOther
}

// Backoff after failed dials: from backoffMin, doubling up to a cap that depends on the failure.
// A full server gets the long cap (each refused dial costs it a thread and a slot another
// application may be waiting for); an unreachable one the short cap (dialling costs it nothing,
// and a restarted server should be found again soon).
const (
	backoffMin     = 50 * time.Millisecond
	backoffMaxFull = 5 * time.Second
	backoffMaxDown = time.Second
)

func (f DialFailure) backoffMax() time.Duration {
	if f == FailUnreachable {
		return backoffMaxDown
	}
	return backoffMaxFull
}

// backoff spaces dials after failures.
type backoff struct {
	fails int       // consecutive failures
	until time.Time // no dial before this
}

// fail records a failure at now and returns the wait before the next dial: the doubled delay,
// of which a random half (jitter, so that proxies sharing a server do not probe in lockstep).
func (b *backoff) fail(now time.Time, limit time.Duration) time.Duration {
	d := min(backoffMin<<min(b.fails, 16), limit)
	b.fails++
	d = d/2 + rand.N(d/2+1)
	b.until = now.Add(d)
	return d
}
