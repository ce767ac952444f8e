package config

import "slices"

// Clone returns a copy of c that shares nothing with it (the admin console's SET changes a copy
// of the running configuration, then applies it as a reload would).
func (c *Config) Clone() *Config {
	n := *c
	n.Backends = slices.Clone(c.Backends)
	n.Users = slices.Clone(c.Users)
	return &n
}
