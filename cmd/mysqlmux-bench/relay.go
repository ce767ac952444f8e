package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mysqlmux/mysqlmux/bench"
)

// relayEnv, in a child's environment, makes this program the relay to the address it holds
// (see serveRelay) instead of a load generator.
const relayEnv = "MYSQLMUX_BENCH_RELAY_TO"

// relayStopTimeout bounds the wait for the relay to exit once told to.
const relayStopTimeout = 5 * time.Second

// startRelay starts the relay baseline (bench.ServeRelay) to the server at to, as a child process
// of this program so that its CPU time and syscalls are its own, and returns it as a target (the
// floor the others are held to) with the function that stops it.
func startRelay(to string, stderr io.Writer) (bench.Target, func(), error) {
	if strings.Contains(to, ",") {
		return bench.Target{}, nil, fmt.Errorf("-relay: the first target %s is several addresses; the relay goes to one server", to)
	}
	exe, err := os.Executable()
	if err != nil {
		return bench.Target{}, nil, fmt.Errorf("-relay: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), relayEnv+"="+to)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return bench.Target{}, nil, fmt.Errorf("-relay: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return bench.Target{}, nil, fmt.Errorf("-relay: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return bench.Target{}, nil, fmt.Errorf("-relay: %w", err)
	}
	exited := make(chan struct{})
	stop := func() {
		_ = stdin.Close() // the relay exits when its standard input ends
		select {
		case <-exited:
		case <-time.After(relayStopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err != nil {
		stop()
		return bench.Target{}, nil, fmt.Errorf("-relay: the relay did not start: %w", err)
	}
	return bench.Target{Addr: strings.TrimSpace(line), PID: cmd.Process.Pid, Name: "relay", Floor: true}, stop, nil
}

// serveRelay is the child startRelay starts: it listens on a free loopback port, prints the
// address, and relays to to until its standard input ends.
func serveRelay(to string, stdin io.Reader, stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "mysqlmux-bench relay: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		_ = ln.Close()
	}()
	if err := bench.ServeRelay(ln, to); err != nil {
		fmt.Fprintf(stderr, "mysqlmux-bench relay: %v\n", err)
		return 1
	}
	return 0
}
