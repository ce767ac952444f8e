package frontend

import (
	"errors"
	"sync"
	"syscall"
	"time"
)

// A parked client waits for its next command with no goroutine at all: its socket is watched by
// one shared epoll instance, and a goroutine starts only when the client sends something. An idle
// client then costs its connection structs, not a goroutine stack (4 KiB and more).
//
// Go's own poller keeps the descriptor too (edge-triggered); this epoll set is a second,
// level-triggered, one-shot watch, so data already waiting is reported at once.

// parker is the shared watch.
type parker struct {
	epfd   int
	wakeR  int // read end of a pipe that ends the loop
	wakeW  int
	mu     sync.Mutex
	parked map[uint64]*Client // by park id (never reused, unlike descriptors)
	nextID uint64
	closed bool
	done   chan struct{}
}

func newParker() (*parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	p := &parker{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], parked: make(map[uint64]*Client), done: make(chan struct{})}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wakeR, &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	go p.loop()
	return p, nil
}

func (p *parker) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

// loop resumes clients as their sockets become readable (or hang up).
func (p *parker) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return // the wake pipe: Close
			}
			p.resume(id, false)
		}
	}
}

// park watches c's socket; false if it cannot (the caller waits the ordinary way).
func (p *parker) park(c *Client, deadline time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.nextID++
	id := p.nextID
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return false
	}
	c.parkID = id
	c.parkDeadline = deadline // read by parkTimedOut under p.mu
	p.parked[id] = c
	if !deadline.IsZero() {
		if c.parkTimer == nil {
			c.parkTimer = time.AfterFunc(time.Until(deadline), c.parkTimedOut)
		} else {
			c.parkTimer.Reset(time.Until(deadline))
		}
	}
	return true
}

// resume takes client id off the watch and starts its goroutine; false if it was not parked
// (already resumed by its data, its deadline or a wake).
func (p *parker) resume(id uint64, timedOut bool) bool {
	p.mu.Lock()
	c := p.parked[id]
	if c == nil {
		p.mu.Unlock()
		return false
	}
	delete(p.parked, id)
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	c.parkID = 0
	if c.parkTimer != nil && !timedOut {
		c.parkTimer.Stop()
	}
	p.mu.Unlock()
	go c.resumeFn(timedOut)
	return true
}

// wakeAll resumes every parked client (drain).
func (p *parker) wakeAll() {
	p.mu.Lock()
	ids := make([]uint64, 0, len(p.parked))
	for id := range p.parked {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.resume(id, false)
	}
}

// close ends the loop; clients still parked are resumed (their sessions then see the drain).
func (p *parker) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wakeAll()
	_, _ = syscall.Write(p.wakeW, []byte{1})
	<-p.done
	p.closeFDs()
}

// Park waits for the client's next command without a goroutine: it returns true at once, and
// resume runs on a new goroutine when the client sends something or hangs up (timedOut false),
// or when deadline passes (timedOut true; zero: none), or on Wake or Close. resume must be the
// same function every time (a method value bound once: nothing is allocated per park). False:
// the client cannot be parked (TLS, unread bytes, no watch); wait for it the ordinary way.
func (c *Client) Park(deadline time.Time, resume func(timedOut bool)) bool {
	if c.parker == nil || c.fd < 0 || c.Buffered() > 0 {
		return false
	}
	c.resumeFn = resume
	return c.parker.park(c, deadline)
}

// parkTimedOut runs from the park timer.
func (c *Client) parkTimedOut() {
	c.parker.mu.Lock()
	id, dl := c.parkID, c.parkDeadline
	c.parker.mu.Unlock()
	if id != 0 && !dl.IsZero() && !time.Now().Before(dl) {
		c.parker.resume(id, true)
	}
}

func (c *Client) parkedID() uint64 {
	if c.parker == nil {
		return 0
	}
	c.parker.mu.Lock()
	defer c.parker.mu.Unlock()
	return c.parkID
}

// Wake makes the client's session look at once: a parked client is resumed, a waiting one's
// read fails with a timeout.
func (c *Client) Wake() {
	if id := c.parkedID(); id != 0 && c.parker.resume(id, false) {
		return
	}
	_ = c.NetConn().SetReadDeadline(time.Now())
}

// Close closes the client connection; a parked client is resumed so its session can end.
func (c *Client) Close() error {
	id := c.parkedID()
	err := c.Conn.Close()
	if id != 0 {
		c.parker.resume(id, false)
	}
	return err
}

// Finish ends the client: closes the connection and gives its place back. The handler calls it
// once, when the session is over.
func (c *Client) Finish() {
	if c.parkTimer != nil {
		c.parkTimer.Stop()
	}
	c.finish()
}
