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
	m atomic.Pointer[map[string]Account]
	// decoy is the password given for unknown users, so they fail with the same ERROR 1045 as a
	// wrong password (and user names cannot be probed).
	decoy string
}

// Account is one user's login.
type Account struct {
	Password string
	// Plugin is the authentication plugin clients must use: mysql.AUTH_NATIVE_PASSWORD or
	// mysql.AUTH_CACHING_SHA2_PASSWORD. Clients that start with the other one are switched.
	Plugin string
}

// NewUsers returns a Users holding m (name → account).
func NewUsers(m map[string]Account) *Users {
	var b [24]byte
	_, _ = rand.Read(b[:])
	u := &Users{decoy: hex.EncodeToString(b[:])}
	u.Set(m)
	return u
}

// Set replaces the accounts.
func (u *Users) Set(m map[string]Account) { u.m.Store(&m) }

// Password returns the password of user.
func (u *Users) Password(user string) (string, bool) {
	a, ok := (*u.m.Load())[user]
	return a.Password, ok
}

// authHandler adapts Users to go-mysql's server.AuthenticationHandler for one connection.
type authHandler struct {
	users *Users
	// onSuccess runs after the password checked out, before the OK packet; an error is sent to
	// the client instead of OK.
	onSuccess func(*server.Conn) error
}

func (h *authHandler) GetCredential(user string) (server.Credential, bool, error) {
	a, ok := (*h.users.m.Load())[user]
	if !ok {
		a = Account{Password: h.users.decoy}
	}
	if a.Plugin == "" {
		a.Plugin = mysql.AUTH_NATIVE_PASSWORD
	}
	return server.Credential{Passwords: []string{a.Password}, AuthPluginName: a.Plugin}, true, nil
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
