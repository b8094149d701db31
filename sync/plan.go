package sync

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/ldapsync/ldapsync/rules"
)

// OpKind is a kind of directory operation.
type OpKind string

// Operation kinds.
const (
	// OpCreate adds a personal account.
	OpCreate OpKind = "create"
	// OpIssueCredentials generates a first password, writes it into a
	// sealed letter for the unit, sets it in the directory and makes the
	// user change it at the first login (BTC 4).
	OpIssueCredentials OpKind = "issue_credentials"
	// OpPurge deletes the tombstone of an account revoked longer ago than
	// rules.username.reuse_embargo, before its username goes to someone
	// else: no two entries ever share a uid.
	OpPurge OpKind = "purge_tombstone"
	// OpGroups makes the person join the groups in Join and leave those in
	// Leave (application names, and directory.active_group). The applier
	// gathers every OpGroups of a run into one change per group.
	OpGroups OpKind = "groups"
)

// Op is one operation of a plan. It never holds a password: passwords are
// generated when the operation runs.
type Op struct {
	Kind         OpKind   `json:"op"`
	UID          string   `json:"uid"`
	DN           string   `json:"dn"`
	EmployeeID   string   `json:"employee_id"`
	Name         string   `json:"name,omitempty"`
	Unit         string   `json:"unit,omitempty"`
	Title        string   `json:"title,omitempty"`
	Mail         string   `json:"mail,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	Applications []string `json:"applications,omitempty"`
	// WithPassword, for OpCreate, adds the entry with its first password
	// and pwdReset in the same request, sealed in a letter first (see
	// Planner.OneWrite).
	WithPassword bool `json:"with_password,omitempty"`
	// Join and Leave, for OpGroups, are the groups to join and leave.
	Join  []string `json:"join,omitempty"`
	Leave []string `json:"leave,omitempty"`
	// Update, for OpUpdate, is the change of name or title.
	Update *rules.PersonUpdate `json:"-"`
	// Lifecycle, for OpLifecycle, is the entry's new set of lifecycle
	// facts; LockReason, for OpLock, the reason; At, for OpRevoke, when.
	Lifecycle  *rules.Lifecycle `json:"-"`
	LockReason string           `json:"lock_reason,omitempty"`
	At         time.Time        `json:"at,omitzero"`
	// Detail is what the operation changes, for the plan and the audit.
	Detail map[string]string `json:"detail,omitempty"`
	// Review, when set, says why an operator must look first: the guard
	// holds the operation's event whatever the count.
	Review string `json:"review,omitempty"`
	// Why: the event and the regulation.
	EventID string    `json:"event_id"`
	Source  string    `json:"source"`
	Type    EventType `json:"type"`
	Article string    `json:"article"`
	// Note explains a choice, such as which rung of the username ladder
	// was free.
	Note string `json:"note,omitempty"`

	Seq   uint64 `json:"-"`
	event *Event
	name  rules.Name
}

// Outcome is what the plan decided for an event that needs no operation.
type Outcome struct {
	Seq    uint64 `json:"-"`
	Event  *Event `json:"-"`
	Status Status `json:"status"`
	// Until is set for events held until their effective date.
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason"`
	// After is, for an event satisfied by the operations of another event
	// planned in the same run (a hire delivered twice), that event's Seq:
	// it is done only once they succeed.
	After uint64 `json:"-"`
}

// Plan is the result of planning: operations to run, and for every event
// without operations, why.
type Plan struct {
	Ops []Op
	// Held events are not yet effective; they stay pending.
	Held []Outcome
	// Satisfied events need nothing: the directory already reflects them.
	Satisfied []Outcome
	// Refused events cannot be applied as they are.
	Refused []Outcome
	// Withdrawn events were cancelled by a withdraw before they ran.
	Withdrawn []Outcome
	// Guarded events wait for an operator's approval (see Hold).
	Guarded []Outcome
}

// Planner turns events into operations. It is a pure function of its
// inputs: the same events, snapshot, rules and clock give the same plan.
type Planner struct {
	Rules *rules.Rules
	// Layout is where accounts live in the directory: their DNs and the
	// active group's name.
	Layout Layout
	// OneWrite says that the directory was proven to hash a password added
	// in clear (Directory.HashesCleartext): a new account's first password
	// then goes in its add (OpCreate with WithPassword), one write instead
	// of an add, a Password Modify and the pwdReset flag.
	OneWrite bool
}

// Layout is where the directory keeps accounts, as far as a plan names
// them; cmd fills it from the directory's config.
type Layout struct {
	// PersonDN returns the DN of the account uid; it never changes (NT 2.1).
	PersonDN func(uid string) string
	// ActiveGroup is the group of the accounts that may log in.
	ActiveGroup string
}

// Plan computes the operations for entries (pending journal entries, in any
// order) against what the directory holds, at now.
func (pl *Planner) Plan(entries []Entry, snap *rules.Snapshot, now time.Time) *Plan {
	// Sort pointers, not the entries: an Entry is large.
	order := make([]*Entry, len(entries))
	for i := range entries {
		order[i] = &entries[i]
	}
	slices.SortStableFunc(order, func(a, b *Entry) int {
		return cmp.Or(a.Event.Effective.Compare(b.Event.Effective), cmp.Compare(a.Seq, b.Seq))
	})
	st := newPlanState(pl, snap, now)
	p := &Plan{Ops: make([]Op, 0, 3*len(entries))} // a hire is three
	withdrawn := pl.withdrawWaiting(p, order, now)
	for _, e := range order {
		if withdrawn[e.Seq] {
			continue
		}
		start := e.Event.Effective.In(pl.Rules.Location)
		if now.Before(start) {
			p.Held = append(p.Held, Outcome{Seq: e.Seq, Event: &e.Event, Status: Pending, Until: start,
				Reason: fmt.Sprintf("effective %s", e.Event.Effective)})
			continue
		}
		switch t := e.Event.Type; {
		case t == Hire:
			st.hire(p, e)
		case t == Applications:
			st.applications(p, e)
		case t == Transfer, t == Reorganise:
			st.transfer(p, e)
		case t == TitleChange:
			st.titleChange(p, e)
		case t == Rename:
			st.rename(p, e)
		case t.Departure():
			st.depart(p, e)
		case t == Return:
			st.returnTo(p, e)
		case t == LeaveNotice:
			st.leaveNotice(p, e)
		case t == Withdraw:
			st.withdraw(p, e)
		case t == Lock:
			st.adminLock(p, e)
		case t == Restore:
			st.restore(p, e)
		case t == DeadlineLock, t == DeadlineRevoke:
			st.deadline(p, e)
		case t == InactivityLock:
			st.inactivityLock(p, e)
		case t == FirstSeen:
			st.firstSeen(p, e)
		case t == Activate:
			st.activate(p, e)
		case t == AwaitChange:
			st.awaitChange(p, e)
		case t == Adoption:
			st.adoption(p, e)
		default:
			p.Refused = append(p.Refused, Outcome{Seq: e.Seq, Event: &e.Event, Status: Failed,
				Reason: fmt.Sprintf("event type %q is not supported", e.Event.Type)})
		}
	}
	return p
}

// withdrawWaiting cancels the events still in the journal that an
// effective withdraw names, whatever their own effective date: they never
// run. It returns the Seqs of the cancelled events and of the withdraws
// that cancelled them, which are done.
func (pl *Planner) withdrawWaiting(p *Plan, order []*Entry, now time.Time) map[uint64]bool {
	var byKey map[string]*Entry
	out := map[uint64]bool{}
	for _, w := range order {
		if w.Event.Type != Withdraw || now.Before(w.Event.Effective.In(pl.Rules.Location)) {
			continue
		}
		if byKey == nil {
			byKey = make(map[string]*Entry, len(order))
			for _, e := range order {
				byKey[e.Event.Key()] = e
			}
		}
		key := withdrawKey(&w.Event)
		target, ok := byKey[key]
		if !ok || out[target.Seq] || target.Event.Type == Withdraw {
			continue
		}
		if !strings.EqualFold(target.Event.EmployeeID, w.Event.EmployeeID) {
			p.Refused = append(p.Refused, Outcome{Seq: w.Seq, Event: &w.Event, Status: Failed,
				Reason: fmt.Sprintf("event %s is about employee %s, not %s", key, target.Event.EmployeeID, w.Event.EmployeeID)})
			out[w.Seq] = true
			continue
		}
		reason := fmt.Sprintf("withdrawn by event %s before it was applied", w.Event.Key())
		p.Withdrawn = append(p.Withdrawn, Outcome{Seq: target.Seq, Event: &target.Event, Status: Failed, Reason: reason})
		p.Satisfied = append(p.Satisfied, Outcome{Seq: w.Seq, Event: &w.Event, Status: Done,
			Reason: fmt.Sprintf("%s %s (effective %s) cancelled before it was applied", target.Event.Type, key, target.Event.Effective)})
		out[target.Seq], out[w.Seq] = true, true
	}
	return out
}

// fold is how LDAP compares uid and employeeNumber (caseIgnoreMatch): the
// planner's keys for both.
func fold(s string) string { return strings.ToLower(s) }

// embargoed reports whether the revoked account p still holds its name at
// now. The embargo is a period counted as the Civil Code counts (Art.
// 147-148): from the day after the revocation to 24:00 of the
// corresponding day, so the name is free from the next 00:00. A
// revocation of unknown date holds its name for good.
func (pl *Planner) embargoed(p *rules.Account, now time.Time) bool {
	e := pl.Rules.Username.ReuseEmbargo
	switch {
	case e.IsZero():
		return false
	case p.RevokedAt.IsZero():
		return true
	}
	free := e.AddTo(p.RevokedAt.In(pl.Rules.Location)).AddDate(0, 0, 1)
	return now.Before(free)
}

// planState is what the directory will hold once the operations planned so
// far have run.
type planState struct {
	pl         *Planner
	byEmployee map[string][]*rules.Account
	// byUID finds accounts by folded username, live ones before
	// tombstones.
	byUID map[string]*rules.Account
	// unadopted are the hand-made entries, by dnKeyOf.
	unadopted map[string]*rules.Account
	taken     *rules.NameSet
	alloc     *rules.Allocator
	// names caches each uid's DN and mail address: a hire has three
	// operations.
	names map[string][2]string
	// expired are the tombstones whose reuse embargo is over: their names
	// are free, once the tombstone is purged.
	expired map[string]*rules.Account
	// planned is, by folded uid, the Seq of the last event that planned
	// operations on the account in this plan.
	planned map[string]uint64
	now     time.Time
}

func newPlanState(pl *Planner, snap *rules.Snapshot, now time.Time) *planState {
	st := &planState{pl: pl, byEmployee: map[string][]*rules.Account{}, byUID: map[string]*rules.Account{},
		taken: rules.NewNameSet(len(snap.People) + len(snap.Accounts) + len(snap.Unadopted)),
		names: map[string][2]string{}, expired: map[string]*rules.Account{}, planned: map[string]uint64{}, now: now}
	for i := range snap.People {
		p := snap.People[i] // a copy: planning changes it, the snapshot stays as read
		if p.Revoked && !pl.embargoed(&p, now) {
			st.expired[fold(p.UID)] = &p
		} else {
			st.taken.Add(fold(p.UID))
		}
		if p.EmployeeID != "" {
			k := fold(p.EmployeeID)
			st.byEmployee[k] = append(st.byEmployee[k], &p)
		}
		if old := st.byUID[fold(p.UID)]; old == nil || old.Revoked {
			st.byUID[fold(p.UID)] = &p
		}
	}
	for _, a := range snap.Accounts {
		st.taken.Add(fold(a))
	}
	st.unadopted = make(map[string]*rules.Account, len(snap.Unadopted))
	for i := range snap.Unadopted {
		a := snap.Unadopted[i]
		st.unadopted[dnKeyOf(a.DN)] = &a
		st.taken.Add(fold(a.UID))
	}
	for _, u := range pl.Rules.Units.All() {
		st.taken.Add(u.Account())
	}
	// The allocator hands out lower-case names only. It looks names up in
	// st.taken and adds those it hands out (and the reserved ones) to it:
	// one look-up of a compact set per rung.
	st.alloc = rules.NewAllocatorIn(pl.Rules.Username, st.taken)
	return st
}

func (st *planState) hire(p *Plan, e *Entry) {
	ev := &e.Event
	refuse := func(format string, args ...any) {
		p.Refused = append(p.Refused, Outcome{Seq: e.Seq, Event: ev, Status: Failed, Reason: fmt.Sprintf(format, args...)})
	}
	switch existing := st.byEmployee[fold(ev.EmployeeID)]; len(existing) {
	case 0:
	case 1:
		// NT 2.1: exactly one account per person. A repeated hire, or a
		// replay after a crash, finds the account made.
		acct := existing[0]
		if acct.Revoked {
			refuse("employee %s had account %s, revoked %s; a returning person gets the old account back with a return event, never a second account (NT 2.1)",
				ev.EmployeeID, acct.UID, st.day(acct.RevokedAt))
			return
		}
		// A hire is satisfied only by the same person's account: another
		// name or unit under the same employee_id is a mistyped id, or a
		// transfer or rename sent as a hire, and must be seen the same day.
		if diff := sameHire(acct, ev); diff != "" {
			refuse("employee %s already has account %s (%s, unit %s), but this hire is for %s, unit %s: %s; a transfer or a rename is its own event, and a mistyped employee_id must be corrected",
				ev.EmployeeID, acct.UID, acct.CN, acct.Unit, ev.Name.Full(), ev.Unit, diff)
			return
		}
		if d := acct.Lifecycle.Departure; !d.IsZero() {
			refuse("employee %s left (%s effective %s, account %s); a returning person gets the same account back with a return event (NT 2.1)",
				ev.EmployeeID, d.Kind, d.Effective, acct.UID)
			return
		}
		n := len(p.Ops)
		switch {
		case acct.Locked:
			// A locked account gets a password only by being restored.
		case acct.Issued != "":
			// A first password was issued (for this hire or an earlier
			// one): the flag written with it says so, whatever the user
			// did with it since.
		case acct.PasswordChanged.IsZero():
			p.Ops = append(p.Ops, st.lifeOp(OpIssueCredentials, e, acct, "account exists without a password: first password not yet issued"))
			acct.PasswordChanged, acct.MustChange, acct.Issued = st.now, true, ev.Key()
		case (acct.Status == rules.StatusActive || acct.Status == rules.StatusPending) && !acct.MustChange && acct.LastLogin.IsZero():
			// ldapsync made the account and holds no record of a password
			// issued: the earlier issue was cut short after the password
			// and before the write that flags it (pwdReset and
			// ldapsyncIssuedFor together). Issue anew: it rewrites the same
			// letter. (MustChange or a login would show a password issued
			// before ldapsyncIssuedFor existed: never reset those.)
			p.Ops = append(p.Ops, st.lifeOp(OpIssueCredentials, e, acct, "password set but its issue not recorded: the earlier issue was cut short"))
			acct.MustChange, acct.Issued = true, ev.Key()
		}
		// The memberships the hire asked for (a replay finds them missing
		// if the run stopped before its group changes); a repeated hire
		// adds applications, never removes one.
		st.setGroups(p, e, acct, acct.Active || !acct.Locked && acct.Status == rules.StatusActive && !acct.MustChange, union(acct.Groups, ev.Applications))
		if len(p.Ops) == n {
			p.Satisfied = append(p.Satisfied, Outcome{Seq: e.Seq, Event: ev, Status: Done, After: st.planned[fold(acct.UID)],
				Reason: fmt.Sprintf("employee %s already has account %s (NT 2.1: one account per person)", ev.EmployeeID, acct.UID)})
		}
		return
	default:
		uids := make([]string, len(existing))
		for i, a := range existing {
			uids[i] = a.UID
		}
		refuse("employee %s is held by %d entries (%s); the directory must be fixed by hand", ev.EmployeeID, len(existing), strings.Join(uids, ", "))
		return
	}
	unit, ok := st.pl.Rules.Units.Lookup(ev.Unit)
	if !ok {
		refuse("unit %q is no longer in the config", ev.Unit)
		return
	}
	uid, err := st.alloc.Allocate(ev.Name, unit.LadderAbbr())
	if err != nil {
		refuse("no username for %q: %v", ev.Name.Full(), err)
		return
	}
	if old, ok := st.expired[uid]; ok {
		delete(st.expired, uid)
		p.Ops = append(p.Ops, st.op(OpPurge, e, uid, fmt.Sprintf("the name of employee %s's account, revoked %s, is free again (reuse embargo %s)",
			old.EmployeeID, old.RevokedAt.In(st.pl.Rules.Location).Format("2006-01-02"), st.pl.Rules.Username.ReuseEmbargo)))
	}
	create := st.op(OpCreate, e, uid, "")
	if m := st.unadoptedMatch(ev); m != nil {
		create.Review = adoptionNote(m)
	}
	person := create.Person()
	// As the directory will hold it: a first password to change, so a
	// second hire of the same person in this batch is satisfied.
	person.Groups, person.PasswordChanged, person.MustChange, person.Issued = nil, st.now, true, ev.Key()
	// Pending: it joins the active group once the first password is
	// changed (see Activate).
	person.Status = rules.StatusPending
	st.byEmployee[fold(ev.EmployeeID)] = []*rules.Account{&person}
	if st.pl.OneWrite {
		create.WithPassword = true
		p.Ops = append(p.Ops, create)
	} else {
		p.Ops = append(p.Ops, create, st.op(OpIssueCredentials, e, uid, ""))
	}
	st.setGroups(p, e, &person, false, ev.Applications)
}

// setGroups plans the OpGroups that puts acct in the active group or not,
// and in exactly the application groups apps, and records the result in
// acct. It plans nothing when acct is there already.
func (st *planState) setGroups(p *Plan, e *Entry, acct *rules.Account, active bool, apps []string) {
	apps = slices.Sorted(slices.Values(apps))
	var join, leave []string
	if active && !acct.Active {
		join = append(join, st.pl.Layout.ActiveGroup)
	}
	if !active && acct.Active {
		leave = append(leave, st.pl.Layout.ActiveGroup)
	}
	for _, a := range apps {
		if !slices.Contains(acct.Groups, a) {
			join = append(join, a)
		}
	}
	for _, a := range acct.Groups {
		if !slices.Contains(apps, a) {
			leave = append(leave, a)
		}
	}
	if len(join)+len(leave) == 0 {
		return
	}
	op := st.op(OpGroups, e, acct.UID, "")
	if acct.DN != "" && !acct.Revoked {
		op.DN = acct.DN // an adopted account keeps its DN wherever it is
	}
	op.Join, op.Leave, op.Applications, op.Unit, op.Name, op.EmployeeID = join, leave, apps, acct.Unit, acct.CN, acct.EmployeeID
	p.Ops = append(p.Ops, op)
	acct.Active, acct.Groups = active, apps
}

// union returns the sorted union of a and b.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// account returns the one account of the event's employee, or refuses the
// event and returns nil.
func (st *planState) account(p *Plan, e *Entry) *rules.Account {
	ev := &e.Event
	refuse := func(format string, args ...any) {
		p.Refused = append(p.Refused, Outcome{Seq: e.Seq, Event: ev, Status: Failed, Reason: fmt.Sprintf(format, args...)})
	}
	switch accts := st.byEmployee[fold(ev.EmployeeID)]; {
	case len(accts) == 0:
		refuse("employee %s has no account", ev.EmployeeID)
	case len(accts) > 1:
		refuse("employee %s is held by %d entries; the directory must be fixed by hand", ev.EmployeeID, len(accts))
	case accts[0].Revoked:
		refuse("employee %s's account %s is revoked", ev.EmployeeID, accts[0].UID)
	default:
		return accts[0]
	}
	return nil
}

func (st *planState) applications(p *Plan, e *Entry) {
	acct := st.account(p, e)
	if acct == nil {
		return
	}
	ev := &e.Event
	want := slices.Clone(ev.Applications)
	if len(ev.AppChanges) > 0 {
		want = slices.Clone(acct.Groups)
		for _, c := range ev.AppChanges {
			switch i := slices.Index(want, c.App); {
			case c.Remove && i >= 0:
				want = slices.Delete(want, i, i+1)
			case !c.Remove && i < 0:
				want = append(want, c.App)
			}
		}
		slices.Sort(want)
	}
	n := len(p.Ops)
	st.setGroups(p, e, acct, acct.Active, want)
	if len(p.Ops) == n {
		p.Satisfied = append(p.Satisfied, Outcome{Seq: e.Seq, Event: ev, Status: Done, After: st.planned[fold(acct.UID)],
			Reason: fmt.Sprintf("%s already has exactly the applications %s", acct.UID, strings.Join(want, ", "))})
	}
}

func (st *planState) op(kind OpKind, e *Entry, uid, note string) Op {
	ev := &e.Event
	st.planned[fold(uid)] = e.Seq
	n, ok := st.names[uid]
	if !ok {
		n = [2]string{st.pl.Layout.PersonDN(uid), st.pl.Rules.Mail(uid)}
		st.names[uid] = n
	}
	return Op{
		Kind: kind, UID: uid, DN: n[0], EmployeeID: ev.EmployeeID,
		Name: ev.Name.Full(), Unit: ev.Unit, Title: ev.Title, Mail: n[1], Phone: ev.Phone,
		Applications: ev.Applications,
		EventID:      ev.ID, Source: ev.Source, Type: ev.Type, Article: ev.Type.Article(), Note: note,
		Seq: e.Seq, event: ev, name: ev.Name,
	}
}

// sameHire returns how the account acct differs from the person the hire
// ev describes ("" when it is the same person): the full name, compared as
// Unicode NFC without case or extra spaces, and the unit.
func sameHire(acct *rules.Account, ev *Event) string {
	var diffs []string
	if norm.NFC.String(strings.ToLower(strings.Join(strings.Fields(acct.CN), " "))) != norm.NFC.String(strings.ToLower(ev.Name.Full())) {
		diffs = append(diffs, "another name")
	}
	if !strings.EqualFold(acct.Unit, ev.Unit) {
		diffs = append(diffs, "another unit")
	}
	return strings.Join(diffs, " and ")
}

// Person returns the directory entry an OpCreate makes.
func (o *Op) Person() rules.Account {
	return rules.Account{
		UID: o.UID, EmployeeID: o.EmployeeID,
		CN: o.name.Full(), SN: o.name.Family, GivenName: o.name.Given, DisplayName: o.name.Full(),
		Mail: o.Mail, Unit: o.Unit, Title: o.Title, Phone: o.Phone, Groups: o.Applications,
	}
}

// NextDue returns when the earliest held event becomes effective, or the
// zero time when none is held.
func (p *Plan) NextDue() time.Time {
	var next time.Time
	for _, h := range p.Held {
		if next.IsZero() || h.Until.Before(next) {
			next = h.Until
		}
	}
	return next
}
