package sync

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The audit log is read by people as well as by the daemon: an inspector
// exports a period of it (NT 8.2), an operator asks why an account is as
// it is. Both read the file directly, without the state directory's lock:
// the log is append-only, so a reader sees a prefix of it, and the chain
// of that prefix is verified as it is read.

// ReadAudit reads the audit log at path, verifying the whole chain, and
// returns the records keep accepts, in order; keep sees every record, so
// it may follow the log's history (see AuditUnits). Nil keep keeps all. A
// record that does not fit the chain is an error wrapping ErrAuditBroken
// and naming its line: a reader never works from a log that was altered.
// A last line without its newline that is not a record is one being
// written as the file is read (or torn by a crash, which the daemon cuts
// at its next start) and is left out; every other line must be a record.
func ReadAudit(path string, keep func(AuditRecord) bool) ([]AuditRecord, error) {
	// The closed segments beside the log come first (see Rotate); a
	// closed segment named alone is read alone, its chain taken from its
	// first record.
	files := []string{path}
	var v verifier
	if strings.HasPrefix(filepath.Base(path), segmentPrefix) {
		v.seed = true
	} else {
		var err error
		if files, err = AuditFiles(path); err != nil {
			return nil, err
		}
	}
	var out []AuditRecord
	for _, p := range files {
		var err error
		if out, err = readAuditFile(p, &v, keep, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readAuditFile reads one file of the log with v, appending what keep
// accepts to out.
func readAuditFile(path string, v *verifier, keep func(AuditRecord) bool, out []AuditRecord) ([]AuditRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	line := 0
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		b, rerr := r.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, fmt.Errorf("audit %s: read: %w", path, rerr)
		}
		if len(b) == 0 {
			break
		}
		line++
		whole := b[len(b)-1] == '\n'
		rec, err := v.next(bytes.TrimSuffix(b, []byte{'\n'}))
		if err != nil {
			if !whole && errors.Is(err, errTornLine) {
				break // being written, or torn: not yet a record
			}
			if errors.Is(err, errTornLine) {
				err = fmt.Errorf("%w: %w", ErrAuditBroken, err)
			}
			return nil, fmt.Errorf("audit %s: line %d: %w (the %d records before it are intact)", path, line, err, v.n)
		}
		if keep == nil || keep(rec) {
			out = append(out, rec)
		}
		if rerr != nil {
			break
		}
	}
	return out, nil
}

// AuditUnits follows, record by record, the unit each account is in as
// the audit log itself tells it: the unit of its creation or adoption
// (Detail["unit"]), then the destination of each move (Detail["to"]). It
// answers which units a record is about without reading the directory,
// and as of the record's time, not today: a person who moved since stays
// in the old unit's records.
type AuditUnits struct {
	byUID, byEmployee map[string]string
}

// Observe returns the units rec is about and notes what rec changes; feed
// it every record of the log, in order. A record names a unit when its
// detail has one (a creation, an adoption), when it moves the account
// (both units: the one it leaves and the one it joins), or when it is
// about an account (by uid, else employee id) whose unit an earlier
// record told. Records about no account of a known unit (the tree, hold
// decisions, an event refused before the person had an account) name
// none.
func (u *AuditUnits) Observe(rec AuditRecord) []string {
	if u.byUID == nil {
		u.byUID, u.byEmployee = map[string]string{}, map[string]string{}
	}
	var units []string
	add := func(s string) {
		if s != "" && !slices.ContainsFunc(units, func(x string) bool { return strings.EqualFold(x, s) }) {
			units = append(units, s)
		}
	}
	current := u.byUID[rec.UID]
	if current == "" && rec.EmployeeID != "" {
		current = u.byEmployee[rec.EmployeeID]
	}
	set := func(unit string) {
		if rec.UID != "" {
			u.byUID[rec.UID] = unit
		}
		if rec.EmployeeID != "" {
			u.byEmployee[rec.EmployeeID] = unit
		}
	}
	switch {
	case rec.Action == ActionIntent:
		add(current)
	case rec.Action == string(OpMove) && rec.Detail["to"] != "":
		add(rec.Detail["from"])
		add(rec.Detail["to"])
		set(rec.Detail["to"])
	case rec.Detail["unit"] != "" && rec.Action != "not_done":
		add(rec.Detail["unit"])
		add(current)
		set(rec.Detail["unit"])
	default:
		add(rec.Detail["unit"])
		add(current)
	}
	return units
}

// AuditSelection is what SelectAudit read.
type AuditSelection struct {
	Records []AuditRecord
	// Total is the number of records in the log, Head the last one's hash.
	Total uint64
	Head  string
}

// SelectAudit reads the log at path as ReadAudit does and returns the
// records with Time in [from, to) about unit (as AuditUnits tells it; all
// records when unit is ""). An intent is about the units of its outcome
// too: the intent of a creation comes before the record that names the
// unit.
func SelectAudit(path string, from, to time.Time, unit string) (*AuditSelection, error) {
	var (
		units    AuditUnits
		sel      AuditSelection
		about    = map[uint64][]string{} // kept intents, by Seq
		outcomes = map[uint64][]string{} // by intent
	)
	recs, err := ReadAudit(path, func(r AuditRecord) bool {
		sel.Total, sel.Head = r.Seq, r.Hash
		us := units.Observe(r) // every record: an account's unit is told from the start
		if unit != "" && r.Intent != 0 {
			outcomes[r.Intent] = us
		}
		if r.Time.Before(from) || !r.Time.Before(to) {
			return false
		}
		if unit != "" && r.Action == ActionIntent {
			about[r.Seq] = us
			return true // decided once its outcome is read
		}
		return unit == "" || containsFold(us, unit)
	})
	if err != nil {
		return nil, err
	}
	sel.Records = slices.DeleteFunc(recs, func(r AuditRecord) bool {
		us, ok := about[r.Seq]
		return ok && !containsFold(us, unit) && !containsFold(outcomes[r.Seq], unit)
	})
	return &sel, nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// AuditCSVHeader are the columns of WriteAuditCSV.
var AuditCSVHeader = []string{"seq", "time", "action", "op", "uid", "dn", "employee_id", "event", "reason", "article", "requested_by", "detail"}

// WriteAuditCSV writes recs as CSV for people, with a header: time in RFC
// 3339 in loc, the event as source/event_id, the detail as "k=v; …" by
// key. Every cell is neutralised (neutralizeCell): a value that reached
// the log from a personnel file or an operator's note must not run as a
// formula in the inspector's spreadsheet.
func WriteAuditCSV(w io.Writer, recs []AuditRecord, loc *time.Location) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AuditCSVHeader); err != nil {
		return fmt.Errorf("audit: csv: %w", err)
	}
	for _, r := range recs {
		event := r.EventID
		if r.Source != "" {
			event = r.Source + "/" + r.EventID
		}
		row := []string{strconv.FormatUint(r.Seq, 10), r.Time.In(loc).Format(time.RFC3339), r.Action, r.Op, r.UID, r.DN,
			r.EmployeeID, event, r.Reason, r.Article, r.RequestedBy, DetailString(r.Detail)}
		if err := cw.Write(neutralizeRow(row)); err != nil {
			return fmt.Errorf("audit: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("audit: csv: %w", err)
	}
	return nil
}

// WriteAuditJSON writes recs as JSON Lines, each record as the log holds
// it (time in UTC, with prev and hash), so that each can be checked
// against the log.
func WriteAuditJSON(w io.Writer, recs []AuditRecord) error {
	bw := bufio.NewWriter(w)
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: encode: %w", err)
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// DetailString returns a record's detail as "k=v; …", sorted by key.
func DetailString(d map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(d)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(d[k])
	}
	return b.String()
}
