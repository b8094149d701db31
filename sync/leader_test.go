package sync

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
)

// fakeLease is a lease shared by the engines of a test, with the
// compare-and-swap of the directory's.
type fakeLease struct {
	mu      gosync.Mutex
	holder  string
	expires time.Time
	// cut makes every call of the holder named fail: its host lost the
	// directory.
	cut string
}

// leaseDir is a fake directory whose instance is holder in a shared lease.
type leaseDir struct {
	*fakeDir
	lease *fakeLease
}

func (d leaseDir) AcquireLease(_ context.Context, holder string, now time.Time, ttl time.Duration) (bool, string, time.Time, error) {
	l := d.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut == holder {
		return false, "", time.Time{}, fmt.Errorf("fake: lease: %w", rules.ErrUnavailable)
	}
	if l.holder != holder && now.Before(l.expires) {
		return false, l.holder, l.expires, nil
	}
	l.holder, l.expires = holder, now.Add(ttl)
	return true, l.holder, l.expires, nil
}

func (d leaseDir) ReleaseLease(_ context.Context, holder string) error {
	l := d.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder == holder {
		l.expires = time.Time{}
	}
	return nil
}

// instance is one engine of a pair sharing an inbox.
type instance struct {
	e    *Engine
	stop func()
}

// startInstance opens an engine named holder on its own state directory,
// with inbox shared, on clock, and runs it until the test ends.
func startInstance(t *testing.T, dir Directory, holder, inbox string, clock *atomic.Int64) *instance {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Dir = inbox
	cfg.Inbox.Settle = 0
	cfg.Inbox.Poll = rules.Duration(10 * time.Millisecond)
	cfg.Schedule.Sweep = ""
	cfg.Lease = LeaseConfig{TTL: rules.Duration(30 * time.Second), Renew: rules.Duration(20 * time.Millisecond), Holder: holder}
	e, err := Open(Options{
		Config: cfg, Rules: exampleRules(t), Directory: dir, Layout: layout,
		Now:        func() time.Time { return time.Unix(0, clock.Load()) },
		LeaseClock: func() time.Time { return time.Unix(0, clock.Load()) },
		Log:        zerolog.New(zerolog.NewTestWriter(t)).With().Str("instance", holder).Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	in := &instance{e: e, stop: gosync.OnceFunc(func() { cancel(); <-done; e.Close() })}
	t.Cleanup(in.stop)
	return in
}

// inJournal returns how many of the inbox events ids e's journal holds.
func inJournal(e *Engine, ids ...string) int {
	n := 0
	for _, id := range ids {
		if _, _, ok := e.Journal().Lookup((&Event{Source: SourceInbox, ID: id}).Key()); ok {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two engines on one shared inbox: only the lease holder reads and
// applies; the standby applies nothing and refuses writes naming the
// leader; when the leader loses the directory it stops at once, and the
// standby takes over once the lease expires by the clock.
func TestEngine_LeaderAloneApplies(t *testing.T) {
	f := newFakeDir()
	lease := &fakeLease{}
	inbox := t.TempDir()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())

	a := startInstance(t, leaseDir{f, lease}, "host-a:1", inbox, &clock)
	waitFor(t, "a to lead", a.e.Leader)
	b := startInstance(t, leaseDir{f, lease}, "host-b:2", inbox, &clock)
	time.Sleep(100 * time.Millisecond) // b's first tries
	if b.e.Leader() {
		t.Fatal("both instances lead")
	}
	if err := b.e.lease.standby(); !errors.Is(err, ErrStandby) || !strings.Contains(err.Error(), "the leader is host-a:1") {
		t.Errorf("standby's refusal: %v", err)
	}

	cfg := Config{Inbox: InboxConfig{Dir: inbox}}
	drop(t, cfg, "first.csv", header+row("F1", "NV1", "Lê Văn Tuấn", "sotttt")+row("F2", "NV2", "Nguyễn Quốc Trạng", "sotttt"))
	waitFor(t, "the first file to be applied", func() bool { return f.count() == 2 })
	waitFor(t, "the first file to be done", func() bool {
		done, _ := filepath.Glob(filepath.Join(inbox, "done", "*first.csv"))
		return len(done) == 1
	})
	if n := inJournal(b.e, "F1", "F2"); n != 0 {
		t.Errorf("the standby journaled %d events", n)
	}

	// a's host loses the directory: a stops leading at once, b waits for
	// the lease to run out.
	lease.mu.Lock()
	lease.cut = "host-a:1"
	lease.mu.Unlock()
	waitFor(t, "a to stand by", func() bool { return !a.e.Leader() })
	time.Sleep(100 * time.Millisecond)
	if b.e.Leader() {
		t.Fatal("b leads before the lease ran out")
	}
	clock.Add(int64(31 * time.Second))
	waitFor(t, "b to lead", b.e.Leader)
	if a.e.Leader() {
		t.Fatal("both instances lead")
	}
	drop(t, cfg, "second.csv", header+row("S1", "NV3", "Trần Thị Lan", "sotttt"))
	waitFor(t, "the second file to be applied", func() bool { return f.count() == 3 })
	if n := inJournal(a.e, "F1", "F2", "S1"); n != 2 {
		t.Errorf("a journaled %d events, want the first file's 2", n)
	}
	if n := inJournal(b.e, "F1", "F2", "S1"); n != 1 {
		t.Errorf("b journaled %d events, want the second file's 1", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, uid := range []string{"vantuan", "quoctrang", "thilan"} {
		if n := f.calls["AddPerson "+personDN(uid)]; n != 1 {
			t.Errorf("%s created %d times, want once", uid, n)
		}
	}
}

// Without a Leaser, an engine always leads.
func TestEngine_LeaderWithoutLease(t *testing.T) {
	e, _ := newEngine(t, newFakeDir(), t0)
	if !e.Leader() || e.LeaseHolder() != "" {
		t.Errorf("Leader() = %v, holder %q", e.Leader(), e.LeaseHolder())
	}
}
