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
	"syscall"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/proxy"
)

func main() {
	os.Exit(run())
}

func run() int {
	path := flag.String("config", "", "path to the TOML configuration file (required)")
	check := flag.Bool("check", false, "validate the configuration and exit (0 valid, 1 invalid)")
	level := flag.String("log-level", "info", "log level: debug, info, warn, error")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until the proxy stops")
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
	in, err := proxy.Start(cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			ncfg, err := config.Load(*path)
			if err == nil {
				err = in.Reload(ncfg)
			}
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
			}
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		signal.Reset(syscall.SIGTERM, syscall.SIGINT) // a second signal ends at once
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.ShutdownTimeout.Duration)
		err := in.Shutdown(ctx)
		cancel()
		if err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		log.Info("stopped")
		return 0
	}
	return 0
}
