package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/BurntSushi/toml"
)

// Fragments are parts of a configuration kept outside the file (a fleet's etcd, cluster/):
// TOML bodies of the [pool] table, of [[users]] entries by name and of [[backends]] entries by
// address. Where names the place they come from, for errors ("etcd /mysqlmux/f/config/").
type Fragments struct {
	Where    string
	Pool     string            // keys of [pool]; they override the file's
	Users    map[string]string // user name → the keys of its [[users]] entry but name
	Backends map[string]string // address → the keys of its [[backends]] entry but address
}

// WithFragments returns a copy of c with the fragments applied and validated: [pool] keys
// override the file's; a user or backend of the fragments replaces the file's entry of the same
// name or address, or is added after the file's (in name order). An error names the fragment
// and the key.
func (c *Config) WithFragments(fr Fragments) (*Config, error) {
	n := c.Clone()
	var problems []error
	if fr.Pool != "" {
		problems = append(problems, decodeFragment(fr.Where+"pool", fr.Pool, &n.Pool)...)
	}
	for _, name := range slices.Sorted(maps.Keys(fr.Users)) {
		u := UserConfig{Name: name}
		problems = append(problems, decodeFragment(fr.Where+"users/"+name, fr.Users[name], &u)...)
		if u.Name != name {
			problems = append(problems, &Error{Key: fr.Where + "users/" + name + ".name", Msg: "must be the key's name or absent"})
		}
		if i := slices.IndexFunc(n.Users, func(x UserConfig) bool { return x.Name == name }); i >= 0 {
			n.Users[i] = u
		} else {
			n.Users = append(n.Users, u)
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(fr.Backends)) {
		b := BackendConfig{Address: addr}
		problems = append(problems, decodeFragment(fr.Where+"backends/"+addr, fr.Backends[addr], &b)...)
		if b.Address != addr {
			problems = append(problems, &Error{Key: fr.Where + "backends/" + addr + ".address", Msg: "must be the key's address or absent"})
		}
		if i := slices.IndexFunc(n.Backends, func(x BackendConfig) bool { return x.Address == addr }); i >= 0 {
			n.Backends[i] = b
		} else {
			n.Backends = append(n.Backends, b)
		}
	}
	if len(problems) == 0 {
		problems = n.problems()
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return n, nil
}

// decodeFragment decodes a TOML body onto v (keys it sets override), and reports keys v's type
// does not have.
func decodeFragment[T any](where, body string, v *T) []error {
	md, err := toml.Decode(body, v)
	if err != nil {
		e := tomlError(err)
		e.Key = where + "." + e.Key
		return []error{e}
	}
	known := tomlFields(reflect.TypeFor[T]())
	var problems []error
	for _, k := range md.Keys() {
		if !known[k[0]] || len(k) > 1 {
			problems = append(problems, unknownKey(fmt.Sprintf("%s.%s", where, k)))
		}
	}
	return problems
}
