package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// The first-login gate (BTC 4: the first password is changed at the first
// login; NT 6.3.c: so is a restored one). slapd lets a bind with a
// password that must be changed succeed, and only clients that send the
// ppolicy control are made to change it: a mail server with auth_bind sees
// a plain success. So an account ldapsync issues a password to is pending
// (outside the active group, in its application groups, receiving mail)
// until its user changes that password, which clears pwdReset; then the
// daemon, which looks at the pending accounts every sync.activation.poll,
// makes it active: it joins the active group that applications filter on.
// The activation is an event like any other (journaled, planned, applied,
// audited), and so is the reverse, for an active account whose password
// must be changed (one made before the gate, or reset by hand).

// Activation events.
const (
	// Activate makes a pending account whose user changed the password
	// ldapsync issued active, in the active group.
	Activate EventType = "activate"
	// AwaitChange makes an active account whose password must be changed
	// pending, out of the active group, until it is.
	AwaitChange EventType = "await_change"
)

// Activation operations.
const (
	// OpActivate sets ldapsyncStatus active and puts the account in the
	// active group.
	OpActivate OpKind = "activate"
	// OpAwaitChange sets ldapsyncStatus pending and takes the account out
	// of the active group.
	OpAwaitChange OpKind = "await_change"
)

// SourceActivation is the source of the events the first-login gate
// journals.
const SourceActivation = "activation"

// activationArticle is the regulation behind the gate.
const activationArticle = "BTC 4; NT 6.3.c"

// activationEvent returns the event a's first-login gate calls for, if any
// (rules.Activation). Its id follows the facts (the password's issue and
// when the password last changed), so the journal keeps the same fact from
// being acted on twice, and a new one (another reset, another change)
// gives a new id.
func activationEvent(a *rules.Account, now time.Time, loc *time.Location) (Event, bool) {
	want := rules.Activation(a)
	if want == "" {
		return Event{}, false
	}
	t := Activate
	if want == rules.StatusPending {
		t = AwaitChange
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%d", a.DN, a.Issued, a.PasswordChanged.UnixNano()))
	return Event{
		Source: SourceActivation, ID: fmt.Sprintf("%s:%s:%s", t, a.UID, hex.EncodeToString(sum[:6])), Type: t,
		Effective: rules.DateOf(now.In(loc)), EmployeeID: a.EmployeeID, UID: a.UID, Received: now,
	}, true
}

// activate plans the activation of the event's account: its user has
// changed the password ldapsync issued.
func (st *planState) activate(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	switch {
	case acct.Locked || acct.Status == rules.StatusLocked || acct.Status == rules.StatusRevoked:
		st.satisfied(p, e, acct, "%s is %s: a restore issues a new password, after whose change it becomes active", acct.UID, acct.Status)
	case acct.MustChange:
		st.satisfied(p, e, acct, "%s must still change its password (pwdReset) before it becomes active", acct.UID)
	case acct.Status == rules.StatusActive && acct.Active:
		st.satisfied(p, e, acct, "%s is active", acct.UID)
	default:
		p.Ops = append(p.Ops, st.lifeOp(OpActivate, e, acct, "the password ldapsync issued has been changed by its user: the account joins the active group"))
		acct.Status, acct.Active = rules.StatusActive, true
	}
}

// awaitChange plans taking the event's account out of the active group
// until its password, which must be changed, is.
func (st *planState) awaitChange(p *Plan, e *Entry) {
	acct := st.find(p, e, false)
	if acct == nil {
		return
	}
	switch {
	case acct.Locked || acct.Status == rules.StatusLocked || acct.Status == rules.StatusRevoked:
		st.satisfied(p, e, acct, "%s is %s", acct.UID, acct.Status)
	case !acct.MustChange:
		st.satisfied(p, e, acct, "%s has changed its password", acct.UID)
	case acct.Status == rules.StatusPending && !acct.Active:
		st.satisfied(p, e, acct, "%s is pending", acct.UID)
	default:
		p.Ops = append(p.Ops, st.lifeOp(OpAwaitChange, e, acct, "its password must be changed (pwdReset): the account leaves the active group until it is"))
		acct.Status, acct.Active = rules.StatusPending, false
	}
}

// unlockedStatus is the status of acct once a lock is lifted without a new
// password: pending while it must still change a password ldapsync issued,
// else active. It records it in acct.
func unlockedStatus(acct *rules.Account) {
	acct.Locked, acct.LockReason = false, ""
	acct.Status, acct.Active = rules.StatusActive, true
	if acct.MustChange && acct.Issued != "" {
		acct.Status, acct.Active = rules.StatusPending, false
	}
}

// Activations looks at the accounts waiting for their first password
// change (one indexed search) and journals and applies the activation of
// those whose user has changed it. It is what the daemon runs every
// sync.activation.poll, so that a user who has changed the password is let
// into applications within seconds.
func (e *Engine) Activations(ctx context.Context) (int, error) {
	if err := e.lease.standby(); err != nil {
		return 0, err
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	pending, err := e.dir.Pending(ctx)
	if err != nil {
		return 0, fmt.Errorf("sync: activations: %w", err)
	}
	now := e.now()
	loc := e.Rules().Location
	var events []Event
	for i := range pending {
		ev, ok := activationEvent(&pending[i], now, loc)
		if !ok || ev.Type != Activate {
			continue
		}
		if _, _, known := e.journal.Lookup(ev.Key()); known {
			continue
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		return 0, nil
	}
	defer e.anchorAudit(ctx)
	if _, err := e.addEvents(events, now); err != nil {
		return 0, err
	}
	_, rep, err := e.process(ctx)
	e.log.Info().Int("accounts", len(events)).Int("applied", rep.Applied).Msg("first passwords changed: accounts activated")
	return len(events), err
}

// planner is the planner for the directory as it is: rules r, the
// engine's layout, and one write per new account where the directory
// hashes a password added in clear.
func (e *Engine) planner(r *rules.Rules) *Planner {
	return &Planner{Rules: r, Layout: e.layout, OneWrite: e.dir.HashesCleartext()}
}
