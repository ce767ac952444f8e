package frontend

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/server"
)

// Users is the set of accounts clients may log in as, replaceable at run time (reload).
type Users struct {
	m atomic.Pointer[map[string]string]
	// decoy is the password given for unknown users, so they fail with the same ERROR 1045 as a
	// wrong password (and user names cannot be probed).
	decoy string
}

// NewUsers returns a Users holding m (name → password).
func NewUsers(m map[string]string) *Users {
	var b [24]byte
	_, _ = rand.Read(b[:])
	u := &Users{decoy: hex.EncodeToString(b[:])}
	u.Set(m)
	return u
}

// Set replaces the accounts.
func (u *Users) Set(m map[string]string) { u.m.Store(&m) }

// Password returns the password of user.
func (u *Users) Password(user string) (string, bool) {
	pw, ok := (*u.m.Load())[user]
	return pw, ok
}

// authHandler adapts Users to go-mysql's server.AuthenticationHandler for one connection.
type authHandler struct {
	users *Users
	// onSuccess runs after the password checked out, before the OK packet; an error is sent to
	// the client instead of OK.
	onSuccess func(*server.Conn) error
}

func (h *authHandler) GetCredential(user string) (server.Credential, bool, error) {
	pw, ok := h.users.Password(user)
	if !ok {
		pw = h.users.decoy
	}
	return server.Credential{Passwords: []string{pw}, AuthPluginName: mysql.AUTH_NATIVE_PASSWORD}, true, nil
}

func (h *authHandler) OnAuthSuccess(c *server.Conn) error {
	if _, ok := h.users.Password(c.GetUser()); !ok {
		// Only reachable if the decoy was guessed.
		return mysql.NewDefaultError(mysql.ER_ACCESS_DENIED_ERROR, c.GetUser(), c.RemoteAddr().String(), "YES")
	}
	if h.onSuccess != nil {
		return h.onSuccess(c)
	}
	return nil
}

func (h *authHandler) OnAuthFailure(*server.Conn, error) {}

// dbHandler receives the database named at connect; go-mysql reports it only through UseDB. The
// other methods are never called: the proxy takes the connection over after login.
type dbHandler struct {
	server.EmptyHandler
	db string
}

func (h *dbHandler) UseDB(db string) error {
	h.db = db
	return nil
}
