package bench

import (
	"errors"
	"net"
	"strings"
	"sync"
)

// relayBufferSize is the relay's copy buffer per direction: a point select's request and answer
// fit many times over, so each is one read and one write.
const relayBufferSize = 16 << 10

// ServeRelay is the floor a proxy is measured against: every connection accepted on ln gets its
// own connection to the server at to (a unix socket when it starts with '/'), and bytes are
// copied both ways, one read and one write at a time through Go's netpoller: no pooling, no
// parsing, nothing a proxy could leave out. It returns when ln is closed, after closing the
// connections it relays.
func ServeRelay(ln net.Listener, to string) error {
	network := "tcp"
	if strings.HasPrefix(to, "/") {
		network = "unix"
	}
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	var wg sync.WaitGroup
	defer func() {
		mu.Lock()
		for c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := net.Dial(network, to)
			if err != nil {
				_ = c.Close()
				return
			}
			mu.Lock()
			open[c], open[s] = struct{}{}, struct{}{}
			mu.Unlock()
			done := make(chan struct{})
			go func() {
				copyBytes(s, c)
				close(done)
			}()
			copyBytes(c, s)
			<-done
			mu.Lock()
			delete(open, c)
			delete(open, s)
			mu.Unlock()
		}()
	}
}

// copyBytes copies src to dst until either fails, then closes both, which ends the other
// direction too.
func copyBytes(dst, src net.Conn) {
	buf := make([]byte, relayBufferSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = src.Close()
	_ = dst.Close()
}
