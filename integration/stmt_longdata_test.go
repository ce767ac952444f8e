package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-sql-driver/mysql"

	"github.com/mysqlmux/mysqlmux/internal/mariadbtest"
	"github.com/mysqlmux/mysqlmux/internal/proxytest"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// Issue 5, must-show 5: a 5 MB blob sent with COM_STMT_SEND_LONG_DATA in chunks, then the
// EXECUTE on another backend connection than the one the statement was prepared on: the whole
// blob is stored, byte for byte.
//
// Which connection runs what is steered with transactions, which pin: with cap 3, two clients
// in a transaction hold two connections while the statement is prepared on the third; a third
// client then holds that one in a transaction, the first two commit, and the EXECUTE can only
// run on one of theirs. CONNECTION_ID() in the statement records where it ran.

const blobSize = 5 << 20

// blobChunk is the long-data chunk size: go-sql-driver sends a []byte argument as
// COM_STMT_SEND_LONG_DATA when it is at least maxAllowedPacket/(params+1) bytes, in packets of
// maxAllowedPacket-1 bytes, so a 1 MiB maxAllowedPacket gives 5 MB in 6 chunks.
const blobChunk = 1 << 20

func randomBlob(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, blobSize)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b
}

// txnHolder is a client holding a backend connection in an open transaction.
type txnHolder struct {
	c      *sql.Conn
	connID int64
}

func holdInTxn(t *testing.T, p *sql.DB) *txnHolder {
	t.Helper()
	c := holdConn(t, p)
	mustExec(t, c, "BEGIN")
	return &txnHolder{c: c, connID: mustInt(t, c, "SELECT CONNECTION_ID()")}
}

func (h *txnHolder) commit(t *testing.T) { t.Helper(); mustExec(t, h.c, "COMMIT") }

// steerAway runs prepare with two connections held, so it runs on the third (x), then holds x
// and frees the other two: what runs next lands on y or z. It returns x, the allowed {y, z}
// and a function that releases x.
func steerAway(t *testing.T, in *proxy.Instance, holders *sql.DB, prepare func()) (x int64, others map[int64]bool, release func()) {
	t.Helper()
	y := holdInTxn(t, holders)
	z := holdInTxn(t, holders)
	prepare()
	hx := holdInTxn(t, holders)
	if hx.connID == y.connID || hx.connID == z.connID {
		t.Fatalf("the third holder got connection %d, one of the two held (%d, %d)", hx.connID, y.connID, z.connID)
	}
	y.commit(t)
	z.commit(t)
	wantPinned(t, in, "x held", "transaction", 1)
	return hx.connID, map[int64]bool{y.connID: true, z.connID: true}, func() { hx.commit(t) }
}

// checkBlob reads row id of stmt_blob directly and compares length and SHA-256 with want, and
// checks the statement ran on one of the connections in ranOn.
func checkBlob(t *testing.T, direct *sql.DB, id int, want []byte, ranOn map[int64]bool, preparedOn int64) {
	t.Helper()
	var n, connID int64
	var sum string
	err := direct.QueryRowContext(context.Background(), "SELECT LENGTH(b), SHA2(b, 256), conn_id FROM stmt_blob WHERE id = ?", id).Scan(&n, &sum, &connID)
	if err != nil {
		t.Fatalf("reading blob %d back: %s", id, describeErr(err))
	}
	wantSum := sha256.Sum256(want)
	if n != int64(len(want)) || sum != hex.EncodeToString(wantSum[:]) {
		t.Errorf("blob %d stored: %d bytes, SHA-256 %s; want %d bytes, %x", id, n, sum, len(want), wantSum)
	}
	if !ranOn[connID] {
		t.Errorf("blob %d: the EXECUTE ran on backend connection %d, want one of %v (not %d, where it was prepared)", id, connID, ranOn, preparedOn)
	}
	var got []byte
	if err := direct.QueryRowContext(context.Background(), "SELECT b FROM stmt_blob WHERE id = ?", id).Scan(&got); err != nil {
		t.Fatalf("reading blob %d back: %s", id, describeErr(err))
	}
	if !bytes.Equal(got, want) {
		d := firstDiff(got, want)
		t.Errorf("blob %d differs from byte %d on (%d bytes read)", id, d, len(got))
	}
}

func longDataSetup(t *testing.T) (*proxy.Instance, *sql.DB) {
	t.Helper()
	direct := directClient(t, "test")
	mustExec(t, direct, "DROP TABLE IF EXISTS stmt_blob")
	mustExec(t, direct, "CREATE TABLE stmt_blob (id INT PRIMARY KEY, conn_id BIGINT, b LONGBLOB)")
	t.Cleanup(func() { _ = db.Exec("DROP TABLE IF EXISTS test.stmt_blob") })
	if n := mustInt(t, direct, "SELECT @@max_allowed_packet"); n < blobSize+1<<20 {
		t.Fatalf("MariaDB max_allowed_packet is %d, too small for a %d-byte blob", n, blobSize)
	}
	return proxytest.Start(t, proxytest.Config(db, 3)), direct
}

// TestStmtLongDataOtherConnection: go-sql-driver sends the blob as long data right before the
// EXECUTE; the proxy buffers it and replays it on the connection the EXECUTE gets, where the
// statement is not prepared yet.
func TestStmtLongDataOtherConnection(t *testing.T) {
	mariadbtest.Need(t, db)
	in, direct := longDataSetup(t)
	holders := proxyClient(t, in, "test")
	a := holdConn(t, psClient(t, in, "test", func(c *mysql.Config) { c.MaxAllowedPacket = blobChunk }))
	blob := randomBlob(1)

	var st *sql.Stmt
	x, others, release := steerAway(t, in, holders, func() {
		var err error
		st, err = a.PrepareContext(context.Background(), "INSERT INTO stmt_blob (id, conn_id, b) VALUES (?, CONNECTION_ID(), ?)")
		if err != nil {
			t.Fatalf("prepare: %s", describeErr(err))
		}
		t.Cleanup(func() { st.Close() })
	})
	root := rootDB(t)
	ld0 := mustStatus(t, root, "Com_stmt_send_long_data")["Com_stmt_send_long_data"]
	heap0 := heapInuse()
	peak := sampleHeap(t, 20*time.Millisecond)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := st.ExecContext(ctx, 1, blob)
	runtime.ReadMemStats(&ms1)
	top := peak.stop()
	release()
	if err != nil {
		t.Fatalf("EXECUTE with the long data: %s", describeErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Errorf("EXECUTE: %d rows affected, want 1", n)
	}
	heap1 := heapInuse()
	t.Logf("5 MiB blob in %d-byte chunks, prepared on connection %d, executed on one of %v: heap in use %s before, peak %s, %s after (%+s); %s allocated during the EXECUTE",
		blobChunk-1-7, x, others, mib(int64(heap0)), mib(int64(top)), mib(int64(heap1)), mib(int64(heap1)-int64(heap0)),
		mib(int64(ms1.TotalAlloc-ms0.TotalAlloc)))
	checkBlob(t, direct, 1, blob, others, x)
	if ld := mustStatus(t, root, "Com_stmt_send_long_data")["Com_stmt_send_long_data"] - ld0; ld < 1 {
		t.Errorf("backend Com_stmt_send_long_data grew by %d: the blob did not go as long data", ld)
	}
	if grew := int64(heap1) - int64(heap0); grew > 32<<20 {
		t.Errorf("heap in use grew by %s after a 5 MiB blob, want under 32 MiB: the proxy keeps long-data buffers", mib(grew))
	}
	if top > heap0+64<<20 {
		t.Errorf("heap in use peaked at %s (from %s) for a 5 MiB blob, want under +64 MiB", mib(int64(top)), mib(int64(heap0)))
	}
	wantNoPins(t, in, "after the blob")
}

// sendLongData sends one COM_STMT_SEND_LONG_DATA packet (no reply) for parameter param.
func sendLongData(c interface {
	ResetSequence()
	WritePacket([]byte) error
}, stmtID uint32, param uint16, data []byte) error {
	pkt := make([]byte, 4+7, 4+7+len(data))
	pkt[4] = gomysql.COM_STMT_SEND_LONG_DATA
	binary.LittleEndian.PutUint32(pkt[5:], stmtID)
	binary.LittleEndian.PutUint16(pkt[9:], param)
	c.ResetSequence()
	return c.WritePacket(append(pkt, data...))
}

// TestStmtLongDataChunksInterleaved: a raw client sends the blob in 64 KiB to 1 MiB chunks, with
// other statements of the same session (each on whatever connection is free) between the
// chunks, a COM_STMT_RESET dropping a first attempt, then EXECUTE on a connection other than the
// prepare's.
func TestStmtLongDataChunksInterleaved(t *testing.T) {
	mariadbtest.Need(t, db)
	in, direct := longDataSetup(t)
	holders := proxyClient(t, in, "test")
	a := rawPSConnect(t, in.Addr())
	blob := randomBlob(2)

	var id uint32
	var exec func(args ...any) (*gomysql.Result, error)
	x, others, release := steerAway(t, in, holders, func() {
		st, err := a.Prepare("INSERT INTO stmt_blob (id, conn_id, b) VALUES (?, CONNECTION_ID(), ?)")
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		id, exec = st.ID, st.Execute
	})
	root := rootDB(t)
	ld0 := mustStatus(t, root, "Com_stmt_send_long_data")["Com_stmt_send_long_data"]
	// A first attempt, reset: its data must not end up in the row.
	if err := sendLongData(a, id, 1, []byte("garbage that COM_STMT_RESET drops")); err != nil {
		t.Fatal(err)
	}
	a.ResetSequence()
	if err := a.WritePacket(append([]byte{0, 0, 0, 0, gomysql.COM_STMT_RESET}, binary.LittleEndian.AppendUint32(nil, id)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadOKPacket(); err != nil {
		t.Fatalf("COM_STMT_RESET: %v", err)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	chunks := 0
	for off := 0; off < len(blob); chunks++ {
		n := min(len(blob)-off, 64<<10+rng.IntN(1<<20-64<<10))
		if err := sendLongData(a, id, 1, blob[off:off+n]); err != nil {
			t.Fatalf("chunk at %d: %v", off, err)
		}
		off += n
		if chunks%3 == 0 {
			if v := mustRawValues(t, a, "SELECT "+strconv.Itoa(chunks)); v[0] != strconv.Itoa(chunks) {
				t.Fatalf("a statement between the chunks: %q", v)
			}
		}
	}
	// The blob parameter's value is its long data: the empty []byte only sets its type.
	r, err := exec(int64(2), []byte{})
	if err != nil {
		t.Fatalf("EXECUTE after %d chunks: %v", chunks, err)
	}
	r.Close()
	if r.AffectedRows != 1 {
		t.Errorf("EXECUTE: %d rows affected, want 1", r.AffectedRows)
	}
	release()
	t.Logf("%d chunks with statements between them, prepared on connection %d, executed on one of %v", chunks, x, others)
	checkBlob(t, direct, 2, blob, others, x)
	if ld := mustStatus(t, root, "Com_stmt_send_long_data")["Com_stmt_send_long_data"] - ld0; ld < 1 {
		t.Errorf("backend Com_stmt_send_long_data grew by %d: the blob did not go as long data", ld)
	}

	// The long data went with that EXECUTE: the next one, without any, stores an empty value.
	r, err = exec(int64(3), []byte{})
	if err != nil {
		t.Fatalf("EXECUTE without long data: %v", err)
	}
	r.Close()
	if n := mustInt(t, direct, "SELECT LENGTH(b) FROM stmt_blob WHERE id = 3"); n != 0 {
		t.Errorf("an EXECUTE after the long-data one stored %d bytes, want 0 (the long data is used once)", n)
	}
	wantNoPins(t, in, "after the blob")
}

// TestStmtLongDataOverServerLimit: long data adding up to more than the server's
// max_allowed_packet, each chunk well under it. MariaDB answers the EXECUTE with ERROR 1105
// ("... longer than 'max_allowed_packet' bytes") and the connection goes on; through the proxy,
// the client must get the same, not a lost connection.
func TestStmtLongDataOverServerLimit(t *testing.T) {
	mariadbtest.Need(t, db)
	in, direct := longDataSetup(t)
	limit := mustInt(t, direct, "SELECT @@max_allowed_packet")
	blob := make([]byte, limit+1<<20)
	for _, tc := range []struct{ name, addr string }{{"direct", db.Addr}, {"proxy", in.Addr()}} {
		c := holdConn(t, openPool(t, psDSN(tc.addr, "test", func(c *mysql.Config) { c.MaxAllowedPacket = blobChunk })))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.ExecContext(ctx, "INSERT INTO stmt_blob (id, conn_id, b) VALUES (?, CONNECTION_ID(), ?)", 10, blob)
		cancel()
		wantServerError(t, tc.name+": EXECUTE with long data over max_allowed_packet", err, 1105, "HY000")
		mustWork(t, tc.name+": after the refused long data", c)
	}
}
