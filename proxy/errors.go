package proxy

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// Error codes the proxy sends itself (see CONTRACT.md).
const (
	codeAcquireTimeout = 9001
	// codeBackendLost is MySQL's "Lost connection to server during query", sent when a backend
	// connection fails mid-command.
	codeBackendLost = 2013
)

// errUnknownCommand answers a command byte the protocol does not have, as MariaDB does.
var errUnknownCommand = &wire.Error{Code: 1047, SQLState: "08S01", Message: "Unknown command"}

// errInterrupted answers a statement stopped by KILL QUERY before it ran, as the server answers
// one it stopped.
var errInterrupted = &wire.Error{Code: 1317, SQLState: "70100", Message: "Query execution was interrupted"}

// closesConnection reports whether the server closes its connection after sending error code:
// a packet over its max_allowed_packet, a broken or out-of-order packet, its thread killed, a
// shutdown, MySQL's idle timeout.
func closesConnection(code uint16) bool {
	switch code {
	case 1053, 1153, 1156, 1157, 1158, 1159, 1160, 1161, 1927, 4031:
		return true
	}
	return false
}

// clientError is the one place that turns an error into what the client sees.
func clientError(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	var te *backend.AcquireTimeoutError
	if errors.As(err, &te) {
		return &wire.Error{Code: codeAcquireTimeout, SQLState: "HY000", Message: te.Error()}
	}
	var nw *NoWriterError
	if errors.As(err, &nw) {
		return &wire.Error{Code: codeAcquireTimeout, SQLState: "HY000", Message: nw.Error()}
	}
	if errors.Is(err, backend.ErrAborted) {
		return errInterrupted
	}
	var tlsErr *backend.TLSError
	if errors.As(err, &tlsErr) { // as a client reports a failed TLS handshake (CR_SSL_CONNECTION_ERROR)
		return &wire.Error{Code: 2026, SQLState: "HY000", Message: "SSL connection error: " + tlsErr.Error()}
	}
	var me *mysql.MyError
	if errors.As(err, &me) { // the server refused the backend login
		return &wire.Error{Code: me.Code, SQLState: me.State, Message: me.Message}
	}
	return &wire.Error{Code: codeBackendLost, SQLState: "HY000", Message: fmt.Sprintf("mysqlmux: %v", err)}
}
