package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/sync"
)

// exportCSV runs "audit export" and parses its CSV.
func exportCSV(t *testing.T, args ...string) [][]string {
	t.Helper()
	out, errOut, code := ldapsync(t, nil, append([]string{"audit", "export"}, args...)...)
	if code != exitOK {
		t.Fatalf("audit export %v: exit %d\n%s", args, code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, out)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], sync.AuditCSVHeader) {
		t.Fatalf("header: %q", rows)
	}
	return rows[1:]
}

// An audit written by applying the example against a real slapd, exported
// whole, by window and by unit, as CSV and JSON; a tampered copy is
// refused.
func TestAuditExport(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "../../examples/personnel.csv"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	auditPath := filepath.Join(state, "audit.jsonl")
	all, err := sync.ReadAudit(auditPath, nil)
	if err != nil || len(all) < 30 {
		t.Fatalf("audit: %d records, %v", len(all), err)
	}
	loc := mustLoc(t)
	// The window comes from the records' own times, never a literal date.
	first := all[0].Time.In(loc).Format(time.DateOnly)
	last := all[len(all)-1].Time.In(loc).Format(time.DateOnly)
	dayAfter := all[len(all)-1].Time.In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
	dayBefore := all[0].Time.In(loc).AddDate(0, 0, -1).Format(time.DateOnly)

	rows := exportCSV(t, "--config", cfg, "--from", first, "--to", last)
	if len(rows) != len(all) {
		t.Fatalf("whole window: %d rows, want %d", len(rows), len(all))
	}
	for i, row := range rows {
		r := all[i]
		want := []string{r.Time.In(loc).Format(time.RFC3339), r.Action, r.Op, r.UID, r.DN, r.EmployeeID}
		if row[0] != strconv.FormatUint(r.Seq, 10) || !slices.Equal(row[1:7], want) || row[11] != sync.DetailString(r.Detail) {
			t.Errorf("row %d = %q, record %+v", i, row, r)
		}
		if strings.Contains(strings.ToLower(strings.Join(row, ",")), "password=") {
			t.Errorf("row %d holds a password field: %q", i, row)
		}
	}
	for _, w := range [][2]string{{dayAfter, dayAfter}, {dayBefore, dayBefore}} {
		if rows := exportCSV(t, "--config", cfg, "--from", w[0], "--to", w[1]); len(rows) != 0 {
			t.Errorf("window %s..%s: %d rows, want none", w[0], w[1], len(rows))
		}
	}

	// --unit: the records about the people of the unit, by the audit's own
	// history. ubnd_nh has NT-003310 and NT-003312 of the example.
	rows = exportCSV(t, "--config", cfg, "--from", first, "--to", last, "--unit", "ubnd_nh")
	uids := map[string]bool{}
	for _, r := range all {
		if r.Action == "create" && r.Detail["unit"] == "ubnd_nh" {
			uids[r.UID] = true
		}
	}
	if len(uids) != 2 || len(rows) == 0 {
		t.Fatalf("ubnd_nh: accounts %v, %d rows", uids, len(rows))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if !uids[row[4]] {
			t.Errorf("--unit ubnd_nh exported a record about %q: %q", row[4], row)
		}
		seen[row[4]+" "+row[2]] = true
	}
	for uid := range uids {
		// The first password goes in the create (one write, the letter in
		// its detail) on the harness's slapd, which hashes cleartext.
		for _, action := range []string{"create", "groups"} {
			if !seen[uid+" "+action] {
				t.Errorf("--unit ubnd_nh lacks the %s of %s", action, uid)
			}
		}
	}
	want := 0
	for _, r := range all {
		if uids[r.UID] {
			want++
		}
	}
	if len(rows) != want {
		t.Errorf("--unit ubnd_nh: %d rows, want %d", len(rows), want)
	}

	// JSON Lines: the records as logged.
	out, errOut, code := ldapsync(t, nil, "audit", "export", "--config", cfg, "--from", first, "--to", last, "--format", "json")
	if code != exitOK || !strings.Contains(errOut, "chain intact") {
		t.Fatalf("json: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(all) {
		t.Fatalf("json: %d lines, want %d", len(lines), len(all))
	}
	for i, line := range lines {
		var r sync.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Hash != all[i].Hash {
			t.Errorf("json line %d: %v %s", i, err, line)
		}
	}

	// One byte changed: the export fails and writes nothing.
	data, _ := os.ReadFile(auditPath)
	i := strings.Index(string(data), `"uid":"quoctrang"`)
	if i < 0 {
		t.Fatal("no record of quoctrang")
	}
	data[i+len(`"uid":"quoctran`)] = 'x'
	tampered := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(tampered, data, 0o600)
	out, errOut, code = ldapsync(t, nil, "audit", "export", "--config", cfg, "--from", first, "--to", last, tampered)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "audit chain broken") || !strings.Contains(errOut, "was altered") {
		t.Errorf("tampered: exit %d\nstdout %q\n%s", code, out, errOut)
	}
}

// Cells that a spreadsheet would run are exported as text.
func TestAuditExport_NeutralisesFormulas(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	data, _ := os.ReadFile(exampleConfig)
	os.WriteFile(cfg, data, 0o600)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, _, err := sync.OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, r := range []sync.AuditRecord{
		{Time: now, Action: "create", UID: "=cmd|' /C calc'!A0", EmployeeID: "+1", Reason: "-1", Article: "@SUM(1)", RequestedBy: "\t=1",
			Detail: map[string]string{"note": "=evil"}},
		{Time: now, Action: "lock", UID: "plain", DN: "uid=plain,ou=people"},
	} {
		if _, err := a.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	day := now.In(mustLoc(t)).Format(time.DateOnly)
	rows := exportCSV(t, "--config", cfg, "--from", day, "--to", day, path)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	want := map[int]string{4: "'=cmd|' /C calc'!A0", 6: "'+1", 8: "'-1", 9: "'@SUM(1)", 10: "'\t=1", 11: "note==evil"}
	for col, w := range want {
		if rows[0][col] != w {
			t.Errorf("%s = %q, want %q", sync.AuditCSVHeader[col], rows[0][col], w)
		}
	}
	if rows[1][4] != "plain" || rows[1][5] != "uid=plain,ou=people" {
		t.Errorf("plain cells changed: %q", rows[1])
	}
}

func TestAuditExport_Usage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no window", []string{}, "--from and --to are required"},
		{"bad date", []string{"--from", "2026-13-01", "--to", "2026-12-01"}, `--from "2026-13-01"`},
		{"reversed", []string{"--from", "2026-12-02", "--to", "2026-12-01"}, "is before --from"},
		{"format", []string{"--from", "2026-12-01", "--to", "2026-12-01", "--format", "xlsx"}, `--format "xlsx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := ldapsync(t, nil, append([]string{"audit", "export", "--config", exampleConfig}, tt.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, exitUsage, tt.want, errOut)
			}
		})
	}
}
