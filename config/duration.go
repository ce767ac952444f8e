package config

import "time"

// Duration is a time.Duration written in TOML as a Go duration string
// ("10s", "1h30m"). It exists because TOML has no duration type and the
// contract fixes the string form.
type Duration struct {
	time.Duration
}

// UnmarshalText parses a Go duration string. The error is time's own, so the
// message shows the offending text; Parse adds the key and line.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in the form UnmarshalText reads.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}
