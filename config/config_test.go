package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// contractExample is the TOML block of CONTRACT.md, verbatim.
const contractExample = `[proxy]
listen = "127.0.0.1:6033"
max_client_connections = 10000   # beyond it the proxy answers ERROR 1040 itself
client_idle_timeout = "0s"       # close client connections idle this long; 0 = never

[pool]
max_connections = 20     # per backend server, all users together: the cap
acquire_timeout = "10s"  # a statement waits this long for a backend connection, then ERROR 9001
idle_timeout = "60s"     # close backend connections idle this long
max_lifetime = "1h"      # close backend connections older than this once they are idle

[[backends]]
address = "127.0.0.1:3306"
max_connections = 20     # optional; overrides [pool].max_connections for this server

[[users]]                # clients authenticate as these; the proxy logs in to backends as the same user
name = "app"
password = "secret"

[admin]
listen = "127.0.0.1:6032"        # MySQL-protocol admin console
user = "admin"
password = "admin"
http_listen = "127.0.0.1:6070"   # GET /metrics (Prometheus text format), GET /healthz
`

// minimal is the smallest valid file: everything else defaults.
const minimal = `
[[backends]]
address = "127.0.0.1:3306"

[[users]]
name = "app"
`

func TestParseContractExample(t *testing.T) {
	c, err := Parse([]byte(contractExample))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Proxy: ProxyConfig{
			Listen:               "127.0.0.1:6033",
			MaxClientConnections: 10000,
			ClientIdleTimeout:    Duration{0},
			HandshakeTimeout:     Duration{10 * time.Second},
			ShutdownTimeout:      Duration{10 * time.Second},
			MaxAllowedPacket:     64 << 20,
		},
		Pool: PoolConfig{
			MaxConnections: 20,
			AcquireTimeout: Duration{10 * time.Second},
			IdleTimeout:    Duration{60 * time.Second},
			MaxLifetime:    Duration{time.Hour},
			ConnectTimeout: Duration{5 * time.Second},
		},
		Backends: []BackendConfig{{Address: "127.0.0.1:3306", MaxConnections: 20}},
		Users:    []UserConfig{{Name: "app", Password: "secret"}},
		Admin: AdminConfig{
			Listen:     "127.0.0.1:6032",
			User:       "admin",
			Password:   "admin",
			HTTPListen: "127.0.0.1:6070",
			Digests:    true,
			DigestRows: 1000,
		},
	}
	assertConfig(t, c, want)
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Backends = []BackendConfig{{Address: "127.0.0.1:3306"}}
	want.Users = []UserConfig{{Name: "app"}}
	assertConfig(t, c, want)
	if got := c.Backends[0].Cap(c.Pool); got != 20 {
		t.Errorf("Cap = %d, want the pool's 20", got)
	}
}

func TestParseMultipleBackends(t *testing.T) {
	c, err := Parse([]byte(`
[pool]
max_connections = 7
[[backends]]
address = "db1:3306"
max_connections = 3
[[backends]]
address = "db2:3306"
[[backends]]
address = "[::1]:3306"
[[backends]]
address = "/run/mysqld/mysqld.sock"
[[users]]
name = "a"
[[users]]
name = "b"
password = ""
auth_plugin = "caching_sha2_password"
`))
	if err != nil {
		t.Fatal(err)
	}
	var caps []int
	for _, b := range c.Backends {
		caps = append(caps, b.Cap(c.Pool))
	}
	if want := []int{3, 7, 7, 7}; !equal(caps, want) {
		t.Errorf("caps = %v, want %v", caps, want)
	}
	if len(c.Users) != 2 || c.Users[0].Plugin() != AuthNative || c.Users[1].Plugin() != AuthCachingSHA2 {
		t.Errorf("users = %+v, want a (mysql_native_password by default) and b (caching_sha2_password)", c.Users)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string // appended to minimal; "!" at the start: used alone; "^": put before minimal
		key  string // Key of one of the returned *Errors
		line int    // its Line, when toml gives one
		text string // its message contains this
	}{
		{"unknown key", "[proxy]\nlisen = \"x\"", "proxy.lisen", 0, "unknown key proxy.lisen"},
		{"unknown section", "[proxyy]\nlisten = \"x\"", "proxyy", 0, "unknown key proxyy"},
		{"unknown subtable", "[pool.extra]\nx = 1", "pool.extra", 0, "unknown key pool.extra"},
		{"unknown top-level key", "^listen = \"x\"", "listen", 0, "unknown key listen"},
		{"wrong case key", "[proxy]\nListen = \"x:1\"", "proxy.Listen", 0, "unknown key proxy.Listen"},
		{"unknown backend key", "[[backends]]\nadress = \"db:3306\"", "backends[1].adress", 0, "unknown key backends[1].adress"},
		{"unknown user key", "[[users]]\nname = \"b\"\npasswd = \"x\"", "users[1].passwd", 0, "unknown key users[1].passwd"},
		{"wrong type", "[pool]\nmax_connections = \"x\"", "pool.max_connections", 8, "incompatible types"},
		{"wrong type table", "^pool = 3", "pool", 1, "expected table but found"},
		{"wrong type in backend", "[[backends]]\naddress = \"db:3306\"\nmax_connections = \"x\"", "backends[1].max_connections", 9, "incompatible types"},
		{"backends not a table", "!backends = 3\n[[users]]\nname = \"a\"", "backends", 1, "incompatible types"},
		{"syntax error", "[pool]\nmax_connections = ", "pool.max_connections", 8, "expected value"},
		{"duplicate key", "[pool]\nmax_connections = 1\nmax_connections = 2", "pool.max_connections", 9, "already been defined"},
		{"bad duration", "[pool]\nacquire_timeout = \"ten\"", "pool.acquire_timeout", 8, `time: invalid duration "ten"`},
		{"duration without unit", "[proxy]\nclient_idle_timeout = 10", "proxy.client_idle_timeout", 8, "missing unit"},
		{"negative duration", "[pool]\nidle_timeout = \"-1s\"", "pool.idle_timeout", 0, "must not be negative, got -1s"},
		{"zero acquire timeout", "[pool]\nacquire_timeout = \"0s\"", "pool.acquire_timeout", 0, "must be greater than 0"},
		{"zero handshake timeout", "[proxy]\nhandshake_timeout = \"0s\"", "proxy.handshake_timeout", 0, "must be greater than 0"},
		{"pool cap 0", "[pool]\nmax_connections = 0", "pool.max_connections", 0, "pool.max_connections: must be at least 1, got 0"},
		{"client cap 0", "[proxy]\nmax_client_connections = 0", "proxy.max_client_connections", 0, "must be at least 1, got 0"},
		{"backend cap 0 set", "[[backends]]\naddress = \"db:3306\"\nmax_connections = 0", "backends[1].max_connections", 0, "backends[1].max_connections: must be at least 1, got 0"},
		{"backend cap negative", "[[backends]]\naddress = \"db:3306\"\nmax_connections = -2", "backends[1].max_connections", 0, "must be at least 1, got -2"},
		{"duplicate backend", "[[backends]]\naddress = \"127.0.0.1:3306\"", "backends[1].address", 0, "backends[1].address: duplicate of backends[0]"},
		{"duplicate backend normalised", "[[backends]]\naddress = \"127.0.0.1:03306\"", "backends[1].address", 0, "duplicate of backends[0]"},
		{"duplicate user", "[[users]]\nname = \"b\"\n[[users]]\nname = \"app\"", "users[2].name", 0, `users[2].name: duplicate user "app"`},
		{"missing backends", "![[users]]\nname = \"a\"", "backends", 0, "backends: at least one [[backends]] is required"},
		{"missing users", "![[backends]]\naddress = \"db:3306\"", "users", 0, "users: at least one [[users]] is required"},
		{"missing address", "[[backends]]\nmax_connections = 2", "backends[1].address", 0, "required"},
		{"address without port", "[[backends]]\naddress = \"db\"", "backends[1].address", 0, "not host:port"},
		{"address bad port", "[[backends]]\naddress = \"db:mysql\"", "backends[1].address", 0, "not a number"},
		{"address port 0", "[[backends]]\naddress = \"db:0\"", "backends[1].address", 0, "not a number from 1 to 65535"},
		{"address port too big", "[[backends]]\naddress = \"db:70000\"", "backends[1].address", 0, "not a number"},
		{"relative socket path", "[[backends]]\naddress = \"mysqld.sock\"", "backends[1].address", 0, "not host:port (nor the absolute path of a Unix socket)"},
		{"duplicate socket", "[[backends]]\naddress = \"/run/mysqld.sock\"\n[[backends]]\naddress = \"/run//mysqld.sock\"", "backends[2].address", 0, "duplicate of backends[1]"},
		{"bad backend tls mode", "[[backends]]\naddress = \"db:3306\"\ntls = \"yes\"", "backends[1].tls", 0, `"yes" is not one of disabled, required, verify_ca, verify_identity`},
		{"tls_ca without verify", "[[backends]]\naddress = \"db:3306\"\ntls = \"required\"\ntls_ca = \"/ca.pem\"", "backends[1].tls", 0, `tls_ca needs tls = "verify_ca" or "verify_identity"`},
		{"tls_ca missing", "[[backends]]\naddress = \"db:3306\"\ntls = \"verify_ca\"\ntls_ca = \"/nonexistent/ca.pem\"", "backends[1].tls", 0, "no such file"},
		{"tls over a socket", "[[backends]]\naddress = \"/run/mysqld.sock\"\ntls = \"required\"", "backends[1].tls", 0, "Unix socket"},
		{"address without host", "[[backends]]\naddress = \":3306\"", "backends[1].address", 0, "missing host"},
		{"unknown auth plugin", "[[users]]\nname = \"b\"\nauth_plugin = \"ed25519\"", "users[1].auth_plugin", 0, `"ed25519" is not mysql_native_password or caching_sha2_password`},
		{"user without name", "[[users]]\npassword = \"x\"", "users[1].name", 0, "required"},
		{"empty listen", "[proxy]\nlisten = \"\"", "proxy.listen", 0, "required"},
		{"bad listen", "[proxy]\nlisten = \"6033\"", "proxy.listen", 0, "not host:port"},
		{"bad admin http listen", "[admin]\nhttp_listen = \"localhost\"", "admin.http_listen", 0, "not host:port"},
		{"admin without user", "[admin]\nlisten = \"127.0.0.1:6032\"", "admin.user", 0, "required when admin.listen is set"},
		{"admin on proxy port", "[admin]\nlisten = \"127.0.0.1:6033\"\nuser = \"a\"", "admin.listen", 0, "same address as proxy.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := minimal + tt.toml + "\n"
			if s, ok := strings.CutPrefix(tt.toml, "!"); ok {
				src = s + "\n"
			}
			if s, ok := strings.CutPrefix(tt.toml, "^"); ok {
				src = s + "\n" + minimal
			}
			c, err := Parse([]byte(src))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			e := findKey(err, tt.key)
			if e == nil {
				t.Fatalf("no *Error with key %q in:\n%v", tt.key, err)
			}
			if !strings.Contains(e.Error(), tt.key) || !strings.Contains(e.Error(), tt.text) {
				t.Errorf("error %q: want it to contain %q and %q", e, tt.key, tt.text)
			}
			if tt.line != 0 && e.Line != tt.line {
				t.Errorf("error %q: line %d, want %d", e, e.Line, tt.line)
			}
			assertNamesKeys(t, err)
		})
	}
}

// A type error in an early [[backends]] must not borrow the line of a later
// one: toml keeps one position per dotted key.
func TestParseArrayErrorLine(t *testing.T) {
	src := minimal + `
[[backends]]
address = "db1:3306"
max_connections = "x"
[[backends]]
address = "db2:3306"
max_connections = 2
`
	_, err := Parse([]byte(src))
	e := findKey(err, "backends[1].max_connections")
	if e == nil {
		t.Fatalf("no error for backends[1].max_connections in %v", err)
	}
	if e.Line != 0 && e.Line != 10 {
		t.Errorf("line %d, want 10 or none", e.Line)
	}
}

func TestParseReportsAllProblems(t *testing.T) {
	src := `
[proxy]
lisen = "x"
[pool]
max_connections = 0
[[backends]]
address = "db:3306"
[[backends]]
address = "db:3306"
max_connections = 0
[[users]]
name = "app"
[[users]]
name = "app"
`
	_, err := Parse([]byte(src))
	assertNamesKeys(t, err)
	for _, key := range []string{"proxy.lisen", "pool.max_connections", "backends[1].address", "backends[1].max_connections", "users[1].name"} {
		if findKey(err, key) == nil {
			t.Errorf("no error for %s in:\n%v", key, err)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Defaults()
	c.Backends = []BackendConfig{{Address: "db:3306"}}
	c.Users = []UserConfig{{Name: "app"}}
	if err := c.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	var zero Config
	err := zero.Validate()
	for _, key := range []string{"proxy.listen", "proxy.max_client_connections", "pool.max_connections", "pool.acquire_timeout", "backends", "users"} {
		if findKey(err, key) == nil {
			t.Errorf("zero Config: no error for %s in:\n%v", key, err)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.Duration != 90*time.Minute {
		t.Fatalf("UnmarshalText = %v, %v", d, err)
	}
	text, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back Duration
	if err := back.UnmarshalText(text); err != nil || back != d {
		t.Errorf("round trip %q = %v, %v", text, back, err)
	}
	if err := d.UnmarshalText([]byte("ten")); err == nil {
		t.Error("UnmarshalText(ten) succeeded")
	}
}

func TestLoadExample(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "mysqlmux.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.Listen != "127.0.0.1:6033" || c.Backends[0].Address != "127.0.0.1:3306" ||
		c.Users[0] != (UserConfig{Name: "app", Password: "secret"}) || c.Pool.MaxConnections != 20 ||
		c.Admin.Listen != "127.0.0.1:6032" || c.Admin.HTTPListen != "127.0.0.1:6070" {
		t.Errorf("example does not match CONTRACT.md: %+v", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(contractExample))
	f.Add([]byte(minimal))
	f.Add([]byte("[[backends]]\naddress = 1\n[[users]]\nname = [1]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Parse accepted a config Validate rejects: %v", err)
		}
	})
}

// assertNamesKeys checks every error joined in err is an *Error whose text
// starts by naming its key, so each line of -check output does.
func assertNamesKeys(t *testing.T, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	if len(strings.Split(err.Error(), "\n")) != len(errs) {
		t.Errorf("%d errors print as %d lines:\n%v", len(errs), len(strings.Split(err.Error(), "\n")), err)
	}
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) || e.Key == "" {
			t.Errorf("error %q has no key", err)
			continue
		}
		if !strings.HasPrefix(e.Error(), e.Key+": ") && !strings.HasPrefix(e.Error(), "unknown key "+e.Key) {
			t.Errorf("error %q does not start with its key %q", e, e.Key)
		}
	}
}

// findKey returns the *Error with the given key among err's joined errors.
func findKey(err error, key string) *Error {
	var e *Error
	if errors.As(err, &e) && e.Key == key {
		return e
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, err := range j.Unwrap() {
			if e := findKey(err, key); e != nil {
				return e
			}
		}
	}
	return nil
}

func assertConfig(t *testing.T, got *Config, want Config) {
	t.Helper()
	if got.Proxy != want.Proxy {
		t.Errorf("proxy = %+v, want %+v", got.Proxy, want.Proxy)
	}
	if got.Pool != want.Pool {
		t.Errorf("pool = %+v, want %+v", got.Pool, want.Pool)
	}
	if !equal(got.Backends, want.Backends) {
		t.Errorf("backends = %+v, want %+v", got.Backends, want.Backends)
	}
	if !equal(got.Users, want.Users) {
		t.Errorf("users = %+v, want %+v", got.Users, want.Users)
	}
	if got.Admin != want.Admin {
		t.Errorf("admin = %+v, want %+v", got.Admin, want.Admin)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTLSKeysGoTogether(t *testing.T) {
	base := "[[backends]]\naddress = \"127.0.0.1:3306\"\n[[users]]\nname = \"app\"\n"
	for _, body := range []string{
		"[proxy]\ntls_cert = \"/nonexistent/cert.pem\"\n" + base,
		"[proxy]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n" + base,
	} {
		_, err := Parse([]byte(body))
		if err == nil || !strings.Contains(err.Error(), "proxy.tls_cert") {
			t.Errorf("%q: got %v, want an error naming proxy.tls_cert", body, err)
		}
	}
}

func TestBackendClientTLS(t *testing.T) {
	for _, tt := range []struct {
		b          BackendConfig
		nilConf    bool
		skipVerify bool
		serverName string
	}{
		{BackendConfig{Address: "db:3306"}, true, false, ""},
		{BackendConfig{Address: "db:3306", TLS: TLSDisabled}, true, false, ""},
		{BackendConfig{Address: "db:3306", TLS: TLSRequired}, false, true, ""},
		{BackendConfig{Address: "db.example:3306", TLS: TLSVerifyIdentity}, false, false, "db.example"},
		{BackendConfig{Address: "db:3306", TLS: TLSVerifyCA}, false, true, ""},
	} {
		c, err := tt.b.ClientTLS()
		if err != nil {
			t.Errorf("%+v: %v", tt.b, err)
			continue
		}
		if (c == nil) != tt.nilConf {
			t.Errorf("%+v: config %v, want nil %v", tt.b, c, tt.nilConf)
			continue
		}
		if c != nil && (c.InsecureSkipVerify != tt.skipVerify || c.ServerName != tt.serverName ||
			(tt.b.TLS == TLSVerifyCA) != (c.VerifyConnection != nil)) {
			t.Errorf("%+v: skip verify %v, server name %q, VerifyConnection set %v", tt.b, c.InsecureSkipVerify, c.ServerName, c.VerifyConnection != nil)
		}
	}
}

func TestParseRouting(t *testing.T) {
	c, err := Parse([]byte(`
[[backends]]
address = "127.0.0.1:3306"
role = "primary"
[[backends]]
address = "127.0.0.1:3307"
role = "replica"
weight = 3
[[users]]
name = "app"
read_your_writes = "gtid"
[routing]
read_your_writes = "primary"
max_replica_lag = "2s"
[[rules]]
match = "^SELECT .* FROM reports"
to = "replica"
[[rules]]
digest = "SELECT * FROM t WHERE id = ?"
to = "primary"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasRoles() || c.Backends[1].ReadWeight() != 3 || c.Backends[0].ReadWeight() != 1 ||
		c.Users[0].ReadYourWrites != RYWGTID || c.Routing.ReadYourWrites != RYWPrimary ||
		c.Routing.MaxReplicaLag.Duration != 2*time.Second || c.Routing.MonitorInterval.Duration != 500*time.Millisecond ||
		len(c.Rules) != 2 || c.Rules[1].To != RolePrimary {
		t.Fatalf("parsed: %+v %+v %+v", c.Backends, c.Routing, c.Rules)
	}
	for _, bad := range []struct{ toml, key string }{
		{"[[backends]]\naddress = \"a:1\"\nrole = \"writer\"\n[[users]]\nname = \"u\"", "backends[0].role"},
		{"[[backends]]\naddress = \"a:1\"\nrole = \"replica\"\n[[users]]\nname = \"u\"", "backends"},
		{"[[backends]]\naddress = \"a:1\"\nrole = \"primary\"\n[[backends]]\naddress = \"b:1\"\n[[users]]\nname = \"u\"", "backends"},
		{minimal + "[routing]\nread_your_writes = \"always\"", "routing.read_your_writes"},
		{minimal + "[routing]\nlag = \"1s\"", "routing.lag"},
		{"[[backends]]\naddress = \"a:1\"\nrole = \"primary\"\n[[users]]\nname = \"u\"\n[[rules]]\nmatch = \"(\"\nto = \"replica\"", "rules[0].match"},
		{"[[backends]]\naddress = \"a:1\"\nrole = \"primary\"\n[[users]]\nname = \"u\"\n[[rules]]\nmatch = \"x\"\nto = \"elsewhere\"", "rules[0].to"},
		{minimal + "[[rules]]\nmatch = \"x\"\nto = \"replica\"", "rules"},
	} {
		_, err := Parse([]byte(bad.toml))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: got %v, want an error naming %s", bad.toml, err, bad.key)
		}
	}
}
