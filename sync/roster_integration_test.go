package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/rules"
)

// staffNames returns n distinct Vietnamese names.
func staffNames(n int) []string {
	families := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"}
	middles := []string{"Văn", "Thị", "Quốc", "Minh"}
	givens := []string{"An", "Bình", "Cường", "Dũng", "Hoa"}
	var out []string
	for _, f := range families {
		for _, m := range middles {
			for _, g := range givens {
				out = append(out, f+" "+m+" "+g)
			}
		}
	}
	return out[:n]
}

// rosterOf writes a roster of the people whose index keep allows; unit
// gives each one's unit.
func rosterOf(names []string, keep func(int) bool, unit func(int) string) string {
	var b strings.Builder
	b.WriteString(rosterHeader)
	for i, n := range names {
		if keep(i) {
			fmt.Fprintf(&b, "R-%03d,%s,%s,Chuyên viên\n", i, n, unit(i))
		}
	}
	return b.String()
}

// Rosters through the daemon against slapd: 1% of changes gives exactly
// those events; the same roster again nothing; a roster missing 30% of the
// staff is held until approved or rejected; a truncated one is refused.
func TestDaemon_Rosters(t *testing.T) {
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
	client, err := directory.Dial(ctx, dcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Poll, cfg.Inbox.Settle = 1e8, 0
	cfg.Schedule.Sweep = "" // this test is about rosters, not inactivity
	eng, err := Open(Options{Config: cfg, Rules: exampleRules(t), Directory: client, Layout: layoutOf(dcfg), Log: log, Parallel: 2, Now: testclock.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	const n = 100
	names := staffNames(n)
	home := func(int) string { return "sotttt" }
	all := func(int) bool { return true }
	idle := func() bool { return len(eng.Journal().Pending()) == len(eng.runnableOff()) }
	drop(t, cfg, "roster-0.csv", rosterOf(names, all, home))
	eventually(t, "100 hires from the first roster", func() bool { return idle() && countPeople(t, client, nil) == n })

	// 1%: one person moves.
	moved := func(i int) string {
		if i == 7 {
			return "sonv_vp"
		}
		return "sotttt"
	}
	before := journalKeys(eng)
	drop(t, cfg, "roster-1.csv", rosterOf(names, all, moved))
	eventually(t, "the transfer", func() bool {
		return idle() && countPeople(t, client, func(a rules.Account) bool { return a.Unit == "sonv_vp" }) == 1
	})
	derived := newKeys(eng, before)
	if len(derived) != 1 || !strings.HasSuffix(derived[0], ":R-007:transfer") {
		t.Fatalf("the 1%% roster derived %v, want one transfer of R-007", derived)
	}
	// The same roster again, under another name: nothing.
	before = journalKeys(eng)
	drop(t, cfg, "roster-1-again.csv", rosterOf(names, all, moved))
	eventually(t, "the repeated roster read", func() bool { return inboxDone(t, cfg, "roster-1-again.csv") })
	if k := newKeys(eng, before); len(k) != 0 {
		t.Errorf("the same roster again derived %v", k)
	}

	// 30% missing: departures, held.
	for _, decision := range []string{HoldRejected, HoldApproved} {
		missing := func(i int) bool { return i%10 < 3 }
		drop(t, cfg, "roster-"+decision+".csv", rosterOf(names, func(i int) bool { return !missing(i) }, moved))
		var hold Hold
		eventually(t, "the hold", func() bool {
			h := eng.Holds(HoldPending)
			if len(h) == 1 {
				hold = h[0]
			}
			return len(h) == 1
		})
		if hold.Counts["departure"] != 30 || len(hold.Events) != 30 {
			t.Fatalf("hold %+v", hold)
		}
		if c := countPeople(t, client, func(a rules.Account) bool { return a.Locked }); c != 0 {
			t.Fatalf("%d accounts locked before any approval", c)
		}
		decide := eng.Reject
		if decision == HoldApproved {
			decide = eng.Approve
		}
		if _, err := decide(ctx, hold.ID, "Trần Thị Mai"); err != nil {
			t.Fatal(err)
		}
		want := 0
		if decision == HoldApproved {
			want = 30
		}
		eventually(t, decision, func() bool {
			return idle() && countPeople(t, client, func(a rules.Account) bool { return a.Locked && !a.Revoked }) == want
		})
	}
	if c := countPeople(t, client, func(a rules.Account) bool {
		return a.Locked && a.Lifecycle.Departure.Kind == rules.DepartUnspecified
	}); c != 30 {
		t.Errorf("%d accounts carry the approved departure, want 30", c)
	}

	// A truncated roster: refused whole, nothing derived.
	before = journalKeys(eng)
	drop(t, cfg, "roster-truncated.csv", rosterOf(names, func(i int) bool { return i < 20 }, moved))
	eventually(t, "the truncated roster set aside", func() bool {
		m, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "rejected", "*roster-truncated.csv.error.txt"))
		return len(m) == 1
	})
	if k := newKeys(eng, before); len(k) != 0 {
		t.Errorf("a truncated roster derived %v", k)
	}
	cancel()
	<-done
	data, _ := os.ReadFile(AuditPath(cfg))
	for _, a := range []string{`"action":"hold_rejected"`, `"action":"hold_approved"`} {
		if !strings.Contains(string(data), a) {
			t.Errorf("no %s in the audit", a)
		}
	}
}

// runnableOff returns the pending events a pending hold keeps back.
func (e *Engine) runnableOff() []Entry {
	var out []Entry
	for _, en := range e.journal.Pending() {
		if h := e.holds.of(en.Event.Key()); h != nil && h.Status == HoldPending {
			out = append(out, en)
		}
	}
	return out
}

func countPeople(t *testing.T, c *directory.Client, match func(rules.Account) bool) int {
	t.Helper()
	snap, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range snap.People {
		if match == nil || match(a) {
			n++
		}
	}
	return n
}

// journalKeys returns the keys of the events the journal holds.
func journalKeys(e *Engine) map[string]bool {
	e.journal.mu.Lock()
	defer e.journal.mu.Unlock()
	out := map[string]bool{}
	for k := range e.journal.keys {
		out[k] = true
	}
	return out
}

func newKeys(e *Engine, before map[string]bool) []string {
	var out []string
	for k := range journalKeys(e) {
		if !before[k] {
			out = append(out, k)
		}
	}
	return out
}

func inboxDone(t *testing.T, cfg Config, name string) bool {
	m, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "done", "*"+name))
	return len(m) == 1
}
