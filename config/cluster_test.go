package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The [cluster] table of CONTRACT.md v1.1 parses, with the defaults of the keys it leaves out;
// without the table there is no cluster.
func TestParseCluster(t *testing.T) {
	c, err := Parse([]byte(minimal + `
[cluster]
endpoints = ["127.0.0.1:2379", "https://etcd.example:2379"]
name = "fleet1"
max_connections = 48
`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultCluster()
	want.Endpoints = []string{"127.0.0.1:2379", "https://etcd.example:2379"}
	want.Name, want.MaxConnections = "fleet1", 48
	if !reflect.DeepEqual(c.Cluster, &want) {
		t.Fatalf("cluster = %+v, want %+v", c.Cluster, want)
	}
	if got := c.Cluster.InstanceName("127.0.0.1:6033"); !strings.HasSuffix(got, "/127.0.0.1:6033") {
		t.Errorf("default instance name %q", got)
	}
	c.Cluster.Instance = "a"
	if got := c.Cluster.InstanceName("127.0.0.1:6033"); got != "a" {
		t.Errorf("instance name %q, want a", got)
	}
	if cl := c.Clone(); cl.Cluster == c.Cluster || &cl.Cluster.Endpoints[0] == &c.Cluster.Endpoints[0] {
		t.Error("Clone shares the cluster table")
	}

	plain, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Cluster != nil {
		t.Fatalf("no [cluster] table, yet cluster = %+v", plain.Cluster)
	}
}

func TestParseClusterErrors(t *testing.T) {
	base := "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nname = \"f\"\nmax_connections = 10\n"
	tests := []struct {
		name, toml, key, text string
	}{
		{"no endpoints", "[cluster]\nname = \"f\"\nmax_connections = 10", "cluster.endpoints", "at least one"},
		{"bad endpoint", "[cluster]\nendpoints = [\"etcd\"]\nname = \"f\"\nmax_connections = 10", "cluster.endpoints[0]", "etcd"},
		{"bad scheme", "[cluster]\nendpoints = [\"unix://x:1\"]\nname = \"f\"\nmax_connections = 10", "cluster.endpoints[0]", "http or https"},
		{"no name", "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nmax_connections = 10", "cluster.name", "letters"},
		{"name with slash", "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nname = \"a/b\"\nmax_connections = 10", "cluster.name", "letters"},
		{"no cap", "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nname = \"f\"", "cluster.max_connections", "at least 1"},
		{"floor above cap", base + "floor = 11", "cluster.floor", "above cluster.max_connections"},
		{"short lease", base + "lease_ttl = \"1s\"", "cluster.lease_ttl", "at least 2s"},
		{"hold past lease", base + "lease_ttl = \"10s\"\noffline_hold = \"10s\"", "cluster.offline_hold", "less than cluster.lease_ttl"},
		{"forget before lease", base + "forget_after = \"5s\"", "cluster.forget_after", "more than cluster.lease_ttl"},
		{"user without password", base + "username = \"u\"", "cluster.username", "go together"},
		{"cert without key", base + "tls_cert = \"c.pem\"", "cluster.tls_cert", "go together"},
		{"missing ca", base + "tls_ca = \"/nonexistent/ca.pem\"", "cluster.tls_ca", "no such file"},
		{"instance with slash", base + "instance = \"a/b\"", "cluster.instance", "no '/'"},
		{"unknown key", base + "ttl = \"5s\"", "cluster.ttl", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal + tt.toml))
			if err == nil {
				t.Fatal("no error")
			}
			e := findKey(err, tt.key)
			if e == nil || !strings.Contains(e.Error(), tt.text) {
				t.Fatalf("want an error on %s containing %q, got:\n%v", tt.key, tt.text, err)
			}
			assertNamesKeys(t, err)
		})
	}
}

func TestClusterDefaultsAreValid(t *testing.T) {
	d := DefaultCluster()
	if d.OfflineHold.Duration >= d.LeaseTTL.Duration || d.LeaseTTL.Duration < minLeaseTTL || d.Floor < 0 ||
		d.DialTimeout.Duration <= 0 || d.ForgetAfter.Duration != 0 && d.ForgetAfter.Duration <= d.LeaseTTL.Duration {
		t.Fatalf("defaults break their own rules: %+v", d)
	}
	if d.LeaseTTL.Duration%time.Second != 0 {
		t.Fatalf("lease_ttl default %s is not whole seconds (etcd's unit)", d.LeaseTTL)
	}
}
