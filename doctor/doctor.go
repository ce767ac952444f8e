// Package doctor is `mysqlmux doctor`: it reads a MySQL or MariaDB server's connection state and
// limits (SHOW and SELECT only), diagnoses ERROR 1040 (Too many connections), and proposes a
// server max_connections and a mysqlmux configuration to start with.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mysqlmux/mysqlmux/config"
	"github.com/mysqlmux/mysqlmux/internal/fdlimit"
)

const usage = `usage: mysqlmux doctor -dsn 'user:pass@tcp(host:port)/' [-ram SIZE] [-idle-threshold D] [-json]
       mysqlmux doctor -config mysqlmux.toml [-ram SIZE] [-idle-threshold D] [-json]

Diagnoses ERROR 1040 (Too many connections) on a MySQL or MariaDB server: connections in use
against max_connections, the 1040s so far, sleeping connections by user and host and how long
they have idled, the timeouts, the memory a connection may take and the max_connections the
server's RAM allows, the open-files limits, the connection reserved for administrators. Then a
verdict, a recommended server max_connections and wait_timeout, and a mysqlmux configuration.

It only reads: SHOW and SELECT statements; nothing on the server changes. Grant the account
PROCESS, or it sees only its own connections.

With -config, every [[backends]] server of the file is examined, logging in as each of its
[[users]], and the configuration's caps are checked against each server's limits.
Exit status: 0 when every server could be read, 1 when one could not, 2 for bad usage.

`

// examineTimeout bounds the reading of one server, logins included.
const examineTimeout = 30 * time.Second

// Output is what `mysqlmux doctor -json` prints: the report of the first server (the only one
// with -dsn), every server's with -config, and the proposed configuration.
type Output struct {
	Report
	// Backends holds, with -config, one report per [[backends]] entry, in the file's order.
	Backends              []Report `json:"backends,omitempty"`
	ProxyOpenFilesSoft    uint64   `json:"proxy_open_files_soft"`
	ProxyOpenFilesHard    uint64   `json:"proxy_open_files_hard"`
	ProxyOpenFilesNeeded  uint64   `json:"proxy_open_files_needed"` // by the proposed configuration
	RecommendedMaxClients int      `json:"recommended_max_client_connections"`
	RecommendedPoolIdle   string   `json:"recommended_pool_idle_timeout"`
	RecommendedClientIdle string   `json:"recommended_client_idle_timeout"`
	ConfigWhy             []string `json:"toml_why"`
	TOML                  string   `json:"toml"`
}

// flags are the command line of `mysqlmux doctor`.
type flags struct {
	dsn, config string
	ram         int64 // bytes; 0: not given
	idle        time.Duration
	json        bool
}

// Main runs `mysqlmux doctor` with the arguments that follow "doctor" and returns the exit
// status: 0 when every server could be read, 1 when one could not, 2 for bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	f, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	var targets []target
	base := config.Defaults()
	var cfg *config.Config
	if f.dsn != "" {
		t, err := dsnTarget(f.dsn)
		if err != nil {
			fmt.Fprintf(stderr, "mysqlmux doctor: %v\n", err)
			return 2
		}
		targets = []target{t}
		base.Backends = []config.BackendConfig{t.backend}
		base.Admin.Listen, base.Admin.User, base.Admin.Password = "127.0.0.1:6032", "admin", PasswordPlaceholder
		base.Admin.HTTPListen = "127.0.0.1:6070"
	} else {
		var err error
		if cfg, err = config.Load(f.config); err == nil {
			targets, err = configTargets(cfg)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mysqlmux doctor: %s: %v\n", f.config, err)
			return 1
		}
		base = *cfg
	}

	files, err := fdlimit.Raise()
	if err != nil {
		fmt.Fprintf(stderr, "mysqlmux doctor: cannot raise the open-files soft limit: %v\n", err)
	}
	reports := examineAll(targets, cfg, f)
	if cfg == nil {
		base.Users = dsnUsers(reports[0], targets[0])
	}
	out, err := output(base, reports, files, cfg != nil)
	if err == nil {
		err = write(stdout, out, f.json)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mysqlmux doctor: %v\n", err)
		return 1
	}
	for _, r := range reports {
		if r.Error != "" {
			return 1
		}
	}
	return 0
}

// parseFlags reads the command line; code is -1 to go on, else the exit status.
func parseFlags(args []string, stderr io.Writer) (f flags, code int) {
	fs := flag.NewFlagSet("mysqlmux doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.dsn, "dsn", "", "the server, as a go-sql-driver `DSN`: user:pass@tcp(host:port)/ or user:pass@unix(/path/mysqld.sock)/")
	fs.StringVar(&f.config, "config", "", "a mysqlmux TOML `file`: examine each of its backends, logging in as each of its users")
	ram := fs.String("ram", "", "RAM of the server's machine (`SIZE`: 8GiB, 512MiB, 8G); default: this machine's when the server is local, else unknown")
	fs.DurationVar(&f.idle, "idle-threshold", time.Minute, "flag sleeping connections idle at least this long")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of the report")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, 0
		}
		return f, 2
	}
	if (f.dsn == "") == (f.config == "") || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mysqlmux doctor: give -dsn or -config, one of them")
		fs.Usage()
		return f, 2
	}
	if *ram != "" {
		n, err := ParseSize(*ram)
		if err == nil && n <= 0 {
			err = fmt.Errorf("size %q: must be more than 0", *ram)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mysqlmux doctor: -ram: %v\n", err)
			return f, 2
		}
		f.ram = n
	}
	return f, -1
}

// examineAll reads and diagnoses every target in turn. cfg is the -config file, or nil.
func examineAll(targets []target, cfg *config.Config, f flags) []Report {
	reports := make([]Report, len(targets))
	for i, t := range targets {
		o := Options{IdleThreshold: f.idle}
		o.RAM, o.RAMSource = machineRAM(f.ram, t.backend.Address)
		if cfg != nil {
			o.Cap = t.backend.Cap(cfg.Pool)
			for _, u := range cfg.Users {
				o.AppUsers = append(o.AppUsers, u.Name)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), examineTimeout)
		snap, logins, err := examine(ctx, t)
		cancel()
		if t.logins {
			o.Logins = logins
		}
		if err != nil {
			reports[i] = Report{Address: t.backend.Address, Error: err.Error(), Logins: o.Logins}
			continue
		}
		reports[i] = Analyse(t.backend.Address, snap, o)
	}
	return reports
}

// output assembles what the doctor prints: the reports and the configuration proposed from base.
func output(base config.Config, reports []Report, files fdlimit.Limits, fromConfig bool) (Output, error) {
	p := propose(base, reports, files, fromConfig)
	text, err := p.toml()
	if err != nil {
		return Output{}, err
	}
	out := Output{
		Report:                reports[0],
		ProxyOpenFilesSoft:    files.Soft,
		ProxyOpenFilesHard:    files.Hard,
		ProxyOpenFilesNeeded:  fdlimit.Need(&p.cfg),
		RecommendedMaxClients: p.cfg.Proxy.MaxClientConnections,
		RecommendedPoolIdle:   p.cfg.Pool.IdleTimeout.String(),
		RecommendedClientIdle: p.cfg.Proxy.ClientIdleTimeout.String(),
		ConfigWhy:             p.why,
		TOML:                  text,
	}
	if fromConfig {
		out.Backends = reports
	}
	return out, nil
}

func write(w io.Writer, out Output, asJSON bool) error {
	if !asJSON {
		return writeText(w, out)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// dsnUsers are the [[users]] of a configuration proposed from a DSN: the application accounts
// seen connected, or the DSN's own account when none is.
func dsnUsers(r Report, t target) []config.UserConfig {
	var users []config.UserConfig
	for _, name := range r.AppUsers {
		users = append(users, config.UserConfig{Name: name})
	}
	if len(users) == 0 {
		users = t.users
	}
	return users
}

// machineRAM returns the RAM to size the server by, and where it comes from: the -ram flag, or
// this machine's when the server runs on it.
func machineRAM(flagRAM int64, address string) (int64, string) {
	if flagRAM > 0 {
		return flagRAM, "-ram"
	}
	if !local(address) {
		return 0, "unknown: the server is not on this machine; give -ram"
	}
	n, err := memTotal()
	if err != nil {
		return 0, "unknown: " + err.Error() + "; give -ram"
	}
	return n, "this machine's MemTotal (/proc/meminfo): the server is local"
}
