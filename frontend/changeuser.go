package frontend

import (
	"bytes"
	"crypto/subtle"
	"errors"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// ChangeUser is a parsed COM_CHANGE_USER.
type ChangeUser struct {
	User      string
	DB        string
	Collation uint8 // 0 if the client sent none
	Attrs     []byte
}

// errChangeUserMalformed is a COM_CHANGE_USER the proxy cannot read.
var errChangeUserMalformed = errors.New("frontend: malformed COM_CHANGE_USER")

// parseChangeUser decodes a COM_CHANGE_USER payload (first byte 0x11) for a client with caps.
func parseChangeUser(p []byte, caps wire.Capability) (ChangeUser, error) {
	var cu ChangeUser
	p = p[1:]
	i := bytes.IndexByte(p, 0)
	if i < 0 {
		return cu, errChangeUserMalformed
	}
	cu.User, p = string(p[:i]), p[i+1:]
	// The auth response is ignored: without the login scramble the proxy always asks for a
	// fresh one (auth switch).
	if caps&wire.ClientSecureConnection != 0 {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return cu, errChangeUserMalformed
		}
		p = p[1+int(p[0]):]
	} else {
		if i = bytes.IndexByte(p, 0); i < 0 {
			return cu, errChangeUserMalformed
		}
		p = p[i+1:]
	}
	if i = bytes.IndexByte(p, 0); i < 0 {
		return cu, nil // no database field: old clients
	}
	cu.DB, p = string(p[:i]), p[i+1:]
	if len(p) >= 2 {
		cu.Collation = p[0]
		p = p[2:]
	}
	if caps&wire.ClientPluginAuth != 0 {
		if i = bytes.IndexByte(p, 0); i >= 0 {
			p = p[i+1:]
		}
	}
	if caps&wire.ClientConnectAttrs != 0 {
		cu.Attrs = p
	}
	return cu, nil
}

// ChangeUser runs the authentication of a COM_CHANGE_USER (pkt) with the client: it asks for a
// mysql_native_password scramble of a fresh nonce and checks it against the configured password.
// On success the Client describes the new user (the caller resets the session and sends OK, with
// c.Seq set for it); on failure it has sent ERROR 1045.
func (c *Client) ChangeUser(pkt []byte, users *Users) (ChangeUser, error) {
	cu, err := parseChangeUser(pkt, c.Caps)
	if err != nil {
		c.Seq = 1
		_ = c.WriteError(&wire.Error{Code: 1047, SQLState: "08S01", Message: err.Error()})
		return cu, err
	}
	salt := mysql.RandomBuf(20)
	c.Seq = 1
	sw := append([]byte{wire.HeaderEOF}, mysql.AUTH_NATIVE_PASSWORD...)
	sw = append(append(append(sw, 0), salt...), 0)
	if err := c.WritePacket(sw); err != nil {
		return cu, err
	}
	if err := c.Flush(); err != nil {
		return cu, err
	}
	resp, err := c.ReadPacket(1024)
	if err != nil {
		return cu, err
	}
	pw, known := users.Password(cu.User)
	if !known || !checkNative(resp, pw, salt) {
		e := &wire.Error{Code: 1045, SQLState: "28000",
			Message: "Access denied for user '" + cu.User + "'@'" + hostOf(c.Addr) + "' (using password: " + yesNo(len(resp) > 0) + ")"}
		_ = c.WriteError(e)
		return cu, e
	}
	c.User, c.DB = cu.User, cu.DB
	if cu.Collation != 0 {
		c.Collation = cu.Collation
	}
	return cu, nil
}

func checkNative(resp []byte, password string, salt []byte) bool {
	if password == "" {
		return len(resp) == 0
	}
	want := mysql.CalcNativePassword(salt, []byte(password))
	return subtle.ConstantTimeCompare(resp, want) == 1
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func hostOf(addr string) string {
	if i := bytes.LastIndexByte([]byte(addr), ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}
