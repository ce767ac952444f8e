package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrUnknownKey is the Err of an *Error for a key the schema does not have.
var ErrUnknownKey = errors.New("unknown key")

// Error is one configuration problem. Parse and Validate return these, joined
// with errors.Join when there are several, so callers can match on Key rather
// than on message text.
type Error struct {
	// Key is the dotted TOML path with array indexes, e.g.
	// "backends[1].address"; empty when the problem concerns no key.
	Key string
	// Line is the 1-based line in the file, or 0 when the TOML library does
	// not report one (it does for syntax and type errors, not for keys it
	// decoded fine but that fail validation).
	Line int
	// Msg says what is wrong, without the key.
	Msg string
	// Err is the underlying cause (a toml.ParseError, ErrUnknownKey, ...),
	// or nil.
	Err error
}

// Error formats as "key: msg (line N)", or "unknown key KEY (line N)"; the
// line part is left out when Line is 0.
func (e *Error) Error() string {
	var s string
	switch {
	case errors.Is(e.Err, ErrUnknownKey):
		s = "unknown key " + e.Key
	case e.Key == "":
		s = e.Msg
	default:
		s = e.Key + ": " + e.Msg
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// toml v1.6 reports type mismatches as plain fmt errors, not ParseError, in
// the form `toml: line N (last key "a.b"): msg`; the line part is absent when
// it has no position. The test for wrong types pins this format.
var tomlTypeErr = regexp.MustCompile(`(?s)^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// The library names the Go struct type in table mismatches, which means
// nothing to someone editing a TOML file.
var goTypeMismatch = regexp.MustCompile(`(?s)^type mismatch for .*?: (expected table but found .*)$`)

// tomlError turns an error from toml.Decode or MetaData.PrimitiveDecode into
// an *Error carrying the key and line the library knows.
func tomlError(err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{Key: pe.LastKey, Line: pe.Position.Line, Msg: pe.Message, Err: err}
	}
	m := tomlTypeErr.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Msg: err.Error(), Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	key, uerr := strconv.Unquote(m[2])
	if uerr != nil {
		key = strings.Trim(m[2], `"`)
	}
	msg := goTypeMismatch.ReplaceAllString(m[3], "$1")
	return &Error{Key: key, Line: line, Msg: msg, Err: err}
}
