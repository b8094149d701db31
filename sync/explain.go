package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// ErrNoAccount is a username neither the directory nor the audit log
// knows.
var ErrNoAccount = errors.New("no such account")

// Explanation is an account's whole story on one screen: why it can or
// cannot log in, its state as the directory holds it, what comes next,
// and every audit record about it.
type Explanation struct {
	UID string `json:"uid"`
	// At is when the explanation was made, on the engine's clock.
	At time.Time `json:"at"`
	// Answer says in one sentence whether the person can log in and why.
	Answer   string `json:"answer"`
	CanLogIn bool   `json:"can_log_in"`
	// State is the account now; nil when the directory holds no entry
	// with the uid (never created, or its tombstone purged).
	State *AccountState `json:"state,omitempty"`
	// Next is the next lifecycle deadline (rules.Rules.Actions); Upcoming
	// all of them, by time.
	Next     *rules.Action  `json:"next,omitempty"`
	Upcoming []rules.Action `json:"upcoming"`
	// History are the audit records about the account, by uid or by its
	// employee id, and the decisions on holds that held its events, in the
	// log's order.
	History []ExplainedRecord `json:"history"`
}

// AccountState is an account as the directory holds it, for people.
type AccountState struct {
	DN         string `json:"dn"`
	EmployeeID string `json:"employee_id,omitempty"`
	Name       string `json:"name,omitempty"`
	Mail       string `json:"mail,omitempty"`
	Unit       string `json:"unit,omitempty"`
	Title      string `json:"title,omitempty"`
	// Status is pending (its first or restored password not changed yet),
	// active, locked, revoked, or "" for an entry ldapsync does not manage
	// (made by hand, not adopted).
	Status      string    `json:"status"`
	ActiveGroup bool      `json:"active_group"`
	Locked      bool      `json:"locked"`
	LockReason  string    `json:"lock_reason,omitempty"`
	LockedSince time.Time `json:"locked_since,omitzero"` // the last lock's audit record
	MustChange  bool      `json:"must_change"`
	// Issued is the event the password ldapsync last issued was for.
	Issued string `json:"issued_for,omitempty"`
	// LastLogin is zero when the account never bound; PasswordChanged
	// when no password was ever set.
	LastLogin       time.Time  `json:"last_login,omitzero"`
	PasswordChanged time.Time  `json:"password_changed,omitzero"`
	Created         time.Time  `json:"created,omitzero"`
	Revoked         bool       `json:"revoked"`
	RevokedAt       time.Time  `json:"revoked_at,omitzero"`
	Groups          []string   `json:"groups"`
	Departure       string     `json:"departure,omitempty"` // kind
	DepartureDate   rules.Date `json:"departure_effective,omitzero"`
	DepartureEvent  string     `json:"departure_event,omitempty"`
	LockAt          time.Time  `json:"lock_at,omitzero"`
	RevokeAt        time.Time  `json:"revoke_at,omitzero"`
	LeaveUntil      rules.Date `json:"leave_until,omitzero"`
	LastActive      time.Time  `json:"last_active,omitzero"`
}

// ExplainedRecord is an audit record with the hold decision that let its
// event run, when the mass-change guard held it.
type ExplainedRecord struct {
	AuditRecord
	Approval *Approval `json:"approval,omitempty"`
}

// Approval is an operator's decision on a hold.
type Approval struct {
	Hold   string    `json:"hold"`
	Status string    `json:"status"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Explain tells the story of the account uid: its audit records, its
// entry as the directory holds it now, and its next deadline. It reads the
// audit log as ReadAudit does, so a broken chain is an error here too.
func (e *Engine) Explain(ctx context.Context, uid string) (*Explanation, error) {
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return nil, errors.New("sync: explain: a username is required")
	}
	r := e.Rules()
	x := &Explanation{UID: uid, At: e.now().In(r.Location), Upcoming: []rules.Action{}, History: []ExplainedRecord{}}
	var acct *rules.Account
	if e.dir != nil {
		snap, err := e.dir.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("sync: explain: read directory: %w", err)
		}
		acct = findAccount(snap, uid)
	}
	emps := map[string]bool{}
	if acct != nil && acct.EmployeeID != "" {
		emps[acct.EmployeeID] = true
	}
	recs, err := e.accountRecords(uid, emps)
	if err != nil {
		return nil, fmt.Errorf("sync: explain: %w", err)
	}
	about := slices.DeleteFunc(slices.Clone(recs), func(r AuditRecord) bool { return strings.HasPrefix(r.Action, "hold_") })
	if acct == nil && len(about) == 0 {
		return nil, fmt.Errorf("sync: explain %q: %w: not in the directory, and no audit record names it", uid, ErrNoAccount)
	}
	x.History = e.linkHolds(recs)
	if acct != nil {
		x.State = stateOf(acct, about)
		x.Upcoming = append(x.Upcoming, r.Actions(acct)...)
		slices.SortFunc(x.Upcoming, func(a, b rules.Action) int { return a.At.Compare(b.At) })
		if len(x.Upcoming) > 0 {
			x.Next = &x.Upcoming[0]
		}
	}
	x.Answer, x.CanLogIn = answer(uid, x.State, about, r.Location)
	return x, nil
}

// findAccount returns the entry of uid in snap, personal or made by hand.
func findAccount(snap *rules.Snapshot, uid string) *rules.Account {
	for _, list := range [][]rules.Account{snap.People, snap.Unadopted} {
		for i := range list {
			if strings.EqualFold(list[i].UID, uid) {
				return &list[i]
			}
		}
	}
	return nil
}

// accountRecords reads the audit records about uid or any employee id in
// emps (grown with those uid's records carry), and the hold decisions. An
// account no longer in the directory is known by the employee id of its
// records only once the first is read, so the log is then read again for
// the records about the person before it.
func (e *Engine) accountRecords(uid string, emps map[string]bool) ([]AuditRecord, error) {
	known := len(emps)
	pass := func() ([]AuditRecord, error) {
		recs, err := ReadAudit(AuditPath(e.cfg), func(rec AuditRecord) bool {
			if strings.EqualFold(rec.UID, uid) {
				if rec.EmployeeID != "" {
					emps[rec.EmployeeID] = true
				}
				return true
			}
			return (rec.EmployeeID != "" && emps[rec.EmployeeID]) || strings.HasPrefix(rec.Action, "hold_")
		})
		return recs, err
	}
	recs, err := pass()
	if err == nil && known == 0 && len(emps) > 0 {
		recs, err = pass()
	}
	return recs, err
}

// linkHolds drops the hold decisions that do not concern the account's
// events and links the others to the records of the events they let run.
func (e *Engine) linkHolds(recs []AuditRecord) []ExplainedRecord {
	keys := map[string]bool{}
	for _, r := range recs {
		if !strings.HasPrefix(r.Action, "hold_") && r.EventID != "" {
			keys[r.Source+"/"+r.EventID] = true
		}
	}
	// The hold of each event, and the decisions by hold.
	holdOf := map[string]Hold{}
	for _, h := range e.Holds("") {
		for _, k := range h.Events {
			if keys[k] {
				if old, ok := holdOf[k]; !ok || h.Created.After(old.Created) {
					holdOf[k] = h
				}
			}
		}
	}
	ours := map[string]bool{}
	for _, h := range holdOf {
		ours[h.ID] = true
	}
	decided := map[string]*Approval{}
	out := make([]ExplainedRecord, 0, len(recs))
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "hold_") {
			if !ours[r.EventID] {
				continue
			}
			decided[r.EventID] = &Approval{Hold: r.EventID, Status: strings.TrimPrefix(r.Action, "hold_"), By: r.RequestedBy, At: r.Time}
			out = append(out, ExplainedRecord{AuditRecord: r})
			continue
		}
		x := ExplainedRecord{AuditRecord: r}
		if h, ok := holdOf[r.Source+"/"+r.EventID]; ok {
			x.Approval = decided[h.ID] // nil until the decision's record
		}
		out = append(out, x)
	}
	return out
}

// stateOf returns a's state, with when its lock began from the records.
func stateOf(a *rules.Account, recs []AuditRecord) *AccountState {
	l := a.Lifecycle
	s := &AccountState{
		DN: a.DN, EmployeeID: a.EmployeeID, Name: a.CN, Mail: a.Mail, Unit: a.Unit, Title: a.Title,
		Status: a.Status, ActiveGroup: a.Active, Locked: a.Locked, LockReason: a.LockReason, MustChange: a.MustChange,
		Issued: a.Issued, LastLogin: a.LastLogin, PasswordChanged: a.PasswordChanged, Created: a.Created, Revoked: a.Revoked, RevokedAt: a.RevokedAt,
		Groups: append([]string{}, a.Groups...), Departure: l.Departure.Kind, DepartureDate: l.Departure.Effective, DepartureEvent: l.Departure.Event,
		LockAt: l.LockAt, RevokeAt: l.RevokeAt, LeaveUntil: l.LeaveUntil, LastActive: l.LastActive,
	}
	if a.Locked {
		if r := lastOf(recs, OpLock); r != nil {
			s.LockedSince = r.Time
		}
	}
	return s
}

// lastOf returns the last record of an operation of kind that ran.
func lastOf(recs []AuditRecord, kind OpKind) *AuditRecord {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == string(kind) {
			return &recs[i]
		}
	}
	return nil
}

// why describes the event behind a record: "retire, event inbox/R1,
// NT 5.2.c, requested by …".
func why(r *AuditRecord) string {
	var parts []string
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	if r.EventID != "" {
		parts = append(parts, "event "+r.Source+"/"+r.EventID)
	}
	if r.Article != "" {
		parts = append(parts, r.Article)
	}
	if r.RequestedBy != "" {
		parts = append(parts, "requested by "+r.RequestedBy)
	}
	return strings.Join(parts, ", ")
}

// stamp formats t for a sentence, in loc.
func stamp(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02 15:04 MST") }

// answer says in one sentence whether uid can log in, and why.
func answer(uid string, s *AccountState, recs []AuditRecord, loc *time.Location) (string, bool) {
	if s == nil {
		if r := lastOf(recs, OpPurge); r != nil {
			return fmt.Sprintf("%s cannot log in: no entry in the directory; its revoked entry was purged on %s (%s).", uid, stamp(r.Time, loc), why(r)), false
		}
		last := &recs[len(recs)-1]
		return fmt.Sprintf("%s cannot log in: no entry in the directory; the last audit record about it is %s on %s (%s).",
			uid, last.Action, stamp(last.Time, loc), why(last)), false
	}
	var b strings.Builder
	can := false
	switch {
	case s.Revoked || s.Status == rules.StatusRevoked:
		fmt.Fprintf(&b, "%s cannot log in: revoked", uid)
		if !s.RevokedAt.IsZero() {
			fmt.Fprintf(&b, " on %s", stamp(s.RevokedAt, loc))
		}
		if r := lastOf(recs, OpRevoke); r != nil {
			fmt.Fprintf(&b, " (%s)", why(r))
		}
		if s.LockReason != "" {
			fmt.Fprintf(&b, ", locked because: %s", s.LockReason)
		}
	case s.Locked:
		fmt.Fprintf(&b, "%s cannot log in: locked", uid)
		if !s.LockedSince.IsZero() {
			fmt.Fprintf(&b, " since %s", stamp(s.LockedSince, loc))
		}
		fmt.Fprintf(&b, " because: %s", cmp.Or(s.LockReason, "no reason recorded on the entry"))
		if r := lastOf(recs, OpLock); r != nil {
			fmt.Fprintf(&b, " (%s)", why(r))
		}
		if s.Departure != "" {
			fmt.Fprintf(&b, "; departure %s effective %s", s.Departure, s.DepartureDate)
		}
		if !s.RevokeAt.IsZero() {
			fmt.Fprintf(&b, "; to be revoked on %s", stamp(s.RevokeAt, loc))
		}
	case s.Status == rules.StatusPending:
		fmt.Fprintf(&b, "%s cannot log in to applications yet: pending until the password ldapsync issued", uid)
		if s.Issued != "" {
			fmt.Fprintf(&b, " (for %s", s.Issued)
			if !s.PasswordChanged.IsZero() {
				fmt.Fprintf(&b, ", set %s", stamp(s.PasswordChanged, loc))
			}
			b.WriteString(")")
		}
		b.WriteString(" is changed by its user, at the self-service page or in an application that asks for it; applications that check the active group refuse it until then")
		if !s.MustChange {
			b.WriteString("; it has been changed: the daemon activates the account within seconds")
		}
	case s.Status == "":
		fmt.Fprintf(&b, "%s can log in as far as ldapsync knows: the entry is not managed by ldapsync (not adopted)", uid)
		can = true
	default:
		can = true
		fmt.Fprintf(&b, "%s can log in: %s", uid, s.Status)
		if !s.ActiveGroup {
			b.WriteString(", but not in the active group (applications that check it refuse the login)")
		}
		if s.MustChange {
			b.WriteString("; must change the password at the next login")
		}
		if s.LastLogin.IsZero() {
			b.WriteString("; never logged in")
		} else {
			fmt.Fprintf(&b, "; last login %s", stamp(s.LastLogin, loc))
		}
		if !s.PasswordChanged.IsZero() {
			fmt.Fprintf(&b, "; password set %s", stamp(s.PasswordChanged, loc))
		}
	}
	b.WriteByte('.')
	return b.String(), can
}
