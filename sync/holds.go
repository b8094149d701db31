package sync

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"
)

// Hold statuses.
const (
	HoldPending  = "pending"
	HoldApproved = "approved"
	HoldRejected = "rejected"
)

// Hold is a set of events the mass-change guard keeps from running until
// an operator approves or rejects them: a run that would lock, revoke,
// move or rename more accounts than sync.guard allows, and every departure
// a roster suggests (a roster cannot say whether the person retired,
// resigned or left the province).
type Hold struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Reason  string    `json:"reason"`
	// Events are the keys (source/event_id) of the held events.
	Events []string `json:"events"`
	// Counts are the held operations by kind, which an approval may not
	// exceed when the events are planned again; Ops their total.
	Counts map[string]int `json:"counts"`
	Ops    int            `json:"ops"`
	// Sample names some of them: "lock tuanlv".
	Sample  []string  `json:"sample"`
	Status  string    `json:"status"`
	By      string    `json:"by,omitempty"`
	Decided time.Time `json:"decided,omitzero"`
}

// holdStore keeps the holds in state_dir/holds.jsonl: one line per change
// of a hold, the last line of an id winning, fsynced before it counts.
type holdStore struct {
	mu    gosync.Mutex
	path  string
	holds map[string]*Hold
	// byEvent finds the hold, pending or approved, an event is in.
	byEvent map[string]*Hold
}

func openHolds(path string) (*holdStore, error) {
	s := &holdStore{path: path, holds: map[string]*Hold{}, byEvent: map[string]*Hold{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: holds: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var h Hold
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			continue // a line torn by a crash: the change it was never acknowledged
		}
		s.track(&h)
	}
	return s, sc.Err()
}

func (s *holdStore) track(h *Hold) {
	s.holds[h.ID] = h
	for _, k := range h.Events {
		if h.Status == HoldRejected {
			if s.byEvent[k] == h || (s.byEvent[k] != nil && s.byEvent[k].ID == h.ID) {
				delete(s.byEvent, k)
			}
			continue
		}
		s.byEvent[k] = h
	}
}

// save appends h and fsyncs.
func (s *holdStore) save(h *Hold) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sync: holds: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("sync: holds: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sync: holds: %w", err)
	}
	s.track(h)
	return nil
}

// of returns the hold the event with key is in, if any.
func (s *holdStore) of(key string) *Hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byEvent[key]
}

// list returns the holds with status (all when ""), oldest first.
func (s *holdStore) list(status string) []Hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Hold
	for _, h := range s.holds {
		if status == "" || h.Status == status {
			out = append(out, *h)
		}
	}
	slices.SortFunc(out, func(a, b Hold) int { return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID)) })
	return out
}

func (s *holdStore) get(id string) (Hold, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.holds[id]
	if !ok {
		return Hold{}, false
	}
	return *h, true
}

func (s *holdStore) put(h Hold) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save(&h)
}

// holdID derives a hold's id from its events, so the same events held
// again after a crash get the same id.
func holdID(now time.Time, keys []string) string {
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return now.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:4])
}

// drastic reports whether op is one the guard counts: it locks, revokes,
// moves or renames an account. An operator's own lock is a decision
// already made and is not counted.
func drastic(op *Op) (string, bool) {
	switch op.Kind {
	case OpLock:
		return "lock", op.Source != SourceOperator
	case OpRevoke:
		return "revoke", true
	case OpMove:
		return "move", true
	case OpUpdate:
		return "rename", op.Update != nil && op.Update.CN != nil
	case OpAwaitChange:
		// Out of the active group: on an upgrade, every account whose
		// first password was never changed at once.
		return "await_change", true
	}
	return "", false
}

// guard applies the mass-change guard to a plan: it takes out of it the
// events that must wait for an operator (see Hold), records them in a new
// hold, and leaves the rest of the run to go on. Events of the same people
// planned after a held one are taken out too, unresolved: they are planned
// again next round, against the directory as the held ones leave it.
// managed is how many accounts ldapsync manages: the base of max_percent.
func (e *Engine) guard(p *Plan, managed int) (*Hold, error) {
	type eventOps struct {
		ev     *Event
		seq    uint64
		kinds  []string
		uids   []string
		always bool
		review string
	}
	byEvent := map[uint64]*eventOps{}
	var order []uint64
	for i := range p.Ops {
		op := &p.Ops[i]
		kind, counts := drastic(op)
		always := (op.event != nil && (op.event.Type == RosterDeparture || op.event.Type == Reorganise)) || op.Review != ""
		if !counts && !always {
			continue
		}
		x, ok := byEvent[op.Seq]
		if !ok {
			x = &eventOps{ev: op.event, seq: op.Seq}
			byEvent[op.Seq] = x
			order = append(order, op.Seq)
		}
		x.always = x.always || always
		if op.Review != "" {
			x.review = op.Review
		}
		if counts {
			x.kinds = append(x.kinds, kind)
			x.uids = append(x.uids, op.UID)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	limit := e.cfg.Guard.limit(managed)
	// Events an approved hold let through run unless they grew: more
	// operations of a kind than were held (a lock became a revocation).
	approved := map[string]map[string]int{}
	var free, counted []*eventOps
	for _, seq := range order {
		x := byEvent[seq]
		if h := e.holds.of(x.ev.Key()); h != nil && h.Status == HoldApproved {
			if approved[h.ID] == nil {
				approved[h.ID] = map[string]int{}
			}
			grew := false
			for _, k := range x.kinds {
				approved[h.ID][k]++
				grew = grew || approved[h.ID][k] > h.Counts[k]
			}
			if !grew {
				continue
			}
		}
		if x.always {
			free = append(free, x) // held whatever the count
		} else {
			counted = append(counted, x)
		}
	}
	people := map[string]bool{}
	for _, x := range counted {
		for _, u := range x.uids {
			people[u] = true
		}
	}
	held := free
	reason := "departures a roster suggests, unit reorganisations, and hires that may be a hand-made entry's person wait for an operator"
	if len(people) > limit {
		held = append(held, counted...)
		reason = fmt.Sprintf("this run would lock, revoke, move or rename %d accounts, more than sync.guard allows (%d: max_count %d, max_percent %g%% of %d)",
			len(people), limit, e.cfg.Guard.MaxCount, e.cfg.Guard.MaxPercent, managed)
	}
	if len(held) == 0 {
		return nil, nil
	}
	h := Hold{Created: e.now(), Reason: reason, Counts: map[string]int{}, Status: HoldPending}
	heldSeq := map[uint64]bool{}
	heldPeople := map[string]bool{}
	for _, x := range held {
		heldSeq[x.seq] = true
		h.Events = append(h.Events, x.ev.Key())
		for i, k := range x.kinds {
			h.Counts[k]++
			h.Ops++
			if len(h.Sample) < 10 {
				h.Sample = append(h.Sample, k+" "+x.uids[i])
			}
		}
		if x.ev.Type == RosterDeparture {
			h.Counts["departure"]++
			if len(h.Sample) < 10 {
				h.Sample = append(h.Sample, "departure of employee "+x.ev.EmployeeID)
			}
		}
		if x.ev.Type == Reorganise && len(h.Sample) < 10 {
			h.Sample = append(h.Sample, "reorganisation "+x.ev.Note+": employee "+x.ev.EmployeeID+" to "+x.ev.Unit)
		}
		if x.review != "" {
			h.Counts["review"]++
			if len(h.Sample) < 10 {
				h.Sample = append(h.Sample, "hire of employee "+x.ev.EmployeeID+": "+x.review)
			}
		}
		heldPeople[strings.ToLower(x.ev.EmployeeID)] = true
	}
	slices.Sort(h.Events)
	h.ID = holdID(h.Created, h.Events)
	// Take the held events out, and the later events of the same people.
	first := map[string]uint64{}
	for i := range p.Ops {
		op := &p.Ops[i]
		if heldSeq[op.Seq] {
			k := strings.ToLower(op.EmployeeID)
			if s, ok := first[k]; !ok || op.Seq < s {
				first[k] = op.Seq
			}
		}
	}
	out := func(seq uint64, employee string) bool {
		if heldSeq[seq] {
			return true
		}
		s, ok := first[strings.ToLower(employee)]
		return ok && seq > s
	}
	p.Ops = slices.DeleteFunc(p.Ops, func(op Op) bool { return out(op.Seq, op.EmployeeID) })
	for _, list := range []*[]Outcome{&p.Satisfied, &p.Refused, &p.Withdrawn} {
		*list = slices.DeleteFunc(*list, func(o Outcome) bool { return out(o.Seq, o.Event.EmployeeID) })
	}
	for _, x := range held {
		p.Guarded = append(p.Guarded, Outcome{Seq: x.seq, Event: x.ev, Status: Pending, Reason: "held by the mass-change guard (hold " + h.ID + ")"})
	}
	if err := e.holds.put(h); err != nil {
		return nil, err
	}
	e.log.Warn().Str("hold", h.ID).Int("events", len(h.Events)).Interface("counts", h.Counts).Strs("sample", h.Sample).Str("reason", reason).
		Msg("changes held for an operator: ldapsync pending, then ldapsync approve or reject")
	return &h, nil
}

// Holds returns the holds with status ("" for all), oldest first.
func (e *Engine) Holds(status string) []Hold { return e.holds.list(status) }

// Approve lets the events of a pending hold run, planned against the
// directory as it is now; they are held again if they would now change
// more than was held. It answers with what the run did.
func (e *Engine) Approve(ctx context.Context, id, by string) (*Report, error) {
	return e.decide(ctx, id, by, HoldApproved)
}

// Reject drops the events of a pending hold: they are journaled as failed,
// with who rejected them, and never run.
func (e *Engine) Reject(ctx context.Context, id, by string) (*Report, error) {
	return e.decide(ctx, id, by, HoldRejected)
}

func (e *Engine) decide(ctx context.Context, id, by, status string) (*Report, error) {
	if strings.TrimSpace(by) == "" {
		return nil, errors.New("sync: who decides is required (--by NAME)")
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	defer e.anchorAudit(ctx)
	h, ok := e.holds.get(id)
	switch {
	case !ok:
		return nil, fmt.Errorf("sync: no hold %q (ldapsync pending lists them)", id)
	case h.Status != HoldPending:
		return nil, fmt.Errorf("sync: hold %s was already %s by %s on %s", id, h.Status, h.By, h.Decided.Format(time.RFC3339))
	}
	now := e.now()
	if _, err := e.audit.Append(AuditRecord{Time: now, Action: "hold_" + status, Source: "guard", EventID: h.ID, RequestedBy: by,
		Reason: h.Reason, Detail: holdDetail(h)}); err != nil {
		return nil, err
	}
	if err := e.audit.Sync(); err != nil {
		return nil, err
	}
	h.Status, h.By, h.Decided = status, by, now
	if status == HoldRejected {
		keys := map[string]bool{}
		for _, k := range h.Events {
			keys[k] = true
		}
		var res []Resolution
		pending := e.journal.Pending()
		for _, en := range pending {
			if keys[en.Event.Key()] {
				res = append(res, Resolution{Seq: en.Seq, Status: Failed, Reason: fmt.Sprintf("rejected by %s (hold %s)", by, h.ID), Withdrawn: true})
			}
		}
		if err := e.resolveEvents(pending, res, now); err != nil {
			return nil, err
		}
	}
	if err := e.holds.put(h); err != nil {
		return nil, err
	}
	e.log.Info().Str("hold", h.ID).Str("status", status).Str("by", by).Msg("hold decided")
	_, rep, err := e.process(ctx)
	return &rep, err
}

func holdDetail(h Hold) map[string]string {
	d := map[string]string{"events": fmt.Sprint(len(h.Events)), "ops": fmt.Sprint(h.Ops)}
	for _, k := range slices.Sorted(maps.Keys(h.Counts)) {
		d[k] = fmt.Sprint(h.Counts[k])
	}
	return d
}

// holdsPath is where the holds are kept.
func holdsPath(c Config) string { return filepath.Join(c.StateDir, "holds.jsonl") }
