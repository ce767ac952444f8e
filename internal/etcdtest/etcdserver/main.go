// Command etcdserver is a single-member etcd (go.etcd.io/etcd/server/v3/embed, the server the
// etcd binary runs) for mysqlmux's tests and fleet demo: loopback listeners, a data directory
// of the caller's, optional TLS for clients. It prints "ready" on stdout once it serves and
// stops on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	os.Exit(run())
}

func run() int {
	dir := flag.String("data-dir", "", "data directory (required)")
	client := flag.String("client", "127.0.0.1:2379", "client listener `host:port`")
	peer := flag.String("peer", "127.0.0.1:2380", "peer listener `host:port`")
	cert := flag.String("cert", "", "client TLS certificate (PEM); with -key, clients must use https")
	key := flag.String("key", "", "client TLS key (PEM)")
	logLevel := flag.String("log-level", "error", "etcd's log `level` on stderr: debug, info, warn or error")
	fsync := flag.Bool("fsync", false, "fsync the write-ahead log (off: a throwaway server, much faster on a busy disk)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "etcdserver: -data-dir is required")
		return 2
	}
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	cu, err := url.Parse(scheme + "://" + *client)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcdserver: -client: %v\n", err)
		return 2
	}
	pu, err := url.Parse("http://" + *peer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcdserver: -peer: %v\n", err)
		return 2
	}
	cfg := embed.NewConfig()
	cfg.Name = "mysqlmux-test"
	cfg.Dir = *dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = *logLevel
	cfg.UnsafeNoFsync = !*fsync
	// The fleet writes its demand a few times a second: keep an hour of history at most.
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = "periodic", "1h"
	if *cert != "" {
		cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = *cert, *key
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcdserver: %v\n", err)
		return 1
	}
	defer e.Close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println("ready")
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcdserver: %v\n", err)
		return 1
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "etcdserver: not ready after 60 s")
		return 1
	case <-sigs:
		return 0
	}
	select {
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcdserver: %v\n", err)
		return 1
	case <-sigs:
		return 0
	}
}
