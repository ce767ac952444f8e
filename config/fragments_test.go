package config

import (
	"strings"
	"testing"
	"time"
)

// Fragments add users and backends and override [pool] keys; the file's other entries stay;
// errors name the fragment and the key.
func TestWithFragments(t *testing.T) {
	base, err := Parse([]byte(minimal + "[[users]]\nname = \"old\"\npassword = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := base.WithFragments(Fragments{
		Where: "etcd:/f/config/",
		Pool:  "max_connections = 7\nacquire_timeout = \"3s\"",
		Users: map[string]string{"bob": `password = "pw"`, "old": `password = "new"`},
		Backends: map[string]string{
			"127.0.0.1:3307": "max_connections = 5",
			"127.0.0.1:3306": "",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool.MaxConnections != 7 || got.Pool.AcquireTimeout.Duration != 3*time.Second || got.Pool.IdleTimeout != base.Pool.IdleTimeout {
		t.Errorf("pool = %+v", got.Pool)
	}
	if want := []UserConfig{{Name: "app"}, {Name: "old", Password: "new"}, {Name: "bob", Password: "pw"}}; !equal(got.Users, want) {
		t.Errorf("users = %+v, want %+v", got.Users, want)
	}
	if want := []BackendConfig{{Address: "127.0.0.1:3306"}, {Address: "127.0.0.1:3307", MaxConnections: 5}}; !equal(got.Backends, want) {
		t.Errorf("backends = %+v, want %+v", got.Backends, want)
	}
	if base.Pool.MaxConnections != 20 || len(base.Users) != 2 {
		t.Error("WithFragments changed its receiver")
	}

	for _, tt := range []struct {
		fr   Fragments
		key  string
		text string
	}{
		{Fragments{Where: "e/", Users: map[string]string{"bob": "pasword = \"x\""}}, "e/users/bob.pasword", "unknown key"},
		{Fragments{Where: "e/", Users: map[string]string{"bob": "name = \"alice\""}}, "e/users/bob.name", "key's name"},
		{Fragments{Where: "e/", Pool: "max_connections = 0"}, "pool.max_connections", "at least 1"},
		{Fragments{Where: "e/", Pool: "max_connections = "}, "e/pool.max_connections", "expected value"},
		{Fragments{Where: "e/", Backends: map[string]string{"db": ""}}, "backends[1].address", "not host:port"},
	} {
		_, err := base.WithFragments(tt.fr)
		if e := findKey(err, tt.key); e == nil || !strings.Contains(e.Error(), tt.text) {
			t.Errorf("%+v: want an error on %s containing %q, got %v", tt.fr, tt.key, tt.text, err)
		}
	}
}
