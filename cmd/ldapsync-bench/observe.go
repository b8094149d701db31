package main

import (
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/ldapsync/ldapsync/sync"
)

// opSum is how many operations of a kind ran and how long they took,
// summed over the lanes that ran them at once.
type opSum struct {
	n int
	d time.Duration
}

// opTimes sums, for one workload, the directory client's operations (an
// LDAP request with its retries) and the applier's (an operation with its
// letter and audit records), by kind: where the lanes' time went.
type opTimes struct {
	mu   gosync.Mutex
	ldap map[string]opSum
	ops  map[string]opSum
}

func newOpTimes() *opTimes {
	return &opTimes{ldap: map[string]opSum{}, ops: map[string]opSum{}}
}

func (t *opTimes) add(m map[string]opSum, kind string, d time.Duration) {
	t.mu.Lock()
	s := m[kind]
	s.n++
	s.d += d
	m[kind] = s
	t.mu.Unlock()
}

// directory is a directory.Observer.
func (t *opTimes) directory(op string, took time.Duration, _ error) { t.add(t.ldap, op, took) }

// summary is "kind n×, mean ms" for each kind, the most time first.
func summary(m map[string]opSum) string {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return int(m[b].d - m[a].d) })
	var parts []string
	for _, k := range kinds {
		s := m[k]
		parts = append(parts, fmt.Sprintf("%s %d× %.1f ms = %s s", k, s.n, float64(s.d.Microseconds())/1000/float64(s.n), secs(s.d)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// engineObserver is the engine's sync.Observer: it passes the applier's
// operations to the workload being measured, if any.
type engineObserver struct {
	cur atomic.Pointer[opTimes]
}

func (o *engineObserver) Operation(kind sync.OpKind, _ error, took time.Duration) {
	if t := o.cur.Load(); t != nil {
		t.add(t.ops, string(kind), took)
	}
}

func (*engineObserver) EventsReceived(string, sync.EventType, int)        {}
func (*engineObserver) EventResolved(string, sync.EventType, sync.Status) {}
func (*engineObserver) Backlog(int, int)                                  {}
func (*engineObserver) Holds(int)                                         {}
func (*engineObserver) DeadlinesDue(int, int)                             {}
func (*engineObserver) JobRun(string, bool, time.Time)                    {}
func (*engineObserver) Reload(bool)                                       {}
