package sync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// processChunk is how many pending events one round of Process plans and
// applies at most, unless Engine.chunk says otherwise. A round holds its
// events, their plan and one snapshot of the directory; a backlog larger
// than this (a 100,000-row file) goes through in several rounds, each
// against a fresh snapshot, instead of all at once.
const processChunk = 2000

// chunkSize returns how many events one round takes.
func (e *Engine) chunkSize() int {
	if e.chunk > 0 {
		return e.chunk
	}
	return processChunk
}

// runnableIndex returns the pending events that no pending hold keeps
// back, as the journal indexes them: without reading the events.
func (e *Engine) runnableIndex() []pendingInfo {
	return slices.DeleteFunc(e.journal.pendingIndex(), func(p pendingInfo) bool {
		h := e.holds.of(p.key)
		return h != nil && h.Status == HoldPending
	})
}

// chunkEvents splits the runnable events into chunks of about size
// events, in the order the planner takes them (effective date, then
// journal order), never splitting one person's events: a person's events
// are planned together, as they were in one plan before, so a withdraw
// meets the event it withdraws, a hire delivered twice is seen twice, and
// a person's later event still waits for the earlier one in the same
// round. A person comes in the chunk of their first event; chunks follow
// each other in that order, so usernames are allocated in the order the
// planner allocates them.
func chunkEvents(idx []pendingInfo, size int) [][]uint64 {
	if len(idx) <= size {
		seqs := make([]uint64, len(idx))
		for i, p := range idx {
			seqs[i] = p.seq
		}
		return [][]uint64{seqs}
	}
	order := slices.Clone(idx)
	slices.SortStableFunc(order, func(a, b pendingInfo) int {
		return cmp.Or(a.effective.Compare(b.effective), cmp.Compare(a.seq, b.seq))
	})
	var people []string
	byPerson := map[string][]uint64{}
	for _, p := range order {
		if _, ok := byPerson[p.person]; !ok {
			people = append(people, p.person)
		}
		byPerson[p.person] = append(byPerson[p.person], p.seq)
	}
	var chunks [][]uint64
	var cur []uint64
	for _, who := range people {
		cur = append(cur, byPerson[who]...)
		if len(cur) >= size {
			chunks, cur = append(chunks, cur), nil
		}
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// guardNeedsWhole reports whether the mass-change guard must see the
// round's events in one plan: it counts the accounts one run would lock,
// revoke, move or rename, and chunks each under its limit must not add up
// to a run over it. It plans every chunk against snap, one at a time, and
// keeps only the count: over the limit, or events the guard always holds
// in more than one chunk (they would be split among several holds), and
// the round is planned whole, as a round was before chunks.
func (e *Engine) guardNeedsWhole(chunks [][]uint64, snap *rules.Snapshot, r *rules.Rules) (bool, error) {
	pl := e.planner(r)
	people := map[string]bool{}
	always := 0
	for _, c := range chunks {
		pending, err := e.journal.entries(c)
		if err != nil {
			return false, err
		}
		p := pl.Plan(pending, snap, e.now())
		found := false
		for i := range p.Ops {
			op := &p.Ops[i]
			if _, counts := drastic(op); counts {
				people[op.UID] = true
			}
			if (op.event != nil && (op.event.Type == RosterDeparture || op.event.Type == Reorganise)) || op.Review != "" {
				found = true
			}
		}
		if found {
			always++
		}
	}
	return len(people) > e.cfg.Guard.limit(managedCount(snap)) || always > 1, nil
}

// slimEvent is the part of an event a round's summary keeps of events
// from chunks already done: who and what, where it came from, not the
// request's details.
func slimEvent(ev *Event) *Event {
	if ev == nil {
		return nil
	}
	return &Event{Source: ev.Source, ID: ev.ID, Type: ev.Type, Effective: ev.Effective, EmployeeID: ev.EmployeeID,
		Name: ev.Name, Unit: ev.Unit, UID: ev.UID, Withdraws: ev.Withdraws, Origin: ev.Origin, Received: ev.Received}
}

// mergePlan adds the outcomes of p, a chunk's plan, to sum, the round's
// summary, with slim events; the operations are the last chunk's only.
func mergePlan(sum, p *Plan) {
	slimAll := func(to *[]Outcome, from []Outcome) {
		for _, o := range from {
			o.Event = slimEvent(o.Event)
			*to = append(*to, o)
		}
	}
	slimAll(&sum.Held, p.Held)
	slimAll(&sum.Satisfied, p.Satisfied)
	slimAll(&sum.Refused, p.Refused)
	slimAll(&sum.Withdrawn, p.Withdrawn)
	slimAll(&sum.Guarded, p.Guarded)
	sum.Ops = p.Ops
}

// snapshot reads the directory as a round plans against it.
func (e *Engine) snapshot(ctx context.Context) (*rules.Snapshot, error) {
	snap, err := e.dir.Snapshot(ctx)
	if err != nil {
		return nil, errReadDirectory(err)
	}
	return snap, nil
}

func errReadDirectory(err error) error { return fmt.Errorf("sync: read directory: %w", err) }

// reportPending is reportBacklog from the journal's index: it reads no
// event, so it costs nothing much after every chunk of a large file.
func (e *Engine) reportPending() {
	idx := e.journal.pendingIndex()
	held := 0
	for _, p := range idx {
		if h := e.holds.of(p.key); h != nil && h.Status == HoldPending {
			held++
		}
	}
	e.obs.Backlog(len(idx), held)
	e.obs.Holds(len(e.holds.list(HoldPending)))
}

// addChunk journals one chunk of a file's events (see Journal.Add) and
// counts those added, as addEvents does, without reading the backlog back:
// the file's reader reports it once, at the end.
func (e *Engine) addChunk(events []Event, now time.Time) (AddResult, error) {
	res, err := e.journal.Add(events, now)
	if err == nil {
		e.reportReceived(res.Added)
	}
	return res, err
}
