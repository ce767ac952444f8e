package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ, which Linux fixes at 100
// for user space on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// procSample is one reading of a process's CPU time (user and system, all threads), resident
// set, context switches and read and write syscalls.
type procSample struct {
	cpu time.Duration
	rss int64 // bytes
	// Summed over the process's threads (those alive when read: Go and MariaDB keep theirs).
	voluntary, involuntary int64
	// From /proc/PID/io: the read-like and write-like syscalls of every thread, exited ones
	// included; zero when the file cannot be read (another user's process, without root).
	reads, writes int64
}

// sampleProc reads /proc/PID/stat, /proc/PID/status, /proc/PID/io and each thread's status.
func sampleProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("-target-pid %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: count fields from the last ')'. f[0] is
	// field 3 (state), so utime (field 14) and stime (15) are f[11] and f[12].
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 13 {
		return procSample{}, fmt.Errorf("-target-pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("-target-pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	s := procSample{cpu: time.Duration(utime+stime) * clockTick}

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("-target-pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return procSample{}, fmt.Errorf("-target-pid %d: bad VmRSS line %q", pid, line)
			}
			s.rss = kb << 10
		}
	}
	s.voluntary, s.involuntary = threadSwitches(pid)
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		s.reads, s.writes = statusField(io, "syscr:"), statusField(io, "syscw:")
	}
	return s, nil
}

// threadSwitches sums the voluntary and involuntary context switches of pid's threads.
func threadSwitches(pid int) (voluntary, involuntary int64) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, t := range tasks {
		st, err := os.ReadFile(dir + "/" + t.Name() + "/status")
		if err != nil {
			continue // the thread exited
		}
		voluntary += statusField(st, "voluntary_ctxt_switches:")
		involuntary += statusField(st, "nonvoluntary_ctxt_switches:")
	}
	return voluntary, involuntary
}

// statusField returns the number after name at the start of a line of a /proc file, 0 if absent.
func statusField(b []byte, name string) int64 {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
			return n
		}
	}
	return 0
}

// selfCPU returns the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RaiseOpenFileLimit raises the soft limit on open files to the hard limit, since every client
// holds a socket, and returns the new soft limit.
func RaiseOpenFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}
