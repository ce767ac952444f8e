package main

import (
	"context"
	"log/slog"

	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// joinFleet starts the fleet membership when cfg has [cluster], and returns cfg with the
// fleet's shared configuration from etcd applied (when etcd answers within dial_timeout; else
// it applies once read, as a reload).
func joinFleet(cfg *config.Config, log *slog.Logger) (*cluster.Fleet, *config.Config, error) {
	if cfg.Cluster == nil {
		return nil, cfg, nil
	}
	fleet, err := cluster.New(*cfg.Cluster, cfg.Proxy.Listen, log)
	if err != nil {
		return nil, nil, err
	}
	if !fleet.Synced(cfg.Cluster.DialTimeout.Duration) {
		log.Warn("fleet: etcd does not answer; serving with no backend connections until it grants some",
			"endpoints", cfg.Cluster.Endpoints)
		return fleet, cfg, nil
	}
	ocfg, err := fleet.Overlay(cfg)
	if err != nil {
		log.Error("fleet: the shared configuration in etcd is invalid; starting with the file alone", "err", err)
		return fleet, cfg, nil
	}
	log.Info("fleet: joining", "fleet", cfg.Cluster.Name, "instance", fleet.ID(), "max_connections", cfg.Cluster.MaxConnections)
	return fleet, ocfg, nil
}

// startProxy starts the proxy, its pools capped by the fleet's grants when there is a fleet.
func startProxy(cfg *config.Config, log *slog.Logger, fleet *cluster.Fleet) (*proxy.Instance, error) {
	if fleet == nil {
		return proxy.Start(cfg, log)
	}
	return proxy.StartLimited(cfg, log, fleet)
}

// leaveFleet gives the grants back once the pools are closed.
func leaveFleet(fleet *cluster.Fleet, cfg *config.Config) {
	if fleet == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Cluster.DialTimeout.Duration)
	defer cancel()
	fleet.Leave(ctx)
}

// fleetChanged reloads when the fleet's shared configuration in etcd changed.
func (r *running) fleetChanged() {
	if err := r.reload(); err != nil {
		r.log.Error("fleet: configuration changed in etcd; reload failed, keeping the running configuration", "err", err)
	}
}

// fleetReloaded passes a reloaded [cluster] table to the fleet.
func (r *running) fleetReloaded(ncfg *config.Config) {
	switch {
	case r.fleet == nil && ncfg.Cluster != nil, r.fleet != nil && ncfg.Cluster == nil:
		r.log.Warn("[cluster] added or removed: takes effect at restart")
	case r.fleet != nil:
		r.fleet.SetConfig(*ncfg.Cluster)
	}
}

// fleetStatus is the fleet as the admin console shows it; nil without one.
func (r *running) fleetStatus() *cluster.Status {
	if r.fleet == nil {
		return nil
	}
	st := r.fleet.Status()
	return &st
}
