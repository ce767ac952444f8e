// Package wire is the MySQL packet framing shared by the client leg (frontend) and the server leg
// (backend): buffered packet reading and writing, sequence numbers, and the small codecs for OK, ERR
// and EOF packets. It knows nothing of sessions or SQL.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
)

// MaxPayload is the largest payload of one physical packet; a payload of exactly this size is
// followed by a continuation packet.
const MaxPayload = 1<<24 - 1

// HeaderSize is the length of a packet header: 3 bytes of length, 1 byte of sequence id.
const HeaderSize = 4

// ErrPacketTooLarge is returned when a logical packet exceeds the limit given to ReadPacket.
var ErrPacketTooLarge = errors.New("wire: packet exceeds the size limit")

// ErrSequence is returned when a packet arrives with an unexpected sequence id.
var ErrSequence = errors.New("wire: packet out of sequence")

// Conn frames MySQL packets over a net.Conn with buffered reads and writes. Writes are buffered
// until Flush, so a whole response leaves in as few syscalls as possible. A Conn is used by one
// goroutine at a time. A Conn made with a BufferPool gives its buffers back while idle (Release)
// and takes them again on the next read or write.
type Conn struct {
	nc   net.Conn
	r    *reader
	w    *bufio.Writer // nil while released
	pool *BufferPool   // nil: buffers are the Conn's own
	fw   *fdWriter     // what the write buffer writes to

	// Seq is the sequence id the next packet read or written must carry. Callers reset it to 0
	// at the start of each command; ReadPacket and WritePacket advance it.
	Seq uint8

	// pending is the size of the packet returned by the last ReadPacket that still sits in the
	// read buffer; it is discarded lazily by the next read so the returned slice stays valid
	// until then without a copy.
	pending int
	// big holds a packet larger than the read buffer; released after use so an idle
	// connection does not keep it.
	big []byte
}

// NewConn wraps nc with read and write buffers of the given sizes.
func NewConn(nc net.Conn, readBuf, writeBuf int) *Conn {
	fw := newFDWriter(nc)
	return &Conn{nc: nc, r: newReader(nc, readBuf, nil), w: bufio.NewWriterSize(fw, writeBuf), fw: fw}
}

// NewPooledConn wraps nc with buffers taken from pool only while in use.
func NewPooledConn(nc net.Conn, pool *BufferPool) *Conn {
	return &Conn{nc: nc, r: newReader(nc, pool.readSize, pool.reads), pool: pool, fw: newFDWriter(nc)}
}

// BufferPool shares read and write buffers among many mostly idle connections.
type BufferPool struct {
	readSize int
	reads    *readPools
	writers  sync.Pool
}

// NewBufferPool returns a pool of buffers of the given sizes.
func NewBufferPool(readSize, writeSize int) *BufferPool {
	p := &BufferPool{readSize: readSize, reads: newReadPools(readSize)}
	p.writers.New = func() any { return bufio.NewWriterSize(nil, writeSize) }
	return p
}

func (c *Conn) writer() *bufio.Writer {
	if c.w == nil {
		c.w = c.pool.writers.Get().(*bufio.Writer)
		c.w.Reset(c.fw)
	}
	return c.w
}

// Release gives the write buffer back to the pool when it holds nothing; the read buffer goes
// back by itself whenever a read finds the socket empty. An idle connection holds no buffer.
func (c *Conn) Release() {
	if c.pool == nil {
		return
	}
	if c.pending > 0 {
		_, _ = c.r.Discard(c.pending)
		c.pending = 0
	}
	c.big = nil
	c.r.release()
	if c.w != nil && c.w.Buffered() == 0 {
		c.w.Reset(nil)
		c.pool.writers.Put(c.w)
		c.w = nil
	}
}

// NetConn returns the underlying connection (for deadlines and Close).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Buffered reports how many bytes sit unread in the read buffer.
func (c *Conn) Buffered() int { return c.r.Buffered() - c.pending }

func (c *Conn) discardPending() error {
	if c.pending > 0 {
		n := c.pending
		c.pending = 0
		if _, err := c.r.Discard(n); err != nil {
			return err
		}
	}
	c.big = nil
	return nil
}

// PeekHeader waits for the next packet and returns its payload length and sequence id without
// consuming anything.
func (c *Conn) PeekHeader() (length int, seq uint8, err error) {
	if err := c.discardPending(); err != nil {
		return 0, 0, err
	}
	h, err := c.r.Peek(HeaderSize)
	if err != nil {
		return 0, 0, err
	}
	return int(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16), h[3], nil
}

// ReadPacket reads one logical packet (joining continuation packets) of at most limit bytes and
// returns its payload. The slice is valid until the next read on c. The sequence id must equal
// c.Seq; c.Seq advances past it.
func (c *Conn) ReadPacket(limit int) ([]byte, error) {
	length, seq, err := c.PeekHeader()
	if err != nil {
		return nil, err
	}
	if seq != c.Seq {
		return nil, fmt.Errorf("%w: got %d, want %d", ErrSequence, seq, c.Seq)
	}
	if length > limit {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrPacketTooLarge, length, limit)
	}
	c.Seq++
	if length < MaxPayload && HeaderSize+length <= c.r.Size() {
		b, err := c.r.Peek(HeaderSize + length)
		if err != nil {
			return nil, err
		}
		c.pending = HeaderSize + length
		return b[HeaderSize:], nil
	}
	// Large or continued packet: copy it out.
	buf := make([]byte, 0, length)
	for {
		if _, err := c.r.Discard(HeaderSize); err != nil {
			return nil, err
		}
		start := len(buf)
		buf = slices.Grow(buf, length)[:start+length]
		if _, err := io.ReadFull(c.r, buf[start:]); err != nil {
			return nil, err
		}
		if length < MaxPayload {
			break
		}
		if length, seq, err = c.PeekHeader(); err != nil {
			return nil, err
		}
		if seq != c.Seq {
			return nil, fmt.Errorf("%w: got %d, want %d", ErrSequence, seq, c.Seq)
		}
		if len(buf)+length > limit {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrPacketTooLarge, limit)
		}
		c.Seq++
	}
	c.big = buf
	return buf, nil
}

// PeekPacket returns the next physical packet (header included) without consuming it, and whether
// it is whole. A packet larger than the read buffer comes back cut to the buffer size; Forward
// moves the rest. The slice is valid until the next read on c.
func (c *Conn) PeekPacket() (pkt []byte, whole bool, err error) {
	length, _, err := c.PeekHeader()
	if err != nil {
		return nil, false, err
	}
	n := HeaderSize + length
	whole = n <= c.r.Size()
	if !whole {
		n = c.r.Size()
	}
	pkt, err = c.r.Peek(n)
	return pkt, whole, err
}

// Forward copies the physical packet last returned by PeekPacket to dst unchanged, header and
// sequence id included. It tells a failed read of c from a failed write to dst.
func (c *Conn) Forward(dst *Conn, pkt []byte, whole bool) (readErr, writeErr error) {
	if _, err := dst.writer().Write(pkt); err != nil {
		return nil, err
	}
	length := int(uint32(pkt[0]) | uint32(pkt[1])<<8 | uint32(pkt[2])<<16)
	if _, err := c.r.Discard(len(pkt)); err != nil {
		return err, nil
	}
	for rem := HeaderSize + length - len(pkt); rem > 0; {
		if c.r.Buffered() == 0 {
			if err := c.r.fill(min(rem, c.r.Size())); err != nil {
				return err, nil
			}
		}
		b, _ := c.r.Peek(min(rem, c.r.Buffered()))
		if _, err := dst.w.Write(b); err != nil {
			return nil, err
		}
		_, _ = c.r.Discard(len(b))
		rem -= len(b)
	}
	return nil, nil
}

// SkipRest discards the rest of a logical packet a ReadPacket refused as too large: the physical
// packets from the next header until one shorter than MaxPayload, at most limit bytes. It returns
// the sequence id that answers the packet (the last one's plus one), so an error sent with it is
// where the peer expects it; when skipping fails part way, the one after the last header seen
// (c.Seq if none was).
func (c *Conn) SkipRest(limit int) (answerSeq uint8, err error) {
	answerSeq = c.Seq
	for skipped := 0; ; {
		length, seq, err := c.PeekHeader()
		if err != nil {
			return answerSeq, err
		}
		answerSeq = seq + 1
		if skipped += HeaderSize + length; skipped > limit {
			return answerSeq, fmt.Errorf("%w: more than %d bytes to skip", ErrPacketTooLarge, limit)
		}
		if _, err := c.r.Discard(HeaderSize + length); err != nil {
			return answerSeq, err
		}
		if length < MaxPayload {
			return answerSeq, nil
		}
	}
}

// Skip discards the packet last returned by PeekPacket.
func (c *Conn) Skip(pkt []byte, whole bool) error {
	length := int(uint32(pkt[0]) | uint32(pkt[1])<<8 | uint32(pkt[2])<<16)
	_, err := c.r.Discard(len(pkt))
	if err == nil && !whole {
		_, err = c.r.Discard(HeaderSize + length - len(pkt))
	}
	return err
}

// WritePacket buffers payload as one logical packet (split into continuation packets when it
// is MaxPayload or longer), numbered from c.Seq.
func (c *Conn) WritePacket(payload []byte) error {
	c.writer()
	for {
		n := min(len(payload), MaxPayload)
		if err := c.writeHeader(n); err != nil {
			return err
		}
		if _, err := c.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < MaxPayload {
			return nil
		}
	}
}

// WriteRaw buffers one physical packet payload with an explicit sequence id, leaving c.Seq alone.
// The proxy uses it to forward a packet it rewrote under the sequence id the peer expects.
func (c *Conn) WriteRaw(seq uint8, payload []byte) error {
	n := len(payload)
	if n >= MaxPayload {
		return fmt.Errorf("%w: rewritten packet of %d bytes", ErrPacketTooLarge, n)
	}
	c.writer()
	if err := c.putHeader(n, seq); err != nil {
		return err
	}
	_, err := c.w.Write(payload)
	return err
}

func (c *Conn) writeHeader(n int) error {
	c.Seq++
	return c.putHeader(n, c.Seq-1)
}

// putHeader writes byte by byte: a header array handed to Write would escape to the heap.
func (c *Conn) putHeader(n int, seq uint8) error {
	_ = c.w.WriteByte(byte(n))
	_ = c.w.WriteByte(byte(n >> 8))
	_ = c.w.WriteByte(byte(n >> 16))
	return c.w.WriteByte(seq)
}

// Flush sends everything buffered.
func (c *Conn) Flush() error {
	if c.w == nil {
		return nil
	}
	return c.w.Flush()
}
