package sync

import (
	"fmt"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// Lifecycle operation kinds: everything after the hire.
const (
	// OpMove changes the person's unit (departmentNumber); DN, uid and
	// mail stay (NT 5.2.b).
	OpMove OpKind = "move"
	// OpUpdate changes name or title attributes (BTC 6).
	OpUpdate OpKind = "update"
	// OpLifecycle writes the lifecycle facts and deadlines on the entry
	// (departure, leader, leave, first seen): Lifecycle is the whole new
	// set.
	OpLifecycle OpKind = "lifecycle"
	// OpLock locks the account with LockReason (NT 5.2.c, 6.2).
	OpLock OpKind = "lock"
	// OpLiftLock lifts a lock without a new password: the lock of a
	// departure withdrawn as a mistake.
	OpLiftLock OpKind = "lift_lock"
	// OpRestore unlocks the account with a new password in a sealed
	// letter, to be changed at the next login (NT 6.3; a return).
	OpRestore OpKind = "restore"
	// OpReinstate brings a revoked account back from its tombstone, same
	// uid and DN, with a new password in a sealed letter (a return, NT
	// 2.1).
	OpReinstate OpKind = "reinstate"
	// OpRevoke ends the account for good (NT 5.2.c).
	OpRevoke OpKind = "revoke"
)

// refuse records that e cannot be applied.
func (st *planState) refuse(p *Plan, e *Entry, format string, args ...any) {
	p.Refused = append(p.Refused, Outcome{Seq: e.Seq, Event: &e.Event, Status: Failed, Reason: fmt.Sprintf(format, args...)})
}

// satisfied records that e needs nothing more, once the operations already
// planned on acct in this run are done.
func (st *planState) satisfied(p *Plan, e *Entry, acct *rules.Account, format string, args ...any) {
	var after uint64
	if acct != nil {
		if seq := st.planned[fold(acct.UID)]; seq != e.Seq {
			after = seq
		}
	}
	p.Satisfied = append(p.Satisfied, Outcome{Seq: e.Seq, Event: &e.Event, Status: Done, After: after, Reason: fmt.Sprintf(format, args...)})
}

// find returns the one account of the event's person, by employee_id or,
// for an operator's event, by username; revoked tombstones only when
// revoked is set. It refuses the event and returns nil otherwise.
func (st *planState) find(p *Plan, e *Entry, revoked bool) *rules.Account {
	ev := &e.Event
	var accts []*rules.Account
	who := "employee " + ev.EmployeeID
	if ev.EmployeeID != "" {
		accts = st.byEmployee[fold(ev.EmployeeID)]
	} else {
		who = "account " + ev.UID
		if a := st.byUID[fold(ev.UID)]; a != nil {
			accts = []*rules.Account{a}
		}
	}
	switch {
	case len(accts) == 0:
		st.refuse(p, e, "%s has no account", who)
	case len(accts) > 1:
		st.refuse(p, e, "%s is held by %d entries; the directory must be fixed by hand", who, len(accts))
	case accts[0].Revoked && !revoked:
		st.refuse(p, e, "%s: account %s was revoked %s, for good (NT 5.2.c); a return event brings a person back",
			who, accts[0].UID, st.day(accts[0].RevokedAt))
	default:
		return accts[0]
	}
	return nil
}

// day writes t as a date in the rules' time zone, "?" when unknown.
func (st *planState) day(t time.Time) string {
	if t.IsZero() {
		return "(date unknown)"
	}
	return t.In(st.pl.Rules.Location).Format("2006-01-02")
}

// stamp writes t as a time in the rules' time zone.
func (st *planState) stamp(t time.Time) string {
	return t.In(st.pl.Rules.Location).Format(time.RFC3339)
}

// lifeOp returns an operation of e on acct: the account's own DN, unit and
// employee id, whatever the event named it by.
func (st *planState) lifeOp(kind OpKind, e *Entry, acct *rules.Account, note string) Op {
	op := st.op(kind, e, acct.UID, note)
	op.EmployeeID, op.Unit, op.Name = acct.EmployeeID, acct.Unit, acct.CN
	if acct.DN != "" && !acct.Revoked {
		op.DN = acct.DN // an adopted account keeps its DN wherever it is
	}
	if op.Title == "" {
		op.Title = acct.Title
	}
	return op
}

// setLifecycle plans the write of l on acct's entry, when it differs.
func (st *planState) setLifecycle(p *Plan, e *Entry, acct *rules.Account, l rules.Lifecycle, note string) {
	if l == acct.Lifecycle {
		return
	}
	op := st.lifeOp(OpLifecycle, e, acct, note)
	op.Lifecycle = &l
	op.Detail = lifecycleDetail(l, st.pl.Rules.Location)
	p.Ops = append(p.Ops, op)
	acct.Lifecycle = l
}

// lifecycleDetail writes l for the audit: what the entry holds afterwards.
func lifecycleDetail(l rules.Lifecycle, loc *time.Location) map[string]string {
	d := map[string]string{}
	date := func(k string, v rules.Date) {
		if !v.IsZero() {
			d[k] = v.String()
		}
	}
	at := func(k string, v time.Time) {
		if !v.IsZero() {
			d[k] = v.In(loc).Format(time.RFC3339)
		}
	}
	if !l.Departure.IsZero() {
		d["departure"] = l.Departure.Kind
		date("departure_date", l.Departure.Effective)
		d["departure_event"] = l.Departure.Event
		d["departure_rule"] = map[bool]string{true: "leader", false: "staff"}[l.Departure.Leader]
	} else {
		d["departure"] = "none"
	}
	at("lock_at", l.LockAt)
	at("revoke_at", l.RevokeAt)
	if !l.LeaderSince.IsZero() {
		d["leader"] = fmt.Sprint(l.Leader)
		date("leader_since", l.LeaderSince)
	}
	date("leave_until", l.LeaveUntil)
	at("last_active", l.LastActive)
	at("first_seen", l.FirstSeen)
	return d
}

// lock plans a lock of acct with reason.
func (st *planState) lock(p *Plan, e *Entry, acct *rules.Account, reason, note string) {
	op := st.lifeOp(OpLock, e, acct, note)
	op.LockReason = reason
	op.Detail = map[string]string{"reason": reason}
	p.Ops = append(p.Ops, op)
	acct.Locked, acct.Status, acct.Active, acct.LockReason = true, rules.StatusLocked, false, reason
}

// revoke plans the revocation of acct, at the planner's clock.
func (st *planState) revoke(p *Plan, e *Entry, acct *rules.Account, note string) {
	op := st.lifeOp(OpRevoke, e, acct, note)
	op.At = st.now
	op.Detail = map[string]string{"revoked_at": st.stamp(st.now)}
	p.Ops = append(p.Ops, op)
	acct.Revoked, acct.RevokedAt, acct.Status, acct.Locked, acct.Active, acct.Groups = true, st.now, rules.StatusRevoked, true, false, nil
}

// issueTo plans an operation that sets a new password through a sealed
// letter (OpRestore, OpReinstate) and records the result in acct.
func (st *planState) issueTo(p *Plan, e *Entry, acct *rules.Account, kind OpKind, unit, note string) {
	op := st.lifeOp(kind, e, acct, note)
	op.Unit = unit
	op.Detail = map[string]string{}
	if kind == OpReinstate && acct.DN != "" {
		// Back under People with the tombstone's own RDN (an adopted entry
		// may be named by cn).
		rdn, _, _ := strings.Cut(acct.DN, ",")
		_, parent, _ := strings.Cut(st.pl.Layout.PersonDN(acct.UID), ",")
		op.DN = rdn + "," + parent
	}
	p.Ops = append(p.Ops, op)
	// Pending until the user changes the new password (see Activate).
	acct.Locked, acct.Status, acct.Active, acct.LockReason = false, rules.StatusPending, false, ""
	acct.Revoked, acct.RevokedAt, acct.DN = false, time.Time{}, op.DN
	acct.MustChange, acct.Issued, acct.PasswordChanged = true, e.Event.Key(), st.now
}

// leaderOn returns whether acct's holder was a leader in the sense of NT
// 5.2.c on day d: as the event says, or as the entry's last title change
// says (the opposite of its flag when that change came after d), or from
// the title when no title change ever set it.
func (st *planState) leaderOn(acct *rules.Account, ev *Event, d rules.Date) bool {
	if ev.Leader != nil {
		return *ev.Leader
	}
	l := acct.Lifecycle
	switch {
	case l.LeaderSince.IsZero():
		return st.pl.Rules.IsLeaderTitle(acct.Title)
	case d.Before(l.LeaderSince):
		return !l.Leader
	}
	return l.Leader
}

// departureNote says which rule of NT 5.2.c applies and when.
func (st *planState) departureNote(d rules.Departure, l rules.Lifecycle) string {
	rule := "staff"
	if d.Leader {
		rule = "leader"
	}
	return fmt.Sprintf("%s effective %s, %s rule: lock at %s, revoke at %s", d.Kind, d.Effective, rule, st.stamp(l.LockAt), st.stamp(l.RevokeAt))
}

// departureReason is the lock reason a departure writes.
func departureReason(d rules.Departure) string {
	return fmt.Sprintf("%s: NT 5.2.c, effective %s", d.Kind, d.Effective)
}

// dueOps plans the lock and the revocation of acct's departure once their
// deadlines have passed, never before.
func (st *planState) dueOps(p *Plan, e *Entry, acct *rules.Account) {
	l := acct.Lifecycle
	d := l.Departure
	if d.IsZero() || acct.Revoked {
		return
	}
	if !l.RevokeAt.IsZero() && !st.now.Before(l.RevokeAt) {
		st.revoke(p, e, acct, fmt.Sprintf("%s effective %s: the revocation deadline %s has passed", d.Kind, d.Effective, st.stamp(l.RevokeAt)))
		return
	}
	if !acct.Locked && !st.now.Before(l.LockAt) {
		st.lock(p, e, acct, departureReason(d), fmt.Sprintf("%s effective %s: locked from %s", d.Kind, d.Effective, st.stamp(l.LockAt)))
	}
}

// depart plans a retirement, resignation or transfer out (NT 5.2.c): the
// departure and its deadlines on the entry, and the lock or revocation
// already due.
func (st *planState) depart(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	if d := acct.Lifecycle.Departure; !d.IsZero() && d.Event != ev.Key() {
		st.refuse(p, e, "%s already has a departure in force (%s effective %s, event %s); withdraw that event first if it was a mistake",
			acct.UID, d.Kind, d.Effective, d.Event)
		return
	}
	n := len(p.Ops)
	l := acct.Lifecycle
	if l.Departure.IsZero() {
		leader := st.leaderOn(acct, ev, ev.Effective)
		l.Departure = rules.Departure{Kind: string(ev.Type), Effective: ev.Effective, Event: ev.Key(), Leader: leader}
		l.LockAt, l.RevokeAt = st.pl.Rules.DepartureDeadlines(ev.Effective, leader)
		st.setLifecycle(p, e, acct, l, st.departureNote(l.Departure, l))
	}
	st.dueOps(p, e, acct)
	if len(p.Ops) == n {
		st.satisfied(p, e, acct, "%s", st.departureNote(acct.Lifecycle.Departure, acct.Lifecycle))
	}
}

// transfer plans a move to another unit (NT 5.2.b), and the applications
// the event lists, if any.
func (st *planState) transfer(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	n := len(p.Ops)
	if !strings.EqualFold(acct.Unit, ev.Unit) {
		op := st.lifeOp(OpMove, e, acct, fmt.Sprintf("from %s to %s", acct.Unit, ev.Unit))
		op.Unit = ev.Unit
		op.Detail = map[string]string{"from": acct.Unit, "to": ev.Unit}
		p.Ops = append(p.Ops, op)
		acct.Unit = ev.Unit
	}
	if len(ev.Applications) > 0 {
		st.setGroups(p, e, acct, acct.Active, ev.Applications)
	}
	if len(p.Ops) == n {
		st.satisfied(p, e, acct, "%s is already in unit %s", acct.UID, acct.Unit)
	}
}

// update plans u on acct, recording it.
func (st *planState) update(p *Plan, e *Entry, acct *rules.Account, u rules.PersonUpdate, detail map[string]string) {
	op := st.lifeOp(OpUpdate, e, acct, "")
	op.Update = &u
	op.Detail = detail
	p.Ops = append(p.Ops, op)
}

// titleChange plans a new title and, when it changes, the leader flag of
// NT 5.2.c. A change effective on or before a departure's date changes
// which rule that departure follows.
func (st *planState) titleChange(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	n := len(p.Ops)
	r := st.pl.Rules
	leader := r.IsLeaderTitle(ev.Title)
	if ev.Leader != nil {
		leader = *ev.Leader
	}
	l := acct.Lifecycle
	current := l.Leader
	if l.LeaderSince.IsZero() {
		current = r.IsLeaderTitle(acct.Title) // the title before this change
	}
	if acct.Title != ev.Title {
		title := ev.Title
		st.update(p, e, acct, rules.PersonUpdate{Title: &title}, map[string]string{"title": title, "was": acct.Title})
		acct.Title = title
	}
	if leader != current || (l.LeaderSince.IsZero() && leader != r.IsLeaderTitle(ev.Title)) {
		l.Leader, l.LeaderSince = leader, ev.Effective
	}
	if d := l.Departure; !d.IsZero() && !d.Effective.Before(ev.Effective) && d.Leader != leader {
		// The position on the departure's date changed: so does its rule.
		l.Departure.Leader = leader
		l.LockAt, l.RevokeAt = r.DepartureDeadlines(d.Effective, leader)
	}
	note := fmt.Sprintf("leader in the sense of NT 5.2.c: %v", leader)
	if !l.Departure.IsZero() {
		note += "; " + st.departureNote(l.Departure, l)
	}
	st.setLifecycle(p, e, acct, l, note)
	if d := acct.Lifecycle.Departure; !d.IsZero() && acct.Locked && rules.LockCode(acct.LockReason) == d.Kind && st.now.Before(acct.Lifecycle.LockAt) {
		// Locked under the staff rule, now a leader's: not due yet.
		p.Ops = append(p.Ops, st.lifeOp(OpLiftLock, e, acct, "the leaders' rule applies: the lock is not due before "+st.stamp(acct.Lifecycle.LockAt)))
		unlockedStatus(acct)
	}
	st.dueOps(p, e, acct)
	if len(p.Ops) == n {
		st.satisfied(p, e, acct, "%s already has the title %q (%s)", acct.UID, acct.Title, note)
	}
}

// rename plans the new name; the username never changes (NT 2.1).
func (st *planState) rename(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	full := ev.Name.Full()
	if acct.CN == full && acct.SN == ev.Name.Family && acct.GivenName == ev.Name.Given && acct.DisplayName == full {
		st.satisfied(p, e, acct, "%s is already named %s", acct.UID, full)
		return
	}
	family, given := ev.Name.Family, ev.Name.Given
	st.update(p, e, acct, rules.PersonUpdate{CN: &full, SN: &family, GivenName: &given, DisplayName: &full},
		map[string]string{"cn": full, "was": acct.CN})
	acct.CN, acct.SN, acct.GivenName, acct.DisplayName = full, family, given, full
}

// returnTo plans the return of a departed person to the same account (NT
// 2.1, 5.2.a): back from its tombstone or unlocked, with a new first
// password in a sealed letter, the departure cleared.
func (st *planState) returnTo(p *Plan, e *Entry) {
	acct := st.find(p, e, true)
	if acct == nil {
		return
	}
	ev := &e.Event
	unit := ev.Unit
	if unit == "" {
		unit = acct.Unit
	}
	if _, ok := st.pl.Rules.Units.Lookup(unit); !ok {
		st.refuse(p, e, "unit %q of %s is not in the config: give the unit the person returns to", unit, acct.UID)
		return
	}
	departed := !acct.Lifecycle.Departure.IsZero()
	if !acct.Revoked && !departed && acct.Issued != ev.Key() {
		st.refuse(p, e, "%s has no departure and is not revoked: there is nothing to return from (a locked account is restored with ldapsync restore)", acct.UID)
		return
	}
	n := len(p.Ops)
	switch {
	case acct.Revoked:
		st.issueTo(p, e, acct, OpReinstate, unit, fmt.Sprintf("revoked %s; back with the same username", st.day(acct.RevokedAt)))
	case acct.Locked && acct.Issued != ev.Key():
		st.issueTo(p, e, acct, OpRestore, unit, "unlocked with a new first password")
	}
	l := acct.Lifecycle
	l.Departure, l.LockAt, l.RevokeAt = rules.Departure{}, time.Time{}, time.Time{}
	st.setLifecycle(p, e, acct, l, "departure cleared")
	if !strings.EqualFold(acct.Unit, unit) {
		op := st.lifeOp(OpMove, e, acct, fmt.Sprintf("from %s to %s", acct.Unit, unit))
		op.Unit = unit
		op.Detail = map[string]string{"from": acct.Unit, "to": unit}
		p.Ops = append(p.Ops, op)
		acct.Unit = unit
	}
	apps := acct.Groups
	if len(ev.Applications) > 0 {
		apps = ev.Applications
	}
	st.setGroups(p, e, acct, acct.Active, apps)
	if len(p.Ops) == n {
		st.satisfied(p, e, acct, "%s is back: account %s, departure cleared", acct.UID, acct.Status)
	}
}

// leaveNotice records a notified absence (NT 6.2.a).
func (st *planState) leaveNotice(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	l := acct.Lifecycle
	if l.LeaveUntil == ev.Until {
		st.satisfied(p, e, acct, "%s is already on leave until %s", acct.UID, ev.Until)
		return
	}
	l.LeaveUntil = ev.Until
	st.setLifecycle(p, e, acct, l, fmt.Sprintf("on leave until %s: no inactivity lock before %s + %s", ev.Until, ev.Until, st.pl.Rules.Lifecycle.LeaveGrace))
}

// withdrawKey returns the key of the event a withdraw cancels.
func withdrawKey(ev *Event) string {
	if strings.Contains(ev.Withdraws, "/") {
		return ev.Withdraws
	}
	return ev.Source + "/" + ev.Withdraws
}

// withdraw cancels a departure already applied: its deadlines are
// cleared and the lock it caused is lifted, without a new password (the
// person's own works again). Events still waiting are cancelled in Plan,
// before they run.
func (st *planState) withdraw(p *Plan, e *Entry) {
	acct := st.find(p, e, true)
	if acct == nil {
		return
	}
	key := withdrawKey(&e.Event)
	d := acct.Lifecycle.Departure
	if d.Event != key {
		st.refuse(p, e, "event %s is neither waiting nor the departure in force on %s (departure: %s); only those can be withdrawn: send the event that corrects it (a transfer, a title_change, a return...)",
			key, acct.UID, orNone(d.Event))
		return
	}
	if acct.Revoked {
		st.refuse(p, e, "%s was already revoked on %s under %s; revocation is for good: a return event brings the person back", acct.UID, st.day(acct.RevokedAt), key)
		return
	}
	l := acct.Lifecycle
	l.Departure, l.LockAt, l.RevokeAt = rules.Departure{}, time.Time{}, time.Time{}
	st.setLifecycle(p, e, acct, l, fmt.Sprintf("%s effective %s withdrawn (event %s)", d.Kind, d.Effective, key))
	if acct.Locked && rules.LockCode(acct.LockReason) == d.Kind {
		p.Ops = append(p.Ops, st.lifeOp(OpLiftLock, e, acct, fmt.Sprintf("the lock of the withdrawn %s is lifted; the person's own password works again", d.Kind)))
		unlockedStatus(acct)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// adminLock plans an operator's temporary lock (NT 6.2.b-c).
func (st *planState) adminLock(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	reason := ev.LockReason
	if ev.Note != "" {
		reason += ": " + ev.Note
	}
	if ev.Request != "" {
		reason += " (request " + ev.Request + ")"
	}
	switch code := rules.LockCode(acct.LockReason); {
	case acct.Locked && code == ev.LockReason:
		st.satisfied(p, e, acct, "%s is already locked (%s)", acct.UID, acct.LockReason)
		return
	case acct.Locked && !acct.Lifecycle.Departure.IsZero() && code == acct.Lifecycle.Departure.Kind:
		st.refuse(p, e, "%s is locked because the person departed (%s); it stays locked until a return", acct.UID, acct.LockReason)
		return
	}
	st.lock(p, e, acct, reason, "temporary lock by "+orNone(ev.RequestedBy))
}

// restore plans an operator's restore of a locked account (NT 6.3): a new
// password in a sealed letter, to be changed at the next login.
func (st *planState) restore(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	ev := &e.Event
	switch d := acct.Lifecycle.Departure; {
	case acct.Issued == ev.Key():
		st.satisfied(p, e, acct, "%s was restored for request %s", acct.UID, orNone(ev.Request))
		return
	case !acct.Locked:
		st.refuse(p, e, "%s is not locked; there is nothing to restore", acct.UID)
		return
	case !d.IsZero():
		st.refuse(p, e, "%s is locked because the person departed (%s effective %s); a return event brings a person back", acct.UID, d.Kind, d.Effective)
		return
	}
	due := st.pl.Rules.RestoreDue(ev.RequestReceived)
	st.issueTo(p, e, acct, OpRestore, acct.Unit, fmt.Sprintf("lock %q lifted; request %s received %s, due %s (NT 6.3.b)",
		acct.LockReason, orNone(ev.Request), st.stamp(ev.RequestReceived), st.stamp(due)))
}

// deadline plans a sweep's departure lock or revocation, if it is still
// due on the entry as it is now.
func (st *planState) deadline(p *Plan, e *Entry) {
	acct := st.find(p, e, true)
	if acct == nil {
		return
	}
	n := len(p.Ops)
	st.dueOps(p, e, acct)
	if len(p.Ops) == n {
		st.satisfied(p, e, acct, "nothing due on %s (status %s, departure %s)", acct.UID, orNone(acct.Status), orNone(acct.Lifecycle.Departure.Kind))
	}
}

// inactivityLock plans a sweep's inactivity lock (NT 6.2.a), if the
// account is still idle past its deadline.
func (st *planState) inactivityLock(p *Plan, e *Entry) {
	acct := st.find(p, e, true)
	if acct == nil {
		return
	}
	at, basis := st.pl.Rules.InactivityLockAt(acct)
	if acct.Revoked || acct.Locked || !acct.Lifecycle.Departure.IsZero() || at.IsZero() || st.now.Before(at) {
		st.satisfied(p, e, acct, "%s is no longer due for an inactivity lock (%s)", acct.UID, basis)
		return
	}
	st.lock(p, e, acct, fmt.Sprintf("%s: NT 6.2.a, %s", rules.LockInactive, basis), "idle since "+basis+"; locked from "+st.stamp(at))
}

// firstSeen records when ldapsync first saw an account, once.
func (st *planState) firstSeen(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	if !acct.Lifecycle.FirstSeen.IsZero() {
		st.satisfied(p, e, acct, "%s was first seen %s", acct.UID, st.stamp(acct.Lifecycle.FirstSeen))
		return
	}
	l := acct.Lifecycle
	l.FirstSeen = e.Event.Received
	st.setLifecycle(p, e, acct, l, "first seen by ldapsync")
}
