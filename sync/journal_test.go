package sync

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/rules"
)

// t0 is the tests' injected "now" (see internal/testclock).
var t0 = testclock.T0()

// effective is the effective date of the tests' events, three weeks before
// t0 and moved with it.
var (
	effectiveTime = testclock.Date(2026, 11, 2)
	effective     = rules.DateOf(effectiveTime)
	effectiveISO  = effective.String()
)

func testEvent(id, employee string) Event {
	return Event{
		Source: SourceInbox, ID: id, Type: Hire, Effective: effective,
		EmployeeID: employee, Name: rules.Name{Family: "Nguyễn", Middle: "Quốc", Given: "Trạng"}, Unit: "sotttt",
		Origin: Origin{File: "a.csv", Line: 2}, Received: t0,
	}
}

func openJournal(t *testing.T, path string) *Journal {
	t.Helper()
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestJournal_AddDeduplicates(t *testing.T) {
	j := openJournal(t, filepath.Join(t.TempDir(), "journal.jsonl"))
	e1, e2 := testEvent("E1", "NV1"), testEvent("E2", "NV2")
	res, err := j.Add([]Event{e1, e2}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 2 {
		t.Fatalf("added %d, want 2", len(res.Added))
	}

	// The same row delivered again in another file, later: a duplicate.
	again := e1
	again.Origin, again.Received = Origin{File: "b.csv", Line: 9}, t0.Add(time.Hour)
	// The same id with other content: a conflict.
	changed := testEvent("E2", "NV2")
	changed.Unit = "sonv_vp"
	// The same id twice in one call: the second is a duplicate.
	e3 := testEvent("E3", "NV3")
	res, err = j.Add([]Event{again, changed, e3, e3}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || res.Added[0].Event.ID != "E3" {
		t.Errorf("added %+v, want only E3", res.Added)
	}
	if len(res.Duplicates) != 2 {
		t.Errorf("duplicates %d, want 2 (E1 again, E3 twice)", len(res.Duplicates))
	}
	if len(res.Conflicts) != 1 || res.Conflicts[0] != 1 {
		t.Errorf("conflicts %v, want [1] (E2 with another unit)", res.Conflicts)
	}
	if n := len(j.Pending()); n != 3 {
		t.Errorf("pending %d, want 3", n)
	}
}

func TestJournal_SurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := j.Add([]Event{testEvent("E1", "NV1"), testEvent("E2", "NV2"), testEvent("E3", "NV3")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Resolve([]Resolution{{Seq: res.Added[0].Seq, Status: Done}, {Seq: res.Added[2].Seq, Status: Failed, Reason: "no"}}, t0); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j = openJournal(t, path)
	pending := j.Pending()
	if len(pending) != 1 || pending[0].Event.ID != "E2" {
		t.Fatalf("pending after reopen = %+v, want E2 only", pending)
	}
	if pending[0].Event.Name.Given != "Trạng" || pending[0].Event.Effective.String() != effectiveISO {
		t.Errorf("event did not round-trip: %+v", pending[0].Event)
	}
	// Done stays a duplicate; a failed event may be resubmitted, corrected.
	fixed := testEvent("E3", "NV3")
	fixed.Unit = "sonv_vp"
	res, err = j.Add([]Event{testEvent("E1", "NV1"), fixed}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Duplicates) != 1 || len(res.Added) != 1 || res.Added[0].Event.ID != "E3" {
		t.Errorf("after reopen: added %v, duplicates %v; want E3 added, E1 duplicate", res.Added, res.Duplicates)
	}
	if res.Added[0].Seq <= pending[0].Seq {
		t.Errorf("new seq %d not after existing %d", res.Added[0].Seq, pending[0].Seq)
	}
}

func TestJournal_TornTail(t *testing.T) {
	tests := []struct {
		name string
		tail string
	}{
		{"half a line", `{"kind":"event","seq":9,"at":"2026-`},
		{"garbage line ending in newline", "\x00\x00\x00\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.jsonl")
			j, _, err := OpenJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Add([]Event{testEvent("E1", "NV1")}, t0); err != nil {
				t.Fatal(err)
			}
			j.Close()
			good, _ := os.ReadFile(path)
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(tt.tail)
			f.Close()

			j, repaired, err := OpenJournal(path)
			if err != nil {
				t.Fatalf("open after torn write: %v", err)
			}
			defer j.Close()
			if !repaired {
				t.Error("repaired = false, want true")
			}
			if got, _ := os.ReadFile(path); string(got) != string(good) {
				t.Errorf("file after repair:\n%q\nwant\n%q", got, good)
			}
			if res, err := j.Add([]Event{testEvent("E2", "NV2")}, t0); err != nil || res.Added[0].Seq != 2 {
				t.Errorf("add after repair: %+v, %v", res, err)
			}
		})
	}
}

func TestJournal_DamageBeforeTheEndIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Add([]Event{testEvent("E1", "NV1"), testEvent("E2", "NV2")}, t0); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, _ := os.ReadFile(path)
	data[0] = '#'
	os.WriteFile(path, data, 0o600)
	if _, _, err := OpenJournal(path); err == nil {
		t.Fatal("open of a journal damaged in its first line succeeded")
	}
}

func TestJournal_WriteErrorIsSticky(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j := openJournal(t, path)
	if _, err := j.Add([]Event{testEvent("E1", "NV1")}, t0); err != nil {
		t.Fatal(err)
	}
	j.f.Close() // the next write fails, as on a failing disk
	if _, err := j.Add([]Event{testEvent("E2", "NV2")}, t0); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	if j.Err() == nil {
		t.Fatal("Err() is nil after a failed write")
	}
	if err := j.Resolve([]Resolution{{Seq: 1, Status: Done}}, t0); err == nil {
		t.Error("Resolve after a failed write succeeded")
	}
	// The file is closed: the pending events cannot be read back, but the
	// journal knows how many there are.
	if n := j.PendingCount(); n != 1 {
		t.Errorf("pending = %d, want 1: the failed batch must not count", n)
	}
}

// A failed write stops the journal until Reopen, which keeps every event
// written whole and lets the next Add go on.
func TestJournal_ReopenAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j := openJournal(t, path)
	if _, err := j.Add([]Event{testEvent("E1", "NV1")}, t0); err != nil {
		t.Fatal(err)
	}
	j.f.Close() // the disk fails under the journal
	if _, err := j.Add([]Event{testEvent("E2", "NV2")}, t0); err == nil || j.Err() == nil {
		t.Fatal("add to a failed file succeeded, or the failure is not sticky")
	}
	if _, err := j.Reopen(); err != nil || j.Err() != nil {
		t.Fatalf("reopen: %v, sticky %v", err, j.Err())
	}
	res, err := j.Add([]Event{testEvent("E1", "NV1"), testEvent("E2", "NV2")}, t0)
	if err != nil || len(res.Added) != 1 || len(res.Duplicates) != 1 {
		t.Fatalf("after reopen: %+v %v; want E2 added, E1 a duplicate", res, err)
	}
	if n := len(j.Pending()); n != 2 {
		t.Errorf("pending %d, want 2", n)
	}
}

// Start-up reads an event line's key and hash from its ends; a key with
// characters JSON escapes goes through encoding/json, and both readings
// agree with what Add wrote.
func TestJournal_DecodeHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j := openJournal(t, path)
	plain, odd := testEvent("E1", "NV1"), testEvent(`E<2>&"x"`, "NV2")
	if _, err := j.Add([]Event{plain, odd}, t0); err != nil {
		t.Fatal(err)
	}
	if err := j.Resolve([]Resolution{{Seq: 1, Status: Done}}, t0); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if _, ok := decodeEventHead(lines[0]); !ok {
		t.Errorf("the fast path does not take %s", lines[0])
	}
	if _, ok := decodeEventHead(lines[1]); ok {
		t.Errorf("the fast path takes an escaped key: %s", lines[1])
	}
	if h, ok := decodeDoneHead(lines[2]); !ok || h.seq != 1 {
		t.Errorf("done line %s: %+v %v", lines[2], h, ok)
	}
	for i, ev := range []Event{plain, odd} {
		h, err := decodeHead(lines[i])
		want, _ := parseContentHash(ev.ContentHash())
		if err != nil || h.key != ev.Key() || h.hash != want || h.seq != uint64(i+1) {
			t.Errorf("line %d: %+v %v, want key %q", i+1, h, err, ev.Key())
		}
	}
	j.Close()
	j2 := openJournal(t, path)
	if st, _, _ := j2.Lookup(plain.Key()); st != Done {
		t.Errorf("%s: %s after reopening", plain.Key(), st)
	}
	if p := j2.Pending(); len(p) != 1 || p[0].Event.ID != odd.ID || p[0].Hash != odd.ContentHash() {
		t.Errorf("pending after reopening: %+v", p)
	}
	// A line whose middle is cut is not taken by the fast path.
	cut := append(slices.Clone(lines[0][:40]), lines[0][len(lines[0])-80:]...)
	if _, err := decodeHead(cut); !errors.Is(err, errTornLine) {
		t.Errorf("a line cut in the middle: %v", err)
	}
}
