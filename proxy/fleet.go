package proxy

import (
	"log/slog"
	"maps"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/config"
)

// A proxy in a fleet (cluster/): each backend's pool holds at most this instance's grant, which
// the fleet sets on the pools it is given (PoolsByAddress); a pool a reload creates starts at the
// grant the fleet has for its backend, before any client can borrow from it.

// PoolLimits says how many connections the pool of a backend may hold now.
type PoolLimits interface {
	Limit(addr string) int
}

// StartLimited is Start with every pool capped by limits from its creation on.
func StartLimited(cfg *config.Config, log *slog.Logger, limits PoolLimits) (*Instance, error) {
	return start(cfg, log, limits)
}

// PoolsByAddress returns the pools now, by backend address.
func (in *Instance) PoolsByAddress() map[string]*backend.Pool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.pools)
}
