package sync

import (
	"context"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

func TestScheduleConfig_Validate(t *testing.T) {
	for _, tt := range []struct {
		expr string
		ok   bool
	}{{"@hourly", true}, {"@every 30m", true}, {"5 0 * * 1-5", true}, {"", true}, {"61 * * * *", false}, {"hourly", false}} {
		errs := ScheduleConfig{Tree: tt.expr}.Validate("sync.schedule")
		if (len(errs) == 0) != tt.ok {
			t.Errorf("%q: %v", tt.expr, errs)
		}
		if !tt.ok && !strings.HasPrefix(errs.Error(), "sync.schedule.tree: ") {
			t.Errorf("%q: %v does not name the key", tt.expr, errs)
		}
	}
}

// treeCounter is a fake directory that counts EnsureTree runs.
type treeCounter struct {
	*fakeDir
	mu gosync.Mutex
	n  int
}

func (c *treeCounter) EnsureTreeAt(context.Context, *rules.Rules, time.Time) ([]rules.TreeChange, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil, nil
}

func (c *treeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestEngine_RunsTheTreeJob(t *testing.T) {
	dir := &treeCounter{fakeDir: newFakeDir()}
	e, _ := newEngine(t, dir, t0)
	e.cfg.Schedule.Tree = "@every 1s"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for dir.count() < 3 && time.Now().Before(deadline) { // once at start, then every second
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := dir.count(); n < 3 {
		t.Errorf("EnsureTree ran %d times in 10s, want at start and every second", n)
	}
}
