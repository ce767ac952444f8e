package proxy

import (
	"bytes"
	"testing"

	"github.com/mysqlmux/mysqlmux/backend"
	"github.com/mysqlmux/mysqlmux/frontend"
	"github.com/mysqlmux/mysqlmux/internal/loopback"
	"github.com/mysqlmux/mysqlmux/internal/wire"
)

// pointSelectResponse is what a server sends for SELECT c FROM sbtest1 WHERE id=?: one column,
// one row, EOF terminators.
func pointSelectResponse() []byte {
	var out bytes.Buffer
	seq := uint8(1)
	add := func(p []byte) {
		out.Write([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq})
		out.Write(p)
		seq++
	}
	add([]byte{1})
	col := []byte{3, 'd', 'e', 'f', 4, 't', 'e', 's', 't', 7, 's', 'b', 't', 'e', 's', 't', '1', 7, 's', 'b', 't', 'e', 's', 't', '1',
		1, 'c', 1, 'c', 0x0c, 45, 0, 0xe0, 1, 0, 0, 0xfe, 0, 0, 0, 0, 0}
	add(col)
	add(wire.AppendEOF(nil, 0, wire.StatusAutocommit))
	add(append([]byte{120}, bytes.Repeat([]byte("83868641912-"), 10)...))
	add(wire.AppendEOF(nil, 0, wire.StatusAutocommit))
	return out.Bytes()
}

// BenchmarkRelayPointSelect measures streaming and scanning one small result set from a backend
// connection to a client connection (both loopback sockets).
func BenchmarkRelayPointSelect(b *testing.B) {
	srvSide, beSide := loopback.Pair(b)
	clSide, sink := loopback.Pair(b)
	resp := pointSelectResponse()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	const batch = 64
	batchResp := bytes.Repeat(resp, batch)
	be := &backend.Conn{Conn: wire.NewConn(beSide, 64<<10, 16<<10)}
	cl := &frontend.Client{Conn: wire.NewConn(clSide, 16<<10, 16<<10)}
	r := relay{be: be, cl: cl, strip: true}
	b.ReportAllocs()
	b.SetBytes(int64(len(resp)))
	for i := 0; i < b.N; i += batch {
		if _, err := srvSide.Write(batchResp); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < batch; j++ {
			if err := r.run(shapeResult); err != nil {
				b.Fatal(err)
			}
			if !r.out.statusKnown || r.out.status&wire.StatusAutocommit == 0 {
				b.Fatalf("status not scanned: %+v", r.out)
			}
		}
	}
}
