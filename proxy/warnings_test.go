package proxy

import "testing"

func TestShowWarningsForm(t *testing.T) {
	tests := []struct {
		q                       string
		errorsOnly, count, want bool
	}{
		{"SHOW WARNINGS", false, false, true},
		{"show warnings;", false, false, true},
		{"  Show   Errors ; \n", true, false, true},
		{"SHOW\tWARNINGS", false, false, true},
		{"SHOW WARNINGS LIMIT 1", false, false, false},
		{"SHOW COUNT(*) WARNINGS", false, true, true},
		{"show count(*) errors", true, true, true},
		{"SELECT @@warning_count", false, false, false},
		{"SHOW", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		errorsOnly, count, ok := showWarningsForm([]byte(tt.q))
		if ok != tt.want || (ok && (errorsOnly != tt.errorsOnly || count != tt.count)) {
			t.Errorf("showWarningsForm(%q) = %v, %v, %v; want %v, %v, %v", tt.q, errorsOnly, count, ok, tt.errorsOnly, tt.count, tt.want)
		}
	}
}
