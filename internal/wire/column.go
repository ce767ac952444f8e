package wire

import "strconv"

// Column types (MYSQL_TYPE_*) the proxy reads in column definitions.
const (
	TypeTiny       = 0x01
	TypeShort      = 0x02
	TypeLong       = 0x03
	TypeDouble     = 0x05
	TypeNull       = 0x06
	TypeLongLong   = 0x08
	TypeNewDecimal = 0xf6
)

// Column is the part of a column definition (Protocol::ColumnDefinition41) the proxy uses.
type Column struct {
	Name     []byte
	Charset  uint16
	Length   uint32
	Type     byte
	Flags    uint16
	Decimals byte
}

// ParseColumn reads a column definition payload. Name aliases p.
func ParseColumn(p []byte) (Column, error) {
	var c Column
	// catalog, schema, table, org_table, name, org_name
	for i := 0; i < 6; i++ {
		s, n, err := ReadLenencString(p)
		if err != nil {
			return c, err
		}
		if i == 4 {
			c.Name = s
		}
		p = p[n:]
	}
	// The length of the fixed fields (0x0c), then charset, length, type, flags, decimals.
	if len(p) < 13 || p[0] != 0x0c {
		return c, ErrMalformed
	}
	c.Charset = uint16(p[1]) | uint16(p[2])<<8
	c.Length = uint32(p[3]) | uint32(p[4])<<8 | uint32(p[5])<<16 | uint32(p[6])<<24
	c.Type = p[7]
	c.Flags = uint16(p[8]) | uint16(p[9])<<8
	c.Decimals = p[10]
	return c, nil
}

// AppendColumn appends a column definition of c as a server describes an expression: catalog
// "def", no schema, table or original name.
func AppendColumn(b []byte, c Column) []byte {
	b = AppendLenencString(b, []byte("def"))
	for range 3 {
		b = AppendLenencString(b, nil)
	}
	b = AppendLenencString(b, c.Name)
	b = AppendLenencString(b, nil)
	return append(b, 0x0c, byte(c.Charset), byte(c.Charset>>8),
		byte(c.Length), byte(c.Length>>8), byte(c.Length>>16), byte(c.Length>>24),
		c.Type, byte(c.Flags), byte(c.Flags>>8), c.Decimals, 0, 0)
}

// BinaryRow re-encodes a text-protocol row (each value a length-encoded string, or 0xfb for
// NULL) as a binary-protocol row for columns cols, as a server answers COM_STMT_EXECUTE: integer
// columns as little-endian integers of their size, every other type as a length-encoded string.
// It serves results the proxy holds as text; columns of other fixed-size types (floats, dates)
// are refused with ErrMalformed.
func BinaryRow(b, text []byte, cols []Column) ([]byte, error) {
	b = append(b, 0x00)
	bitmap := len(b)
	b = append(b, make([]byte, (len(cols)+7+2)/8)...)
	for i, c := range cols {
		if len(text) > 0 && text[0] == 0xfb {
			b[bitmap+(i+2)/8] |= 1 << ((i + 2) % 8)
			text = text[1:]
			continue
		}
		v, n, err := ReadLenencString(text)
		if err != nil {
			return nil, err
		}
		text = text[n:]
		size := 0
		switch c.Type {
		case TypeTiny:
			size = 1
		case TypeShort:
			size = 2
		case TypeLong:
			size = 4
		case TypeLongLong:
			size = 8
		case TypeDouble, 0x04, 0x07, 0x0a, 0x0b, 0x0c, 0x09, 0x0d:
			return nil, ErrMalformed // float, timestamp, date, time, datetime, int24, year
		}
		if size == 0 {
			b = AppendLenencString(b, v)
			continue
		}
		u, err := parseInt(v, c.Flags&flagUnsigned != 0)
		if err != nil {
			return nil, err
		}
		for k := range size {
			b = append(b, byte(u>>(8*k)))
		}
	}
	if len(text) != 0 {
		return nil, ErrMalformed
	}
	return b, nil
}

// flagUnsigned is UNSIGNED_FLAG of a column definition.
const flagUnsigned = 0x20

// parseInt reads a decimal integer as its two's-complement bits.
func parseInt(v []byte, unsigned bool) (uint64, error) {
	if unsigned {
		return strconv.ParseUint(string(v), 10, 64)
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return uint64(n), err
}
