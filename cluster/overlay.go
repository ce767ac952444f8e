package cluster

import (
	"fmt"
	"strings"

	"github.com/mysqlmux/mysqlmux/config"
)

// Configuration shared by the fleet, in etcd under /mysqlmux/NAME/config/:
//
//	config/pool             keys of [pool] (max_connections, acquire_timeout, ...)
//	config/users/NAME       keys of a [[users]] entry (password, auth_plugin)
//	config/backends/ADDR    keys of a [[backends]] entry (max_connections, tls, tls_ca)
//
// each a TOML body, e.g. `etcdctl put /mysqlmux/fleet1/config/users/bob 'password = "pw"'`.
// Every instance applies them over its file, as a reload would (Overlay); a change is followed
// by a reload of every instance (Attach's onConfig).

// Overlay returns cfg with the fleet's shared configuration applied, validated; an error names
// the etcd key. Before the keys were read once, cfg is returned as it is.
func (f *Fleet) Overlay(cfg *config.Config) (*config.Config, error) {
	kvs, synced := f.mir.snapshot(f.keys.config())
	if !synced || len(kvs) == 0 {
		return cfg, nil
	}
	fr := config.Fragments{Where: f.keys.config(), Users: map[string]string{}, Backends: map[string]string{}}
	for k, x := range kvs {
		rest := strings.TrimPrefix(k, f.keys.config())
		switch kind, name, _ := strings.Cut(rest, "/"); {
		case rest == "pool":
			fr.Pool = string(x.value)
		case kind == "users" && name != "":
			fr.Users[name] = string(x.value)
		case kind == "backends" && name != "":
			fr.Backends[name] = string(x.value)
		default:
			return nil, fmt.Errorf("%s: not a key of the fleet's configuration (pool, users/NAME, backends/ADDRESS)", k)
		}
	}
	return cfg.WithFragments(fr)
}
