package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
)

type countingConnector struct{ n int }

func (c *countingConnector) Connect(context.Context) (driver.Conn, error) {
	c.n++
	return nil, errors.New("counted")
}

func (c *countingConnector) Driver() driver.Driver { return nil }

// Connections of a target of several addresses are dealt over them in turn.
func TestSpreadDealsInTurn(t *testing.T) {
	a, b, c := &countingConnector{}, &countingConnector{}, &countingConnector{}
	s := &spread{cs: []driver.Connector{a, b, c}}
	for range 7 {
		_, _ = s.Connect(context.Background())
	}
	if a.n != 3 || b.n != 2 || c.n != 2 {
		t.Fatalf("dealt %d, %d, %d; want 3, 2, 2", a.n, b.n, c.n)
	}
}
