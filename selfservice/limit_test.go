package selfservice

import (
	"fmt"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/internal/testclock"
)

// Memory stays bounded however many sources and usernames come.
func TestBuckets_bounded(t *testing.T) {
	b := newBuckets(60, 2, 100)
	now := testclock.T0()
	for i := range 1000 {
		b.take(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
		now = now.Add(time.Millisecond)
	}
	if n := b.len(); n > 100 {
		t.Errorf("%d sources remembered, want at most 100", n)
	}
	// The most recent source keeps its state through evictions.
	last := "10.0.3.231"
	b.take(last, now)
	if ok, _ := b.take(last, now); ok {
		t.Error("the most recent source was forgotten")
	}
}

func TestFailures_bounded(t *testing.T) {
	f := newFailures(3, time.Minute, 50)
	now := testclock.T0()
	for range 3 {
		f.add("target", now)
	}
	for i := range 49 {
		f.add(fmt.Sprint("u", i), now)
	}
	if blocked, until := f.blocked("target", now); !blocked || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("target: blocked %v until %v", blocked, until)
	}
	// Past the window, old usernames give way to new ones.
	now = now.Add(2 * time.Minute)
	for i := range 500 {
		f.add(fmt.Sprint("v", i), now)
	}
	if n := f.len(); n > 50 {
		t.Errorf("%d usernames remembered, want at most 50", n)
	}
	if blocked, _ := f.blocked("target", now); blocked {
		t.Error("target still blocked after the window")
	}
	// Failures are kept per username up to max only.
	for range 10 {
		f.add("many", now)
	}
	if n := len(f.m["many"]); n != 3 {
		t.Errorf("%d failure times kept, want 3", n)
	}
	f.reset("many")
	if blocked, _ := f.blocked("many", now); blocked {
		t.Error("blocked after reset")
	}
}
