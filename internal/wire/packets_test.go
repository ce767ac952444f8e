package wire

import (
	"bytes"
	"testing"
)

func TestLenencRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 250, 251, 65535, 65536, 1<<24 - 1, 1 << 24, 1<<64 - 1} {
		b := AppendLenenc(nil, v)
		got, n, err := ReadLenenc(b)
		if err != nil || got != v || n != len(b) {
			t.Fatalf("%d: got %d,%d,%v", v, got, n, err)
		}
	}
}

func TestOKRoundTrip(t *testing.T) {
	state := AppendStateChange(nil, StateChange{Type: TrackSchema, Name: []byte("test2")})
	state = AppendStateChange(state, StateChange{Type: TrackSystemVariables, Name: []byte("autocommit"), Value: []byte("OFF")})
	in := OK{AffectedRows: 3, LastInsertID: 70000, Status: StatusAutocommit | StatusSessionStateChange,
		Warnings: 2, Info: []byte("Rows matched: 3"), SessionState: state}
	p := AppendOK(nil, HeaderOK, in, true)
	out, err := ParseOK(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if out.AffectedRows != 3 || out.LastInsertID != 70000 || out.Status != in.Status || out.Warnings != 2 ||
		string(out.Info) != "Rows matched: 3" || !bytes.Equal(out.SessionState, state) {
		t.Fatalf("round trip: %+v", out)
	}
	var got []string
	_ = EachStateChange(out.SessionState, func(ch StateChange) error {
		got = append(got, string(ch.Name)+"="+string(ch.Value))
		return nil
	})
	if len(got) != 2 || got[0] != "test2=" || got[1] != "autocommit=OFF" {
		t.Fatalf("state changes: %q", got)
	}
	// Stripped for a client without SESSION_TRACK: info is the rest of the packet, no state.
	stripped := AppendOK(nil, HeaderOK, out, false)
	back, err := ParseOK(stripped, false)
	if err != nil || string(back.Info) != "Rows matched: 3" || back.Status&StatusSessionStateChange != 0 {
		t.Fatalf("stripped: %+v %v", back, err)
	}
}

func TestErrRoundTrip(t *testing.T) {
	e := &Error{Code: 1146, SQLState: "42S02", Message: "Table 'test.nope' doesn't exist"}
	got, err := ParseErr(AppendErr(nil, e))
	if err != nil || *got != *e {
		t.Fatalf("got %+v %v", got, err)
	}
}

func TestFlagsPrintByName(t *testing.T) {
	if s := (StatusInTrans | StatusAutocommit).String(); s != "IN_TRANS|AUTOCOMMIT" {
		t.Fatal(s)
	}
	if s := (ClientFoundRows | ClientSessionTrack).String(); s != "FOUND_ROWS|SESSION_TRACK" {
		t.Fatal(s)
	}
	if s := ComQuery.String(); s != "COM_QUERY" {
		t.Fatal(s)
	}
}

func FuzzParseOK(f *testing.F) {
	f.Add(AppendOK(nil, HeaderOK, OK{AffectedRows: 1, Status: StatusSessionStateChange, Info: []byte("x"),
		SessionState: AppendStateChange(nil, StateChange{Type: TrackSchema, Name: []byte("db")})}, true), true)
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, p []byte, track bool) {
		ok, err := ParseOK(p, track)
		if err != nil {
			return
		}
		_ = EachStateChange(ok.SessionState, func(StateChange) error { return nil })
		again, err := ParseOK(AppendOK(nil, HeaderOK, ok, track), track)
		if err != nil || again.AffectedRows != ok.AffectedRows || again.LastInsertID != ok.LastInsertID ||
			!bytes.Equal(again.Info, ok.Info) {
			t.Fatalf("re-encoded OK differs: %+v vs %+v (%v)", again, ok, err)
		}
	})
}

func FuzzParseErr(f *testing.F) {
	f.Add(AppendErr(nil, &Error{Code: 1064, SQLState: "42000", Message: "syntax"}))
	f.Add([]byte{0xff, 1, 2})
	f.Fuzz(func(t *testing.T, p []byte) {
		e, err := ParseErr(p)
		if err != nil {
			return
		}
		if _, err := ParseErr(AppendErr(nil, e)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzStateChanges(f *testing.F) {
	f.Add(AppendStateChange(nil, StateChange{Type: TrackSystemVariables, Name: []byte("a"), Value: []byte("b")}))
	f.Fuzz(func(t *testing.T, block []byte) {
		_ = EachStateChange(block, func(StateChange) error { return nil })
	})
}

func TestColumnRoundTrip(t *testing.T) {
	in := Column{Name: []byte("@@last_gtid"), Charset: 45, Length: 1024, Type: TypeNewDecimal, Flags: 0x80, Decimals: 2}
	out, err := ParseColumn(AppendColumn(nil, in))
	if err != nil || string(out.Name) != string(in.Name) || out.Charset != 45 || out.Length != 1024 ||
		out.Type != TypeNewDecimal || out.Flags != 0x80 || out.Decimals != 2 {
		t.Fatalf("got %+v %v", out, err)
	}
}

func FuzzParseColumn(f *testing.F) {
	f.Add(AppendColumn(nil, Column{Name: []byte("a"), Charset: 63, Type: TypeLongLong}))
	f.Add([]byte{3, 'd', 'e', 'f', 0, 0, 0, 1, 'x', 1, 'x', 0x0c})
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := ParseColumn(p)
		if err != nil {
			return
		}
		again, err := ParseColumn(AppendColumn(nil, c))
		if err != nil || !bytes.Equal(again.Name, c.Name) || again.Type != c.Type || again.Charset != c.Charset {
			t.Fatalf("re-encoded column differs: %+v vs %+v (%v)", again, c, err)
		}
	})
}

func TestBinaryRow(t *testing.T) {
	cols := []Column{{Type: 0xfd}, {Type: TypeLong, Flags: flagUnsigned}, {Type: 0xfd}, {Type: TypeLongLong}}
	text := AppendLenencString(nil, []byte("Warning"))
	text = AppendLenencString(text, []byte("1365"))
	text = append(text, 0xfb) // NULL
	text = AppendLenencString(text, []byte("-2"))
	got, err := BinaryRow(nil, text, cols)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 1 << 4}
	want = AppendLenencString(want, []byte("Warning"))
	want = append(want, 0x55, 0x05, 0, 0)
	want = append(want, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if !bytes.Equal(got, want) {
		t.Fatalf("BinaryRow = %x, want %x", got, want)
	}
	if _, err := BinaryRow(nil, text, cols[:3]); err == nil {
		t.Fatal("a row with more values than columns was accepted")
	}
	if _, err := BinaryRow(nil, AppendLenencString(nil, []byte("1.5")), []Column{{Type: TypeDouble}}); err == nil {
		t.Fatal("a DOUBLE column was accepted")
	}
}
