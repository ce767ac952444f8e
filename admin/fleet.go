package admin

import (
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mysqlmux/mysqlmux/cluster"
)

// The fleet ([cluster], cluster/): SHOW FLEET, the fleet columns of SHOW BACKENDS, and the
// mysqlmux_fleet_* metrics.

// fleet returns the fleet's state now, nil without [cluster].
func (s *Server) fleet() *cluster.Status {
	if s.rt.Fleet == nil {
		return nil
	}
	return s.rt.Fleet()
}

// fleetBackendColumns are SHOW BACKENDS' columns about the fleet: this instance's state, grant,
// pool limit and demand, and the fleet's instances, total granted and total in use (NULL without
// [cluster]).
func fleetBackendColumns() []string {
	return []string{"fleet_state", "fleet_state_since", "fleet_grant", "fleet_limit", "fleet_demand",
		"fleet_instances", "fleet_granted", "fleet_in_use"}
}

func fleetBackendRow(st *cluster.Status, addr string) []any {
	row := make([]any, len(fleetBackendColumns()))
	if st == nil {
		return row
	}
	row[0], row[1] = st.State, st.StateSince.UTC().Format(time.RFC3339)
	for _, b := range st.Backends {
		if b.Backend == addr {
			row[2], row[3], row[4] = int64(b.Grant), int64(b.Limit), int64(b.Want)
			row[5], row[6], row[7] = int64(st.Instances), int64(b.Granted), int64(b.FleetIn)
		}
	}
	return row
}

func (h *handler) showFleet(string) (*mysql.Result, error) {
	st := h.s.fleet()
	if st == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "SHOW FLEET: this proxy has no [cluster] configuration")
	}
	names := []string{"backend", "instance", "self", "live", "state", "grant", "floor", "demand", "in_use", "waiting", "held"}
	var rows [][]any
	for _, m := range st.Members {
		rows = append(rows, []any{m.Backend, m.Instance, yesNo(m.Instance == st.Instance), yesNo(m.Live), m.State,
			int64(m.Grant), int64(m.Floor), int64(m.Want), int64(m.InUse), int64(m.Waiting), int64(m.Held)})
	}
	return resultset(names, rows)
}

// fleetCollector serves the mysqlmux_fleet_* metrics (none without [cluster]).
type fleetCollector struct {
	s                                         *Server
	state, instances, capacity                metric
	grant, limit, demand, granted, fleetInUse metric
}

// fleetStates are the values of the state label, each series 1 for the state in force.
func fleetStates() []string {
	return []string{cluster.StateJoining, cluster.StateOK, cluster.StateOffline, cluster.StateFloor,
		cluster.StateReleased, cluster.StateIDTaken}
}

func newFleetCollector(s *Server) *fleetCollector {
	g := prometheus.GaugeValue
	m := func(name, help string, labels ...string) metric {
		return metric{desc: prometheus.NewDesc("mysqlmux_fleet_"+name, help, labels, nil), kind: g}
	}
	return &fleetCollector{s: s,
		state: m("state", "1 for this instance's state in the fleet: ok, offline (etcd unreachable: last grants kept, "+
			"none grows), floor (unreachable for offline_hold), released (for forget_after), joining, id_taken.", "state"),
		instances:  m("instances", "Live instances of the fleet (etcd leases), this one included."),
		capacity:   m("max_connections", "The fleet-wide cap per backend in force."),
		grant:      m("grant", "This instance's grant: connections it may hold to the backend.", "backend"),
		limit:      m("limit", "This instance's pool cap now (below the grant while it gives some back).", "backend"),
		demand:     m("demand", "This instance's demand: peak of connections in use plus statements waiting over 2 s.", "backend"),
		granted:    m("granted", "Sum of every instance's grant on the backend (at most max_connections).", "backend"),
		fleetInUse: m("in_use", "Connections in use on the backend over the fleet, as the instances published them.", "backend"),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []metric{c.state, c.instances, c.capacity, c.grant, c.limit, c.demand, c.granted, c.fleetInUse} {
		ch <- m.desc
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.fleet()
	if st == nil {
		return
	}
	put := func(m metric, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
	}
	for _, s := range fleetStates() {
		put(c.state, boolFloat(s == st.State), s)
	}
	put(c.instances, float64(st.Instances))
	put(c.capacity, float64(st.Cap))
	for _, b := range st.Backends {
		put(c.grant, float64(b.Grant), b.Backend)
		put(c.limit, float64(b.Limit), b.Backend)
		put(c.demand, float64(b.Want), b.Backend)
		put(c.granted, float64(b.Granted), b.Backend)
		put(c.fleetInUse, float64(b.FleetIn), b.Backend)
	}
}
