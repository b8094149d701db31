package sync

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// SourceSweep is the source of the events a sweep journals.
const SourceSweep = "sweep"

// SweepOptions change what a sweep does.
type SweepOptions struct {
	// DryRun plans the due actions and changes nothing.
	DryRun bool
}

// SweepResult is what a sweep found and did.
type SweepResult struct {
	// Due are the lifecycle actions whose time had come.
	Due []rules.Action
	// Plan is the plan of the due actions (DryRun) or of the batch the
	// sweep applied.
	Plan   *Plan
	Report Report
	// Next is when the next action falls due, zero when none is known.
	Next time.Time
}

// Sweep takes every lifecycle action whose time has come once (NT 5.2.c
// deadlines, NT 6.2.a inactivity): a pure function of the directory and the
// clock turned into events with keys derived from the facts they follow,
// so that the journal keeps any of them from running twice, then
// processed like any other event.
func (e *Engine) Sweep(ctx context.Context, o SweepOptions) (*SweepResult, error) {
	if err := e.lease.standby(); err != nil && !o.DryRun {
		return nil, err
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	defer e.anchorAudit(ctx)
	// The people alone: a sweep's facts are on their entries, and what is
	// due is planned afterwards against a whole snapshot, like any event.
	people, err := e.dir.People(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: sweep: read directory: %w", err)
	}
	snap := &rules.Snapshot{People: people}
	now := e.now()
	r := e.Rules()
	res := &SweepResult{}
	var events []Event
	for i := range snap.People {
		a := &snap.People[i]
		if a.Revoked {
			continue
		}
		for _, x := range r.Actions(a) {
			if now.Before(x.At) {
				if res.Next.IsZero() || x.At.Before(res.Next) {
					res.Next = x.At
				}
				continue
			}
			res.Due = append(res.Due, x)
			events = append(events, e.sweepEvent(a, x, now))
		}
		if ev, ok := activationEvent(a, now, r.Location); ok {
			events = append(events, ev)
		}
		if a.Status != "" && firstSeenNeeded(a) {
			events = append(events, Event{Source: SourceSweep, ID: "first_seen:" + a.UID, Type: FirstSeen, Effective: rules.DateOf(now.In(r.Location)),
				EmployeeID: a.EmployeeID, UID: a.UID, Received: now})
		}
	}
	events = append(events, reorganisation(snap, r, now)...)
	// An action taken, refused, or rejected by an operator (see Hold) is
	// not proposed again: its id follows the fact, and a new fact gives a
	// new id.
	events = slices.DeleteFunc(events, func(ev Event) bool {
		_, _, known := e.journal.Lookup(ev.Key())
		return known
	})
	if !res.Next.IsZero() {
		res.Next = res.Next.In(r.Location)
	}
	if o.DryRun {
		entries := make([]Entry, len(events))
		for i, ev := range events {
			entries[i] = Entry{Seq: uint64(i + 1), Event: ev, Status: Pending}
		}
		if len(entries) > 0 {
			// Planning needs the whole directory: groups, uid holders.
			if snap, err = e.dir.Snapshot(ctx); err != nil {
				return nil, fmt.Errorf("sync: sweep: read directory: %w", err)
			}
		}
		res.Plan = e.planner(r).Plan(entries, snap, now)
		e.reportDeadlines(len(res.Due))
		return res, nil
	}
	if len(events) > 0 {
		if _, err := e.addEvents(events, now); err != nil {
			return res, err
		}
	}
	res.Plan, res.Report, err = e.process(ctx)
	e.reportDeadlines(len(res.Due))
	for _, u := range Unplaced(snap, r, now) {
		e.log.Warn().Str("person", u).Msg("unit reorganisation: a person needs a unit")
	}
	e.log.Info().Int("due", len(res.Due)).Int("applied", res.Report.Applied).Int("guarded", res.Report.Guarded).
		Time("next", res.Next).Msg("sweep done")
	return res, err
}

// reorganisation derives, for every rules.unit_changes entry in effect,
// the move of each person of a unit that ceased: one event each, held for
// an operator by the guard. A split that does not say where a person goes
// derives nothing for them (forecast and the log say so).
func reorganisation(snap *rules.Snapshot, r *rules.Rules, now time.Time) []Event {
	var out []Event
	for i := range r.UnitChanges {
		c := &r.UnitChanges[i]
		if now.Before(c.Effective.In(r.Location)) {
			continue
		}
		for j := range snap.People {
			a := &snap.People[j]
			if a.Revoked || a.Status == "" || a.EmployeeID == "" || !c.Ceases(strings.ToLower(a.Unit)) {
				continue
			}
			to, ok := c.Target(a.EmployeeID)
			if !ok {
				continue
			}
			out = append(out, Event{Source: SourceReorg, ID: "reorg:" + c.ID + ":" + a.EmployeeID, Type: Reorganise,
				Effective: c.Effective, EmployeeID: a.EmployeeID, Unit: to, Note: c.ID, RequestedBy: c.Act, Received: now})
		}
	}
	return out
}

// Unplaced returns the people of units that ceased in a split that does
// not say where they go: an administrator must name their unit in the
// change's people.
func Unplaced(snap *rules.Snapshot, r *rules.Rules, now time.Time) []string {
	var out []string
	for i := range r.UnitChanges {
		c := &r.UnitChanges[i]
		if now.Before(c.Effective.In(r.Location)) {
			continue
		}
		for j := range snap.People {
			a := &snap.People[j]
			if a.Revoked || a.Status == "" || !c.Ceases(strings.ToLower(a.Unit)) {
				continue
			}
			if _, ok := c.Target(a.EmployeeID); !ok {
				out = append(out, fmt.Sprintf("%s (%s, employee %s) of %s: change %s splits it among %v and does not say where", a.UID, a.CN, a.EmployeeID, a.Unit, c.ID, c.To))
			}
		}
	}
	return out
}

// SourceReorg is the source of the moves a unit change derives.
const SourceReorg = "reorg"

// sweepEvent is the event of a due action. Its id derives from the fact
// the action follows (the departure's event, the day the account became
// idle), so a later sweep finds it in the journal and never takes it
// twice; a new fact (a return and a second departure, new activity) gives
// a new id.
func (e *Engine) sweepEvent(a *rules.Account, x rules.Action, now time.Time) Event {
	types := map[rules.ActionKind]EventType{
		rules.ActionDepartureLock: DeadlineLock, rules.ActionRevoke: DeadlineRevoke, rules.ActionInactivityLock: InactivityLock,
	}
	sum := sha256.Sum256([]byte(x.Key))
	return Event{
		Source: SourceSweep, ID: fmt.Sprintf("%s:%s:%s", x.Kind, a.UID, hex.EncodeToString(sum[:6])),
		Type: types[x.Kind], Effective: rules.DateOf(x.At.In(e.Rules().Location)),
		EmployeeID: a.EmployeeID, UID: a.UID, Note: x.Why, Received: now,
	}
}

// firstSeenNeeded reports whether a has no recorded activity and no
// record of when ldapsync first saw it: its inactivity counts from then.
func firstSeenNeeded(a *rules.Account) bool {
	// An account ldapsync issued a password to was made or restored by it:
	// its creation says when it was first seen well enough, and a first
	// password added with the entry has no pwdChangedTime (pwdMaxAge: 0).
	return a.Issued == "" && a.Lifecycle.FirstSeen.IsZero() && a.LastLogin.IsZero() && a.Lifecycle.LastActive.IsZero() && a.PasswordChanged.IsZero()
}

// Forecast is what a forecast lists.
type Forecast struct {
	From, To time.Time
	// Actions are the lifecycle actions that fall due in (From, To], and
	// those already due and not yet taken, by time.
	Actions []rules.Action
	// Requests are the open requests whose deadline falls before To.
	Requests []Request
	// Unplaced are the people of units a split ceased that the change does
	// not place.
	Unplaced []string `json:"unplaced,omitempty"`
}

// Forecast lists who will be locked or revoked in the next days, and the
// open requests whose deadline falls in them.
func (e *Engine) Forecast(ctx context.Context, days int) (*Forecast, error) {
	people, err := e.dir.People(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: forecast: read directory: %w", err)
	}
	snap := &rules.Snapshot{People: people}
	now := e.now()
	r := e.Rules()
	now = now.In(r.Location)
	f := &Forecast{From: now, To: now.AddDate(0, 0, days)}
	for i := range snap.People {
		a := &snap.People[i]
		for _, x := range r.Actions(a) {
			if !x.At.After(f.To) {
				f.Actions = append(f.Actions, x)
			}
		}
	}
	slices.SortFunc(f.Actions, func(a, b rules.Action) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.UID, b.UID)) })
	f.Unplaced = Unplaced(snap, r, now)
	for _, q := range e.Requests() {
		if !q.Due.After(f.To) {
			f.Requests = append(f.Requests, q)
		}
	}
	return f, nil
}

// Request is an open request with a deadline: an account to issue (BTC 4,
// 3 working days) or a restore (NT 6.3.b, 30 working minutes).
type Request struct {
	EventID  string    `json:"event_id"`
	Source   string    `json:"source"`
	Type     EventType `json:"type"`
	Who      string    `json:"who"`
	Request  string    `json:"request,omitempty"`
	Received time.Time `json:"received"`
	Due      time.Time `json:"due"`
	Article  string    `json:"article"`
	Overdue  bool      `json:"overdue"`
}

// Requests returns the open requests, the earliest due first.
func (e *Engine) Requests() []Request {
	r := e.Rules()
	now := e.now()
	var out []Request
	for _, en := range e.journal.Pending() {
		ev := en.Event
		q := Request{EventID: ev.ID, Source: ev.Source, Type: ev.Type, Request: ev.Request, Article: ev.Type.Article()}
		switch ev.Type {
		case Hire:
			q.Who, q.Received = ev.EmployeeID+" "+ev.Name.Full(), ev.Received
			// BTC 4's 3 working days; an account asked for a later date is
			// due on that date.
			q.Due = r.IssueDue(ev.Received)
			if start := ev.Effective.In(r.Location); start.After(q.Due) {
				q.Due = start
			}
		case Restore:
			q.Who, q.Received = ev.UID, ev.RequestReceived
			q.Due = r.RestoreDue(ev.RequestReceived)
		default:
			continue
		}
		q.Received, q.Due = q.Received.In(r.Location), q.Due.In(r.Location)
		q.Overdue = !now.Before(q.Due)
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Request) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.EventID, b.EventID)) })
	return out
}

// warnOverdue logs the open requests past their deadline, once a batch.
func (e *Engine) warnOverdue() {
	for _, q := range e.Requests() {
		if q.Overdue {
			e.log.Warn().Str("event_id", q.EventID).Str("source", q.Source).Str("type", string(q.Type)).
				Time("due", q.Due).Str("article", q.Article).Msg("request past its deadline")
		}
	}
}
