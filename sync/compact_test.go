package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Compaction moves old resolved events to an archive and keeps what
// recognises them: the same event sent again is a duplicate, and a
// replay of the compacted journal gives the same state.
func TestJournal_Compact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.jsonl")
	j, _, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	old, recent := t0.Add(-100*24*time.Hour), t0.Add(-time.Hour)
	evs := []Event{ev("A"), ev("B"), ev("C"), ev("D")} // hires of four people
	added, err := j.Add(evs, old)
	if err != nil {
		t.Fatal(err)
	}
	seq := func(i int) uint64 { return added.Added[i].Seq }
	if err := j.Resolve([]Resolution{{Seq: seq(0), Status: Done}, {Seq: seq(1), Status: Failed, Reason: "refused"}}, old); err != nil {
		t.Fatal(err)
	}
	if err := j.Resolve([]Resolution{{Seq: seq(2), Status: Done}}, recent); err != nil {
		t.Fatal(err)
	}
	moved, err := j.Compact(t0.Add(-90*24*time.Hour), filepath.Join(dir, "archive"), t0)
	if err != nil || moved != 2 {
		t.Fatalf("compact: moved %d, %v", moved, err)
	}
	archived, _ := filepath.Glob(filepath.Join(dir, "archive", "journal-*.jsonl"))
	if len(archived) != 1 {
		t.Fatalf("archives %v", archived)
	}
	data, _ := os.ReadFile(archived[0])
	if strings.Count(string(data), "\n") != 4 || !strings.Contains(string(data), `"event_id":"A"`) {
		t.Errorf("archive:\n%s", data)
	}
	check := func(j *Journal) {
		t.Helper()
		if st, _, _ := j.Lookup(evs[0].Key()); st != Done {
			t.Errorf("A: %s", st)
		}
		if st, reason, _ := j.Lookup(evs[1].Key()); st != Failed || reason != "refused" {
			t.Errorf("B: %s %q", st, reason)
		}
		if p := j.Pending(); len(p) == 0 || p[0].Event.ID != "D" {
			t.Errorf("pending %+v", p)
		}
		res, err := j.Add([]Event{ev("A")}, t0)
		if err != nil || len(res.Duplicates) != 1 {
			t.Errorf("A again: %+v %v", res, err)
		}
	}
	check(j)
	// Still appendable, and the same after a restart.
	if _, err := j.Add([]Event{ev("E")}, t0); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	check(j)
	e := ev("E")
	if st, _, ok := j.Lookup(e.Key()); !ok || st != Pending {
		t.Errorf("E after restart: %s %v", st, ok)
	}
	if moved, err := j.Compact(t0.Add(-90*24*time.Hour), filepath.Join(dir, "archive"), t0); err != nil || moved != 0 {
		t.Errorf("second compaction: %d %v", moved, err)
	}
}

func ev(id string) Event { return testEvent(id, "NV-"+id) }
