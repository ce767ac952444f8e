package admin

import (
	"slices"
	"sync"
	"time"

	"github.com/mysqlmux/mysqlmux/digest"
	"github.com/mysqlmux/mysqlmux/internal/wire"
	"github.com/mysqlmux/mysqlmux/proxy"
)

// commandLabels names the commands whose latency is measured, as the "command" label has it;
// every other command that gets an answer counts as "other". COM_QUIT, COM_STMT_CLOSE and
// COM_STMT_SEND_LONG_DATA get none, so they have no latency.
func commandLabels() map[wire.Command]string {
	return map[wire.Command]string{
		wire.ComQuery: "query", wire.ComStmtExecute: "execute", wire.ComStmtPrepare: "prepare",
		wire.ComStmtReset: "stmt_reset", wire.ComPing: "ping", wire.ComInitDB: "init_db",
		wire.ComFieldList: "field_list", wire.ComSetOption: "set_option",
		wire.ComResetConnection: "reset_connection", wire.ComChangeUser: "change_user",
		wire.ComProcessKill: "process_kill", wire.ComStatistics: "statistics",
	}
}

const otherCommand = "other"

// observer is the admin side of proxy.Observer: latency histograms by command and by backend,
// and the digest table's queue. Sessions and pools call it on the statement's path; it only
// does atomic adds and, with digests on, one bounded copy.
type observer struct {
	byCmd  [256]*histogram // by command byte; nil for commands without an answer
	labels []string        // every command label, sorted
	byName map[string]*histogram

	digests *digest.Table // nil when [admin].digests is off

	mu    sync.Mutex
	waits map[string]*histogram // by backend address; kept when a reload removes the backend
}

func newObserver(digests *digest.Table) *observer {
	o := &observer{digests: digests, byName: map[string]*histogram{otherCommand: newHistogram()},
		waits: make(map[string]*histogram)}
	for i := range o.byCmd {
		o.byCmd[i] = o.byName[otherCommand]
	}
	for _, c := range []wire.Command{wire.ComQuit, wire.ComStmtClose, wire.ComStmtSendLongData} {
		o.byCmd[c] = nil
	}
	for c, name := range commandLabels() {
		h := newHistogram()
		o.byCmd[c], o.byName[name] = h, h
	}
	for name := range o.byName {
		o.labels = append(o.labels, name)
	}
	slices.Sort(o.labels)
	return o
}

// CommandDone implements proxy.Observer.
func (o *observer) CommandDone(st proxy.CommandStat) {
	h := o.byCmd[st.Command]
	if h == nil {
		return
	}
	h.observe(st.Duration)
	if o.digests != nil && st.Text != nil {
		o.digests.Record(st.Text, st.Duration, st.Rows, st.ErrCode)
	}
}

// BackendWaits implements proxy.Observer.
func (o *observer) BackendWaits(addr string) func(time.Duration) {
	return o.waitHistogram(addr).observe
}

func (o *observer) waitHistogram(addr string) *histogram {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.waits[addr]
	if h == nil {
		h = newHistogram()
		o.waits[addr] = h
	}
	return h
}

// statements is the latency of the statements clients ran (COM_QUERY and COM_STMT_EXECUTE).
func (o *observer) statements() histSnapshot {
	s := o.byName["query"].snapshot()
	s.add(o.byName["execute"].snapshot())
	return s
}
