// Command mysqlmux is a MySQL/MariaDB connection-multiplexing proxy: many client connections
// served from a small, capped pool of server connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/mysqlmux/mysqlmux/admin"
	"github.com/mysqlmux/mysqlmux/cluster"
	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/doctor"
	"github.com/mysqlmux/mysqlmux/internal/fdlimit"
	"github.com/mysqlmux/mysqlmux/proxy"
)

func main() {
	os.Exit(run())
}

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "doctor" {
		return doctor.Main(os.Args[2:], os.Stdout, os.Stderr)
	}
	path := flag.String("config", "", "path to the TOML configuration file (required)")
	check := flag.Bool("check", false, "validate the configuration and exit (0 valid, 1 invalid)")
	level := flag.String("log-level", "info", "log level: debug, info, warn, error")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until the proxy stops")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mysqlmux -config PATH [-check] [flags]\n"+
			"       mysqlmux doctor -h   (diagnose ERROR 1040 on a MySQL/MariaDB server)\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "mysqlmux: -config PATH is required")
		flag.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mysqlmux: %s: %v\n", *path, err)
		return 1
	}
	if *check {
		fmt.Printf("%s: configuration is valid\n", *path)
		return 0
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "mysqlmux: -log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mysqlmux: -cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	// Registered before the proxy starts, so that a SIGHUP sent while it starts is a reload
	// once it runs rather than the default action, which ends the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	files := raiseFileLimit(log)
	fleet, cfg, err := joinFleet(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	warnFileLimit(log, cfg, files)
	in, err := startProxy(cfg, log, fleet)
	if err != nil {
		log.Error("cannot start", "err", err)
		if fleet != nil {
			fleet.Close()
		}
		return 1
	}
	rt := &running{path: *path, in: in, log: log, files: files, cfg: cfg, fleet: fleet}
	if fleet != nil {
		fleet.Attach(in.PoolsByAddress, rt.fleetChanged)
	}
	var adm *admin.Server
	if cfg.Admin.Listen != "" || cfg.Admin.HTTPListen != "" {
		adm, err = admin.Start(cfg.Admin, in, admin.Runtime{Config: rt.config, Reload: rt.reload, Update: rt.update, Fleet: rt.fleetStatus}, log)
		if err != nil {
			log.Error("cannot start the admin listeners", "err", err)
			_ = shutdown(in, cfg, log)
			leaveFleet(fleet, cfg)
			return 1
		}
	}
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if err := rt.reload(); err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
			}
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		signal.Reset(syscall.SIGTERM, syscall.SIGINT) // a second signal ends at once
		// A PAUSE left in effect must not hold the shutdown hostage: statements waiting at the
		// gate go on and finish like any other statement in flight.
		in.Router().Resume()
		err := shutdown(in, rt.config(), log)
		leaveFleet(fleet, rt.config())
		if adm != nil {
			_ = adm.Close() // after the proxy, so operators could watch the drain
		}
		if err != nil {
			return 1
		}
		log.Info("stopped")
		return 0
	}
	return 0
}

// shutdown stops the proxy gracefully within the configured bound.
func shutdown(in *proxy.Instance, cfg *config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.ShutdownTimeout.Duration)
	defer cancel()
	err := in.Shutdown(ctx)
	if err != nil {
		log.Error("shutdown", "err", err)
	}
	return err
}

// raiseFileLimit raises the open-files soft limit to the hard limit: every client and every
// backend connection is a descriptor.
func raiseFileLimit(log *slog.Logger) fdlimit.Limits {
	lim, err := fdlimit.Raise()
	if err != nil {
		log.Warn("cannot raise the open-files soft limit to the hard limit", "err", err, "soft", lim.Soft, "hard", lim.Hard)
	}
	return lim
}

// warnFileLimit warns when cfg allows more connections than the open-files limit: past it,
// accepts fail (clients get a refused or reset connection, not ERROR 1040) and so do backend dials.
func warnFileLimit(log *slog.Logger, cfg *config.Config, lim fdlimit.Limits) {
	if need := fdlimit.Need(cfg); need > lim.Soft {
		log.Warn("open-files limit too low for this configuration: raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower proxy.max_client_connections",
			"limit", lim.Soft, "need", need, "max_client_connections", cfg.Proxy.MaxClientConnections,
			"backend_caps", fdlimit.BackendCaps(cfg), "reserve", fdlimit.Reserve)
	}
}

// running is the proxy as configured now: SIGHUP and the admin console's RELOAD go through reload,
// the console's SET through update, one at a time.
type running struct {
	path  string
	in    *proxy.Instance
	log   *slog.Logger
	files fdlimit.Limits // the open-files limits set at start
	fleet *cluster.Fleet // nil without [cluster]

	mu  sync.Mutex
	cfg *config.Config // the configuration in force; replaced by a successful reload
}

// reload re-reads the configuration file and applies it; on error the running configuration
// stays. The error names the bad key.
func (r *running) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ncfg, err := config.Load(r.path)
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if r.fleet != nil {
		if ncfg, err = r.fleet.Overlay(ncfg); err != nil {
			return fmt.Errorf("the fleet's configuration in etcd: %w", err)
		}
	}
	return r.applyLocked(ncfg)
}

// update applies change to a copy of the configuration in force and applies the result as a
// reload (the admin console's SET); on error the running configuration stays.
func (r *running) update(change func(*config.Config) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ncfg, err := r.cfg.Changed(change)
	if err != nil {
		return err
	}
	return r.applyLocked(ncfg)
}

func (r *running) applyLocked(ncfg *config.Config) error {
	if err := r.in.Reload(ncfg); err != nil {
		return err
	}
	warnFileLimit(r.log, ncfg, r.files)
	if ncfg.Admin != r.cfg.Admin {
		r.log.Warn("[admin] changes take effect at restart; the admin listeners keep their settings")
	}
	r.fleetReloaded(ncfg)
	r.cfg = ncfg
	return nil
}

// config returns the configuration in force (for SHOW CONFIG).
func (r *running) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}
