package wire

import (
	"errors"
	"fmt"
)

// First bytes that mark the kind of a response packet.
const (
	HeaderOK          = 0x00
	HeaderLocalInfile = 0xfb
	HeaderEOF         = 0xfe
	HeaderErr         = 0xff
)

// ErrMalformed is returned by the parsers for a packet that is cut short or inconsistent.
var ErrMalformed = errors.New("wire: malformed packet")

// IsEOF reports whether payload is an EOF packet (0xFE with fewer than 9 bytes); a longer packet
// starting with 0xFE is a row or, under DEPRECATE_EOF, an OK that ends a result set.
func IsEOF(payload []byte) bool {
	return len(payload) > 0 && payload[0] == HeaderEOF && len(payload) < 9
}

// ReadLenenc decodes a length-encoded integer at the start of b and returns it with its size.
func ReadLenenc(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrMalformed
	}
	switch b[0] {
	case 0xfb: // NULL in row data
		return 0, 1, nil
	case 0xfc:
		if len(b) < 3 {
			return 0, 0, ErrMalformed
		}
		return uint64(b[1]) | uint64(b[2])<<8, 3, nil
	case 0xfd:
		if len(b) < 4 {
			return 0, 0, ErrMalformed
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, nil
	case 0xfe:
		if len(b) < 9 {
			return 0, 0, ErrMalformed
		}
		v = uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16 | uint64(b[4])<<24 |
			uint64(b[5])<<32 | uint64(b[6])<<40 | uint64(b[7])<<48 | uint64(b[8])<<56
		return v, 9, nil
	case 0xff:
		return 0, 0, ErrMalformed
	}
	return uint64(b[0]), 1, nil
}

// AppendLenenc appends v as a length-encoded integer.
func AppendLenenc(b []byte, v uint64) []byte {
	switch {
	case v < 251:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, 0xfc, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(b, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	}
	return append(b, 0xfe, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
		byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// ReadLenencString decodes a length-encoded string at the start of b.
func ReadLenencString(b []byte) (s []byte, n int, err error) {
	l, n, err := ReadLenenc(b)
	if err != nil {
		return nil, 0, err
	}
	if uint64(len(b)-n) < l {
		return nil, 0, ErrMalformed
	}
	return b[n : n+int(l)], n + int(l), nil
}

// AppendLenencString appends s as a length-encoded string.
func AppendLenencString(b []byte, s []byte) []byte {
	return append(AppendLenenc(b, uint64(len(s))), s...)
}

// OK is a decoded OK packet (also the OK that ends a result set under DEPRECATE_EOF).
type OK struct {
	AffectedRows uint64
	LastInsertID uint64
	Status       Status
	Warnings     uint16
	// Info is the human-readable message; SessionState the raw state-change block, present only
	// when the connection negotiated SESSION_TRACK and Status has SESSION_STATE_CHANGED. Both
	// alias the packet.
	Info         []byte
	SessionState []byte
}

// ParseOK decodes an OK packet (first byte 0x00, or 0xFE for the DEPRECATE_EOF terminator).
// sessionTrack says whether the connection negotiated CLIENT_SESSION_TRACK.
func ParseOK(p []byte, sessionTrack bool) (OK, error) {
	var ok OK
	if len(p) < 1 {
		return ok, ErrMalformed
	}
	pos := 1
	var n int
	var err error
	if ok.AffectedRows, n, err = ReadLenenc(p[pos:]); err != nil {
		return ok, err
	}
	pos += n
	if ok.LastInsertID, n, err = ReadLenenc(p[pos:]); err != nil {
		return ok, err
	}
	pos += n
	if len(p) < pos+4 {
		return ok, ErrMalformed
	}
	ok.Status = Status(uint16(p[pos]) | uint16(p[pos+1])<<8)
	ok.Warnings = uint16(p[pos+2]) | uint16(p[pos+3])<<8
	pos += 4
	if !sessionTrack {
		// MariaDB and MySQL both send the info as a length-encoded string here too (the
		// protocol's documentation says string<EOF>); take the rest if it is not one.
		ok.Info = p[pos:]
		if info, n, err := ReadLenencString(p[pos:]); err == nil && pos+n == len(p) {
			ok.Info = info
		}
		return ok, nil
	}
	if pos == len(p) {
		return ok, nil
	}
	if ok.Info, n, err = ReadLenencString(p[pos:]); err != nil {
		return ok, err
	}
	pos += n
	if ok.Status&StatusSessionStateChange != 0 && pos < len(p) {
		if ok.SessionState, _, err = ReadLenencString(p[pos:]); err != nil {
			return ok, err
		}
	}
	return ok, nil
}

// AppendOK encodes ok as the payload of an OK packet with the given first byte (0x00, or 0xFE
// for a DEPRECATE_EOF terminator). Without sessionTrack the session-state block is left out and
// SESSION_STATE_CHANGED cleared, as a server does for a client that did not ask for it.
func AppendOK(b []byte, header byte, ok OK, sessionTrack bool) []byte {
	b = append(b, header)
	b = AppendLenenc(b, ok.AffectedRows)
	b = AppendLenenc(b, ok.LastInsertID)
	st := ok.Status
	if !sessionTrack || len(ok.SessionState) == 0 {
		st &^= StatusSessionStateChange
	}
	b = append(b, byte(st), byte(st>>8), byte(ok.Warnings), byte(ok.Warnings>>8))
	if !sessionTrack {
		if len(ok.Info) == 0 {
			return b
		}
		return AppendLenencString(b, ok.Info) // as the server writes it
	}
	if len(ok.Info) == 0 && st&StatusSessionStateChange == 0 {
		return b
	}
	b = AppendLenencString(b, ok.Info)
	if st&StatusSessionStateChange != 0 {
		b = AppendLenencString(b, ok.SessionState)
	}
	return b
}

// EOFStatus returns the warnings and status flags of an EOF packet.
func EOFStatus(p []byte) (warnings uint16, status Status) {
	if len(p) < 5 {
		return 0, 0
	}
	return uint16(p[1]) | uint16(p[2])<<8, Status(uint16(p[3]) | uint16(p[4])<<8)
}

// Error is a decoded ERR packet; it is also how the proxy describes the errors it sends itself.
type Error struct {
	Code     uint16
	SQLState string
	Message  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.SQLState, e.Message)
}

// ParseErr decodes an ERR packet of a protocol-4.1 connection.
func ParseErr(p []byte) (*Error, error) {
	if len(p) < 3 || p[0] != HeaderErr {
		return nil, ErrMalformed
	}
	e := &Error{Code: uint16(p[1]) | uint16(p[2])<<8, SQLState: "HY000"}
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.SQLState = string(rest[1:6])
		rest = rest[6:]
	}
	e.Message = string(rest)
	return e, nil
}

// AppendErr encodes e as the payload of an ERR packet.
func AppendErr(b []byte, e *Error) []byte {
	b = append(b, HeaderErr, byte(e.Code), byte(e.Code>>8), '#')
	state := e.SQLState
	if len(state) != 5 {
		state = "HY000"
	}
	b = append(b, state...)
	return append(b, e.Message...)
}

// AppendEOF encodes an EOF packet payload.
func AppendEOF(b []byte, warnings uint16, status Status) []byte {
	return append(b, HeaderEOF, byte(warnings), byte(warnings>>8), byte(status), byte(status>>8))
}
