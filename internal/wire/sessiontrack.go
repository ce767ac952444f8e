package wire

// Session-state change types in the state block of an OK packet (SESSION_TRACK).
const (
	TrackSystemVariables  = 0x00
	TrackSchema           = 0x01
	TrackStateChange      = 0x02
	TrackGTIDs            = 0x03
	TrackTxCharacteristic = 0x04
	TrackTxState          = 0x05
)

// StateChange is one entry of a session-state block. For TrackSystemVariables Name and Value are
// set; for TrackSchema Name is the new schema; for the other types Value holds the raw data. The
// slices alias the packet.
type StateChange struct {
	Type  byte
	Name  []byte
	Value []byte
}

// EachStateChange calls fn for every entry of a session-state block, stopping at the first error.
func EachStateChange(block []byte, fn func(StateChange) error) error {
	for len(block) > 0 {
		typ := block[0]
		data, n, err := ReadLenencString(block[1:])
		if err != nil {
			return err
		}
		block = block[1+n:]
		ch := StateChange{Type: typ}
		switch typ {
		case TrackSystemVariables:
			name, m, err := ReadLenencString(data)
			if err != nil {
				return err
			}
			value, _, err := ReadLenencString(data[m:])
			if err != nil {
				return err
			}
			ch.Name, ch.Value = name, value
		case TrackSchema:
			name, _, err := ReadLenencString(data)
			if err != nil {
				return err
			}
			ch.Name = name
		default:
			ch.Value = data
		}
		if err := fn(ch); err != nil {
			return err
		}
	}
	return nil
}

// AppendStateChange encodes one entry of a session-state block.
func AppendStateChange(b []byte, ch StateChange) []byte {
	var data []byte
	switch ch.Type {
	case TrackSystemVariables:
		data = AppendLenencString(AppendLenencString(nil, ch.Name), ch.Value)
	case TrackSchema:
		data = AppendLenencString(nil, ch.Name)
	default:
		data = ch.Value
	}
	return AppendLenencString(append(b, ch.Type), data)
}
