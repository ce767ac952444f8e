// Package fdlimit raises the process's open-files limit and says how many descriptors a
// configuration may need, so that an operator learns at start, not from failing accepts, that
// `ulimit -n` is too low for the connections the configuration allows.
package fdlimit

import (
	"syscall"

	"github.com/mysqlmux/mysqlmux/config"
)

// Reserve is the descriptors the proxy holds besides client and backend connections: the
// standard streams, the three listeners, the epoll watch of parked clients, admin-console
// clients, and files read at start or reload (configuration, TLS keys, CA, CPU profile).
const Reserve = 32

// Limits is RLIMIT_NOFILE: the soft limit is what the process may open now; only root may raise
// the hard limit.
type Limits struct {
	Soft, Hard uint64
}

// Raise sets the soft open-files limit to the hard limit and returns the limits in force. On
// error the limits returned are those left in force. Go's runtime raises the soft limit too but
// undoes it for child processes and may stop doing it; the proxy wants it set on purpose.
func Raise() (Limits, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return Limits{}, err
	}
	if rl.Cur < rl.Max {
		raised := syscall.Rlimit{Cur: rl.Max, Max: rl.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			return Limits{Soft: rl.Cur, Hard: rl.Max}, err
		}
		rl = raised
	}
	return Limits{Soft: rl.Cur, Hard: rl.Max}, nil
}

// Need returns how many descriptors cfg allows the proxy to hold at once: one per client up to
// max_client_connections, one per backend connection up to each backend's cap, and Reserve.
func Need(cfg *config.Config) uint64 {
	return uint64(cfg.Proxy.MaxClientConnections) + BackendCaps(cfg) + Reserve
}

// BackendCaps returns the sum of the backends' connection caps.
func BackendCaps(cfg *config.Config) uint64 {
	var n uint64
	for _, b := range cfg.Backends {
		n += uint64(b.Cap(cfg.Pool))
	}
	return n
}
