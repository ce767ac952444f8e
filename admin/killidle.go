package admin

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/proxy"
)

// killIdle closes the clients that have sent no command for at least n seconds ("n" or
// "n FORCE"). A client inside a transaction or pinned for any other reason keeps its connection
// unless FORCE: closing it rolls its transaction back and loses its session state. A client
// with a command under way is never idle. It answers a row per idle client and what was done.
//
// A client that sends a command in the instant between the look and the close is closed as if
// it had come a moment later, as with MySQL's KILL of a sleeping connection: its connection is
// rolled back and reset like any dropped client's.
func (h *handler) killIdle(arg string) (*mysql.Result, error) {
	num, force := strings.CutSuffix(arg, " FORCE")
	secs, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return nil, mysql.NewError(mysql.ER_PARSE_ERROR,
			fmt.Sprintf("KILL IDLE CLIENTS OLDER THAN: %q is not a number of seconds (usage: KILL IDLE CLIENTS OLDER THAN n [FORCE])", arg))
	}
	olderThan := time.Duration(secs) * time.Second
	r := h.s.in.Router()
	sessions := r.Sessions()
	slices.SortFunc(sessions, func(a, b proxy.ClientInfo) int { return cmp.Compare(a.ID, b.ID) })
	now := time.Now()
	names := []string{"id", "user", "address", "idle_seconds", "pinned_reason", "action"}
	var rows [][]any
	killed := 0
	for _, c := range sessions {
		idle := now.Sub(c.LastCommand)
		if c.State != "idle" || idle < olderThan {
			continue
		}
		action := "kept: pinned (FORCE closes it)"
		if c.PinnedReason == "" || force {
			action = "killed"
			if !r.Kill(c.ID) {
				action = "gone"
			} else {
				killed++
			}
		}
		rows = append(rows, []any{uint64(c.ID), c.User, c.Address, int64(idle.Seconds()), c.PinnedReason, action})
	}
	h.s.log.Info("admin KILL IDLE CLIENTS", "older_than", olderThan, "force", force, "killed", killed, "idle", len(rows))
	return resultset(names, rows)
}
