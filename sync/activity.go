package sync

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// SourceFeed is the source of the activity applications report.
const SourceFeed = "feed"

// Columns of an activity feed.
const (
	FieldUsername   = "username"
	FieldMail       = "mail"
	FieldLastActive = "last_active"
)

// isActivityFeed reports whether an inbox file is an activity feed: a CSV
// named activity*.csv.
func isActivityFeed(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	if i := strings.Index(base, "_"); i > 0 && strings.HasPrefix(base, "20") {
		base = base[i+1:] // a claimed file's time stamp
	}
	return strings.HasPrefix(base, "activity") && strings.HasSuffix(base, ".csv")
}

// activityRow is one valid row of a feed.
type activityRow struct {
	uid  string
	at   time.Time
	line int
	rec  Record
}

// readActivity reads a feed: a header naming username and last_active
// (RFC 3339, "YYYY-MM-DD HH:MM" or a date, in rules.timezone), then one
// row per account. Bad rows are rejected with their reasons.
func readActivity(b *Batch, data []byte, loc *time.Location, now time.Time) ([]activityRow, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	b.delimiter = detectDelimiter(data)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma, cr.FieldsPerRecord = b.delimiter, -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: want %s,%s: %w", FieldUsername, FieldLastActive, err)
	}
	b.header = header
	col := map[string]int{}
	for i, h := range header {
		col[normalizeHeader(h)] = i
	}
	u, okU := col[FieldUsername]
	t, okT := col[FieldLastActive]
	if !okU || !okT {
		return nil, fmt.Errorf("header: want columns %s and %s", FieldUsername, FieldLastActive)
	}
	var rows []activityRow
	err = eachRow(cr, func(row []string, line int) {
		rec := Record{Origin: Origin{File: b.File, Line: line}, Raw: row}
		get := func(i int) string {
			if i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		var probs []Problem
		uid := strings.ToLower(get(u))
		if uid == "" {
			probs = append(probs, Problem{Field: FieldUsername, Msg: "required"})
		}
		at, err := parseActivityTime(get(t), loc)
		switch {
		case err != nil:
			probs = append(probs, Problem{Field: FieldLastActive, Msg: err.Error()})
		case at.After(now.Add(time.Hour)):
			probs = append(probs, Problem{Field: FieldLastActive, Msg: fmt.Sprintf("%s is in the future", get(t))})
		}
		if len(probs) > 0 {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: probs})
			return
		}
		rows = append(rows, activityRow{uid: uid, at: at, line: line, rec: rec})
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func parseActivityTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	d, err := rules.ParseDate(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339, YYYY-MM-DD HH:MM or a date", s)
	}
	return d.In(loc), nil
}

// ingestActivity records the activity a feed reports (NT 6.2.a: work
// handled in applications that never bind as the user, such as webmail
// behind single sign-on) as ldapsyncLastActive on each entry, when it is a
// later day than the entry holds. Each write is planned, applied and
// audited like any other change; the feed itself is not journaled (a day
// of activity for a whole province would swell it): after a crash the
// file is still in processing/ and is read again, and writes already made
// are found made.
func (e *Engine) ingestActivity(ctx context.Context, name, stamp string, data []byte) (*IngestResult, error) {
	r := e.Rules()
	now := e.now()
	b := &Batch{File: name, Format: FormatCSV}
	rows, err := readActivity(b, data, r.Location, now)
	if err != nil {
		return nil, &FileError{name, err}
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	snap, err := e.dir.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: activity feed: read directory: %w", err)
	}
	byUID := make(map[string]*rules.Account, len(snap.People))
	for i := range snap.People {
		if !snap.People[i].Revoked {
			byUID[fold(snap.People[i].UID)] = &snap.People[i]
		}
	}
	latest := map[string]activityRow{}
	for _, row := range rows {
		if byUID[row.uid] == nil {
			b.Rejected = append(b.Rejected, Rejection{Record: row.rec, Problems: []Problem{{Field: FieldUsername, Msg: fmt.Sprintf("%q is not a personal account", row.uid)}}})
			continue
		}
		if old, ok := latest[row.uid]; !ok || row.at.After(old.at) {
			latest[row.uid] = row
		}
	}
	pl := e.planner(r)
	st := newPlanState(pl, snap, now)
	p := &Plan{}
	// Capacity fixed: the plan's operations point into it.
	entries := make([]Entry, 0, len(latest))
	for uid, row := range latest {
		acct := st.byUID[uid]
		day := rules.DateOf(row.at.In(r.Location))
		if last := acct.Lifecycle.LastActive; !last.IsZero() && !rules.DateOf(last.In(r.Location)).Before(day) {
			continue // a day already recorded: no write
		}
		entries = append(entries, Entry{Seq: uint64(len(entries) + 1), Event: Event{
			Source: SourceFeed, ID: "activity:" + acct.UID + ":" + day.String(), Type: Activity, Effective: day,
			EmployeeID: acct.EmployeeID, UID: acct.UID, Origin: Origin{File: name, Line: row.line}, Received: now,
		}})
		en := &entries[len(entries)-1]
		l := acct.Lifecycle
		l.LastActive = row.at.UTC()
		st.setLifecycle(p, en, acct, l, fmt.Sprintf("activity reported by applications (%s line %d)", filepath.Base(name), row.line))
	}
	res := &IngestResult{Batch: b}
	if len(p.Ops) > 0 {
		applier := e.applier
		applier.Rules = r
		_, rep, err := applier.Apply(ctx, p)
		if err != nil {
			return res, err
		}
		res.Added = rep.Applied
	}
	if len(b.Rejected) > 0 {
		var buf strings.Builder
		if err := b.WriteRejected(&buf); err != nil {
			return res, err
		}
		res.RejectedPath = filepath.Join(e.cfg.InboxDir(), rejectedDir, stamp)
		if err := writeFileAtomic(res.RejectedPath, []byte(buf.String()), 0o640); err != nil {
			return res, fmt.Errorf("sync: write rejected rows: %w", err)
		}
	}
	e.log.Info().Str("file", name).Int("rows", len(rows)).Int("updated", len(p.Ops)).Int("rejected", len(b.Rejected)).Msg("activity feed read")
	return res, nil
}
