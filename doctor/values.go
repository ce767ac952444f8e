package doctor

import (
	"math"
	"strconv"
	"strings"
)

// num reads an integer server variable or status counter; nil when the server does not have it
// or its value is not a number. Unsigned values beyond int64 (some maxima are 2^64 − 1) read
// as the largest int64.
func num(m map[string]string, name string) *int64 {
	s, ok := m[name]
	if !ok {
		return nil
	}
	s = strings.TrimSpace(s)
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return ptr(int64(min(u, math.MaxInt64)))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &n
	}
	return nil
}

// str reads a server variable or status value; nil when absent or empty.
func str(m map[string]string, name string) *string {
	if s, ok := m[name]; ok && s != "" {
		return &s
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
