package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ldapsync/ldapsync/rules"
)

// SourceRoster is the source of the events a roster derives.
const SourceRoster = "roster"

// IsRoster reports whether an inbox file is a roster: roster*.csv or
// roster*.jsonl (a claimed file's time stamp aside).
func IsRoster(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	if i := strings.Index(base, "_"); i > 0 && strings.HasPrefix(base, "20") {
		base = base[i+1:]
	}
	return strings.HasPrefix(base, "roster") && FormatOf(base) != ""
}

// RosterRow is one person a roster lists as employed.
type RosterRow struct {
	Line         int
	EmployeeID   string
	Name         rules.Name
	Unit         string
	Title        string
	Phone        string
	Leader       *bool
	Applications []string
	// Username and Mail, when HR has them, name the hand-made entry an
	// adoption matches.
	Username string
	Mail     string
}

// Roster is a whole staff list: everyone currently employed.
type Roster struct {
	File string
	// Hash identifies the roster's content: the ids of the events it
	// derives start from it, so the same roster read twice derives the
	// same events, which the journal takes once.
	Hash      string
	Effective rules.Date
	Rows      []RosterRow
	// Batch holds the rejected rows, for rejected/.
	Batch *Batch
}

// ParseRoster reads a roster: the columns of an event file without
// event_id and type (effective is optional: the day of receipt), one row
// per person employed. Rows with problems are rejected with every reason,
// as event files' are; the rest is kept.
func ParseRoster(name string, data []byte, r *rules.Rules, received time.Time, opts ...ParseOption) (*Roster, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sum := sha256.Sum256(data) // of the file as it came: the same export, the same ids
	var warning string
	if !utf8.Valid(data) {
		text, enc, err := decodeLegacyText(data)
		if err != nil {
			return nil, &FileError{name, err}
		}
		data, warning = text, fmt.Sprintf("file is not UTF-8; read as %s (save as \"CSV UTF-8\" to avoid this)", enc)
	}
	ro := &Roster{File: name, Hash: hex.EncodeToString(sum[:]), Effective: rules.DateOf(received.In(r.Location)),
		Batch: &Batch{File: name, Format: FormatOf(name), headers: defaultHeaderIndex}}
	if o.headers != nil {
		idx, errs := o.headers.compile("sync.inbox.headers")
		if len(errs) > 0 {
			return nil, &FileError{name, fmt.Errorf("header map: %w", errs)}
		}
		ro.Batch.headers = idx
	}
	if warning != "" {
		ro.Batch.Warnings = append(ro.Batch.Warnings, warning)
	}
	var recs []Record
	var err error
	switch ro.Batch.Format {
	case FormatCSV:
		recs, err = readRosterCSV(ro.Batch, data)
	case FormatJSONL:
		recs, err = readRosterJSONL(ro.Batch, data)
	default:
		err = fmt.Errorf("unknown file type %q: want .csv or .jsonl", filepath.Ext(name))
	}
	if err != nil {
		return nil, &FileError{name, err}
	}
	seen := map[string]int{}
	for _, rec := range recs {
		row, probs := decodeRosterRow(rec, r)
		if first, dup := seen[fold(row.EmployeeID)]; dup && row.EmployeeID != "" {
			probs = append(probs, Problem{Field: FieldEmployeeID, Msg: fmt.Sprintf("%q is listed again (first on line %d)", row.EmployeeID, first)})
		}
		if v := rec.Values[FieldEffective]; v != "" {
			if d, err := rules.ParseDate(v); err != nil {
				probs = append(probs, Problem{Field: FieldEffective, Msg: err.Error()})
			} else {
				ro.Effective = d // the roster's own date, if it gives one
			}
		}
		if len(probs) > 0 {
			ro.Batch.Rejected = append(ro.Batch.Rejected, Rejection{Record: rec, Problems: probs})
			continue
		}
		seen[fold(row.EmployeeID)] = row.Line
		ro.Rows = append(ro.Rows, row)
	}
	return ro, nil
}

func readRosterCSV(b *Batch, data []byte) ([]Record, error) {
	b.delimiter = detectDelimiter(data)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma, cr.FieldsPerRecord = b.delimiter, -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("empty roster: an empty staff list is refused whole")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	b.header = header
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = b.column(h)
	}
	named := slices.Contains(cols, FieldFullName) || (slices.Contains(cols, FieldFamilyName) && slices.Contains(cols, FieldGivenName))
	if !slices.Contains(cols, FieldEmployeeID) || !slices.Contains(cols, FieldUnit) || !named {
		return nil, fmt.Errorf("header: a roster needs the columns %s, %s and %s (or %s and %s)",
			FieldEmployeeID, FieldUnit, FieldFullName, FieldFamilyName, FieldGivenName)
	}
	var out []Record
	err = eachRow(cr, func(row []string, line int) {
		rec := Record{Origin: Origin{File: b.File, Line: line}, Values: map[string]string{}, Raw: slices.Clone(row)}
		for i, v := range row {
			if i < len(cols) && cols[i] != "" && cols[i] != FieldError {
				rec.Values[cols[i]] = unquoteCell(v)
			}
		}
		out = append(out, rec)
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("empty roster: an empty staff list is refused whole")
	}
	return out, nil
}

func readRosterJSONL(b *Batch, data []byte) ([]Record, error) {
	var out []Record
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		rec := Record{Origin: Origin{File: b.File, Line: i + 1}, Values: map[string]string{}, JSON: slices.Clone(line)}
		if err := json.Unmarshal(line, &obj); err != nil {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: []Problem{{Msg: "not a JSON object: " + err.Error()}}})
			continue
		}
		for key, raw := range obj {
			k := b.column(key)
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				var list []string
				if json.Unmarshal(raw, &list) == nil {
					s = strings.Join(list, ";")
				} else {
					s = strings.Trim(string(raw), `"`)
				}
			}
			rec.Values[k] = s
		}
		out = append(out, rec)
	}
	if len(out)+len(b.Rejected) == 0 {
		return nil, errors.New("empty roster: an empty staff list is refused whole")
	}
	return out, nil
}

// decodeRosterRow validates one roster row.
func decodeRosterRow(rec Record, r *rules.Rules) (RosterRow, []Problem) {
	var probs []Problem
	add := func(f, format string, args ...any) {
		probs = append(probs, Problem{Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	vals := make(map[string]string, len(rec.Values))
	for f, v := range rec.Values {
		vals[f] = clean(v)
		if p := formulaProblem(f, v, vals[f]); p != "" {
			add(f, "%s", p)
		}
	}
	get := func(f string) string { return vals[f] }
	row := RosterRow{Line: rec.Origin.Line, EmployeeID: get(FieldEmployeeID), Title: get(FieldTitle), Phone: get(FieldPhone),
		Username: strings.ToLower(get(FieldUsername)), Mail: strings.ToLower(get(FieldMail))}
	switch {
	case row.EmployeeID == "":
		add(FieldEmployeeID, "required")
	case !employeeIDRE.MatchString(row.EmployeeID):
		add(FieldEmployeeID, "%q must be 1-64 letters, digits or . _ -", row.EmployeeID)
	}
	var ev Event
	decodeName(get, &ev, add)
	row.Name = ev.Name
	row.Unit = strings.ToLower(get(FieldUnit))
	if row.Unit == "" {
		add(FieldUnit, "required")
	} else if _, ok := r.Units.Lookup(row.Unit); !ok {
		add(FieldUnit, "%q is not a unit of the config (see: ldapsync units)", row.Unit)
	}
	if row.Phone != "" && !phoneRE.MatchString(row.Phone) {
		add(FieldPhone, "%q is not a phone number", row.Phone)
	}
	if v := get(FieldLeader); v != "" {
		if b, ok := parseBool(v); ok {
			row.Leader = &b
		} else {
			add(FieldLeader, "%q is not true or false", v)
		}
	}
	ev.Type = Hire
	decodeApplications(r, get(FieldApplications), &ev, add)
	row.Applications = ev.Applications
	return row, probs
}

// Reconcile derives the events that bring the directory to what the roster
// says (a pure function of the roster, the directory, the events still
// waiting in the journal and the rules): a new employee is a hire, a
// changed unit a transfer, a changed title or leader flag a title_change,
// a changed name a rename, a departed or revoked person listed again a
// return, and an account the roster no longer lists a departure of
// unspecified kind, which the guard always holds for an operator. A change
// an event still waiting in the journal already asks for is not derived
// again. Each event's id is derived from the roster's hash, the employee
// and the kind.
func Reconcile(ro *Roster, snap *rules.Snapshot, waiting []Entry, r *rules.Rules, now time.Time) []Event {
	byEmployee := map[string][]*rules.Account{}
	for i := range snap.People {
		a := &snap.People[i]
		if a.EmployeeID != "" {
			byEmployee[fold(a.EmployeeID)] = append(byEmployee[fold(a.EmployeeID)], a)
		}
	}
	asked := map[string]bool{}
	for _, en := range waiting {
		asked[fold(en.Event.EmployeeID)+"/"+string(en.Event.Type)] = true
	}
	var out []Event
	derive := func(t EventType, employee string, fill func(*Event)) {
		if asked[fold(employee)+"/"+string(t)] {
			return
		}
		ev := Event{Source: SourceRoster, ID: "roster:" + ro.Hash[:12] + ":" + employee + ":" + string(t), Type: t,
			Effective: ro.Effective, EmployeeID: employee, Origin: Origin{File: ro.File}, Received: now,
			RequestedBy: "roster " + filepath.Base(ro.File)}
		if fill != nil {
			fill(&ev)
		}
		out = append(out, ev)
	}
	listed := map[string]bool{}
	for _, row := range ro.Rows {
		row := row
		listed[fold(row.EmployeeID)] = true
		accts := byEmployee[fold(row.EmployeeID)]
		if len(accts) != 1 {
			if len(accts) == 0 {
				derive(Hire, row.EmployeeID, func(ev *Event) {
					ev.Name, ev.Unit, ev.Title, ev.Phone, ev.Applications, ev.Leader = row.Name, row.Unit, row.Title, row.Phone, row.Applications, row.Leader
					ev.Origin.Line = row.Line
				})
			}
			continue // several: the planner refuses whatever is derived, naming them
		}
		a := accts[0]
		if a.Revoked || !a.Lifecycle.Departure.IsZero() {
			derive(Return, row.EmployeeID, func(ev *Event) {
				ev.Unit, ev.Applications, ev.Origin.Line = row.Unit, row.Applications, row.Line
			})
			continue
		}
		if !strings.EqualFold(a.Unit, row.Unit) {
			derive(Transfer, row.EmployeeID, func(ev *Event) { ev.Unit, ev.Origin.Line = row.Unit, row.Line })
		}
		leader := r.IsLeaderTitle(a.Title)
		if !a.Lifecycle.LeaderSince.IsZero() {
			leader = a.Lifecycle.Leader
		}
		if (row.Title != "" && row.Title != a.Title) || (row.Leader != nil && *row.Leader != leader) {
			derive(TitleChange, row.EmployeeID, func(ev *Event) {
				ev.Title, ev.Leader, ev.Origin.Line = row.Title, row.Leader, row.Line
				if ev.Title == "" {
					ev.Title = a.Title
				}
			})
		}
		if !sameName(a.CN, row.Name.Full()) {
			derive(Rename, row.EmployeeID, func(ev *Event) { ev.Name, ev.Origin.Line = row.Name, row.Line })
		}
	}
	for i := range snap.People {
		a := &snap.People[i]
		if a.Revoked || a.Status == "" || a.EmployeeID == "" || !a.Lifecycle.Departure.IsZero() || listed[fold(a.EmployeeID)] {
			continue
		}
		derive(RosterDeparture, a.EmployeeID, nil)
	}
	return out
}

// sameName compares two full names as NFC without case or extra spaces.
func sameName(a, b string) bool {
	f := func(s string) string { return norm.NFC.String(strings.ToLower(strings.Join(strings.Fields(s), " "))) }
	return f(a) == f(b)
}

// LatestRoster returns the newest file (by modification time) that pattern
// names, a file or a glob.
func LatestRoster(pattern string) (string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", fmt.Errorf("sync: roster %q: %w", pattern, err)
	}
	var newest string
	var at time.Time
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if newest == "" || info.ModTime().After(at) {
			newest, at = m, info.ModTime()
		}
	}
	if newest == "" {
		return "", fmt.Errorf("sync: no roster at %q", pattern)
	}
	return newest, nil
}

// reconcileJob is the scheduled reconciliation: the newest roster at
// sync.roster.path, read as ldapsync reconcile reads it, then processed.
// The same roster again derives nothing new.
func (e *Engine) reconcileJob(ctx context.Context) error {
	path, err := LatestRoster(e.cfg.Roster.Path)
	if err != nil {
		return err
	}
	if _, err := e.IngestRoster(path); err != nil {
		return err
	}
	_, _, err = e.Process(ctx)
	return err
}

// RosterTooShort refuses a roster that lists nobody, or fewer people than
// sync.guard.min_roster_ratio of the accounts ldapsync manages: a
// truncated export or the wrong file must not suggest hundreds of
// departures.
func RosterTooShort(ro *Roster, snap *rules.Snapshot, g GuardConfig) error {
	managed := managedCount(snap)
	if len(ro.Rows) == 0 || float64(len(ro.Rows)) < g.MinRosterRatio*float64(managed) {
		return fmt.Errorf("the roster lists %d people, the directory holds %d accounts: under sync.guard.min_roster_ratio (%g), it is refused whole (a truncated export or the wrong file?)",
			len(ro.Rows), managed, g.MinRosterRatio)
	}
	return nil
}

// RosterResult is what reading a roster did.
type RosterResult struct {
	*IngestResult
	Roster *Roster
	// Derived are the events the roster derived, by type.
	Derived map[EventType]int
}

// IngestRoster reads the roster at path (ldapsync reconcile), journals the
// events it derives and writes its rejected rows to rejected/. It leaves
// the file where it is.
func (e *Engine) IngestRoster(path string) (*RosterResult, error) {
	data, info, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return e.ingestRoster(path, stampName(path, info), data)
}

// ingestRoster reads a roster and journals what it derives. A roster that
// lists far fewer people than the directory holds (under
// sync.guard.min_roster_ratio of the accounts ldapsync manages: a
// truncated export, the wrong file) is refused whole.
func (e *Engine) ingestRoster(name, stamp string, data []byte) (*RosterResult, error) {
	r := e.Rules()
	now := e.now()
	ro, err := ParseRoster(name, data, r, now, WithHeaders(e.cfg.Inbox.Headers))
	if err != nil {
		return nil, err
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	snap, err := e.dir.Snapshot(e.runContext())
	if err != nil {
		return nil, fmt.Errorf("sync: roster: read directory: %w", err)
	}
	if err := RosterTooShort(ro, snap, e.cfg.Guard); err != nil {
		return nil, &FileError{name, err}
	}
	events := Reconcile(ro, snap, e.journal.Pending(), r, now)
	res := &RosterResult{IngestResult: &IngestResult{Batch: ro.Batch}, Roster: ro, Derived: map[EventType]int{}}
	added, err := e.addEvents(events, now)
	if err != nil {
		return res, err
	}
	res.Added, res.Duplicates = len(added.Added), len(added.Duplicates)
	for _, en := range added.Added {
		res.Derived[en.Event.Type]++
	}
	if len(ro.Batch.Rejected) > 0 {
		var buf strings.Builder
		if err := ro.Batch.WriteRejected(&buf); err != nil {
			return res, err
		}
		res.RejectedPath = filepath.Join(e.cfg.InboxDir(), rejectedDir, stamp)
		if err := writeFileAtomic(res.RejectedPath, []byte(buf.String()), 0o640); err != nil {
			return res, fmt.Errorf("sync: write rejected rows: %w", err)
		}
	}
	e.log.Info().Str("file", name).Int("rows", len(ro.Rows)).Int("rejected", len(ro.Batch.Rejected)).Int("added", res.Added).
		Int("duplicates", res.Duplicates).Interface("derived", res.Derived).Msg("roster reconciled")
	return res, nil
}

// decodeLegacyText reads data, which is not UTF-8, in the one legacy
// encoding (Windows-1258, TCVN3, VNI) in which every line is well-formed
// Vietnamese, as event files are read (see readLegacy); none, or two that
// read differently, is an error naming why.
func decodeLegacyText(data []byte) ([]byte, string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, "", fmt.Errorf("not a text file: it holds NUL bytes (%s)", saveAsUTF8)
	}
	var fit []byte
	var fitEnc string
	var misfits []string
	for _, enc := range legacyEncodings {
		text, err := enc.decode(data)
		if err == nil {
			if p := linesProblem(text); p != "" {
				err = errors.New(p)
			}
		}
		switch {
		case err != nil:
			misfits = append(misfits, fmt.Sprintf("as %s (%v)", enc.name, err))
		case fit == nil:
			fit, fitEnc = text, enc.name
		case !bytes.Equal(fit, text):
			return nil, "", fmt.Errorf("cannot tell the encoding: it reads as Vietnamese both as %s and as %s, differently: %s", fitEnc, enc.name, saveAsUTF8)
		}
	}
	if fit == nil {
		return nil, "", fmt.Errorf("cannot tell the encoding: the file is not UTF-8, and it is not Vietnamese read %s: %s", strings.Join(misfits, ", nor "), saveAsUTF8)
	}
	return fit, fitEnc, nil
}

// RosterPathAllowed reports whether path may be read as a roster for a
// caller over the network: a file in the inbox, or one sync.roster.path
// names.
func (e *Engine) RosterPathAllowed(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if rel, err := filepath.Rel(e.cfg.InboxDir(), abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && rel != "." {
		return true
	}
	if e.cfg.Roster.Path != "" {
		if ok, _ := filepath.Match(e.cfg.Roster.Path, abs); ok {
			return true
		}
	}
	return false
}
