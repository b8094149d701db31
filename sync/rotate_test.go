package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The audit log rotates into dated segments whose chain goes on: the whole
// history verifies as one chain, reopens, and reads across segments; a
// closed segment altered or removed breaks it.
func TestAudit_Rotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	a, _, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	loc := time.UTC
	month1 := t0.AddDate(0, -2, 0)
	add := func(at time.Time, action string) {
		t.Helper()
		if _, err := a.Append(AuditRecord{Time: at, Action: action, UID: "tuanlv"}); err != nil {
			t.Fatal(err)
		}
	}
	add(month1, "create")
	add(month1, "lock")
	// An intent without its outcome keeps the two in one segment.
	if _, err := a.Append(AuditRecord{Time: month1, Action: ActionIntent, Op: "revoke", UID: "tuanlv", EventID: "E1", Source: "inbox"}); err != nil {
		t.Fatal(err)
	}
	if rotated, err := a.Rotate(t0, loc); err != nil || rotated {
		t.Fatalf("rotated with an open intent: %v %v", rotated, err)
	}
	if _, err := a.Append(AuditRecord{Time: month1, Action: "revoke", Intent: 3, Op: "revoke", UID: "tuanlv", EventID: "E1", Source: "inbox"}); err != nil {
		t.Fatal(err)
	}
	if rotated, err := a.Rotate(month1.Add(time.Hour), loc); err != nil || rotated {
		t.Fatalf("rotated within the month: %v %v", rotated, err)
	}
	if rotated, err := a.Rotate(t0, loc); err != nil || !rotated {
		t.Fatalf("no rotation into a new month: %v %v", rotated, err)
	}
	add(t0, "restore")
	// The new segment starts with the seal of the closed one.
	if a.firstSeq != 5 || !a.first.Equal(t0) || a.unsealed || len(a.sealed) != 1 || a.sealed[0].last != 4 || a.sealed[0].records != 4 {
		t.Errorf("after rotation: first %d %v, sealed %+v (unsealed %v)", a.firstSeq, a.first, a.sealed, a.unsealed)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := AuditFiles(path)
	if len(files) != 2 || !strings.HasPrefix(filepath.Base(files[0]), "audit-"+month1.Format("2006-01")+"-1") {
		t.Fatalf("files %v", files)
	}
	n, head, err := VerifyAuditLog(path)
	if err != nil || n != 6 {
		t.Fatalf("verify: %d %v", n, err)
	}
	a, _, err = OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if seq, h := a.Head(); seq != 6 || h != head {
		t.Errorf("reopened at %d %s, want 6 %s", seq, h, head)
	}
	a.Close()
	all, err := ReadAudit(path, nil)
	if err != nil || len(all) != 6 || all[4].Action != ActionSeal {
		t.Fatalf("read across segments: %d %v", len(all), err)
	}
	if alone, err := ReadAudit(files[0], nil); err != nil || len(alone) != 4 {
		t.Errorf("a closed segment alone: %d %v", len(alone), err)
	}
	// A closed segment altered: the log does not verify, nor open.
	data, _ := os.ReadFile(files[0])
	os.WriteFile(files[0], []byte(strings.Replace(string(data), `"action":"lock"`, `"action":"lick"`, 1)), 0o600)
	if _, _, err := VerifyAuditLog(path); err == nil {
		t.Errorf("an altered closed segment verified")
	}
	if _, _, err := OpenAudit(path); err == nil {
		t.Errorf("an altered closed segment opened")
	}
	// Removed: the current segment no longer follows anything.
	os.Remove(files[0])
	if _, _, err := VerifyAuditLog(path); err == nil {
		t.Errorf("the log verified without its first segment")
	}
}
