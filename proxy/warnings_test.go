package proxy

import "testing"

func TestShowWarningsForm(t *testing.T) {
	tests := []struct {
		q                string
		errorsOnly, want bool
	}{
		{"SHOW WARNINGS", false, true},
		{"show warnings;", false, true},
		{"  Show   Errors ; \n", true, true},
		{"SHOW\tWARNINGS", false, true},
		{"SHOW WARNINGS LIMIT 1", false, false},
		{"SHOW COUNT(*) WARNINGS", false, false},
		{"SELECT @@warning_count", false, false},
		{"SHOW", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		errorsOnly, ok := showWarningsForm([]byte(tt.q))
		if ok != tt.want || (ok && errorsOnly != tt.errorsOnly) {
			t.Errorf("showWarningsForm(%q) = %v, %v; want %v, %v", tt.q, errorsOnly, ok, tt.errorsOnly, tt.want)
		}
	}
}
