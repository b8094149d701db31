package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

func TestEngine_Explain(t *testing.T) {
	dir := newFakeDir()
	e, _ := newEngine(t, dir, t0.Add(48*time.Hour))
	loc := e.Rules().Location
	dn := personDN("quoctrang")
	lockAt, revokeAt := t0.Add(24*time.Hour), t0.Add(30*24*time.Hour)
	dir.people[dn] = &rules.Account{DN: dn, UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt",
		Status: rules.StatusLocked, Locked: true, LockReason: "retire: effective 2026-11-02", Groups: []string{"mail"},
		PasswordChanged: t0, Lifecycle: rules.Lifecycle{Departure: rules.Departure{Kind: rules.DepartRetire, Effective: rules.DateOf(t0.In(loc)), Event: "inbox/R1"},
			LockAt: lockAt, RevokeAt: revokeAt}}
	hold := Hold{ID: "20261102-abcd", Created: t0, Events: []string{"inbox/R1", "inbox/R9"}, Status: HoldApproved, By: "gd", Decided: t0.Add(time.Hour)}
	if err := e.holds.put(hold); err != nil {
		t.Fatal(err)
	}
	for _, r := range []AuditRecord{
		{Time: t0, Action: "create", UID: "quoctrang", EmployeeID: "NV1", Source: "inbox", EventID: "H1", Reason: "hire", Detail: map[string]string{"unit": "sotttt"}},
		{Time: t0, Action: "create", UID: "vantuan", EmployeeID: "NV2", Source: "inbox", EventID: "H2", Reason: "hire"},
		{Time: t0, Action: "refused", EmployeeID: "NV1", Source: "inbox", EventID: "X1", Reason: "already hired"},
		{Time: t0.Add(time.Hour), Action: "hold_approved", Source: "guard", EventID: hold.ID, RequestedBy: "gd"},
		{Time: t0.Add(time.Hour), Action: "hold_approved", Source: "guard", EventID: "other", RequestedBy: "gd"},
		{Time: t0.Add(time.Hour), Action: ActionIntent, Op: "lock", UID: "quoctrang", EmployeeID: "NV1", Source: "inbox", EventID: "R1"},
		{Time: t0.Add(time.Hour), Action: "lock", Intent: 6, UID: "quoctrang", EmployeeID: "NV1", Source: "inbox", EventID: "R1",
			Reason: "retire", Article: "NT 5.2.c", RequestedBy: "HR", Detail: map[string]string{"reason": "retire"}},
	} {
		if _, err := e.audit.Append(r); err != nil {
			t.Fatal(err)
		}
	}

	x, err := e.Explain(context.Background(), "quoctrang")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range x.History {
		seqs = append(seqs, r.Seq)
	}
	if want := []uint64{1, 3, 4, 6, 7}; !equalSeqs(seqs, want) {
		t.Errorf("history seqs %v, want %v", seqs, want)
	}
	if a := x.History[len(x.History)-1].Approval; a == nil || a.By != "gd" || a.Hold != hold.ID || a.Status != HoldApproved {
		t.Errorf("the lock is not linked to its hold's approval: %+v", a)
	}
	if x.CanLogIn || x.State == nil || !x.State.LockedSince.Equal(t0.Add(time.Hour)) || x.State.Departure != rules.DepartRetire {
		t.Errorf("state: %+v", x.State)
	}
	for _, want := range []string{"quoctrang cannot log in: locked since " + t0.Add(time.Hour).In(loc).Format("2006-01-02 15:04"),
		"because: retire: effective 2026-11-02", "event inbox/R1", "NT 5.2.c", "requested by HR", "departure retire", "to be revoked on"} {
		if !strings.Contains(x.Answer, want) {
			t.Errorf("answer lacks %q: %s", want, x.Answer)
		}
	}
	if x.Next == nil || x.Next.Kind != rules.ActionRevoke || !x.Next.At.Equal(revokeAt) {
		t.Errorf("next: %+v", x.Next)
	}

	// An active account: must change, never logged in.
	dir.people[dn].Locked, dir.people[dn].Status, dir.people[dn].Active, dir.people[dn].MustChange = false, rules.StatusActive, true, true
	dir.people[dn].Lifecycle = rules.Lifecycle{}
	x, err = e.Explain(context.Background(), "quoctrang")
	if err != nil || !x.CanLogIn || !strings.HasPrefix(x.Answer, "quoctrang can log in: active; must change the password at the next login; never logged in") {
		t.Errorf("active: %v %+v", err, x)
	}

	// Pending: the password ldapsync issued not changed yet.
	dir.people[dn].Status, dir.people[dn].Active, dir.people[dn].Issued = rules.StatusPending, false, "operator/R1"
	x, err = e.Explain(context.Background(), "quoctrang")
	if err != nil || x.CanLogIn || !strings.HasPrefix(x.Answer, "quoctrang cannot log in to applications yet: pending until the password ldapsync issued (for operator/R1, set ") ||
		strings.Contains(x.Answer, "has been changed") {
		t.Errorf("pending: %v %+v", err, x)
	}
	dir.people[dn].MustChange = false
	if x, err = e.Explain(context.Background(), "quoctrang"); err != nil || !strings.Contains(x.Answer, "it has been changed: the daemon activates the account within seconds") {
		t.Errorf("pending, changed: %v %+v", err, x)
	}

	// Gone from the directory, known to the audit.
	x, err = e.Explain(context.Background(), "vantuan")
	if err != nil || x.State != nil || x.CanLogIn || !strings.Contains(x.Answer, "no entry in the directory") {
		t.Errorf("vantuan: %v %+v", err, x)
	}

	if _, err := e.Explain(context.Background(), "nobody"); !errors.Is(err, ErrNoAccount) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("unknown uid: %v", err)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
