package sync

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeAudit(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, _, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range n {
		if _, err := a.Append(AuditRecord{Time: t0, Action: "create", UID: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestAudit_ChainSurvivesReopen(t *testing.T) {
	path := writeAudit(t, 3)
	a, repaired, err := OpenAudit(path)
	if err != nil || repaired {
		t.Fatalf("reopen: repaired=%v err=%v", repaired, err)
	}
	rec, err := a.Append(AuditRecord{Time: t0, Action: "create", UID: "d"})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 4 {
		t.Errorf("seq after reopen = %d, want 4", rec.Seq)
	}
	f, _ := os.Open(path)
	defer f.Close()
	n, head, err := VerifyAudit(f)
	if err != nil || n != 4 || head != rec.Hash {
		t.Errorf("verify = %d, %s, %v; want 4, %s, nil", n, head, err, rec.Hash)
	}
}

func TestVerifyAudit_FindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(lines []string) []string
		want   string
	}{
		{"value changed", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"uid":"b"`, `"uid":"x"`, 1)
			return l
		}, "record 2 was altered"},
		{"record removed", func(l []string) []string { return append(l[:1], l[2:]...) }, "has seq 3, want 2"},
		{"records swapped", func(l []string) []string { l[0], l[1] = l[1], l[0]; return l }, "has seq 2, want 1"},
		{"chain rewritten from a record on", func(l []string) []string {
			l[2] = strings.Replace(l[2], `"prev":"`, `"prev":"0`, 1)
			return l
		}, "does not follow record 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := os.ReadFile(writeAudit(t, 3))
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			tampered := strings.Join(tt.tamper(lines), "\n") + "\n"
			_, _, err := VerifyAudit(strings.NewReader(tampered))
			if !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrAuditBroken with %q", err, tt.want)
			}
		})
	}
}

func TestOpenAudit_RefusesTamperedLog(t *testing.T) {
	path := writeAudit(t, 3)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`"uid":"a"`), []byte(`"uid":"z"`), 1), 0o600)
	if _, _, err := OpenAudit(path); !errors.Is(err, ErrAuditBroken) {
		t.Fatalf("OpenAudit on a tampered log: %v, want ErrAuditBroken", err)
	}
}

func TestOpenAudit_CutsTornRecord(t *testing.T) {
	path := writeAudit(t, 2)
	good, _ := os.ReadFile(path)
	os.WriteFile(path, append(good, []byte(`{"seq":3,"time":"2026`)...), 0o600)
	a, repaired, err := OpenAudit(path)
	if err != nil || !repaired {
		t.Fatalf("repaired=%v err=%v", repaired, err)
	}
	a.Close()
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Error("torn record not cut off")
	}
}

// A failed write stops the log until Reopen, which works once the disk
// takes writes again, cuts off a torn record and keeps the chain and the
// open intents.
func TestAudit_ReopenAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, _, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { a.Close() }()
	intent, err := a.Append(AuditRecord{Time: t0, Action: ActionIntent, Op: "create", UID: "a", Source: "inbox", EventID: "E1"})
	if err != nil {
		t.Fatal(err)
	}
	a.f.Close() // the disk fails under the log
	if _, err := a.Append(AuditRecord{Time: t0, Action: "create", UID: "a", Intent: intent.Seq}); err == nil {
		t.Fatal("append to a failed file succeeded")
	}
	if _, err := a.Append(AuditRecord{Time: t0, Action: "create", UID: "b"}); a.Err() == nil || err == nil {
		t.Fatal("the failure is not sticky")
	}
	// Half a record reached the disk before it failed.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":2,"time":"20`)
	f.Close()
	repaired, err := a.Reopen()
	if err != nil || !repaired || a.Err() != nil {
		t.Fatalf("reopen: repaired %v, %v, sticky %v", repaired, err, a.Err())
	}
	if seq, ok := a.OpenIntent("inbox", "E1", "create", "a"); !ok || seq != intent.Seq {
		t.Errorf("open intent after reopen: %d %v", seq, ok)
	}
	if _, err := a.Append(AuditRecord{Time: t0, Action: "create", UID: "a", Intent: intent.Seq}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n, _, err := VerifyAudit(strings.NewReader(string(data))); err != nil || n != 2 {
		t.Errorf("verify: %d records, %v", n, err)
	}
	if len(a.OpenIntents()) != 0 {
		t.Errorf("open intents: %+v", a.OpenIntents())
	}
}
