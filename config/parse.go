package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// document is what toml decodes the file into. The arrays of tables stay raw
// so each element is decoded on its own: toml reports a bad key inside one as
// "backends.address", without saying which element.
type document struct {
	Proxy    ProxyConfig      `toml:"proxy"`
	Pool     PoolConfig       `toml:"pool"`
	Backends []toml.Primitive `toml:"backends"`
	Users    []toml.Primitive `toml:"users"`
	Admin    AdminConfig      `toml:"admin"`
	Routing  RoutingConfig    `toml:"routing"`
	Rules    []toml.Primitive `toml:"rules"`
	Cluster  ClusterConfig    `toml:"cluster"`
}

// Load reads and parses the TOML file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a TOML v1 configuration over Defaults and validates it.
// A syntax or type error is returned alone, since decoding stops there;
// otherwise every unknown key and every validation problem is returned,
// joined, each an *Error naming its key.
func Parse(data []byte) (*Config, error) {
	c := Defaults()
	doc := document{Proxy: c.Proxy, Pool: c.Pool, Admin: c.Admin, Routing: c.Routing, Cluster: DefaultCluster()}
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, tomlError(err)
	}
	c.Proxy, c.Pool, c.Admin, c.Routing = doc.Proxy, doc.Pool, doc.Admin, doc.Routing
	if md.IsDefined("cluster") {
		c.Cluster = &doc.Cluster
	}

	problems := unknownTableKeys(md.Keys())
	backends, set, err := decodeTables[BackendConfig](&md, "backends", doc.Backends, &problems)
	if err != nil {
		return nil, err
	}
	users, _, err := decodeTables[UserConfig](&md, "users", doc.Users, &problems)
	if err != nil {
		return nil, err
	}
	rules, _, err := decodeTables[RuleConfig](&md, "rules", doc.Rules, &problems)
	if err != nil {
		return nil, err
	}
	c.Backends, c.Users, c.Rules = backends, users, rules

	// BackendConfig uses 0 for "inherit the pool's cap", so an explicit 0
	// can only be caught here, while we still know it was written.
	for i, b := range c.Backends {
		if _, ok := set[i]["max_connections"]; ok && b.MaxConnections == 0 {
			problems = append(problems, &Error{
				Key: fmt.Sprintf("backends[%d].max_connections", i),
				Msg: "must be at least 1, got 0",
			})
		}
	}

	problems = append(problems, c.problems()...)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &c, nil
}

// decodeTables decodes each element of the array of tables name into a T.
// It returns, per element, the keys the file set, and appends unknown keys
// to problems. A type error is returned as err: decoding cannot go on.
func decodeTables[T any](md *toml.MetaData, name string, raw []toml.Primitive, problems *[]error) ([]T, []map[string]any, error) {
	known := tomlFields(reflect.TypeFor[T]())
	out := make([]T, len(raw))
	set := make([]map[string]any, len(raw))
	for i, p := range raw {
		if err := md.PrimitiveDecode(p, &set[i]); err != nil {
			return nil, nil, elementError(err, name, i, nil)
		}
	}
	for i, p := range raw {
		if err := md.PrimitiveDecode(p, &out[i]); err != nil {
			return nil, nil, elementError(err, name, i, set[i+1:])
		}
		keys := make([]string, 0, len(set[i]))
		for k := range set[i] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !known[k] {
				*problems = append(*problems, unknownKey(fmt.Sprintf("%s[%d].%s", name, i, toml.Key{k})))
			}
		}
	}
	return out, set, nil
}

// elementError converts a decode error from element i of the array of tables
// name, adding the index toml leaves out of the key. later holds the keys set
// by the elements after i.
func elementError(err error, name string, i int, later []map[string]any) *Error {
	e := tomlError(err)
	field, ok := strings.CutPrefix(e.Key, name+".")
	if !ok {
		e.Key = fmt.Sprintf("%s[%d]", name, i)
		return e
	}
	e.Key = fmt.Sprintf("%s[%d].%s", name, i, field)
	// toml keeps one position per dotted key, so the line it gave belongs
	// to the last element that set this field; better none than a wrong one.
	for _, keys := range later {
		if _, ok := keys[field]; ok {
			e.Line = 0
		}
	}
	return e
}

// unknownTableKeys reports keys outside the schema, except inside arrays of
// tables, which decodeTables checks per element. It compares names exactly
// rather than relying on MetaData.Undecoded because toml falls back to a
// case-insensitive field match, so "Listen" would otherwise be taken for
// "listen" without a word.
func unknownTableKeys(keys []toml.Key) []error {
	sections := map[string]map[string]bool{
		"proxy":   tomlFields(reflect.TypeFor[ProxyConfig]()),
		"pool":    tomlFields(reflect.TypeFor[PoolConfig]()),
		"admin":   tomlFields(reflect.TypeFor[AdminConfig]()),
		"routing": tomlFields(reflect.TypeFor[RoutingConfig]()),
		"cluster": tomlFields(reflect.TypeFor[ClusterConfig]()),
	}
	var problems []error
	seen := map[string]bool{}
	report := func(k toml.Key) {
		if s := k.String(); !seen[s] {
			seen[s] = true
			problems = append(problems, unknownKey(s))
		}
	}
	for _, k := range keys {
		if k[0] == "backends" || k[0] == "users" || k[0] == "rules" {
			continue
		}
		fields, ok := sections[k[0]]
		switch {
		case !ok:
			report(k[:1])
		case len(k) > 1 && !fields[k[1]]:
			report(k[:2])
		case len(k) > 2:
			// Every section field is a scalar, so toml would have failed
			// on a table here; kept so a future table field cannot let
			// stray keys through.
			report(k)
		}
	}
	return problems
}

func unknownKey(key string) *Error {
	return &Error{Key: key, Msg: "unknown key", Err: ErrUnknownKey}
}

// tomlFields returns the TOML names of struct type t's fields, read from
// their tags so the schema cannot drift from the types.
func tomlFields(t reflect.Type) map[string]bool {
	names := make(map[string]bool, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}
