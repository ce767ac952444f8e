package admin

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// credentials is the console's one account, as a go-mysql AuthenticationHandler. go-mysql checks
// the scramble itself (constant-time); we only say which password is right.
type credentials struct {
	user, password string
	// decoy is the password handed out for any other user name, so an unknown user fails the
	// same way as a wrong password (ERROR 1045) and user names cannot be probed.
	decoy string
}

func newCredentials(user, password string) credentials {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return credentials{user: user, password: password, decoy: hex.EncodeToString(b[:])}
}

// GetCredential implements server.AuthenticationHandler.
func (c credentials) GetCredential(user string) (server.Credential, bool, error) {
	pw := c.password
	if user != c.user || c.user == "" {
		pw = c.decoy
	}
	return server.Credential{Passwords: []string{pw}, AuthPluginName: mysql.AUTH_NATIVE_PASSWORD}, true, nil
}

// OnAuthSuccess implements server.AuthenticationHandler. It refuses a guessed decoy.
func (c credentials) OnAuthSuccess(conn *server.Conn) error {
	if conn.GetUser() != c.user || c.user == "" {
		return mysql.NewDefaultError(mysql.ER_ACCESS_DENIED_ERROR, conn.GetUser(), conn.RemoteAddr().String(), "YES")
	}
	return nil
}

// OnAuthFailure implements server.AuthenticationHandler; serveConn logs the failure.
func (c credentials) OnAuthFailure(*server.Conn, error) {}
