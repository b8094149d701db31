package sync

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ldapsync/ldapsync/rules"
)

// Format is an input file format, chosen by the file's extension.
type Format string

// Input formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// FormatOf returns the format of a file name, or "" when ldapsync does not
// read such files.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	return ""
}

// Batch is what one input file held.
type Batch struct {
	File   string
	Format Format
	Events []Event
	// records[i] is the record Events[i] was read from.
	records  []Record
	Rejected []Rejection
	// Warnings are things an admin should know that did not reject a row:
	// ignored columns, a legacy encoding.
	Warnings []string

	header    []string // CSV: the header as written
	cols      []string // CSV: the column each header stands for
	delimiter rune
	headers   headerIndex
	// encoding is the legacy encoding the file was read in, "" for UTF-8.
	encoding string
}

// FileError is a problem with a whole file: no row of it can be read.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ParseOption changes how Parse reads a file.
type ParseOption func(*parseOptions)

type parseOptions struct {
	headers HeaderMap
}

// WithHeaders makes Parse read CSV headers and JSON Lines keys through m,
// the config's sync.inbox.headers, instead of DefaultHeaders.
func WithHeaders(m HeaderMap) ParseOption {
	return func(o *parseOptions) { o.headers = m }
}

// Parse reads one input file. A FileError means nothing in it could be used;
// otherwise every row is either an event or a rejection with its reasons.
// A file that is not UTF-8 is read in the legacy encoding it is written in,
// when that can be told for sure (see readLegacy), with a warning.
func Parse(name string, data []byte, source string, r *rules.Rules, received time.Time, opts ...ParseOption) (*Batch, error) {
	events, records := []Event{}, []Record{}
	b, err := parseEach(name, data, source, r, received, 0, func(evs []Event, recs []Record) ([]int, error) {
		if evs != nil {
			events, records = evs, recs
		}
		return nil, nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	b.Events, b.records = events, records
	return b, nil
}

// chunkFunc takes one chunk of a file's valid events, with the records
// they were read from, and returns the indexes of those to reject as
// conflicts (see Journal.Add); the chunk is not kept after it returns.
type chunkFunc func(events []Event, records []Record) (conflicts []int, err error)

// conflictProblem is why an event whose event_id the journal holds with
// other content is rejected.
var conflictProblem = Problem{Field: FieldEventID, Msg: "already received with different content; give a corrected change a new event_id"}

// parseEach reads one input file as Parse does, and hands its valid
// events to fn a chunk of at most size at a time (size 0: all at once,
// at the end), rejecting those fn returns as conflicts. The batch it
// returns has the rejections and warnings, not the events. A UTF-8 CSV
// file is checked whole for what makes it unreadable (a broken quote)
// before the first chunk goes to fn, so that fn never takes part of a
// file that is then set aside; a file in a legacy encoding is decoded
// whole first (see readLegacy).
func parseEach(name string, data []byte, source string, r *rules.Rules, received time.Time, size int, fn chunkFunc, opts ...ParseOption) (*Batch, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	b := &Batch{File: name, Format: FormatOf(name), headers: defaultHeaderIndex}
	if o.headers != nil {
		idx, errs := o.headers.compile("sync.inbox.headers")
		if len(errs) > 0 {
			return nil, &FileError{name, fmt.Errorf("header map: %w", errs)}
		}
		b.headers = idx
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first := map[string]int{}
	var events []Event
	var records []Record
	var fnErr error
	flush := func() {
		if fnErr != nil {
			return
		}
		conflicts, err := fn(events, records)
		if err != nil {
			fnErr = err
			return
		}
		for _, i := range conflicts {
			b.Rejected = append(b.Rejected, Rejection{Record: records[i], Problems: []Problem{conflictProblem}})
		}
		events, records = nil, nil
	}
	take := func(rec Record) {
		ev, probs := decode(rec, r, source, received)
		probs = withProblems(probs, b.encodingProblems(rec))
		if line, dup := first[ev.ID]; dup && ev.ID != "" {
			// The journal would drop it as a duplicate, silently.
			probs = append(probs, Problem{Field: FieldEventID, Msg: fmt.Sprintf("%q is used again (first on line %d)", ev.ID, line)})
		}
		if len(probs) > 0 {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: probs})
			return
		}
		first[ev.ID] = rec.Origin.Line
		events, records = append(events, ev), append(records, rec)
		if size > 0 && len(events) >= size {
			flush()
		}
	}
	var err error
	switch {
	case b.Format == "":
		err = fmt.Errorf("unknown file type %q: want .csv or .jsonl (.ndjson)", filepath.Ext(name))
	case utf8.Valid(data) && b.Format == FormatCSV && size > 0:
		if err = checkCSV(data); err == nil {
			err = b.readCSVEach(data, take)
		}
	case utf8.Valid(data):
		err = b.readEach(data, take)
	default:
		var recs []Record
		if recs, err = b.readLegacy(data); err == nil {
			for _, rec := range recs {
				take(rec)
			}
		}
	}
	if err != nil {
		return nil, &FileError{name, err}
	}
	if len(events) > 0 || size == 0 {
		flush()
	}
	slices.SortStableFunc(b.Rejected, func(x, y Rejection) int { return x.Record.Origin.Line - y.Record.Origin.Line })
	return b, fnErr
}

// read reads data, UTF-8, in the batch's format.
func (b *Batch) read(data []byte) ([]Record, error) {
	var out []Record
	err := b.readEach(data, func(rec Record) { out = append(out, rec) })
	return out, err
}

// readEach reads data, UTF-8, in the batch's format, and calls emit with
// each record, in order.
func (b *Batch) readEach(data []byte, emit func(Record)) error {
	if b.Format == FormatJSONL {
		return b.readJSONLEach(data, emit)
	}
	return b.readCSVEach(data, emit)
}

// checkCSV reads data as CSV for what makes a whole file unreadable (a
// broken quote), keeping nothing.
func checkCSV(data []byte) error {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = detectDelimiter(data)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil {
		return nil // readCSVEach says what is wrong with the header
	}
	return eachRow(cr, func([]string, int) {})
}

// withProblems adds more to probs, the problems decode found, in field
// order; a field more names drops what decode said of it, so that each
// field is reported once.
func withProblems(probs, more []Problem) []Problem {
	if len(more) == 0 {
		return probs
	}
	out := slices.Clone(more)
	for _, p := range probs {
		if !slices.ContainsFunc(more, func(m Problem) bool { return m.Field == p.Field }) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return fieldOrder(a.Field) - fieldOrder(b.Field) })
	return out
}

// reject moves Events[i] to the rejected records.
func (b *Batch) reject(idx []int, p Problem) {
	if len(idx) == 0 {
		return
	}
	drop := map[int]bool{}
	for _, i := range idx {
		drop[i] = true
		b.Rejected = append(b.Rejected, Rejection{Record: b.records[i], Problems: []Problem{p}})
	}
	var events []Event
	var records []Record
	for i := range b.Events {
		if !drop[i] {
			events, records = append(events, b.Events[i]), append(records, b.records[i])
		}
	}
	b.Events, b.records = events, records
	slices.SortStableFunc(b.Rejected, func(x, y Rejection) int { return x.Record.Origin.Line - y.Record.Origin.Line })
}

// detectDelimiter picks ',', ';' or tab from the header line: Excel in a
// locale whose decimal separator is a comma (Vietnamese among them) writes
// ';'.
func detectDelimiter(data []byte) rune {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	best, n := ',', bytes.Count(line, []byte(","))
	for _, d := range []rune{';', '\t'} {
		if c := bytes.Count(line, []byte(string(d))); c > n {
			best, n = d, c
		}
	}
	return best
}

// normalizeHeader is the key a header or JSON key is stored under when it
// names no column (an "STT" column): lower case, spaces as "_". It also
// finds the error column, as WriteRejected does.
func normalizeHeader(h string) string {
	return strings.ReplaceAll(strings.ToLower(clean(h)), " ", "_")
}

// column returns the field a CSV header or JSON key stands for: the error
// column, a field of Fields named as such or through the header map, or
// else normalizeHeader(h), which is no field.
func (b *Batch) column(h string) string {
	n := normalizeHeader(h)
	if n == FieldError || slices.Contains(Fields, n) {
		return n // most keys: no need to fold
	}
	if c := b.headers.column(h); slices.Contains(Fields, c) {
		return c
	}
	return n
}

func (b *Batch) readCSVEach(data []byte, emit func(Record)) error {
	b.delimiter = detectDelimiter(data)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = b.delimiter
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return errors.New("empty file: want a header row and at least one record")
	}
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	b.header = header
	cols := make([]string, len(header))
	seen := map[string]string{} // column → the header that named it
	var unknown []string
	for i, h := range header {
		c := b.column(h)
		cols[i] = c
		prev, dup := seen[c]
		switch {
		case c == "":
			continue
		case dup && normalizeHeader(prev) == normalizeHeader(h):
			return fmt.Errorf("header: column %q appears twice", c)
		case dup:
			return fmt.Errorf("header: %q and %q both stand for the column %s (see sync.inbox.headers)", prev, h, c)
		case !slices.Contains(Fields, c) && c != FieldError:
			unknown = append(unknown, h)
		}
		seen[c] = h
	}
	b.cols = cols
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := seen[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("header: missing column %s (the header row must name the columns: see README)", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("ignored unknown columns: %s", strings.Join(unknown, ", ")))
	}

	return eachRow(cr, func(row []string, line int) {
		rec := Record{Origin: Origin{File: b.File, Line: line}, Values: map[string]string{}, Raw: slices.Clone(row)}
		extra := false
		for i, v := range row {
			switch {
			case i >= len(cols):
				extra = extra || strings.TrimSpace(v) != ""
			case cols[i] != "" && cols[i] != FieldError:
				// The quote a rejected file puts before a formula is
				// not part of the value (see WriteRejected).
				rec.Values[cols[i]] = unquoteCell(v)
			}
		}
		if extra {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: []Problem{{Msg: fmt.Sprintf("row has %d fields, the header %d", len(row), len(cols))}}})
			return
		}
		emit(rec)
	})
}

// eachRow calls f with every row of cr that is not blank (Excel writes
// ",,,," for rows it once formatted) and the line it starts on. A broken
// quote is an error naming its line: it swallows the rest of the file, and
// nothing after it can be trusted row by row.
func eachRow(cr *csv.Reader, f func(row []string, line int)) error {
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
			}
			return err
		}
		if blank(row) {
			continue
		}
		line, _ := cr.FieldPos(0)
		f(row, line)
	}
}

func blank(row []string) bool {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func (b *Batch) readJSONLEach(data []byte, emit func(Record)) error {
	emitted := 0
	for i := 0; len(data) > 0; i++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rec := Record{Origin: Origin{File: b.File, Line: i + 1}, Values: map[string]string{}, JSON: slices.Clone(line)}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: []Problem{{Msg: "not a JSON object: " + err.Error()}}})
			continue
		}
		var probs []Problem
		keys := map[string]string{} // field → the key that named it
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			raw := obj[k]
			key := b.column(k)
			if key == FieldError {
				continue
			}
			if !slices.Contains(Fields, key) {
				probs = append(probs, Problem{Field: k, Msg: "unknown field"})
				continue
			}
			if prev, dup := keys[key]; dup {
				probs = append(probs, Problem{Field: k, Msg: fmt.Sprintf("stands for %s, as %q does", key, prev)})
				continue
			}
			keys[key] = k
			v, err := jsonString(raw)
			if err != nil {
				probs = append(probs, Problem{Field: key, Msg: err.Error()})
				continue
			}
			rec.Values[key] = v
		}
		if len(probs) > 0 {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: probs})
			continue
		}
		emit(rec)
		emitted++
	}
	if emitted == 0 && len(b.Rejected) == 0 {
		return errors.New("empty file: want one JSON object a line")
	}
	return nil
}

// jsonString accepts a string, a number (HR ids exported as numbers) or an
// array of strings (applications), and returns it as a record value.
func jsonString(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ";"), nil
	}
	if string(raw) == "null" {
		return "", nil
	}
	return "", fmt.Errorf("want a string, a number or a list of strings, got %s", strconv.Quote(string(raw)))
}
