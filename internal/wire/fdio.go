package wire

import (
	"net"
	"syscall"
	"unsafe"
)

// Socket reads and writes go through the raw descriptor with RawSyscall rather than the
// runtime's Syscall. The descriptors are non-blocking, so these calls never wait; but on
// loopback a write runs the receiver's TCP processing inside the syscall (tens of µs), long
// enough that with Syscall the runtime's monitor hands the P to another thread on every query:
// measured, a sixth of the proxy's CPU went to that monitor alone, plus the thread switches.

// rawRead reads once from fd; EAGAIN means nothing to read yet.
func rawRead(fd uintptr, b []byte) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}

// fdWriter writes to a socket through its raw descriptor, waiting in the poller only when the
// socket buffer is full.
type fdWriter struct {
	rc syscall.RawConn // nil: write through nc
	nc net.Conn

	// writeFn is writeOnce bound once (a closure per write would allocate); p, written and
	// errno are its arguments and results.
	writeFn func(fd uintptr) bool
	p       []byte
	written int
	errno   syscall.Errno

	// capture makes Write keep the bytes in captured instead of writing them (Conn.SendAwait
	// takes the write buffer's contents so): they stay valid until the buffer is written again.
	capture  bool
	captured []byte
}

func newFDWriter(nc net.Conn) *fdWriter {
	w := &fdWriter{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
			w.writeFn = w.writeOnce
		}
	}
	return w
}

func (w *fdWriter) writeOnce(fd uintptr) bool {
	for w.written < len(w.p) {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.p[w.written])), uintptr(len(w.p)-w.written))
		switch errno {
		case 0:
			w.written += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // socket buffer full: wait until writable
		default:
			w.errno = errno
			return true
		}
	}
	return true
}

func (w *fdWriter) Write(p []byte) (int, error) {
	if w.capture {
		w.captured = p
		return len(p), nil
	}
	if w.rc == nil {
		return w.nc.Write(p)
	}
	w.p, w.written, w.errno = p, 0, 0
	err := w.rc.Write(w.writeFn)
	n, errno := w.written, w.errno
	w.p = nil
	if err != nil {
		return n, err
	}
	if errno != 0 {
		return n, &net.OpError{Op: "write", Net: "tcp", Err: errno}
	}
	return n, nil
}
