package sync

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// account is an active account ldapsync made, as a snapshot holds it.
func account(uid, employee, unit, title string) rules.Account {
	return rules.Account{
		DN: personDN(uid), UID: uid, EmployeeID: employee, CN: "Lê Văn Tuấn", SN: "Lê", GivenName: "Tuấn", DisplayName: "Lê Văn Tuấn",
		Unit: unit, Title: title, Status: rules.StatusActive, Active: true, Groups: []string{"mail"},
		Issued: "inbox/H-" + employee, PasswordChanged: t0.AddDate(0, -1, 0), Created: t0.AddDate(0, -1, 0),
	}
}

// departed returns a with a departure in force, locked when locked.
func departed(r *rules.Rules, a rules.Account, kind string, on rules.Date, locked bool) rules.Account {
	a.Lifecycle.Departure = rules.Departure{Kind: kind, Effective: on, Event: "inbox/D-" + a.EmployeeID}
	a.Lifecycle.LockAt, a.Lifecycle.RevokeAt = r.DepartureDeadlines(on, false)
	if locked {
		a.Locked, a.Status, a.Active, a.LockReason = true, rules.StatusLocked, false, kind+": NT 5.2.c"
	}
	return a
}

func kinds(ops []Op) string {
	var out []string
	for _, o := range ops {
		out = append(out, string(o.Kind))
	}
	return strings.Join(out, ",")
}

// Each lifecycle event plans the operations of its article, or is refused
// with a reason that says what to send instead.
func TestPlanner_LifecycleEvents(t *testing.T) {
	r := exampleRules(t)
	today := rules.DateOf(t0.In(r.Location))
	name := func(s string) rules.Name {
		n, err := rules.ParseFullName(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	active := account("tuanlv", "NV1", "sotttt", "Chuyên viên")
	left := departed(r, active, rules.DepartRetire, today.AddDays(-3), true)
	revoked := left
	revoked.Revoked, revoked.RevokedAt, revoked.Status, revoked.Groups = true, t0.AddDate(0, 0, -1), rules.StatusRevoked, nil
	compromised := active
	compromised.Locked, compromised.Status, compromised.Active, compromised.LockReason = true, rules.StatusLocked, false, "compromised: leaked"

	tests := []struct {
		name    string
		have    rules.Account
		ev      Event
		ops     string // operation kinds, in order
		refused string // part of the refusal
	}{
		{"transfer", active, Event{Type: Transfer, Unit: "sonv_vp"}, "move", ""},
		{"transfer with applications", active, Event{Type: Transfer, Unit: "sonv_vp", Applications: []string{"eoffice", "mail"}}, "move,groups", ""},
		{"transfer to the same unit", active, Event{Type: Transfer, Unit: "sotttt"}, "", ""},
		{"rename", active, Event{Type: Rename, Name: name("Lê Văn Tuấn Anh")}, "update", ""},
		{"rename to the same name", active, Event{Type: Rename, Name: name("Lê Văn Tuấn")}, "", ""},
		{"title change to a leader", active, Event{Type: TitleChange, Title: "Phó Giám đốc Sở"}, "update,lifecycle", ""},
		{"title change, same rank", active, Event{Type: TitleChange, Title: "Chuyên viên chính"}, "update", ""},
		{"staff retires", active, Event{Type: Retire}, "lifecycle,lock", ""},
		{"retires with a leader column", active, Event{Type: Retire, Leader: new(true)}, "lifecycle", ""},
		{"retires twice", left, Event{Type: Resign}, "", "already has a departure in force"},
		{"leave notice", active, Event{Type: LeaveNotice, Until: today.AddDays(30)}, "lifecycle", ""},
		{"return after leaving", left, Event{Type: Return}, "restore,lifecycle", ""},
		{"return after leaving, to other applications", left, Event{Type: Return, Applications: []string{"eoffice"}}, "restore,lifecycle,groups", ""},
		{"return after revocation", revoked, Event{Type: Return, Applications: []string{"mail"}}, "reinstate,lifecycle,groups", ""},
		{"return of someone who never left", compromised, Event{Type: Return}, "", "nothing to return from"},
		{"hire of someone who left", left, Event{Type: Hire, Name: name("Lê Văn Tuấn"), Unit: "sotttt"}, "", "return event"},
		{"hire of someone revoked", revoked, Event{Type: Hire, Name: name("Lê Văn Tuấn"), Unit: "sotttt"}, "", "return event"},
		{"withdraw of the departure", left, Event{Type: Withdraw, Withdraws: "D-NV1"}, "lifecycle,lift_lock", ""},
		{"withdraw of something else", left, Event{Type: Withdraw, Withdraws: "X-9"}, "", "only those can be withdrawn"},
		{"withdraw after revocation", revoked, Event{Type: Withdraw, Withdraws: "D-NV1"}, "", "a return event brings the person back"},
		{"transfer of a revoked account", revoked, Event{Type: Transfer, Unit: "sonv_vp"}, "", "revoked"},
		{"operator lock", active, Event{Source: SourceOperator, Type: Lock, UID: "tuanlv", LockReason: rules.LockSpam, Request: "R1"}, "lock", ""},
		{"operator lock of a departed person", left, Event{Source: SourceOperator, Type: Lock, UID: "tuanlv", LockReason: rules.LockSpam, Request: "R1"}, "", "departed"},
		{"restore", compromised, Event{Source: SourceOperator, Type: Restore, UID: "tuanlv", Request: "R2", RequestReceived: t0}, "restore", ""},
		{"restore of a departed person", left, Event{Source: SourceOperator, Type: Restore, UID: "tuanlv", Request: "R2", RequestReceived: t0}, "", "a return event"},
		{"restore of an active account", active, Event{Source: SourceOperator, Type: Restore, UID: "tuanlv", Request: "R2", RequestReceived: t0}, "", "not locked"},
		{"restore of an unknown account", active, Event{Source: SourceOperator, Type: Restore, UID: "nobody", Request: "R2", RequestReceived: t0}, "", "has no account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			if ev.Source == "" {
				ev.Source, ev.EmployeeID = SourceInbox, "NV1"
			}
			ev.ID, ev.Effective, ev.Received = "E1", today, t0
			snap := &rules.Snapshot{People: []rules.Account{tt.have}}
			p := (&Planner{Rules: r, Layout: layout}).Plan([]Entry{{Seq: 1, Event: ev, Status: Pending}}, snap, t0)
			if got := kinds(p.Ops); got != tt.ops {
				t.Errorf("ops %q, want %q (refused %+v)", got, tt.ops, p.Refused)
			}
			switch {
			case tt.refused == "" && len(p.Refused) > 0:
				t.Errorf("refused: %s", p.Refused[0].Reason)
			case tt.refused != "" && (len(p.Refused) != 1 || !strings.Contains(p.Refused[0].Reason, tt.refused)):
				t.Errorf("refusals %+v, want one saying %q", p.Refused, tt.refused)
			}
			for _, op := range p.Ops {
				if op.Article == "" || op.EmployeeID != "NV1" || op.DN != personDN("tuanlv") {
					t.Errorf("op %s: article %q, employee %q, dn %q", op.Kind, op.Article, op.EmployeeID, op.DN)
				}
			}
			if tt.ops == "" && tt.refused == "" && len(p.Satisfied) != 1 {
				t.Errorf("no operation and not satisfied: %+v", p)
			}
		})
	}
}

// A withdraw cancels an event still waiting for its date, whatever the
// order they came in; a withdraw for another person's event is refused.
func TestPlanner_WithdrawWaiting(t *testing.T) {
	r := exampleRules(t)
	today := rules.DateOf(t0.In(r.Location))
	snap := &rules.Snapshot{People: []rules.Account{account("tuanlv", "NV1", "sotttt", "Chuyên viên")}}
	later := Event{Source: SourceInbox, ID: "R1", Type: Retire, EmployeeID: "NV1", Effective: today.AddDays(20)}
	w := Event{Source: SourceInbox, ID: "W1", Type: Withdraw, EmployeeID: "NV1", Withdraws: "R1", Effective: today}
	other := Event{Source: SourceInbox, ID: "W2", Type: Withdraw, EmployeeID: "NV2", Withdraws: "R1", Effective: today}
	p := (&Planner{Rules: r, Layout: layout}).Plan([]Entry{{Seq: 1, Event: later}, {Seq: 2, Event: w}}, snap, t0)
	if len(p.Withdrawn) != 1 || p.Withdrawn[0].Seq != 1 || len(p.Held) != 0 || len(p.Satisfied) != 1 || len(p.Ops) != 0 {
		t.Errorf("plan %+v", p)
	}
	p = (&Planner{Rules: r, Layout: layout}).Plan([]Entry{{Seq: 1, Event: later}, {Seq: 2, Event: other}}, snap, t0)
	if len(p.Withdrawn) != 0 || len(p.Refused) != 1 || !strings.Contains(p.Refused[0].Reason, "is about employee NV1, not NV2") {
		t.Errorf("plan %+v", p)
	}
	if len(p.Held) != 1 {
		t.Errorf("the retirement is no longer held: %+v", p.Held)
	}
}

// Sweeps act on the facts on the entry: never before a deadline, once
// after, and never on a departure that was withdrawn meanwhile.
func TestRules_Actions(t *testing.T) {
	r := exampleRules(t)
	today := rules.DateOf(t0.In(r.Location))
	a := departed(r, account("tuanlv", "NV1", "sotttt", "Chuyên viên"), rules.DepartResign, today, false)
	a.Lifecycle.LockAt, a.Lifecycle.RevokeAt = r.DepartureDeadlines(today, true)
	got := r.Actions(&a)
	if len(got) != 2 || got[0].Kind != rules.ActionDepartureLock || got[1].Kind != rules.ActionRevoke || got[0].Article != "NT 5.2.c" {
		t.Fatalf("actions %+v", got)
	}
	if due := r.Due(&a, a.Lifecycle.LockAt.Add(-time.Nanosecond)); len(due) != 0 {
		t.Errorf("due before lock_at: %+v", due)
	}
	if due := r.Due(&a, a.Lifecycle.LockAt); len(due) != 1 {
		t.Errorf("due at lock_at: %+v", due)
	}
	a.Locked = true
	if got := r.Actions(&a); len(got) != 1 || got[0].Kind != rules.ActionRevoke {
		t.Errorf("locked: %+v", got)
	}
	idle := account("vannam", "NV2", "sotttt", "Chuyên viên")
	got = r.Actions(&idle)
	if len(got) != 1 || got[0].Kind != rules.ActionInactivityLock || got[0].Article != "NT 6.2.a" {
		t.Fatalf("idle: %+v", got)
	}
	unmanaged := idle
	unmanaged.Status = ""
	if got := r.Actions(&unmanaged); len(got) != 0 {
		t.Errorf("an account ldapsync does not manage is swept: %+v", got)
	}
	if slices.ContainsFunc(r.Actions(&rules.Account{Revoked: true, Status: rules.StatusRevoked}), func(rules.Action) bool { return true }) {
		t.Errorf("a revoked account is swept")
	}
}
