package backend

import (
	"strings"
	"testing"

	"github.com/mysqlmux/mysqlmux/internal/wire"
)

func TestTextRow(t *testing.T) {
	lenenc := func(s string) []byte { return wire.AppendLenencString(nil, []byte(s)) }
	var p []byte
	p = append(p, lenenc("42")...)
	p = append(p, 0xfb)
	p = append(p, lenenc("")...)
	p = append(p, lenenc(strings.Repeat("x", 300))...)
	row, err := textRow(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(row) != 4 || row[0] == nil || *row[0] != "42" || row[1] != nil || row[2] == nil || *row[2] != "" ||
		row[3] == nil || *row[3] != strings.Repeat("x", 300) {
		t.Fatalf("row %v", row)
	}
	if _, err := textRow(p[:len(p)-1]); err == nil {
		t.Error("a truncated row decoded")
	}
	if row, err := textRow(nil); err != nil || len(row) != 0 {
		t.Errorf("empty row: %v %v", row, err)
	}
}
