package config

import "slices"

// Clone returns a copy of c that shares nothing with it.
func (c *Config) Clone() *Config {
	n := *c
	n.Backends = slices.Clone(c.Backends)
	n.Users = slices.Clone(c.Users)
	n.Rules = slices.Clone(c.Rules)
	if c.Cluster != nil {
		cl := *c.Cluster
		cl.Endpoints = slices.Clone(cl.Endpoints)
		n.Cluster = &cl
	}
	return &n
}

// Changed returns a copy of c with change applied, validated (the admin console's SET: the
// result is then applied as a reload applies a file). c itself is never changed.
func (c *Config) Changed(change func(*Config) error) (*Config, error) {
	n := c.Clone()
	if err := change(n); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return n, nil
}
