package doctor

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Report is the diagnosis of one server, as -json prints it. A null (nil) figure is one the
// server did not give: the doctor says "unknown" rather than guess.
type Report struct {
	Address string `json:"address"`
	// Error says why the server could not be read; the figures are then empty.
	Error   string `json:"error,omitempty"`
	Version string `json:"version"`
	Account string `json:"account"` // the account the doctor read the server as
	// Logins lists, with -config, how each [[users]] entry fared logging in to this server.
	Logins        []Login `json:"logins,omitempty"`
	UptimeSeconds *int64  `json:"uptime_seconds"`

	MaxConnections                 *int64  `json:"max_connections"`
	ThreadsConnected               *int64  `json:"threads_connected"`
	ThreadsRunning                 *int64  `json:"threads_running"`
	MaxUsedConnections             *int64  `json:"max_used_connections"`
	MaxUsedConnectionsTime         *string `json:"max_used_connections_time"` // MySQL 8 only
	ConnectionErrorsMaxConnections *int64  `json:"connection_errors_max_connections"`
	AbortedConnects                *int64  `json:"aborted_connects"`
	AbortedClients                 *int64  `json:"aborted_clients"`
	// ReservedAdminConnections is the connection the server admits beyond max_connections for an
	// account with SUPER (MariaDB, MySQL) or CONNECTION ADMIN (MariaDB 10.5+, MySQL 8).
	ReservedAdminConnections int     `json:"reserved_admin_connections"`
	ExtraPort                *int64  `json:"extra_port"`            // MariaDB: a second port ...
	ExtraMaxConnections      *int64  `json:"extra_max_connections"` // ... with its own connection limit
	AdminAddress             *string `json:"admin_address"`         // MySQL 8: an administrative interface
	AdminPort                *int64  `json:"admin_port"`

	SleepingConnections   int     `json:"sleeping_connections"`
	ActiveConnections     int     `json:"active_connections"`
	IdleThresholdSeconds  int64   `json:"idle_threshold_seconds"`
	SleepingOverThreshold int     `json:"sleeping_over_threshold"`
	ConnectionsByUserHost []Group `json:"connections_by_user_host"`
	// ProcesslistComplete is false when the account may see only its own connections (it lacks
	// PROCESS, as far as SHOW GRANTS tells): the connection figures above are then partial.
	ProcesslistComplete bool   `json:"processlist_complete"`
	WaitTimeout         *int64 `json:"wait_timeout"`
	InteractiveTimeout  *int64 `json:"interactive_timeout"`

	PerConnectionMemory       Memory `json:"per_connection_memory"`
	GlobalBuffers             Memory `json:"global_buffers"`
	RAMBytes                  *int64 `json:"ram_bytes"`
	RAMSource                 string `json:"ram_source"`
	MemoryBoundMaxConnections *int64 `json:"memory_bound_max_connections"`
	OpenFilesLimit            *int64 `json:"open_files_limit"`
	TableOpenCache            *int64 `json:"table_open_cache"`
	FilesBoundMaxConnections  *int64 `json:"files_bound_max_connections"`

	// AppUsers are the accounts counted as moving behind mysqlmux; OtherConnections are the
	// connections of every other account, which stay direct and need room on the server.
	AppUsers         []string `json:"app_users"`
	AppActive        int      `json:"app_active_connections"`
	OtherConnections int      `json:"other_connections"`

	Verdict  string    `json:"verdict"` // "ok", "at_risk" or "refusing"
	Findings []Finding `json:"findings"`

	RecommendedMaxConnections     int64  `json:"recommended_max_connections"`
	RecommendedWaitTimeout        *int64 `json:"recommended_wait_timeout"`
	RecommendedPoolMaxConnections int64  `json:"recommended_pool_max_connections"`
	// Why gives each recommended figure's formula with this server's numbers.
	Why []string `json:"why"`
}

// Group is the connections of one account from one host (the port left out).
type Group struct {
	User     string `json:"user"`
	Host     string `json:"host"`
	Sleeping int    `json:"sleeping"`
	Active   int    `json:"active"`
	// IdleMinSeconds and IdleMaxSeconds span the idle times of the sleeping connections.
	IdleMinSeconds int64 `json:"idle_min_seconds"`
	IdleMaxSeconds int64 `json:"idle_max_seconds"`
	// IdleOverThreshold counts the sleeping connections idle at least the threshold.
	IdleOverThreshold int `json:"idle_over_threshold"`
}

// Login is one [[users]] entry's attempt to log in to a server.
type Login struct {
	User  string `json:"user"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Options are what the doctor knows besides the server's answers.
type Options struct {
	RAM           int64  // bytes of RAM of the server's machine; 0: unknown
	RAMSource     string // where RAM came from, for the report
	IdleThreshold time.Duration
	// AppUsers are the accounts that will connect through mysqlmux. Nil: every account seen
	// connected, except root (an administrator's, which stays direct).
	AppUsers []string
	// Cap is the pool cap a configuration gives this server; 0: the doctor picks one.
	Cap int
	// Logins are, with -config, how each [[users]] entry fared logging in to this server.
	Logins []Login
}

// Analyse diagnoses one server from its snapshot.
func Analyse(address string, s *Snapshot, o Options) Report {
	v, st := s.Variables, s.Status
	r := Report{
		Address:                        address,
		Account:                        s.Account,
		Logins:                         o.Logins,
		UptimeSeconds:                  num(st, "uptime"),
		MaxConnections:                 num(v, "max_connections"),
		ThreadsConnected:               num(st, "threads_connected"),
		ThreadsRunning:                 num(st, "threads_running"),
		MaxUsedConnections:             num(st, "max_used_connections"),
		MaxUsedConnectionsTime:         str(st, "max_used_connections_time"),
		ConnectionErrorsMaxConnections: num(st, "connection_errors_max_connections"),
		AbortedConnects:                num(st, "aborted_connects"),
		AbortedClients:                 num(st, "aborted_clients"),
		ReservedAdminConnections:       1,
		ExtraPort:                      num(v, "extra_port"),
		ExtraMaxConnections:            num(v, "extra_max_connections"),
		AdminAddress:                   str(v, "admin_address"),
		AdminPort:                      num(v, "admin_port"),
		IdleThresholdSeconds:           int64(o.IdleThreshold / time.Second),
		WaitTimeout:                    num(v, "wait_timeout"),
		InteractiveTimeout:             num(v, "interactive_timeout"),
		PerConnectionMemory:            perConnection(v),
		GlobalBuffers:                  globalBuffers(v),
		RAMSource:                      o.RAMSource,
		OpenFilesLimit:                 num(v, "open_files_limit"),
		TableOpenCache:                 num(v, "table_open_cache"),
		FilesBoundMaxConnections:       filesBound(v),
	}
	if ver := str(v, "version"); ver != nil {
		r.Version = *ver
	}
	if o.RAM > 0 {
		r.RAMBytes = ptr(o.RAM)
	}
	r.MemoryBoundMaxConnections = memoryBound(r.RAMBytes, r.GlobalBuffers.Bytes, r.PerConnectionMemory.Bytes)

	groups := groupConnections(s.Processes, s.SelfID, r.IdleThresholdSeconds)
	r.ConnectionsByUserHost = groups
	others := false
	for _, g := range groups {
		r.SleepingConnections += g.Sleeping
		r.ActiveConnections += g.Active
		r.SleepingOverThreshold += g.IdleOverThreshold
		others = others || g.User != accountUser(s.Account)
	}
	// Seeing another account's connections proves the list is whole, whatever the grants say.
	r.ProcesslistComplete = s.Process || others

	r.AppUsers = o.AppUsers
	if r.AppUsers == nil {
		r.AppUsers = seenApps(groups)
	}
	for _, g := range groups {
		if slices.Contains(r.AppUsers, g.User) {
			r.AppActive += g.Active
		} else {
			r.OtherConnections += g.Sleeping + g.Active
		}
	}
	recommend(&r, o)
	diagnose(&r, o)
	return r
}

// groupConnections groups client connections by account and host, leaving out the doctor's own
// and the server's internal threads, most sleeping first.
func groupConnections(ps []Process, self, threshold int64) []Group {
	byKey := map[[2]string]*Group{}
	for _, p := range ps {
		if p.ID == self || internalThread(p) {
			continue
		}
		key := [2]string{p.User, hostOnly(p.Host)}
		g := byKey[key]
		if g == nil {
			g = &Group{User: key[0], Host: key[1]}
			byKey[key] = g
		}
		if p.Command != "Sleep" {
			g.Active++
			continue
		}
		if g.Sleeping == 0 || p.Time < g.IdleMinSeconds {
			g.IdleMinSeconds = p.Time
		}
		g.IdleMaxSeconds = max(g.IdleMaxSeconds, p.Time)
		g.Sleeping++
		if p.Time >= threshold {
			g.IdleOverThreshold++
		}
	}
	out := make([]Group, 0, len(byKey))
	for _, g := range byKey {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Sleeping, a.Sleeping), cmp.Compare(b.Active, a.Active),
			strings.Compare(a.User, b.User), strings.Compare(a.Host, b.Host))
	})
	return out
}

// internalThread reports the server's own threads (InnoDB's, the event scheduler, replication
// appliers), which the process list shows but which take no connection slot.
func internalThread(p Process) bool {
	return p.User == "system user" || p.User == "event_scheduler" || p.Command == "Daemon"
}

// hostOnly drops the client port: "10.0.0.5:51234" → "10.0.0.5". TCP hosts always carry a port
// (also IPv6 ones, "::1:51234"); socket clients show "localhost", without one.
func hostOnly(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i == len(host)-1 || strings.Trim(host[i+1:], "0123456789") != "" {
		return host
	}
	return host[:i]
}

// seenApps are the accounts seen connected that are taken for applications: all but root and
// connections still logging in.
func seenApps(groups []Group) []string {
	apps := []string{}
	for _, g := range groups {
		if g.User != "root" && g.User != "unauthenticated user" && g.User != "" && !slices.Contains(apps, g.User) {
			apps = append(apps, g.User)
		}
	}
	slices.Sort(apps)
	return apps
}

// accountUser is the user part of CURRENT_USER()'s "user@host".
func accountUser(account string) string {
	if i := strings.LastIndexByte(account, '@'); i >= 0 {
		return account[:i]
	}
	return account
}
