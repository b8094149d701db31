package sync

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
)

// claimAndIngest claims the inbox file at path and reads it, as Run does.
func claimAndIngest(t *testing.T, e *Engine, path string) (claimed string, res *IngestResult, err error) {
	t.Helper()
	claimed, err = e.claim(path)
	if err != nil {
		t.Fatalf("claim %s: %v", path, err)
	}
	res, err = e.ingestClaimed(claimed)
	return claimed, res, err
}

// journaled counts the journal's event records by event_id.
func journaled(t *testing.T, cfg Config) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfg.StateDir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for line := range strings.Lines(string(data)) {
		var l journalLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		if l.Kind == "event" {
			n[l.Event.ID]++
		}
	}
	return n
}

// inboxFiles lists the names in one of the inbox's directories ("" for the
// inbox itself), leaving out directories and dot-files.
func inboxFiles(t *testing.T, cfg Config, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cfg.InboxDir(), sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		if !de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			names = append(names, de.Name())
		}
	}
	return names
}

// A writer that replaces a file at its inbox name while the daemon reads it
// (a re-export through a dot-name and a rename) loses nothing: the daemon
// claimed the first file before reading it, so the second is another file,
// read in its own turn, in full, once.
func TestInbox_FileReplacedWhileRead(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	first := header + row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")
	second := header + row("E2", "NV2", "Lê Văn Tuấn", "ubnd_nh") + row("E3", "NV3", "Lê Thị Lan", "vhtt_nh")
	drop(t, cfg, "personnel.csv", first)
	replaced := false
	e.claimedHook = func(string) error {
		if !replaced {
			replaced = true
			drop(t, cfg, "personnel.csv", second)
		}
		return nil
	}
	for range 3 {
		e.scanInbox(settled())
	}
	if !replaced {
		t.Fatal("the hook never ran")
	}
	if got, want := journaled(t, cfg), map[string]int{"E1": 1, "E2": 1, "E3": 1}; !maps.Equal(got, want) {
		t.Errorf("journaled %v, want %v", got, want)
	}
	var contents []string
	for _, name := range inboxFiles(t, cfg, doneDir) {
		if !strings.HasSuffix(name, "_personnel.csv") {
			t.Errorf("done/%s does not end with the name it was dropped as", name)
		}
		data, _ := os.ReadFile(filepath.Join(cfg.InboxDir(), doneDir, name))
		contents = append(contents, string(data))
	}
	slices.Sort(contents)
	if want := []string{first, second}; !slices.Equal(contents, want) {
		t.Errorf("done/ holds %q, want both files", contents)
	}
	if left := inboxFiles(t, cfg, ""); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	if left := inboxFiles(t, cfg, processingDir); len(left) != 0 {
		t.Errorf("left in processing/: %v", left)
	}
}

// A copy that keeps its source's modification time (Windows Explorer,
// cp -p, SMB clients) looks old while it is being written; its change time
// cannot be kept, so it is not read until it has been still for the settle
// time.
func TestInbox_CopyKeepingItsMtimeIsNotReadHalf(t *testing.T) {
	const settle = 200 * time.Millisecond
	e, cfg := newEngine(t, newFakeDir(), t0)
	e.cfg.Inbox.Settle = rules.Duration(settle)
	ready := func() []string {
		t.Helper()
		r, _, err := e.ReadyFiles(time.Now()) // file times are real time
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	p := filepath.Join(cfg.InboxDir(), "personnel.csv")
	old := time.Now().Add(-time.Hour) // the source's modification time
	if err := os.WriteFile(p, []byte(header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if r := ready(); len(r) != 0 {
		t.Fatalf("half-copied file ready: %v", r)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(row("E2", "NV2", "Lê Văn Tuấn", "ubnd_nh")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil { // the copy sets the source's times last
		t.Fatal(err)
	}
	written := time.Now()
	if r := ready(); len(r) != 0 {
		t.Fatalf("ready right after its last write: %v", r)
	}
	var r []string
	for r = ready(); len(r) == 0; r = ready() {
		if time.Since(written) > 20*settle {
			t.Fatal("never ready")
		}
		time.Sleep(settle / 4)
	}
	if since := time.Since(written); since < settle {
		t.Errorf("ready %v after its last write, want at least %v", since, settle)
	}
	if _, res, err := claimAndIngest(t, e, r[0]); err != nil || res.Added != 2 {
		t.Fatalf("read %+v, %v; want both rows", res, err)
	}
}

// A crash after a file was claimed and journaled, before it moved to done/,
// leaves it in processing/: the next run reads it again before anything
// else, journals nothing twice, writes its rejected rows to the same name,
// and moves it on.
func TestInbox_ClaimedFileReadAgainAtStartUp(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "personnel.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+row("E2", "", "Lê Văn Tuấn", "ubnd_nh"))
	e.claimedHook = func(string) error { return errors.New("crash") }
	if !e.scanInbox(settled()) {
		t.Fatal("nothing journaled before the crash")
	}
	claimed := inboxFiles(t, cfg, processingDir)
	rejected := inboxFiles(t, cfg, rejectedDir)
	if len(claimed) != 1 || !slices.Equal(rejected, claimed) {
		t.Fatalf("after the crash: processing/ %v, rejected/ %v; want the file and its rejected row under one name", claimed, rejected)
	}
	e.Close()

	e, err := Open(Options{
		Config: cfg, Rules: exampleRules(t), Directory: f, Layout: layout,
		Now: func() time.Time { return t0 }, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- e.Run(ctx) }()
	eventually(t, "the claimed file in done/", func() bool {
		return slices.Equal(inboxFiles(t, cfg, doneDir), claimed)
	})
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got, want := journaled(t, cfg), map[string]int{"E1": 1}; !maps.Equal(got, want) {
		t.Errorf("journaled %v, want %v", got, want)
	}
	if left := inboxFiles(t, cfg, processingDir); len(left) != 0 {
		t.Errorf("left in processing/: %v", left)
	}
	if got := inboxFiles(t, cfg, rejectedDir); !slices.Equal(got, claimed) {
		t.Errorf("rejected/ holds %v, want the rejected row once, under %v", got, claimed)
	}
	if n := f.calls["AddPerson "+personDN("quoctrang")]; n != 1 {
		t.Errorf("quoctrang created %d times, want once", n)
	}
}

func TestSighting_Settled(t *testing.T) {
	const settle = 2 * time.Second
	wall := t0 // any instant: the rule compares wall times with file times
	tests := []struct {
		name         string
		since, ctime time.Duration // before wall
		want         bool
	}{
		{name: "still for longer than settle", since: 3 * time.Second, ctime: time.Hour, want: true},
		{name: "still for exactly settle", since: settle, ctime: settle, want: true},
		{name: "first seen just now", since: 0, ctime: time.Hour, want: false},
		{name: "seen long enough, changed recently by its ctime", since: 3 * time.Second, ctime: time.Second, want: false},
		{name: "ctime in the future (file server clock ahead)", since: time.Minute, ctime: -time.Minute, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sighting{since: wall.Add(-tt.since), ctime: wall.Add(-tt.ctime)}
			if got := s.settled(wall, settle); got != tt.want {
				t.Errorf("settled = %v, want %v", got, tt.want)
			}
		})
	}
}

// Names in done/ and rejected/ stay the same for one file and differ for
// another file dropped under the same name with the same times.
func TestEngine_claimName(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	p := drop(t, cfg, "personnel.csv", header)
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	first := e.claimName(p, info)
	if again := e.claimName(p, info); again != first {
		t.Errorf("claim name %q, then %q", first, again)
	}
	if !strings.HasSuffix(first, "_personnel.csv") || stampedName(first) != "personnel.csv" {
		t.Errorf("claim name %q does not end with the file's name", first)
	}
	if err := os.WriteFile(filepath.Join(cfg.InboxDir(), doneDir, first), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if next := e.claimName(p, info); next == first || stampedName(next) != "personnel.csv" {
		t.Errorf("claim name %q beside done/%s", next, first)
	}
}
