package wire

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// errPeekTooLarge: a Peek larger than the buffer (a bug in the caller).
var errPeekTooLarge = errors.New("wire: peek larger than the read buffer")

// smallReadSize is the read buffer a pooled reader takes first. Most commands fit it; a statement
// waiting for a backend connection keeps the buffer its text is in, and 1,000 of them queued
// behind a cap of 32 held 16 MB in buffers of 16 KiB.
const smallReadSize = 2 << 10

// readPools are the read buffers of pooled readers: a small one first, a large one (the reader's
// size) once a packet or a read does not fit the small one.
type readPools struct {
	small, large sync.Pool // of *[]byte
}

func newReadPools(size int) *readPools {
	p := &readPools{}
	small := min(smallReadSize, size)
	p.small.New = func() any { b := make([]byte, small); return &b }
	p.large.New = func() any { b := make([]byte, size); return &b }
	return p
}

// reader is a buffered reader that reads sockets through their raw file descriptor. Between the
// read that finds the socket empty and the wait in the poller, a pooled reader with nothing
// buffered gives its buffer back: an idle connection holds no buffer and costs no extra syscall
// to find out when it has something to read.
type reader struct {
	rc    syscall.RawConn // nil: read through src
	src   io.Reader
	buf   []byte     // nil while given back
	bufp  *[]byte    // the pool's handle on buf
	small bool       // buf is one of pools.small's
	r, w  int        // unread bytes are buf[r:w]
	size  int        // the largest buffer: what Peek may ask for
	pools *readPools // nil when buf is the reader's own

	// readFn is readOnce bound once: a closure per read would allocate.
	readFn func(fd uintptr) bool
	n      int
	errno  syscall.Errno

	// Conn.SendAwait's write, done by sendFn (sendOnce bound once) inside the read: the bytes,
	// how many are written, why the write stopped, and whom to tell once it is done.
	sendFn    func(fd uintptr) bool
	send      []byte
	sendN     int
	sendErrno syscall.Errno
	sent      func(error)
}

// readOnce is called by the poller: it reads what is there, or, finding nothing, gives the
// buffer back and asks to be called again when the socket is readable.
func (rd *reader) readOnce(fd uintptr) bool {
	rd.acquire()
	rd.n, rd.errno = rawRead(fd, rd.buf[rd.w:])
	if rd.errno == syscall.EAGAIN {
		rd.release() // about to park in the poller: hold no buffer while waiting
		return false
	}
	return true
}

func newReader(nc net.Conn, size int, pools *readPools) *reader {
	rd := &reader{src: nc, size: size, pools: pools}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rd.rc = rc
			rd.readFn = rd.readOnce
			rd.sendFn = rd.sendOnce
		}
	}
	if pools == nil {
		rd.buf = make([]byte, size)
	}
	return rd
}

func (rd *reader) Size() int     { return rd.size }
func (rd *reader) Buffered() int { return rd.w - rd.r }

// Peek returns the next n bytes without consuming them, reading as needed.
func (rd *reader) Peek(n int) ([]byte, error) {
	if n > rd.size {
		return nil, errPeekTooLarge
	}
	for rd.w-rd.r < n {
		if err := rd.fill(n); err != nil {
			return nil, err
		}
	}
	return rd.buf[rd.r : rd.r+n], nil
}

// Discard skips n bytes, reading as needed (a large buffer's worth at a time).
func (rd *reader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if rd.r == rd.w {
			if err := rd.fill(min(n-done, rd.size)); err != nil {
				return done, err
			}
		}
		k := min(n-done, rd.w-rd.r)
		rd.r += k
		done += k
	}
	return done, nil
}

// Read copies buffered bytes into p, reading once if none are buffered (into a large buffer
// when p is larger than the small one).
func (rd *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if rd.r == rd.w {
		if err := rd.fill(min(len(p), rd.size)); err != nil {
			return 0, err
		}
	}
	n := copy(p, rd.buf[rd.r:rd.w])
	rd.r += n
	return n, nil
}

// release gives an empty buffer back to the pool.
func (rd *reader) release() {
	if rd.pools != nil && rd.buf != nil && rd.r == rd.w {
		rd.put()
		rd.buf, rd.bufp, rd.r, rd.w = nil, nil, 0, 0
	}
}

func (rd *reader) put() {
	if rd.small {
		rd.pools.small.Put(rd.bufp)
	} else {
		rd.pools.large.Put(rd.bufp)
	}
}

func (rd *reader) acquire() {
	if rd.buf == nil {
		rd.bufp, rd.small = rd.pools.small.Get().(*[]byte), true
		rd.buf, rd.r, rd.w = *rd.bufp, 0, 0
	}
}

// grow moves the unread bytes of a small buffer into a large one.
func (rd *reader) grow() {
	bp := rd.pools.large.Get().(*[]byte)
	n := copy(*bp, rd.buf[rd.r:rd.w])
	rd.put()
	rd.buf, rd.bufp, rd.small, rd.r, rd.w = *bp, bp, false, 0, n
}

// fill reads at least one more byte into the buffer, which it first makes large enough to hold
// need unread bytes (need is at most rd.size).
func (rd *reader) fill(need int) error {
	rd.acquire()
	if rd.small && need > len(rd.buf) {
		rd.grow()
	}
	if rd.r > 0 {
		copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.w -= rd.r
		rd.r = 0
	}
	if rd.rc == nil {
		n, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	rd.n, rd.errno = 0, 0
	if err := rd.rc.Read(rd.readFn); err != nil {
		return err // closed, deadline
	}
	n, errno := rd.n, rd.errno
	if errno != 0 {
		return &net.OpError{Op: "read", Net: "tcp", Err: errno}
	}
	if n == 0 {
		return io.EOF
	}
	rd.w += n
	return nil
}
