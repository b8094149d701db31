package sync

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditOf writes recs into a new audit log and returns its path.
func auditOf(t *testing.T, recs ...AuditRecord) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, _, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, r := range recs {
		if _, err := a.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestReadAudit(t *testing.T) {
	path := writeAudit(t, 4)
	data, _ := os.ReadFile(path)
	tests := []struct {
		name    string
		data    string
		keep    func(AuditRecord) bool
		want    []string // uids
		wantErr string
	}{
		{"all", string(data), nil, []string{"a", "b", "c", "d"}, ""},
		{"kept", string(data), func(r AuditRecord) bool { return r.UID != "b" }, []string{"a", "c", "d"}, ""},
		{"a record being written is left out", string(data) + `{"seq":5,"time":"20`, nil, []string{"a", "b", "c", "d"}, ""},
		{"a whole last record without its newline counts", strings.TrimSuffix(string(data), "\n"), nil, []string{"a", "b", "c", "d"}, ""},
		{"one byte changed", strings.Replace(string(data), `"uid":"c"`, `"uid":"x"`, 1), nil, nil, "line 3: audit chain broken: record 3 was altered (the 2 records before it are intact)"},
		{"a line that is no record", strings.Replace(string(data), `{"seq":2`, `{"seq"2`, 1), nil, nil, "line 2: audit chain broken: torn line"},
		{"a record removed", strings.Join(slices.Delete(strings.SplitAfter(string(data), "\n"), 1, 2), ""), nil, nil, "record has seq 3, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.jsonl")
			os.WriteFile(p, []byte(tt.data), 0o600)
			recs, err := ReadAudit(p, tt.keep)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.UID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("uids = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := ReadAudit(filepath.Join(t.TempDir(), "none.jsonl"), nil); err == nil {
		t.Error("a missing log reads")
	}
}

func TestAuditUnits_Observe(t *testing.T) {
	recs := []AuditRecord{
		{Action: "ensure", DN: "ou=sotttt"},
		{Action: ActionIntent, Op: "create", UID: "lan", EmployeeID: "NV1"},
		{Action: "create", UID: "lan", EmployeeID: "NV1", Detail: map[string]string{"unit": "sotttt"}},
		{Action: "issue_credentials", UID: "lan", EmployeeID: "NV1"},
		{Action: "ignored", EmployeeID: "NV1"},
		{Action: ActionIntent, Op: "move", UID: "lan", EmployeeID: "NV1"},
		{Action: "move", UID: "lan", EmployeeID: "NV1", Detail: map[string]string{"from": "sotttt", "to": "sonv_vp"}},
		{Action: "lock", UID: "lan", EmployeeID: "NV1"},
		{Action: "adopt", UID: "hoa", EmployeeID: "NV2", Detail: map[string]string{"unit": "vhtt_ns"}},
		{Action: "lock", UID: "hoa"},
		{Action: "hold_approved", EventID: "H1"},
	}
	want := [][]string{nil, nil, {"sotttt"}, {"sotttt"}, {"sotttt"}, {"sotttt"}, {"sotttt", "sonv_vp"}, {"sonv_vp"}, {"vhtt_ns"}, {"vhtt_ns"}, nil}
	var u AuditUnits
	for i, r := range recs {
		if got := u.Observe(r); !slices.Equal(got, want[i]) {
			t.Errorf("record %d (%s %s): units %v, want %v", i, r.Action, r.UID, got, want[i])
		}
	}
}

func TestWriteAuditCSV_NeutralisesEveryCell(t *testing.T) {
	loc := time.FixedZone("+07", 7*3600)
	path := auditOf(t,
		AuditRecord{Time: t0, Action: "create", UID: "lan", DN: "uid=lan,ou=people", EmployeeID: "=HYPERLINK(\"x\")",
			Source: "inbox", EventID: "+E1", Reason: "-2+3", Article: "@SUM(A1)", RequestedBy: "\tcmd",
			Detail: map[string]string{"unit": "sotttt", "cn": "Lan"}},
		AuditRecord{Time: t0.Add(time.Hour), Action: "=cmd|' /C calc'!A0", UID: "hoa"},
	)
	recs, err := ReadAudit(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteAuditCSV(&b, recs, loc); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !slices.Equal(rows[0], AuditCSVHeader) {
		t.Fatalf("rows: %q", rows)
	}
	want := []string{"1", t0.In(loc).Format(time.RFC3339), "create", "", "lan", "uid=lan,ou=people", `'=HYPERLINK("x")`,
		"inbox/+E1", "'-2+3", "'@SUM(A1)", "'\tcmd", "cn=Lan; unit=sotttt"} // the event cell starts with its source
	if !slices.Equal(rows[1], want) {
		t.Errorf("row 1:\n got %q\nwant %q", rows[1], want)
	}
	if rows[2][2] != "'=cmd|' /C calc'!A0" {
		t.Errorf("action cell %q not neutralised", rows[2][2])
	}
	for _, row := range rows[1:] {
		for i, c := range row {
			if startsFormula(c) {
				t.Errorf("column %s: %q starts a formula", AuditCSVHeader[i], c)
			}
		}
	}
}

func TestWriteAuditJSON_RecordsAsLogged(t *testing.T) {
	path := writeAudit(t, 3)
	recs, err := ReadAudit(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteAuditJSON(&b, recs); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if b.String() != string(data) {
		t.Errorf("export differs from the log:\n%s\n%s", b.String(), data)
	}
}
