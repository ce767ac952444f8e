package wire

// Column types (MYSQL_TYPE_*) the proxy reads in column definitions.
const (
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

// AppendColumn appends a column definition of c (catalog "def", no schema or table).
func AppendColumn(b []byte, c Column) []byte {
	b = AppendLenencString(b, []byte("def"))
	for range 3 {
		b = AppendLenencString(b, nil)
	}
	b = AppendLenencString(b, c.Name)
	b = AppendLenencString(b, c.Name)
	return append(b, 0x0c, byte(c.Charset), byte(c.Charset>>8),
		byte(c.Length), byte(c.Length>>8), byte(c.Length>>16), byte(c.Length>>24),
		c.Type, byte(c.Flags), byte(c.Flags>>8), c.Decimals, 0, 0)
}
