package sync

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// calc is the classic CSV injection: Excel runs calc.exe.
const calc = `=cmd|' /C calc'!A0`

// hireFields is a complete, valid hire, field by field; tests change one.
func hireFields() map[string]string {
	return map[string]string{
		FieldEventID: "E1", FieldType: "hire", FieldEffective: effectiveISO, FieldEmployeeID: "NV1",
		FieldFullName: "Nguyễn Quốc Trạng", FieldUnit: "sotttt", FieldTitle: "Chuyên viên", FieldPhone: "0259 3824 101",
		FieldApplications: "mail;eoffice", FieldReplyName: "Trần Thị Mai", FieldReplyUnit: "Văn phòng Sở",
		FieldReplyMail: "vanphong@ninhthuan.gov.vn", FieldReplyPhone: "0259 3824 100", FieldRequestedBy: "Giám đốc Sở",
	}
}

// encodeRecord writes rec as a CSV file (header and one row, quoted where
// needed) or as a JSON Lines line.
func encodeRecord(t *testing.T, f Format, rec map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if f == FormatJSONL {
		if err := json.NewEncoder(&buf).Encode(rec); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var h, row []string
	for _, k := range Fields {
		if v, ok := rec[k]; ok {
			h, row = append(h, k), append(row, v)
		}
	}
	cw := csv.NewWriter(&buf)
	if err := cw.WriteAll([][]string{h, row}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParse_Formulas(t *testing.T) {
	r := exampleRules(t)
	const why = ": a spreadsheet would run it as a formula"
	tests := []struct {
		name, field, value string
		// reason is the whole rejection reason; "" means the value is
		// accepted, and get returns it from the event: want, or else the
		// value trimmed.
		reason, want string
		get          func(Event) string
		// csvOnly: the quote rejected CSV files put before a formula is
		// removed on CSV input only; JSON Lines never gets one.
		csvOnly bool
	}{
		{name: "title", field: FieldTitle, value: calc, reason: "title: starts with '='" + why},
		{name: "full name, once only", field: FieldFullName, value: `=HYPERLINK("http://x","Nguyễn")`, reason: "full_name: starts with '='" + why},
		{name: "unit, not also an unknown unit", field: FieldUnit, value: "@SUM(1+1)", reason: "unit: starts with '@'" + why},
		{name: "reply name", field: FieldReplyName, value: "-2+3+cmd|' /C calc'!A0", reason: "reply_name: starts with '-'" + why},
		{name: "requested by", field: FieldRequestedBy, value: "+cmd|' /C calc'!A0", reason: "requested_by: starts with '+'" + why},
		{name: "reply mail", field: FieldReplyMail, value: "=x@ninhthuan.gov.vn", reason: "reply_mail: starts with '='" + why},
		{name: "leading tab", field: FieldReplyUnit, value: "\t" + calc, reason: "reply_unit: starts with a tab" + why},
		{name: "leading spaces do not hide it", field: FieldTitle, value: "  " + calc, reason: "title: starts with '='" + why},
		{name: "quoted formula is a formula", field: FieldTitle, value: "'" + calc, reason: "title: starts with '='" + why, csvOnly: true},
		{name: "phone with a formula", field: FieldPhone, value: "+84+cmd|' /C calc'!A0",
			reason: "phone: starts with '+' and is not a phone number (+ then digits, spaces and . - ( ) only)" + why},
		{name: "phone starting with -", field: FieldReplyPhone, value: "-84 259 3824 100", reason: "reply_phone: starts with '-'" + why},
		{name: "phone starting with =", field: FieldPhone, value: "=84259", reason: "phone: starts with '='" + why},
		{name: "applications starting with =", field: FieldApplications, value: "=mail", reason: "applications: starts with '='" + why},
		{name: "phone in international form", field: FieldPhone, value: "+84 259 3824 101", get: func(e Event) string { return e.Phone }},
		{name: "reply phone with parentheses and dots", field: FieldReplyPhone, value: "+84 (259) 3824.100", get: func(e Event) string { return e.Reply.Phone }},
		{name: "quoted phone from a rejected file", field: FieldPhone, value: "'+84 259 3824 101", want: "+84 259 3824 101", get: func(e Event) string { return e.Phone }, csvOnly: true},
		{name: "dash inside", field: FieldTitle, value: "Phó Trưởng phòng - Kế toán", get: func(e Event) string { return e.Title }},
		{name: "quote before text stays", field: FieldTitle, value: "'Chuyên viên'", get: func(e Event) string { return e.Title }},
	}
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		for _, tt := range tests {
			if tt.csvOnly && f != FormatCSV {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", f, tt.name), func(t *testing.T) {
				rec := hireFields()
				rec[tt.field] = tt.value
				b, err := Parse("in."+string(f), encodeRecord(t, f, rec), SourceInbox, r, t0)
				if err != nil {
					t.Fatal(err)
				}
				if tt.reason != "" {
					if len(b.Events) != 0 || len(b.Rejected) != 1 || b.Rejected[0].Reason() != tt.reason {
						t.Fatalf("events %d, rejected %v; want the reason\n  %s", len(b.Events), b.Rejected, tt.reason)
					}
					return
				}
				if len(b.Events) != 1 {
					t.Fatalf("rejected: %v", b.Rejected)
				}
				want := tt.want
				if want == "" {
					want = strings.TrimSpace(tt.value)
				}
				if got := tt.get(b.Events[0]); got != want {
					t.Errorf("%s = %q, want %q", tt.field, got, want)
				}
			})
		}
	}
}

// Every cell of a rejected CSV that Excel would run is written with a
// leading quote: the row as it came, the header and the error column.
func TestBatch_WriteRejectedNeutralizesFormulas(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		raw    []string
		reason string
		want   []string // the header, then the row, as written
	}{
		{
			name:   "error column added",
			header: []string{"event_id", "@note"},
			raw:    []string{"\tE1", calc},
			reason: "-x",
			want:   []string{"error", "event_id", "'@note", "'-x", "'\tE1", "'" + calc},
		},
		{
			name:   "error column of a resubmitted file",
			header: []string{"event_id", "title", "error"},
			raw:    []string{"E1", "+cmd", "old reason"},
			reason: "=1+1",
			want:   []string{"event_id", "title", "error", "E1", "'+cmd", "'=1+1"},
		},
		{
			name:   "plain text and quoted cells stay",
			header: []string{"event_id", "title"},
			raw:    []string{"E1", "'=1+1"},
			reason: "title: x",
			want:   []string{"error", "event_id", "title", "title: x", "E1", "'=1+1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Batch{Format: FormatCSV, header: tt.header, delimiter: ';', Rejected: []Rejection{
				{Record: Record{Raw: tt.raw}, Problems: []Problem{{Msg: tt.reason}}},
			}}
			var out bytes.Buffer
			if err := b.WriteRejected(&out); err != nil {
				t.Fatal(err)
			}
			cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(out.String(), "\ufeff")))
			cr.Comma = ';'
			rows, err := cr.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows {
				got = append(got, row...)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("written\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

// A rejected CSV that is fixed and dropped back into the inbox reads as it
// was first written: "+84…" and "+mail;-eoffice" survive the quote that
// kept Excel from running them, whether Excel keeps the quote or drops it
// when it saves.
func TestBatch_WriteRejectedFormulaRoundTrip(t *testing.T) {
	r := exampleRules(t)
	hire := hireFields()
	hire[FieldPhone], hire[FieldTitle] = "+84 259 3824 101", calc
	apps := map[string]string{FieldEventID: "A1", FieldType: "applications", FieldEffective: effectiveISO, FieldEmployeeID: "NV9",
		FieldApplications: "+mail;-eoffice", FieldRequestedBy: "@SUM(1+1)*cmd|' /C calc'!A0"}
	var in bytes.Buffer
	cw := csv.NewWriter(&in)
	cw.Write(Fields)
	for _, rec := range []map[string]string{hire, apps} {
		row := make([]string, len(Fields))
		for i, f := range Fields {
			row[i] = rec[f]
		}
		cw.Write(row)
	}
	cw.Flush()
	b, err := Parse("in.csv", in.Bytes(), SourceInbox, r, t0)
	if err != nil || len(b.Rejected) != 2 {
		t.Fatalf("%v %v", err, b.Rejected)
	}
	var out bytes.Buffer
	if err := b.WriteRejected(&out); err != nil {
		t.Fatal(err)
	}
	rejected := out.String()
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(rejected, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		for _, c := range row {
			if startsFormula(c) {
				t.Errorf("rejected file has the formula cell %q", c)
			}
		}
	}
	for _, want := range []string{"'+84 259 3824 101", "'" + calc, "'+mail;-eoffice"} {
		if !strings.Contains(rejected, want) {
			t.Errorf("rejected file lacks %q:\n%s", want, rejected)
		}
	}
	fixed := strings.NewReplacer("'"+calc, "Chuyên viên", "'@SUM(1+1)*cmd|' /C calc'!A0", "Giám đốc Sở").Replace(rejected)
	for _, tt := range []struct{ name, file string }{
		{"quotes kept", fixed},
		{"quotes dropped by Excel", strings.ReplaceAll(fixed, "'+", "+")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b2, err := Parse("fixed.csv", []byte(tt.file), SourceInbox, r, t0)
			if err != nil || len(b2.Events) != 2 || len(b2.Rejected) != 0 {
				t.Fatalf("resubmitted: %v, events %d, rejected %v\n%s", err, len(b2.Events), b2.Rejected, tt.file)
			}
			if got := b2.Events[0].Phone; got != "+84 259 3824 101" {
				t.Errorf("phone = %q", got)
			}
			if got := fmt.Sprint(b2.Events[1].AppChanges); got != fmt.Sprint([]AppChange{{App: "mail"}, {App: "eoffice", Remove: true}}) {
				t.Errorf("app changes = %s", got)
			}
		})
	}
}

func TestFormula_NeutralizeCell(t *testing.T) {
	tests := []struct{ cell, written string }{
		{"=1+1", "'=1+1"},
		{"+84 259 3824 101", "'+84 259 3824 101"},
		{"-eoffice", "'-eoffice"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"Nguyễn Quốc Trạng", "Nguyễn Quốc Trạng"},
		{"a=1", "a=1"},
		{"", ""},
		{"'", "'"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.cell), func(t *testing.T) {
			if got := neutralizeCell(tt.cell); got != tt.written {
				t.Errorf("neutralizeCell = %q, want %q", got, tt.written)
			}
			if got := unquoteCell(tt.written); got != tt.cell {
				t.Errorf("unquoteCell(%q) = %q, want %q", tt.written, got, tt.cell)
			}
		})
	}
	// Only the quote neutralizeCell adds is removed.
	for _, s := range []string{"'Chuyên viên'", "''=1", "'"} {
		if got := unquoteCell(s); got != s {
			t.Errorf("unquoteCell(%q) = %q, want it unchanged", s, got)
		}
	}
}
