// Package config holds mysqlmux's typed configuration: the TOML v1 schema of
// CONTRACT.md, its defaults, and the one Validate that names the bad key.
package config

import "time"

// Config is a whole mysqlmux configuration file.
type Config struct {
	Proxy    ProxyConfig     `toml:"proxy"`
	Pool     PoolConfig      `toml:"pool"`
	Backends []BackendConfig `toml:"backends"`
	Users    []UserConfig    `toml:"users"`
	Admin    AdminConfig     `toml:"admin"`
	Routing  RoutingConfig   `toml:"routing"`
	Rules    []RuleConfig    `toml:"rules"`
	// Cluster is the [cluster] table; nil without one (the proxy keeps its cap alone).
	Cluster *ClusterConfig `toml:"cluster"`
}

// ProxyConfig is the [proxy] table: the client-facing listener.
type ProxyConfig struct {
	// Listen is the host:port clients connect to.
	Listen string `toml:"listen"`
	// MaxClientConnections is how many clients may be connected at once; the
	// proxy answers ERROR 1040 itself beyond it.
	MaxClientConnections int `toml:"max_client_connections"`
	// ClientIdleTimeout closes client connections idle this long; 0 = never.
	ClientIdleTimeout Duration `toml:"client_idle_timeout"`
	// HandshakeTimeout bounds a client's login, so half-open connections
	// cannot hold client slots. Extension to the contract.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// ShutdownTimeout is how long SIGTERM waits for statements in flight
	// before closing anyway. Extension to the contract.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// MaxAllowedPacket bounds one client command (and the long data of its prepared
	// statements), like the server's max_allowed_packet; larger ones get ERROR 1153.
	MaxAllowedPacket int `toml:"max_allowed_packet"`
	// TLSCert and TLSKey (PEM files) let clients switch to TLS; both or neither. Clients that
	// do not ask for TLS still connect in plain text.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

// PoolConfig is the [pool] table: limits shared by every backend's pool.
type PoolConfig struct {
	// MaxConnections caps connections per backend server, all users
	// together, unless a backend overrides it.
	MaxConnections int `toml:"max_connections"`
	// AcquireTimeout is how long a statement waits for a backend connection
	// before the client gets ERROR 9001.
	AcquireTimeout Duration `toml:"acquire_timeout"`
	// IdleTimeout closes backend connections idle this long; 0 = never.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxLifetime closes backend connections older than this once they are
	// idle; 0 = never.
	MaxLifetime Duration `toml:"max_lifetime"`
	// ConnectTimeout bounds dial plus login for one backend connection.
	// Extension to the contract.
	ConnectTimeout Duration `toml:"connect_timeout"`
}

// BackendConfig is one [[backends]] entry: a MySQL server behind the proxy.
type BackendConfig struct {
	// Address is the server's host:port, or the absolute path of its Unix socket.
	Address string `toml:"address"`
	// MaxConnections overrides PoolConfig.MaxConnections for this server;
	// 0 means inherit. Parse rejects an explicit 0 in the file, so 0 here
	// always means "not set".
	MaxConnections int `toml:"max_connections"`
	// TLS is how backend connections use TLS, as MySQL's --ssl-mode: "disabled" (the default),
	// "required" (encrypted, the certificate not checked), "verify_ca" (signed by TLSCA) or
	// "verify_identity" (also issued for the address's host).
	TLS string `toml:"tls"`
	// TLSCA is a PEM file of the authorities the verify modes trust; empty: the system's.
	TLSCA string `toml:"tls_ca"`
	// Role (v1.1) is primary or replica; empty (every backend) keeps v1's equivalent backends.
	// The monitor decides who is primary at run time (read_only), the role is where it starts.
	Role string `toml:"role"`
	// Weight (v1.1) is the backend's share of reads among replicas (0: 1).
	Weight int `toml:"weight"`
}

// Cap returns the connection cap in force for this backend under pool p.
func (b BackendConfig) Cap(p PoolConfig) int {
	if b.MaxConnections > 0 {
		return b.MaxConnections
	}
	return p.MaxConnections
}

// UserConfig is one [[users]] entry. Clients log in to the proxy with these
// credentials and the proxy logs in to backends as the same user.
type UserConfig struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
	// AuthPlugin is how clients prove the password: "mysql_native_password" (the default,
	// spoken by clients of every age) or "caching_sha2_password" (what MySQL 8 and later
	// clients start with; needed by clients without mysql_native_password).
	AuthPlugin string `toml:"auth_plugin"`
	// ReadYourWrites overrides [routing] read_your_writes for this user.
	ReadYourWrites string `toml:"read_your_writes"`
}

// Authentication plugins a [[users]] entry may name.
const (
	AuthNative      = "mysql_native_password"
	AuthCachingSHA2 = "caching_sha2_password"
)

// Plugin returns the user's authentication plugin, the default filled in.
func (u UserConfig) Plugin() string {
	if u.AuthPlugin == "" {
		return AuthNative
	}
	return u.AuthPlugin
}

// AdminConfig is the [admin] table. An empty listen address disables that
// listener.
type AdminConfig struct {
	// Listen is the MySQL-protocol admin console's host:port.
	Listen string `toml:"listen"`
	// User and Password are the admin console's credentials.
	User     string `toml:"user"`
	Password string `toml:"password"`
	// HTTPListen serves GET /metrics, /healthz, /readyz and the dashboard (GET /).
	HTTPListen string `toml:"http_listen"`
	// Digests turns on SHOW DIGESTS: statements counted by digest, off the statement's path.
	Digests bool `toml:"digests"`
	// DigestRows bounds SHOW DIGESTS' table; once full, new statement shapes share one row.
	DigestRows int `toml:"digest_rows"`
	// Pprof serves Go's /debug/pprof/ on the HTTP listener (CPU and heap profiles).
	Pprof bool `toml:"pprof"`
}

// Defaults returns the configuration used for every key the file omits.
// Backends and users have no defaults: the file must name them.
func Defaults() Config {
	return Config{
		Routing: defaultRouting(),
		Proxy: ProxyConfig{
			Listen:               "127.0.0.1:6033",
			MaxClientConnections: 10000,
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
		Admin: AdminConfig{Digests: true, DigestRows: 1000},
	}
}
