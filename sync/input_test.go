package sync

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

const header = "event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n"

// row is a complete, valid hire; tests change one field at a time.
func row(id, employee, name, unit string) string {
	return strings.Join([]string{id, "hire", effectiveISO, employee, name, unit, "Chuyên viên", "0259 3824 101",
		"mail;eoffice", "Trần Thị Mai", "Văn phòng Sở", "vanphong@ninhthuan.gov.vn", "0259 3824 100", "Giám đốc Sở"}, ",") + "\n"
}

func TestParse_CSV(t *testing.T) {
	r := exampleRules(t)
	tests := []struct {
		name     string
		data     string
		events   int
		rejected []string // each rejection's Error(), in order
	}{
		{
			name:   "plain",
			data:   header + row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt") + row("E2", "NV2", "Lê Văn Tuấn", "vhtt_ns"),
			events: 2,
		},
		{
			name: "excel: BOM, CRLF, semicolons, blank rows, spaces in headers",
			data: "\ufeff" + strings.ReplaceAll(strings.ReplaceAll(strings.Replace(header, "full_name", " Full Name ", 1)+
				strings.Replace(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "mail;eoffice", `"mail;eoffice"`, 1)+",,,,,,,,,,,,,\n", ",", ";"), "\n", "\r\n"),
			events: 1,
		},
		{
			name: "missing employee_id and unknown unit",
			data: header + row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt") + row("E2", "", "Lê Văn Tuấn", "sotttx") +
				row("E3", "NV3", "Trần Thị Bích", "sonv_vp"),
			events:   2,
			rejected: []string{`in.csv:3: employee_id: required; unit: "sotttx" is not a unit of the config (see: ldapsync units)`},
		},
		{
			name:     "bad name character, bad date, bad mail",
			data:     header + strings.Replace(strings.Replace(row("E1", "NV1", "Lê Văn 7", "sotttt"), effectiveISO, "2026-02-30", 1), "vanphong@", "vanphong at ", 1),
			rejected: []string{`in.csv:2: effective: invalid date "2026-02-30": no such day; full_name: `},
		},
		{
			name:     "unknown type and application",
			data:     header + strings.Replace(strings.Replace(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "hire", "promote", 1), "mail;eoffice", "mail;zalo", 1),
			rejected: []string{`in.csv:2: type: "promote" is not supported (supported: hire, applications, transfer, title_change, rename, retire, resign, transfer_out, return, leave_notice, withdraw); applications: "zalo" is not an application of the config`},
		},
		{
			name:     "request fields missing (BTC 4)",
			data:     header + "E1,hire,02/11/2026,NV1,Nguyễn Quốc Trạng,sotttt,,,,,,,,\n",
			rejected: []string{"in.csv:2: title: required for hire (BTC 4: an account request names it); phone: required"},
		},
		{
			name:     "event_id used twice in one file",
			data:     header + row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt") + row("E1", "NV2", "Lê Văn Tuấn", "sotttt"),
			events:   1,
			rejected: []string{`in.csv:3: event_id: "E1" is used again (first on line 2)`},
		},
		{
			name:     "quoted field with a line break keeps line numbers right",
			data:     header + strings.Replace(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "Chuyên viên", "\"Chuyên\nviên\"", 1) + row("E2", "", "Lê Văn Tuấn", "sotttt"),
			rejected: []string{"in.csv:2: title: contains a control character or line break", "in.csv:4: employee_id: required"},
		},
		{
			name:     "extra fields",
			data:     header + strings.TrimSuffix(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "\n") + ",surprise\n",
			rejected: []string{"in.csv:2: row has 15 fields, the header 14"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("in.csv", []byte(tt.data), SourceInbox, r, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Events) != tt.events {
				t.Errorf("events = %d, want %d (rejected: %v)", len(b.Events), tt.events, b.Rejected)
			}
			if len(b.Rejected) != len(tt.rejected) {
				t.Fatalf("rejected = %v, want %d", b.Rejected, len(tt.rejected))
			}
			for i, want := range tt.rejected {
				if got := b.Rejected[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("rejection %d =\n  %s\nwant prefix\n  %s", i, got, want)
				}
			}
		})
	}
}

func TestParse_CSVEvent(t *testing.T) {
	b, err := Parse("in.csv", []byte(header+row("E1", "NV1", "  Nguyễn\u00a0Quốc  Trạng ", "SOTTTT")), SourceInbox, exampleRules(t), t0)
	if err != nil || len(b.Events) != 1 {
		t.Fatalf("%v %v", err, b.Rejected)
	}
	ev := b.Events[0]
	if ev.Name.Family != "Nguyễn" || ev.Name.Middle != "Quốc" || ev.Name.Given != "Trạng" {
		t.Errorf("name = %+v", ev.Name)
	}
	if ev.Unit != "sotttt" || ev.Effective.String() != effectiveISO || ev.Origin.Line != 2 || ev.Key() != "inbox/E1" {
		t.Errorf("event = %+v", ev)
	}
	if strings.Join(ev.Applications, ",") != "eoffice,mail" || ev.Reply.Mail != "vanphong@ninhthuan.gov.vn" {
		t.Errorf("applications %v reply %+v", ev.Applications, ev.Reply)
	}
}

func TestParse_NameParts(t *testing.T) {
	h := "event_id,type,effective,employee_id,full_name,family_name,middle_name,given_name,unit\n"
	r := exampleRules(t)
	r.Config.RequestFields = nil
	tests := []struct {
		name, row        string
		family, given    string
		rejectedContains string
	}{
		{"compound family name", "E1,hire,2026-11-02,NV1,,Tôn Nữ,Thị,Hà,sotttt", "Tôn Nữ", "Hà", ""},
		{"no middle name", "E1,hire,2026-11-02,NV1,,Chamaléa,,Bốn,sotttt", "Chamaléa", "Bốn", ""},
		{"full name agrees with parts", "E1,hire,2026-11-02,NV1,Tôn Nữ Thị Hà,Tôn Nữ,Thị,Hà,sotttt", "Tôn Nữ", "Hà", ""},
		{"full name disagrees", "E1,hire,2026-11-02,NV1,Tôn Nữ Thị Hà,Tôn Nữ,Thị,Hoa,sotttt", "", "", "full_name: \"Tôn Nữ Thị Hà\" does not match"},
		{"given name missing", "E1,hire,2026-11-02,NV1,,Tôn Nữ,Thị,,sotttt", "", "", "given_name: required"},
		{"bad character in the middle name", "E1,hire,2026-11-02,NV1,,Tôn Nữ,Th1,Hà,sotttt", "", "", "middle_name: rules: name \"Th1\": character '1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("in.csv", []byte(h+tt.row+"\n"), SourceInbox, r, t0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rejectedContains != "" {
				if len(b.Rejected) != 1 || !strings.Contains(b.Rejected[0].Error(), tt.rejectedContains) {
					t.Fatalf("rejected = %v, want %q", b.Rejected, tt.rejectedContains)
				}
				return
			}
			if len(b.Events) != 1 {
				t.Fatalf("rejected: %v", b.Rejected)
			}
			if n := b.Events[0].Name; n.Family != tt.family || n.Given != tt.given {
				t.Errorf("name = %+v", n)
			}
		})
	}
}

func TestParse_Windows1258(t *testing.T) {
	// Windows-1258 writes most tones as a base letter plus a combining mark:
	// "Tuấn" is T u â U+0301 n.
	text := header + row("E1", "NV1", "Lê Văn Tuấn", "sotttt")
	data, err := charmap.Windows1258.NewEncoder().Bytes([]byte(toneSeparated(text)))
	if err != nil {
		t.Fatalf("fixture not encodable: %v", err)
	}
	b, err := Parse("in.csv", data, SourceInbox, exampleRules(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 1 || len(b.Warnings) != 1 {
		t.Fatalf("events %d warnings %v rejected %v", len(b.Events), b.Warnings, b.Rejected)
	}
	if got := b.Events[0].Name.Full(); got != "Lê Văn Tuấn" {
		t.Errorf("name = %q, want NFC %q", got, "Lê Văn Tuấn")
	}
	if got := b.Events[0].Reply.Name; got != "Trần Thị Mai" {
		t.Errorf("reply_name = %q, want NFC %q", got, "Trần Thị Mai")
	}
}

func TestParse_FileErrors(t *testing.T) {
	tests := []struct{ name, file, data, want string }{
		{"empty", "a.csv", "", "empty file"},
		{"missing columns", "a.csv", "event_id,type,full_name\nE1,hire,X\n", "missing column effective, employee_id"},
		{"duplicate column", "a.csv", "event_id,type,effective,employee_id,unit,unit,full_name\n", `column "unit" appears twice`},
		{"broken quote", "a.csv", header + "\"E1,hire\n", "line 2"},
		{"unknown type", "a.xlsx", "PK...", "unknown file type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.file, []byte(tt.data), SourceInbox, exampleRules(t), t0)
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want FileError with %q", err, tt.want)
			}
		})
	}
}

func TestParse_JSONL(t *testing.T) {
	good := `{"event_id":"E1","type":"hire","effective":"2026-11-02","employee_id":1245,"full_name":"Nguyễn Quốc Trạng","unit":"sotttt","title":"Chuyên viên","phone":"0259 3824 101","applications":["mail","eoffice"],"reply_name":"Trần Thị Mai","reply_unit":"VP","reply_mail":"vp@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc"}`
	data := good + "\n\n{not json\n" + strings.Replace(good, `"E1"`, `"E2"`, 1)[:len(good)-1] + `,"colour":"blue"}` + "\n"
	b, err := Parse("in.jsonl", []byte(data), SourceInbox, exampleRules(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 1 || b.Events[0].EmployeeID != "1245" || len(b.Events[0].Applications) != 2 {
		t.Fatalf("events = %+v", b.Events)
	}
	if len(b.Rejected) != 2 || !strings.HasPrefix(b.Rejected[0].Error(), "in.jsonl:3: not a JSON object") ||
		b.Rejected[1].Error() != "in.jsonl:4: colour: unknown field" {
		t.Fatalf("rejected = %v", b.Rejected)
	}
}

// A rejected file written back must, once the named field is fixed, be
// accepted as it is: same columns, error column ignored.
func TestBatch_WriteRejectedRoundTrip(t *testing.T) {
	r := exampleRules(t)
	in := strings.ReplaceAll(strings.ReplaceAll("STT;"+header+"1;"+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+"2;"+row("E2", "", "Lê Văn Tuấn", "sotttt"), ",", ";"), "mail;eoffice", "mail")
	b, err := Parse("in.csv", []byte(in), SourceInbox, r, t0)
	if err != nil || len(b.Rejected) != 1 {
		t.Fatalf("%v %v", err, b.Rejected)
	}
	var out bytes.Buffer
	if err := b.WriteRejected(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.HasPrefix(text, "\ufefferror;STT;event_id;") || !strings.Contains(text, "employee_id: required;2;E2;hire") {
		t.Fatalf("rejected file:\n%s", text)
	}
	fixed := strings.Replace(text, ";E2;hire;"+effectiveISO+";;", ";E2;hire;"+effectiveISO+";NV2;", 1)
	b2, err := Parse("fixed.csv", []byte(fixed), SourceInbox, r, t0)
	if err != nil || len(b2.Events) != 1 || len(b2.Rejected) != 0 {
		t.Fatalf("resubmitted: %v, events %d, rejected %v", err, len(b2.Events), b2.Rejected)
	}
	if len(b2.Warnings) != 1 || !strings.Contains(b2.Warnings[0], "STT") {
		t.Errorf("warnings = %v, want the unknown STT column named", b2.Warnings)
	}
}

// toneSeparated writes s as Windows-1258 does: vowel marks composed (â ơ ư
// ă ê ô), tone marks as separate combining characters.
func toneSeparated(s string) string {
	var b strings.Builder
	for _, r := range s {
		var tones []rune
		var rest []rune
		for _, d := range norm.NFD.String(string(r)) {
			switch d {
			case '\u0300', '\u0301', '\u0303', '\u0309', '\u0323':
				tones = append(tones, d)
			default:
				rest = append(rest, d)
			}
		}
		b.WriteString(norm.NFC.String(string(rest)))
		b.WriteString(string(tones))
	}
	return b.String()
}

func TestParse_Applications(t *testing.T) {
	r := exampleRules(t)
	h := "event_id,type,effective,employee_id,applications,requested_by\n"
	tests := []struct {
		name, apps string
		set        []string
		changes    []AppChange
		rejected   string
	}{
		{"whole set", "mail; EOFFICE;mail", []string{"eoffice", "mail"}, nil, ""},
		{"changes", "+eoffice;-baocao", nil, []AppChange{{App: "eoffice"}, {App: "baocao", Remove: true}}, ""},
		{"mixed", "mail;+eoffice", nil, nil, "mixes names with +/- changes"},
		{"added and removed", "+mail;-mail", nil, nil, `"mail" is both added and removed`},
		{"unknown", "+zalo", nil, nil, `"zalo" is not an application`},
		{"empty", "", nil, nil, "applications: required for applications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("in.csv", []byte(h+"A1,applications,2026-11-02,NV1,\""+tt.apps+"\",Trưởng phòng\n"), SourceInbox, r, t0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rejected != "" {
				if len(b.Rejected) != 1 || !strings.Contains(b.Rejected[0].Error(), tt.rejected) {
					t.Fatalf("rejected %v, want %q", b.Rejected, tt.rejected)
				}
				return
			}
			if len(b.Events) != 1 {
				t.Fatalf("rejected: %v", b.Rejected)
			}
			ev := b.Events[0]
			if strings.Join(ev.Applications, ",") != strings.Join(tt.set, ",") || fmt.Sprint(ev.AppChanges) != fmt.Sprint(tt.changes) {
				t.Errorf("set %v changes %v", ev.Applications, ev.AppChanges)
			}
		})
	}
	// A hire lists the whole set; changes mean nothing without an account.
	b, _ := Parse("in.csv", []byte(header+strings.Replace(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "mail;eoffice", "+mail", 1)), SourceInbox, r, t0)
	if len(b.Rejected) != 1 || !strings.Contains(b.Rejected[0].Error(), "+/- changes apply only to an applications event") {
		t.Errorf("hire with +/-: %v", b.Rejected)
	}
}
