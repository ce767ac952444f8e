package admin

import (
	"github.com/go-mysql-org/go-mysql/mysql"
)

// seenFormat is how SHOW DIGESTS prints first_seen and last_seen (the proxy's local time).
const seenFormat = "2006-01-02 15:04:05"

func (h *handler) showDigests(string) (*mysql.Result, error) {
	t := h.s.digests
	if t == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "SHOW DIGESTS: digests are off ([admin] digests = false)")
	}
	names := []string{"digest", "digest_text", "count", "sum_time_ms", "avg_time_ms", "max_time_ms",
		"rows_sent", "errors", "first_seen", "last_seen"}
	var rows [][]any
	for _, r := range t.Rows() {
		var dg any = r.Digest
		if r.Digest == "" {
			dg = nil // the overflow row, as MySQL's NULL digest
		}
		rows = append(rows, []any{dg, r.Text, r.Count, ms(r.Sum), ms(avg(r)), ms(r.Max), r.RowsSent, r.Errors,
			r.FirstSeen.Format(seenFormat), r.LastSeen.Format(seenFormat)})
	}
	return resultset(names, rows)
}

func (h *handler) resetDigests(string) (*mysql.Result, error) {
	if h.s.digests == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "RESET DIGESTS: digests are off ([admin] digests = false)")
	}
	h.s.digests.Reset()
	h.s.log.Info("admin RESET DIGESTS")
	return nil, nil
}
