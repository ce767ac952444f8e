package proxy

import "testing"

func TestShowWarningsForm(t *testing.T) {
	tests := []struct {
		q                       string
		errorsOnly, count, want bool
		offset, limit           int
	}{
		{"SHOW WARNINGS", false, false, true, 0, -1},
		{"show warnings;", false, false, true, 0, -1},
		{"  Show   Errors ; \n", true, false, true, 0, -1},
		{"SHOW\tWARNINGS", false, false, true, 0, -1},
		{"SHOW WARNINGS LIMIT 1", false, false, true, 0, 1},
		{"show errors limit 2, 3", true, false, true, 2, 3},
		{"SHOW WARNINGS LIMIT 3 OFFSET 1", false, false, true, 1, 3},
		{"SHOW WARNINGS LIMIT 3,", false, false, false, 0, 0},
		{"SHOW WARNINGS LIMIT ?", false, false, false, 0, 0},
		{"SHOW COUNT(*) WARNINGS", false, true, true, 0, -1},
		{"SHOW\nCOUNT(*) -- note\nERRORS", true, true, true, 0, -1},
		{"SHOW /*c*/ COUNT ( * ) WARNINGS", false, true, true, 0, -1},
		{"SHOW WARNINGS LIMIT 0x1", false, false, false, 0, 0},
		{"SHOW COUNT(*) WARNINGS LIMIT 1", false, false, false, 0, 0},
		{"show count(*) errors", true, true, true, 0, -1},
		{"SELECT @@warning_count", false, false, false, 0, 0},
		{"SHOW", false, false, false, 0, 0},
		{"", false, false, false, 0, 0},
	}
	for _, tt := range tests {
		sf, ok := showWarningsForm([]byte(tt.q))
		if ok != tt.want || (ok && (sf.errorsOnly != tt.errorsOnly || sf.count != tt.count || sf.offset != tt.offset || sf.limit != tt.limit)) {
			t.Errorf("showWarningsForm(%q) = %+v, %v; want %v, %v, %v, offset %d, limit %d", tt.q, sf, ok, tt.errorsOnly, tt.count, tt.want, tt.offset, tt.limit)
		}
	}
}
