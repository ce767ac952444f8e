package proxy

import "testing"

// Without SYSTEM_VARIABLES (MySQL), the built-in list decides; with it, the server does.
func TestCatalogFallback(t *testing.T) {
	var none *varCatalog
	mysql := &varCatalog{version: "8.0.36"}
	for _, cat := range []*varCatalog{none, mysql} {
		for name, want := range map[string]varKind{
			"last_gtid": varReadOnly, "warning_count": varReadOnly, "transaction_isolation": varReplay,
			"tx_isolation": varReplay, "sql_mode": varReplay, "insert_id": varPin, "session_track_schema": varPin,
		} {
			if got := cat.kind(name); got != want {
				t.Errorf("%v: kind(%s) = %d, want %d", cat, name, got, want)
			}
		}
	}
	maria := &varCatalog{version: "10.11", readOnly: map[string]bool{"last_gtid": true, "sql_mode": false}}
	for name, want := range map[string]varKind{"last_gtid": varReadOnly, "sql_mode": varReplay, "plugin_var": varPin} {
		if got := maria.kind(name); got != want {
			t.Errorf("MariaDB catalog: kind(%s) = %d, want %d", name, got, want)
		}
	}
}

// Errors after which a server closes its connection (MySQL 8's idle timeout among them).
func TestClosesConnection(t *testing.T) {
	for code, want := range map[uint16]bool{1153: true, 4031: true, 1927: true, 1053: true, 1062: false, 1146: false} {
		if closesConnection(code) != want {
			t.Errorf("closesConnection(%d) = %v", code, !want)
		}
	}
}
