package rules

import (
	"fmt"
	"time"
)

// ActionKind is a lifecycle action a sweep takes when its time comes.
type ActionKind string

// Sweep actions.
const (
	// ActionDepartureLock locks a departed person's account (NT 5.2.c).
	ActionDepartureLock ActionKind = "departure_lock"
	// ActionRevoke revokes a departed person's account (NT 5.2.c).
	ActionRevoke ActionKind = "revoke"
	// ActionInactivityLock locks an account idle too long (NT 6.2.a).
	ActionInactivityLock ActionKind = "inactivity_lock"
)

// Article returns the regulation behind k.
func (k ActionKind) Article() string {
	if k == ActionInactivityLock {
		return "NT 6.2.a"
	}
	return "NT 5.2.c"
}

// Action is a lifecycle action an account's facts schedule.
type Action struct {
	Kind       ActionKind `json:"action"`
	UID        string     `json:"uid"`
	EmployeeID string     `json:"employee_id,omitempty"`
	Unit       string     `json:"unit,omitempty"`
	// At is when the action falls due: the instant its period has ended.
	At      time.Time `json:"at"`
	Article string    `json:"article"`
	// Why says what the deadline counts from, for people.
	Why string `json:"why"`
	// Key identifies the fact the action follows (the departure's event,
	// the day of the last activity), so that a sweep takes it once.
	Key string `json:"-"`
}

// Actions returns the lifecycle actions a's facts schedule and that have
// not happened yet, due or not: a departure's lock and revocation, or the
// inactivity lock of an account in use. A sweep takes those whose At has
// passed; a forecast lists those to come. Accounts ldapsync does not
// manage (no ldapsyncStatus) are never locked for inactivity; a departure
// an event set on one is followed all the same.
func (r *Rules) Actions(a *Account) []Action {
	if a.Revoked || a.Status == StatusRevoked {
		return nil
	}
	act := func(k ActionKind, at time.Time, why, key string) Action {
		return Action{Kind: k, UID: a.UID, EmployeeID: a.EmployeeID, Unit: a.Unit, At: at.In(r.Location), Article: k.Article(), Why: why, Key: key}
	}
	l := a.Lifecycle
	if d := l.Departure; !d.IsZero() {
		rule := "staff"
		if d.Leader {
			rule = "leader"
		}
		why := fmt.Sprintf("%s effective %s (%s rule)", d.Kind, d.Effective, rule)
		var out []Action
		if !a.Locked && !l.LockAt.IsZero() {
			out = append(out, act(ActionDepartureLock, l.LockAt, why, d.Event))
		}
		if !l.RevokeAt.IsZero() {
			out = append(out, act(ActionRevoke, l.RevokeAt, why, d.Event))
		}
		return out
	}
	if a.Locked || a.Status == "" {
		return nil
	}
	at, basis := r.InactivityLockAt(a)
	if at.IsZero() {
		return nil
	}
	return []Action{act(ActionInactivityLock, at, basis, DateOf(at.In(r.Location)).String())}
}

// Due returns the actions of a whose time has come at now.
func (r *Rules) Due(a *Account, now time.Time) []Action {
	var due []Action
	for _, x := range r.Actions(a) {
		if !now.Before(x.At) {
			due = append(due, x)
		}
	}
	return due
}
