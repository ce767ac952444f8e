package mariadbtest

// Shape is a way people run their servers: the options a test starts MariaDB with to check that
// the proxy works in front of it.
type Shape struct {
	Name    string
	Options Options
	// Note says what the shape puts to the proxy.
	Note string
}

// Shapes are the server shapes CI runs against (besides the default one every test package
// uses): the binary log, other character sets and time zones, the thread pool, a short
// wait_timeout, TLS-only, a small max_allowed_packet.
func Shapes() []Shape {
	return []Shape{
		{Name: "binlog-row-gtid-strict", Options: Options{ExtraArgs: []string{
			"--log-bin=bin", "--server-id=1", "--binlog-format=ROW", "--gtid-strict-mode=ON"}},
			Note: "session tracking reports last_gtid (read-only) after every write"},
		{Name: "binlog-mixed", Options: Options{ExtraArgs: []string{
			"--log-bin=bin", "--server-id=1", "--binlog-format=MIXED"}},
			Note: "as above; temporary tables are binlogged too"},
		{Name: "latin1-server", Options: Options{ExtraArgs: []string{
			"--character-set-server=latin1", "--collation-server=latin1_swedish_ci"}},
			Note: "databases and session defaults in latin1; the proxy's connections log in utf8mb4"},
		{Name: "perfschema-threadpool", Options: Options{ExtraArgs: []string{
			"--performance-schema=ON", "--thread-handling=pool-of-threads"}},
			Note: "statements run on pooled server threads"},
		{Name: "wait-timeout-3", Options: Options{ExtraArgs: []string{
			"--wait-timeout=3", "--interactive-timeout=3"}},
			Note: "the server closes connections idle 3 s, pooled ones included"},
		{Name: "lower-case-table-names", Options: Options{ExtraArgs: []string{"--lower-case-table-names=1"}},
			Note: "table names folded to lower case"},
		{Name: "time-zone-isolation", Options: Options{ExtraArgs: []string{
			"--default-time-zone=+05:30", "--transaction-isolation=READ-COMMITTED"}},
			Note: "session defaults other than the usual"},
		{Name: "tls-only", Options: Options{TLSOnly: true},
			Note: "require_secure_transport=ON: the backend leg must use TLS"},
		{Name: "small-max-allowed-packet", Options: Options{ExtraArgs: []string{"--max-allowed-packet=1M"}},
			Note: "the server's max_allowed_packet is below the client's and the proxy's"},
	}
}
