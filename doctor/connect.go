package doctor

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/config"
)

// target is one server to examine and the accounts to log in as.
type target struct {
	backend config.BackendConfig // the server as a [[backends]] entry names it
	driver  *mysql.Config        // how to reach it; User and Passwd are set per account
	users   []config.UserConfig  // tried in order
	logins  bool                 // report every account's login (-config checks them all)
}

// dsnTarget makes a target of a go-sql-driver DSN.
func dsnTarget(dsn string) (target, error) {
	d, err := mysql.ParseDSN(dsn)
	if err != nil {
		return target{}, fmt.Errorf("-dsn: %w", err)
	}
	b := config.BackendConfig{Address: d.Addr}
	switch d.Net {
	case "tcp", "tcp4", "tcp6":
	case "unix":
		if !filepath.IsAbs(d.Addr) {
			return target{}, fmt.Errorf("-dsn: the socket path %q must be absolute", d.Addr)
		}
	default:
		return target{}, fmt.Errorf("-dsn: network %q: use tcp(host:port) or unix(/path/to/socket)", d.Net)
	}
	// go-sql-driver's tls parameter, as a [[backends]] tls mode.
	switch d.TLSConfig {
	case "true":
		b.TLS = config.TLSVerifyIdentity
	case "skip-verify":
		b.TLS = config.TLSRequired
	}
	if d.Timeout == 0 {
		d.Timeout = config.Defaults().Pool.ConnectTimeout.Duration
	}
	return target{backend: b, driver: d, users: []config.UserConfig{{Name: d.User, Password: d.Passwd}}}, nil
}

// configTargets makes a target of every [[backends]] entry of cfg, logging in as its users.
func configTargets(cfg *config.Config) ([]target, error) {
	var out []target
	for i, b := range cfg.Backends {
		tlsConf, err := b.ClientTLS()
		if err != nil {
			return nil, fmt.Errorf("backends[%d].tls: %w", i, err)
		}
		d := mysql.NewConfig()
		d.Net, d.Addr = "tcp", b.Address
		if filepath.IsAbs(b.Address) {
			d.Net = "unix"
		}
		d.TLS = tlsConf
		d.Timeout = cfg.Pool.ConnectTimeout.Duration
		out = append(out, target{backend: b, driver: d, users: cfg.Users, logins: true})
	}
	return out, nil
}

// examine logs in to t as each account in turn and reads the server with the first that can,
// or a later one that holds PROCESS when the first does not. It returns the logins tried.
func examine(ctx context.Context, t target) (*Snapshot, []Login, error) {
	var best *Snapshot
	var logins []Login
	var lastErr error
	for _, u := range t.users {
		read := best == nil || !best.Process // still looking for the account that sees most
		if !read && !t.logins {
			break
		}
		s, err := examineAs(ctx, t, u, read)
		logins = append(logins, Login{User: u.Name, OK: err == nil, Error: errText(err)})
		if err != nil {
			lastErr = err
			continue
		}
		if read && (best == nil || s.Process) {
			best = s
		}
	}
	if best == nil {
		if lastErr == nil {
			lastErr = errors.New("no account to log in as")
		}
		return nil, logins, lastErr
	}
	return best, logins, nil
}

// examineAs logs in as u and, when gather is set, reads the server.
func examineAs(ctx context.Context, t target, u config.UserConfig, gather bool) (*Snapshot, error) {
	d := t.driver.Clone()
	d.User, d.Passwd = u.Name, u.Password
	connector, err := mysql.NewConnector(d)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if !gather {
		return nil, conn.PingContext(ctx)
	}
	return Gather(ctx, conn)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// local reports whether a server address is on this machine: a Unix socket, or a loopback host.
func local(address string) bool {
	if filepath.IsAbs(address) {
		return true
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// memTotal reads this machine's RAM from /proc/meminfo.
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "MemTotal:       16318480 kB"
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: %w", err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/proc/meminfo: no MemTotal line")
}
