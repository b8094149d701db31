package directory_test

import (
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/internal/testclock"
)

// acquire is one AcquireLease that must not fail.
func (e *env) acquire(t *testing.T, holder string, now time.Time) (bool, string, time.Time) {
	t.Helper()
	held, cur, until, err := e.c.AcquireLease(ctx(t), holder, now, 30*time.Second)
	if err != nil {
		t.Fatalf("AcquireLease(%s): %v", holder, err)
	}
	return held, cur, until
}

// The lease goes to one holder at a time: A takes it on a directory
// without the tree, B is refused while it runs, A renews it, B takes it
// once it has expired by the injected clock, and A's release lets B's
// successor take it at once.
func TestClient_AcquireLease(t *testing.T) {
	e := newEnv(t, false) // no ou=policies yet: the lease creates it
	t0 := testclock.T0()
	ttl := 30 * time.Second

	steps := []struct {
		name       string
		holder     string
		at         time.Duration
		wantHeld   bool
		wantHolder string
		wantUntil  time.Duration
	}{
		{"A creates it", "host-a:1", 0, true, "host-a:1", ttl},
		{"B refused while A's runs", "host-b:2", 10 * time.Second, false, "host-a:1", ttl},
		{"A renews", "host-a:1", 20 * time.Second, true, "host-a:1", 20*time.Second + ttl},
		{"B refused until the renewed expiry", "host-b:2", 20*time.Second + ttl - time.Second, false, "host-a:1", 20*time.Second + ttl},
		{"B takes it at expiry", "host-b:2", 20*time.Second + ttl, true, "host-b:2", 20*time.Second + 2*ttl},
		{"A refused now", "host-a:1", 20*time.Second + ttl + time.Second, false, "host-b:2", 20*time.Second + 2*ttl},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			held, cur, until := e.acquire(t, s.holder, t0.Add(s.at))
			if held != s.wantHeld || cur != s.wantHolder || !until.Equal(t0.Add(s.wantUntil)) {
				t.Errorf("got held=%v holder=%s until=%s; want %v %s %s", held, cur, until, s.wantHeld, s.wantHolder, t0.Add(s.wantUntil))
			}
		})
	}

	t.Run("release by a non-holder changes nothing", func(t *testing.T) {
		if err := e.c.ReleaseLease(ctx(t), "host-a:1"); err != nil {
			t.Fatal(err)
		}
		if held, _, _ := e.acquire(t, "host-c:3", t0.Add(20*time.Second+ttl+2*time.Second)); held {
			t.Error("C took a lease B still holds")
		}
	})
	t.Run("release lets another take it at once", func(t *testing.T) {
		if err := e.c.ReleaseLease(ctx(t), "host-b:2"); err != nil {
			t.Fatal(err)
		}
		if held, cur, _ := e.acquire(t, "host-c:3", t0.Add(20*time.Second+ttl+3*time.Second)); !held || cur != "host-c:3" {
			t.Errorf("after B's release: held=%v holder=%s", held, cur)
		}
	})

	got := get(t, e.root(t), e.c.LeaseDN(), "description").GetAttributeValues("description")
	if len(got) != 1 || !strings.HasPrefix(got[0], "holder=host-c:3;expires=") {
		t.Errorf("lease entry's description: %q", got)
	}
}

// Of instances that try at once to take an expired lease, or to create a
// missing one, exactly one gets it.
func TestClient_AcquireLease_Race(t *testing.T) {
	e := newEnv(t, true)
	t0 := testclock.T0()
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"missing entry", t0},
		{"expired lease", t0.Add(time.Hour)},
		{"expired again", t0.Add(2 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 8
			var wg gosync.WaitGroup
			held := make([]bool, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					held[i], _, _, errs[i] = e.c.AcquireLease(ctx(t), "host-"+string(rune('a'+i)), tc.at, 30*time.Second)
				}()
			}
			wg.Wait()
			won := 0
			for i := range n {
				if errs[i] != nil {
					t.Errorf("instance %d: %v", i, errs[i])
				}
				if held[i] {
					won++
				}
			}
			if won != 1 {
				t.Errorf("%d instances hold the lease, want 1", won)
			}
		})
	}
}
