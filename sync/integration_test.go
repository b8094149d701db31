package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/rules"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The walking skeleton end to end: a CSV dropped into the inbox of a running
// daemon becomes accounts in a real slapd that their users can bind to with
// the first password from their sealed letter, and must change.
func TestDaemon_CSVHiresBecomeAccounts(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var logs syncbuf.Buffer
	log := zerolog.New(&logs).Level(zerolog.TraceLevel).With().Timestamp().Logger()
	dcfg := srv.Config()
	client, err := directory.Dial(ctx, dcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Poll, cfg.Inbox.Settle = 1e8, 0 // 100ms
	// No sweeps: the test clock is T0 while slapd stamps real time, so a
	// sweep would find the new accounts idle for years whenever the date
	// guard moves T0 ahead (sweeps have tests of their own).
	cfg.Schedule.Sweep = ""
	eng, err := Open(Options{Config: cfg, Rules: exampleRules(t), Directory: client, Layout: layoutOf(dcfg), Log: log, Now: testclock.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	dayAfter := rules.DateOf(effectiveTime.AddDate(0, 0, 1)).String()
	in := drop(t, cfg, "personnel.csv", header+
		row("HR-1", "NT-001", "Nguyễn Quốc Trạng", "sotttt")+
		row("HR-2", "NT-002", "Lê Văn Tuấn", "ubnd_nh")+
		row("HR-3", "", "Lê Thị Lan", "sotttx")+ // malformed: no employee_id, unknown unit
		row("HR-4", "NT-004", "Lê Văn Tuấn", "vhtt_nh")+ // rule 1 taken by NT-002: rule 2
		row("HR-5", "NT-005", "Chamaléa Bốn", "vhtt_ba")) // no middle name
	want := map[string]string{"quoctrang": "sotttt", "vantuan": "ubnd_nh", "tuanlv": "vhtt_nh", "bon": "vhtt_ba"}

	letters := map[string]string{}
	eventually(t, "four letters", func() bool {
		for uid, unit := range want {
			m, _ := filepath.Glob(filepath.Join(cfg.Letters(), unit, uid+"_*.txt"))
			if len(m) == 1 {
				letters[uid] = m[0]
			}
		}
		return len(letters) == len(want) && len(eng.Journal().Pending()) == 0
	})

	// A later request changes the applications (JSON Lines this time).
	drop(t, cfg, "access.jsonl",
		`{"event_id":"HR-6","type":"applications","effective":"`+dayAfter+`","employee_id":"NT-001","applications":"+dichvucong;-eoffice","requested_by":"Giám đốc Sở"}`+"\n"+
			`{"event_id":"HR-7","type":"applications","effective":"`+dayAfter+`","employee_id":"NT-005","applications":["baocao"]}`+"\n")
	groups := func(uid string) string {
		snap, err := client.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range snap.People {
			if p.UID == uid {
				return strings.Join(p.Groups, ",")
			}
		}
		return ""
	}
	eventually(t, "applications changed", func() bool {
		return groups("quoctrang") == "dichvucong,mail" && groups("bon") == "baocao"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	var passwords []secret.Secret
	for uid, path := range letters {
		gotUID, pw, err := ReadLetter(path)
		if err != nil || gotUID != uid {
			t.Fatalf("letter %s: %s %v", path, gotUID, err)
		}
		passwords = append(passwords, pw)
		res, err := client.Bind(context.Background(), dcfg.PersonDN(uid), pw)
		if err != nil {
			t.Errorf("bind as %s with the letter's password: %v", uid, err)
			continue
		}
		if !res.MustChange {
			t.Errorf("bind as %s: no must-change-password control", uid)
		}
	}

	snap, err := client.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.People) != len(want) {
		t.Errorf("directory holds %d people, want %d", len(snap.People), len(want))
	}
	for _, p := range snap.People {
		// Pending until the first password is changed: in the application
		// groups, not in the active group.
		if want[p.UID] != p.Unit || p.Mail != p.UID+"@ninhthuan.gov.vn" || !p.MustChange || p.Active || p.Status != rules.StatusPending || len(p.Groups) == 0 {
			t.Errorf("entry %+v", p)
		}
	}

	// The malformed row is set aside with file, line and fields; the input
	// file itself has left the inbox.
	rejected, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "rejected", "*personnel.csv"))
	if len(rejected) != 1 {
		t.Fatalf("rejected files: %v", rejected)
	}
	rej, _ := os.ReadFile(rejected[0])
	if !strings.Contains(string(rej), "employee_id: required") || !strings.Contains(string(rej), `unit: ""sotttx"" is not a unit of the config`) {
		t.Errorf("rejected file:\n%s", rej)
	}
	if !strings.Contains(logs.String(), `"line":4`) {
		t.Errorf("the log does not name line 4 of the file")
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Errorf("input still in the inbox: %v", err)
	}

	// No password anywhere but the letters: not in the log, the journal or
	// the audit log.
	journal, _ := os.ReadFile(filepath.Join(cfg.StateDir, "journal.jsonl"))
	audit, _ := os.ReadFile(AuditPath(cfg))
	for _, pw := range passwords {
		for name, text := range map[string]string{"log": logs.String(), "journal": string(journal), "audit": string(audit)} {
			if strings.Contains(text, pw.Reveal()) {
				t.Errorf("a first password appears in the %s", name)
			}
		}
	}
	// With the harness's slapd the first password goes in the add (one
	// write): the create record names the letter.
	if !strings.Contains(string(audit), `"action":"create"`) || !strings.Contains(string(audit), `"letter":`) {
		t.Errorf("audit does not record the credential issue")
	}
}

// outageDir kills slapd just before the n-th add (AddPerson, or
// AddPersonWithPassword where slapd hashes cleartext) and brings it back a
// second later, so the outage falls in the middle of a batch every time.
type outageDir struct {
	*directory.Client
	srv   *slapdtest.Server
	mu    gosync.Mutex
	calls int
	n     int
	back  chan struct{}
}

func (d *outageDir) AddPerson(ctx context.Context, p rules.Account) error {
	d.beforeAdd()
	return d.Client.AddPerson(ctx, p)
}

func (d *outageDir) AddPersonWithPassword(ctx context.Context, p rules.Account, pw secret.Secret, issuedFor string) error {
	d.beforeAdd()
	return d.Client.AddPersonWithPassword(ctx, p, pw, issuedFor)
}

func (d *outageDir) beforeAdd() {
	d.mu.Lock()
	d.calls++
	if d.calls == d.n {
		d.srv.Kill()
		go func() {
			time.Sleep(time.Second)
			if err := d.srv.StartAgain(context.Background()); err != nil {
				panic(err)
			}
			close(d.back)
		}()
	}
	d.mu.Unlock()
}

// A directory outage in the middle of a batch loses no change and applies
// none twice: every hire ends as exactly one account whose password is the
// one in its one letter.
func TestDaemon_SlapdDownMidBatch(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncbuf.Buffer
	log := zerolog.New(&logs).Level(zerolog.InfoLevel)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	dcfg := srv.Config()
	// Shorter than the outage, so the batch fails and the journal, not the
	// client's own retries, carries the events over it.
	dcfg.RetryFor = rules.Duration(200 * time.Millisecond)
	client, err := directory.Dial(ctx, dcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	dir := &outageDir{Client: client, srv: srv, n: 15, back: make(chan struct{})}

	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Poll, cfg.Inbox.Settle = 1e8, 0
	cfg.RetryMin, cfg.RetryMax = 1e8, 5e8
	cfg.Schedule.Sweep = "" // as in TestDaemon_CSVHiresBecomeAccounts
	eng, err := Open(Options{Config: cfg, Rules: exampleRules(t), Directory: dir, Layout: layoutOf(dcfg), Log: log, Parallel: 3, Now: testclock.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	const n = 40
	names := []string{"Lê Văn Tuấn", "Nguyễn Thị Hoa", "Trần Văn Nam", "Đàng Năng Thọ"}
	var data strings.Builder
	data.WriteString(header)
	for i := range n {
		data.WriteString(row(fmt.Sprintf("HR-%d", i), fmt.Sprintf("NT-%03d", i), names[i%len(names)], "ubnd_nh"))
	}
	drop(t, cfg, "batch.csv", data.String())

	eventually(t, "slapd back", func() bool {
		select {
		case <-dir.back:
			return true
		default:
			return false
		}
	})
	var letters []string
	eventually(t, "every hire applied", func() bool {
		letters, _ = filepath.Glob(filepath.Join(cfg.Letters(), "ubnd_nh", "*.txt"))
		return len(eng.Journal().Pending()) == 0 && len(letters) == n
	})
	cancel()
	<-done
	if !strings.Contains(logs.String(), "batch failed; events stay in the journal") {
		t.Errorf("no batch failed during the outage: the journal's replay was not exercised")
	}

	snap, err := client.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	employees := map[string]string{}
	for _, p := range snap.People {
		if other, dup := employees[p.EmployeeID]; dup {
			t.Errorf("employee %s has two accounts: %s and %s", p.EmployeeID, other, p.UID)
		}
		employees[p.EmployeeID] = p.UID
	}
	if len(snap.People) != n || len(employees) != n {
		t.Fatalf("directory holds %d people for %d employees, want %d", len(snap.People), len(employees), n)
	}
	for _, l := range letters {
		uid, pw, err := ReadLetter(l)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := client.Bind(context.Background(), dcfg.PersonDN(uid), pw); err != nil || !res.MustChange {
			t.Errorf("%s: bind with the letter's password: %+v %v", uid, res, err)
		}
	}
}

// A username held by a tombstone goes to someone else only after the reuse
// embargo, and then the tombstone goes first: no two entries share a uid.
func TestEngine_ReusesANameAfterTheEmbargo(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	ctx := context.Background()
	dcfg := srv.Config()
	client, err := directory.Dial(ctx, dcfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r := exampleRules(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, r.Location)
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	eng, err := Open(Options{Config: cfg, Rules: r, Directory: client, Layout: layoutOf(dcfg), Log: zerolog.New(zerolog.NewTestWriter(t)),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.EnsureTree(ctx); err != nil {
		t.Fatal(err)
	}
	// quoctrang was revoked on 2025-11-23.
	if err := client.CreatePerson(ctx, rules.Account{UID: "quoctrang", EmployeeID: "OLD-1", CN: "Nguyễn Quốc Trạng", SN: "Nguyễn"}); err != nil {
		t.Fatal(err)
	}
	if err := client.Revoke(ctx, dcfg.PersonDN("quoctrang"), time.Date(2025, 11, 23, 3, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	hireOf := func(id, employee string) Event {
		n, _ := rules.ParseFullName("Nguyễn Quốc Trạng")
		return Event{Source: SourceInbox, ID: id, Type: Hire, Effective: rules.Date{Year: 2026, Month: 11, Day: 2},
			EmployeeID: employee, Name: n, Unit: "sotttt", Applications: []string{"mail"}}
	}
	uidOf := func(employee string) string {
		snap, err := client.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range snap.People {
			if p.EmployeeID == employee {
				return fmt.Sprintf("%s revoked=%v", p.UID, p.Revoked)
			}
		}
		return "none"
	}

	// Within the embargo the ladder goes on.
	eng.Journal().Add([]Event{hireOf("H1", "NEW-1")}, now)
	if _, _, err := eng.Process(ctx); err != nil {
		t.Fatal(err)
	}
	if got := uidOf("NEW-1"); got != "trangnq revoked=false" {
		t.Errorf("within the embargo: %s, want trangnq", got)
	}
	// The day after the embargo's last day, the name is free.
	now = time.Date(2026, 11, 24, 0, 0, 0, 0, r.Location)
	eng.Journal().Add([]Event{hireOf("H2", "NEW-2")}, now)
	if _, _, err := eng.Process(ctx); err != nil {
		t.Fatal(err)
	}
	if got := uidOf("NEW-2"); got != "quoctrang revoked=false" {
		t.Errorf("after the embargo: %s, want quoctrang", got)
	}
	if got := uidOf("OLD-1"); got != "none" {
		t.Errorf("the old tombstone: %s, want gone", got)
	}
	audit, _ := os.ReadFile(AuditPath(cfg))
	if !regexp.MustCompile(`"action":"purge_tombstone","intent":\d+,"uid":"quoctrang"`).Match(audit) {
		t.Error("the purge is not in the audit log")
	}
}
