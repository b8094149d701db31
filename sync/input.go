package sync

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	delimiter rune
}

// FileError is a problem with a whole file: no row of it can be read.
type FileError struct {
	File string
	Err  error
}

func (e *FileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Parse reads one input file. A FileError means nothing in it could be used;
// otherwise every row is either an event or a rejection with its reasons.
func Parse(name string, data []byte, source string, r *rules.Rules, received time.Time) (*Batch, error) {
	b := &Batch{File: name, Format: FormatOf(name)}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	legacy := !utf8.Valid(data)
	if legacy {
		// Excel's plain "CSV" export on Vietnamese Windows is Windows-1258,
		// which writes tones as combining marks; clean composes them. It is
		// applied only once checkWindows1258 is confident of it.
		dec, err := decodeWindows1258(data)
		if err != nil {
			return nil, &FileError{name, err}
		}
		data = dec
	}
	var records []Record
	var err error
	switch b.Format {
	case FormatCSV:
		records, err = b.readCSV(data)
	case FormatJSONL:
		records, err = b.readJSONL(data)
	default:
		err = fmt.Errorf("unknown file type %q: want .csv or .jsonl (.ndjson)", filepath.Ext(name))
	}
	if err == nil && legacy {
		if err = b.checkWindows1258(records); err == nil {
			b.Warnings = append(b.Warnings, "file is not UTF-8; read as Windows-1258 (save as \"CSV UTF-8\" to avoid this)")
		}
	}
	if err != nil {
		return nil, &FileError{name, err}
	}
	first := make(map[string]int, len(records))
	b.Events = make([]Event, 0, len(records))
	b.records = make([]Record, 0, len(records))
	for _, rec := range records {
		ev, probs := decode(rec, r, source, received)
		if line, dup := first[ev.ID]; dup && ev.ID != "" {
			// The journal would drop it as a duplicate, silently.
			probs = append(probs, Problem{Field: FieldEventID, Msg: fmt.Sprintf("%q is used again (first on line %d)", ev.ID, line)})
		}
		if len(probs) > 0 {
			b.Rejected = append(b.Rejected, Rejection{Record: rec, Problems: probs})
			continue
		}
		first[ev.ID] = rec.Origin.Line
		b.Events = append(b.Events, ev)
		b.records = append(b.records, rec)
	}
	slices.SortStableFunc(b.Rejected, func(x, y Rejection) int { return x.Record.Origin.Line - y.Record.Origin.Line })
	return b, nil
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

func normalizeHeader(h string) string {
	return strings.ReplaceAll(strings.ToLower(clean(h)), " ", "_")
}

func (b *Batch) readCSV(data []byte) ([]Record, error) {
	b.delimiter = detectDelimiter(data)
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = b.delimiter
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("empty file: want a header row and at least one record")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	b.header = header
	cols := make([]string, len(header))
	seen := map[string]bool{}
	var unknown []string
	for i, h := range header {
		c := normalizeHeader(h)
		cols[i] = c
		switch {
		case c == "":
			continue
		case seen[c]:
			return nil, fmt.Errorf("header: column %q appears twice", c)
		case !slices.Contains(Fields, c) && c != FieldError:
			unknown = append(unknown, h)
		}
		seen[c] = true
	}
	var missing []string
	for _, c := range requiredColumns {
		if !seen[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("header: missing column %s (the header row must name the columns: see README)", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("ignored unknown columns: %s", strings.Join(unknown, ", ")))
	}

	var out []Record
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// A broken quote swallows the rest of the file; nothing
				// after it can be trusted row by row.
				return nil, fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if blank(row) {
			continue // Excel writes ",,,," for rows it once formatted
		}
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
			continue
		}
		out = append(out, rec)
	}
	return out, nil
}

func blank(row []string) bool {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func (b *Batch) readJSONL(data []byte) ([]Record, error) {
	var out []Record
	for i, line := range bytes.Split(data, []byte("\n")) {
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
		for k, raw := range obj {
			key := normalizeHeader(k)
			if key == FieldError {
				continue
			}
			if !slices.Contains(Fields, key) {
				probs = append(probs, Problem{Field: k, Msg: "unknown field"})
				continue
			}
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
		out = append(out, rec)
	}
	if len(out) == 0 && len(b.Rejected) == 0 {
		return nil, errors.New("empty file: want one JSON object a line")
	}
	return out, nil
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
