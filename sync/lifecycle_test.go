package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
)

// lifeEnv is an engine on the fake directory with a clock the test moves.
type lifeEnv struct {
	t    *testing.T
	dir  *fakeDir
	eng  *Engine
	cfg  Config
	now  time.Time
	r    *rules.Rules
	next int
}

func newLifeEnv(t *testing.T) *lifeEnv {
	t.Helper()
	return newLifeEnvWith(t, newFakeDir())
}

// newLifeEnvWith is newLifeEnv on the fake directory f.
func newLifeEnvWith(t *testing.T, f *fakeDir) *lifeEnv {
	t.Helper()
	env := &lifeEnv{t: t, dir: f, now: t0, r: exampleRules(t)}
	env.cfg = DefaultConfig()
	env.cfg.StateDir = t.TempDir()
	e, err := Open(Options{Config: env.cfg, Rules: env.r, Directory: env.dir, Layout: layout,
		Now: func() time.Time { return env.now }, Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	env.eng = e
	return env
}

// submit journals ev (effective on day unless set) and processes.
func (env *lifeEnv) submit(ev Event) {
	env.t.Helper()
	env.next++
	if ev.Source == "" {
		ev.Source = SourceInbox
	}
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("L%d", env.next)
	}
	if ev.Effective.IsZero() {
		ev.Effective = rules.DateOf(env.now.In(env.r.Location))
	}
	ev.Received = env.now
	if _, err := env.eng.journal.Add([]Event{ev}, env.now); err != nil {
		env.t.Fatal(err)
	}
	if _, _, err := env.eng.Process(context.Background()); err != nil {
		env.t.Fatal(err)
	}
}

// hire makes an account for employee with title.
func (env *lifeEnv) hire(employee, full, unit, title string) *rules.Account {
	env.t.Helper()
	n, err := rules.ParseFullName(full)
	if err != nil {
		env.t.Fatal(err)
	}
	env.submit(Event{ID: "H" + employee, Type: Hire, EmployeeID: employee, Name: n, Unit: unit, Title: title, Applications: []string{"mail"}})
	return env.person(employee)
}

// person returns the live account or tombstone of employee.
func (env *lifeEnv) person(employee string) *rules.Account {
	env.t.Helper()
	snap, _ := env.dir.Snapshot(context.Background())
	for i := range snap.People {
		if snap.People[i].EmployeeID == employee {
			return &snap.People[i]
		}
	}
	env.t.Fatalf("no account for %s", employee)
	return nil
}

func (env *lifeEnv) sweep() *SweepResult {
	env.t.Helper()
	res, err := env.eng.Sweep(context.Background(), SweepOptions{})
	if err != nil {
		env.t.Fatal(err)
	}
	return res
}

// status is what the fake holds for employee, for messages.
func status(a *rules.Account) string {
	return fmt.Sprintf("status %s locked %v revoked %v reason %q", a.Status, a.Locked, a.Revoked, a.LockReason)
}

// A departure follows the staff's or the leaders' rule of NT 5.2.c: locked
// and revoked once each deadline has passed, never a second early, once.
func TestEngine_DepartureDeadlines(t *testing.T) {
	tests := []struct {
		name   string
		title  string
		leader *bool
	}{
		{"staff", "Chuyên viên", nil},
		{"leader by title", "Giám đốc Sở Thông tin và Truyền thông", nil},
		{"leader by column", "Chuyên viên", new(true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newLifeEnv(t)
			env.hire("NV1", "Lê Văn Tuấn", "sotttt", tt.title)
			isLeader := tt.leader != nil || tt.title == "Giám đốc Sở Thông tin và Truyền thông"
			lockAt, revokeAt := env.r.DepartureDeadlines(rules.DateOf(env.now.In(env.r.Location)), isLeader)
			env.submit(Event{ID: "R1", Type: Retire, EmployeeID: "NV1", Leader: tt.leader})
			a := env.person("NV1")
			if a.Lifecycle.Departure.Kind != rules.DepartRetire || a.Lifecycle.Departure.Leader != isLeader ||
				!a.Lifecycle.LockAt.Equal(lockAt) || !a.Lifecycle.RevokeAt.Equal(revokeAt) {
				t.Fatalf("lifecycle on the entry = %+v, want retire, leader %v, lock %s, revoke %s", a.Lifecycle, isLeader, lockAt, revokeAt)
			}
			if isLeader {
				if a.Locked {
					t.Fatalf("a leader is locked on the effective date: %s", status(a))
				}
				env.now = lockAt.Add(-time.Second)
				env.sweep()
				if a := env.person("NV1"); a.Locked {
					t.Fatalf("locked a second before the period ended: %s", status(a))
				}
				env.now = lockAt
				if res := env.sweep(); len(res.Due) != 1 || res.Due[0].Kind != rules.ActionDepartureLock {
					t.Fatalf("due at lock_at = %+v", res.Due)
				}
			}
			a = env.person("NV1")
			if !a.Locked || rules.LockCode(a.LockReason) != rules.DepartRetire || a.Active {
				t.Fatalf("not locked by the retirement: %s", status(a))
			}
			env.now = revokeAt.Add(-time.Second)
			env.sweep()
			if a := env.person("NV1"); a.Revoked {
				t.Fatalf("revoked a second early: %s", status(a))
			}
			env.now = revokeAt
			env.sweep()
			if a := env.person("NV1"); !a.Revoked || !a.RevokedAt.Equal(revokeAt) {
				t.Fatalf("not revoked at revoke_at: %s at %s", status(a), a.RevokedAt)
			}
			// Applied once: a later sweep finds nothing to do.
			env.now = revokeAt.Add(48 * time.Hour)
			if res := env.sweep(); len(res.Due) != 0 || res.Report.Applied != 0 {
				t.Errorf("second sweep: due %v, applied %d", res.Due, res.Report.Applied)
			}
			checkAuditArticles(t, env, "NV1", map[string]string{"lock": "NT 5.2.c", "revoke": "NT 5.2.c", "lifecycle": "NT 5.2.c"})
		})
	}
}

// checkAuditArticles checks that each listed action of employee was
// audited with its article.
func checkAuditArticles(t *testing.T, env *lifeEnv, employee string, want map[string]string) {
	t.Helper()
	data, err := os.ReadFile(AuditPath(env.cfg))
	if err != nil {
		t.Fatal(err)
	}
	for action, article := range want {
		found := false
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, `"action":"`+action+`"`) && strings.Contains(line, `"employee_id":"`+employee+`"`) {
				found = true
				if !strings.Contains(line, `"article":"`+article+`"`) {
					t.Errorf("audit of %s names no %s: %s", action, article, line)
				}
			}
		}
		if !found {
			t.Errorf("no audit record of %s for %s", action, employee)
		}
	}
}

// The rule is the one of the position held on the departure's date: a
// title change effective before it changes the rule, one after does not.
func TestEngine_TitleChangeAndDepartureRule(t *testing.T) {
	env := newLifeEnv(t)
	env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Giám đốc Sở Thông tin và Truyền thông")
	day := rules.DateOf(env.now.In(env.r.Location))
	// Retirement effective in ten days, a demotion effective in five:
	// retires as staff.
	env.submit(Event{ID: "T1", Type: TitleChange, EmployeeID: "NV1", Title: "Chuyên viên", Effective: day.AddDays(5)})
	env.submit(Event{ID: "R1", Type: Retire, EmployeeID: "NV1", Effective: day.AddDays(10)})
	env.now = day.AddDays(10).In(env.r.Location)
	if _, _, err := env.eng.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := env.person("NV1")
	if a.Lifecycle.Departure.Leader || !a.Locked || a.Title != "Chuyên viên" {
		t.Fatalf("demoted before retiring: leader rule %v, %s, title %q; want the staff rule, locked", a.Lifecycle.Departure.Leader, status(a), a.Title)
	}

	// A promotion effective after the departure's date changes nothing.
	env.now = env.now.Add(24 * time.Hour)
	env.submit(Event{ID: "T2", Type: TitleChange, EmployeeID: "NV1", Title: "Giám đốc Sở Thông tin và Truyền thông"})
	if a := env.person("NV1"); a.Lifecycle.Departure.Leader || !a.Locked {
		t.Fatalf("a title change after the departure changed its rule: %+v, %s", a.Lifecycle.Departure, status(a))
	}

	// Late news: a promotion effective before the departure's date (as a
	// leader on the day) moves the lock a month on and lifts it for now.
	env2 := newLifeEnv(t)
	env2.hire("NV2", "Trần Văn Nam", "sotttt", "Chuyên viên")
	env2.submit(Event{ID: "R2", Type: Retire, EmployeeID: "NV2"})
	if a := env2.person("NV2"); !a.Locked {
		t.Fatalf("staff not locked at once: %s", status(a))
	}
	env2.submit(Event{ID: "T3", Type: TitleChange, EmployeeID: "NV2", Title: "Phó Giám đốc Sở", Effective: rules.DateOf(env2.now.In(env2.r.Location)).AddDays(-1)})
	a = env2.person("NV2")
	lockAt, _ := env2.r.DepartureDeadlines(rules.DateOf(env2.now.In(env2.r.Location)), true)
	if !a.Lifecycle.Departure.Leader || a.Locked || !a.Lifecycle.LockAt.Equal(lockAt) {
		t.Fatalf("leader on the day: rule leader %v, %s, lock_at %s; want leader, unlocked until %s", a.Lifecycle.Departure.Leader, status(a), a.Lifecycle.LockAt, lockAt)
	}
}

// A departure withdrawn as a mistake: before it ran, it never runs; after,
// its deadlines go and its lock is lifted without a new password.
func TestEngine_Withdraw(t *testing.T) {
	env := newLifeEnv(t)
	env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
	pw := env.dir.passwords[personDN("tuanlv")]
	if pw == "" {
		pw = env.dir.passwords[env.person("NV1").DN]
	}
	env.submit(Event{ID: "R1", Type: Retire, EmployeeID: "NV1"})
	if a := env.person("NV1"); !a.Locked {
		t.Fatalf("not locked: %s", status(a))
	}
	env.submit(Event{ID: "W1", Type: Withdraw, EmployeeID: "NV1", Withdraws: "R1"})
	// Back as it was before: pending, as its first password was never
	// changed.
	a := env.person("NV1")
	if a.Locked || a.Active || a.Status != rules.StatusPending || !a.Lifecycle.Departure.IsZero() || !a.Lifecycle.RevokeAt.IsZero() || env.dir.passwords[a.DN] != pw {
		t.Fatalf("after withdraw: %s, lifecycle %+v, password changed %v", status(a), a.Lifecycle, env.dir.passwords[a.DN] != pw)
	}
	if st, reason, _ := env.eng.journal.Lookup(SourceInbox + "/W1"); st != Done {
		t.Errorf("withdraw %s: %s", st, reason)
	}
	data, _ := os.ReadFile(AuditPath(env.cfg))
	if !strings.Contains(string(data), "withdrawn (event inbox/R1)") {
		t.Errorf("the audit does not say why the lock was lifted")
	}

	// A departure still waiting for its date is cancelled.
	day := rules.DateOf(env.now.In(env.r.Location))
	env.submit(Event{ID: "R2", Type: Resign, EmployeeID: "NV1", Effective: day.AddDays(30)})
	env.submit(Event{ID: "W2", Type: Withdraw, EmployeeID: "NV1", Withdraws: "R2"})
	if st, reason, _ := env.eng.journal.Lookup(SourceInbox + "/R2"); st != Failed || !strings.Contains(reason, "withdrawn by event inbox/W2") {
		t.Errorf("waiting resignation: %s %q", st, reason)
	}
	env.now = day.AddDays(31).In(env.r.Location)
	env.sweep()
	if a := env.person("NV1"); a.Locked || !a.Lifecycle.Departure.IsZero() {
		t.Errorf("a withdrawn departure ran: %s %+v", status(a), a.Lifecycle)
	}
	if rej, _ := filepath.Glob(filepath.Join(env.cfg.InboxDir(), "rejected", "refused-*")); len(rej) != 0 {
		t.Errorf("a withdrawn event was set aside as refused: %v", rej)
	}
}

// A return gets the same account back, before and after revocation, with
// a new first password; never a second account.
func TestEngine_Return(t *testing.T) {
	for _, revoked := range []bool{false, true} {
		t.Run(fmt.Sprintf("revoked=%v", revoked), func(t *testing.T) {
			env := newLifeEnv(t)
			first := env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
			env.submit(Event{ID: "R1", Type: Resign, EmployeeID: "NV1"})
			if revoked {
				env.now = env.person("NV1").Lifecycle.RevokeAt
				env.sweep()
				if a := env.person("NV1"); !a.Revoked {
					t.Fatalf("not revoked: %s", status(a))
				}
			}
			old := env.dir.passwords[first.DN]
			env.now = env.now.Add(24 * time.Hour)
			env.submit(Event{ID: "B1", Type: Return, EmployeeID: "NV1", Unit: "sonv_vp", Applications: []string{"eoffice", "mail"}})
			a := env.person("NV1")
			if a.UID != first.UID || a.DN != first.DN || a.Revoked || a.Locked || a.Active || a.Status != rules.StatusPending || !a.MustChange || a.Unit != "sonv_vp" {
				t.Fatalf("returned: uid %s dn %s unit %s must change %v, %s; want %s back, pending, must change", a.UID, a.DN, a.Unit, a.MustChange, status(a), first.UID)
			}
			if !a.Lifecycle.Departure.IsZero() || !a.Lifecycle.RevokeAt.IsZero() {
				t.Errorf("departure still on the entry: %+v", a.Lifecycle)
			}
			if pw := env.dir.passwords[a.DN]; pw == "" || pw == old {
				t.Errorf("no new password")
			}
			letters, _ := filepath.Glob(filepath.Join(env.cfg.Letters(), "sonv_vp", a.UID+"_B1.txt"))
			if len(letters) != 1 {
				t.Errorf("no sealed letter for the return in the new unit")
			}
			if env.dir.count() != 1 {
				t.Errorf("%d entries, want the one account", env.dir.count())
			}
			// A replay changes nothing.
			pw := env.dir.passwords[a.DN]
			env.submit(Event{ID: "B1", Type: Return, EmployeeID: "NV1", Unit: "sonv_vp", Applications: []string{"eoffice", "mail"}})
			if env.dir.passwords[a.DN] != pw {
				t.Errorf("the replayed return issued another password")
			}
		})
	}
}

// NT 6.2.a: idle past the period and no leave → locked "inactive"; a
// leave notice or activity reported by applications holds it off.
func TestEngine_InactivitySweep(t *testing.T) {
	env := newLifeEnv(t)
	for _, id := range []string{"NV1", "NV2", "NV3"} {
		env.hire(id, "Lê Văn "+map[string]string{"NV1": "Tuấn", "NV2": "Nam", "NV3": "Hùng"}[id], "sotttt", "Chuyên viên")
	}
	// The fake sets PasswordChanged to t0 at the first password: the last
	// activity of all three.
	lockAt, _ := env.r.InactivityLockAt(env.person("NV1"))
	until := rules.DateOf(lockAt.In(env.r.Location)).AddDays(10)
	env.submit(Event{ID: "L2", Type: LeaveNotice, EmployeeID: "NV2", Until: until})
	// NV3 shows activity in an application a day before the deadline.
	env.now = lockAt.Add(-24 * time.Hour)
	feed := fmt.Sprintf("username,last_active\n%s,%s\n", env.person("NV3").UID, env.now.Format(time.RFC3339))
	if _, err := env.eng.ingest(filepath.Join(env.cfg.InboxDir(), "activity-1.csv"), "activity-1.csv", []byte(feed)); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV3"); a.Lifecycle.LastActive.IsZero() {
		t.Fatalf("feed not recorded: %+v", a.Lifecycle)
	}
	env.now = lockAt.Add(-time.Second)
	if res := env.sweep(); len(res.Due) != 0 {
		t.Fatalf("due a second early: %+v", res.Due)
	}
	env.now = lockAt
	env.sweep()
	if a := env.person("NV1"); !a.Locked || rules.LockCode(a.LockReason) != rules.LockInactive {
		t.Errorf("idle account: %s", status(a))
	}
	for _, id := range []string{"NV2", "NV3"} {
		if a := env.person(id); a.Locked {
			t.Errorf("%s locked: %s", id, status(a))
		}
	}
	leaveEnd := env.r.PeriodEnd(until, env.r.Lifecycle.LeaveGrace)
	env.now = leaveEnd
	env.sweep()
	if a := env.person("NV2"); !a.Locked {
		t.Errorf("after the leave and its grace: %s", status(a))
	}
	checkAuditArticles(t, env, "NV1", map[string]string{"lock": "NT 6.2.a"})
}

// An operator's lock and restore (NT 6.2.b, 6.3), through the same engine
// method the control socket calls.
func TestEngine_OperatorLockRestore(t *testing.T) {
	env := newLifeEnv(t)
	a := env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
	ctx := context.Background()
	res, err := env.eng.Submit(ctx, OperatorAction{Type: Lock, UID: a.UID, Reason: rules.LockCompromised, Note: "password leaked", Request: "SOC-1", By: "admin"})
	if err != nil || res.Status != Done {
		t.Fatalf("lock: %+v %v", res, err)
	}
	if a := env.person("NV1"); !a.Locked || !strings.HasPrefix(a.LockReason, "compromised: password leaked") {
		t.Fatalf("%s", status(a))
	}
	if _, err := env.eng.Submit(ctx, OperatorAction{Type: Lock, UID: a.UID, Reason: "bored", Request: "x", By: "admin"}); err == nil {
		t.Errorf("a lock with an unknown reason was accepted")
	}
	received := env.now.Add(-10 * time.Minute)
	res, err = env.eng.Submit(ctx, OperatorAction{Type: Restore, UID: a.UID, Request: "REQ-7", Received: received, By: "admin"})
	if err != nil || res.Status != Done || res.Letter == "" || !res.Due.Equal(env.r.RestoreDue(received)) {
		t.Fatalf("restore: %+v %v", res, err)
	}
	if a := env.person("NV1"); a.Locked || !a.MustChange {
		t.Fatalf("after restore: %s must change %v", status(a), a.MustChange)
	}
	// The same request again is done once.
	pw := env.dir.passwords[a.DN]
	if res, err := env.eng.Submit(ctx, OperatorAction{Type: Restore, UID: a.UID, Request: "REQ-7", By: "admin"}); err != nil || res.Status != Done {
		t.Fatalf("repeat: %+v %v", res, err)
	}
	if env.dir.passwords[a.DN] != pw {
		t.Errorf("a repeated restore issued another password")
	}
	// A restore of an account that is not locked is refused.
	if res, _ := env.eng.Submit(ctx, OperatorAction{Type: Restore, UID: a.UID, Request: "REQ-8", By: "admin"}); res.Status != Failed {
		t.Errorf("restore of an unlocked account: %+v", res)
	}
	data, _ := os.ReadFile(AuditPath(env.cfg))
	if !strings.Contains(string(data), `"requested_by":"admin"`) || !strings.Contains(string(data), `"article":"NT 6.3"`) {
		t.Errorf("the audit does not name the operator and NT 6.3")
	}
	if strings.Contains(string(data), pw) {
		t.Errorf("the password is in the audit log")
	}
}

// A sweep that would lock more accounts than the guard allows (the first
// on a directory, say) locks none: they are held until an operator
// approves (they run) or rejects (they never run, and are not proposed
// again).
func TestEngine_GuardHoldsMassLocks(t *testing.T) {
	for _, decision := range []string{HoldApproved, HoldRejected} {
		t.Run(decision, func(t *testing.T) {
			env := newLifeEnv(t)
			env.eng.cfg.Guard = GuardConfig{MaxCount: 2, MaxPercent: 100, MinCount: 1}
			for i := range 4 {
				env.hire(fmt.Sprintf("NV%d", i), "Lê Văn "+[]string{"Tuấn", "Nam", "Hùng", "Bình"}[i], "sotttt", "Chuyên viên")
			}
			lockAt, _ := env.r.InactivityLockAt(env.person("NV0"))
			env.now = lockAt
			res := env.sweep()
			if res.Report.Guarded != 4 || res.Report.Applied != 0 || len(res.Report.Holds) != 1 {
				t.Fatalf("sweep: %+v", res.Report)
			}
			holds := env.eng.Holds(HoldPending)
			if len(holds) != 1 || holds[0].Counts["lock"] != 4 || len(holds[0].Sample) != 4 {
				t.Fatalf("holds %+v", holds)
			}
			id := holds[0].ID
			// A second sweep proposes nothing new.
			if res := env.sweep(); res.Report.Applied != 0 || len(env.eng.Holds(HoldPending)) != 1 {
				t.Fatalf("second sweep: %+v, holds %+v", res.Report, env.eng.Holds(""))
			}
			if _, err := env.eng.Approve(context.Background(), id, ""); err == nil {
				t.Errorf("a decision without a name was taken")
			}
			decide := env.eng.Approve
			if decision == HoldRejected {
				decide = env.eng.Reject
			}
			if _, err := decide(context.Background(), id, "Trần Thị Mai"); err != nil {
				t.Fatal(err)
			}
			if _, err := decide(context.Background(), id, "Trần Thị Mai"); err == nil {
				t.Errorf("a hold was decided twice")
			}
			env.sweep()
			for i := range 4 {
				a := env.person(fmt.Sprintf("NV%d", i))
				if a.Locked != (decision == HoldApproved) {
					t.Errorf("NV%d after %s: %s", i, decision, status(a))
				}
			}
			if len(env.eng.Holds(HoldPending)) != 0 {
				t.Errorf("holds left pending: %+v", env.eng.Holds(HoldPending))
			}
			data, _ := os.ReadFile(AuditPath(env.cfg))
			if !strings.Contains(string(data), `"action":"hold_`+decision+`"`) || !strings.Contains(string(data), `"requested_by":"Trần Thị Mai"`) {
				t.Errorf("the audit does not record the decision and who made it")
			}
		})
	}
}

// Open requests carry their deadline: 3 working days for an account (or
// its effective date, if later), 30 working minutes for a restore.
func TestEngine_Requests(t *testing.T) {
	env := newLifeEnv(t)
	n, _ := rules.ParseFullName("Lê Văn Tuấn")
	day := rules.DateOf(env.now.In(env.r.Location))
	old := env.now.AddDate(0, 0, -10)
	events := []Event{
		{Source: SourceInbox, ID: "H1", Type: Hire, EmployeeID: "NV1", Name: n, Unit: "sotttt", Effective: rules.DateOf(old.In(env.r.Location)), Received: old},
		{Source: SourceInbox, ID: "H2", Type: Hire, EmployeeID: "NV2", Name: n, Unit: "sotttt", Effective: day.AddDays(40), Received: env.now},
		{Source: SourceOperator, ID: "restore:x", Type: Restore, UID: "tuanlv", Request: "R9", Effective: day, RequestReceived: env.now.Add(-time.Hour), Received: env.now},
	}
	if _, err := env.eng.journal.Add(events, env.now); err != nil {
		t.Fatal(err)
	}
	got := map[string]Request{}
	for _, q := range env.eng.Requests() {
		got[q.EventID] = q
	}
	if q := got["H1"]; !q.Due.Equal(env.r.IssueDue(old)) || !q.Overdue || q.Article != "NT 5.2.a; BTC 4" {
		t.Errorf("old hire: %+v", q)
	}
	if q := got["H2"]; !q.Due.Equal(day.AddDays(40).In(env.r.Location)) || q.Overdue {
		t.Errorf("hire for a later date: %+v", q)
	}
	if q := got["restore:x"]; !q.Due.Equal(env.r.RestoreDue(env.now.Add(-time.Hour))) || q.Article != "NT 6.3" {
		t.Errorf("restore: %+v", q)
	}
}

// The API's reads of the audit and of the plan: the records of a period
// as the log holds them, and what would run now, changing nothing.
func TestEngine_AuditRecordsAndPlanPending(t *testing.T) {
	env := newLifeEnv(t)
	env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
	day := rules.DateOf(env.now.In(env.r.Location))
	sel, err := env.eng.AuditRecords(day, day, "")
	if err != nil || len(sel.Records) == 0 || sel.Total == 0 {
		t.Fatalf("audit of today: %+v %v", sel, err)
	}
	if sel, _ := env.eng.AuditRecords(day.AddDays(1), day.AddDays(2), ""); len(sel.Records) != 0 {
		t.Errorf("records after today: %d", len(sel.Records))
	}
	if _, err := env.eng.journal.Add([]Event{{Source: SourceInbox, ID: "R9", Type: Retire, EmployeeID: "NV1", Effective: day.AddDays(3), Received: env.now}}, env.now); err != nil {
		t.Fatal(err)
	}
	p, err := env.eng.PlanPending(context.Background())
	if err != nil || len(p.Held) != 1 || len(p.Ops) != 0 {
		t.Fatalf("plan: %+v %v", p, err)
	}
	if a := env.person("NV1"); a.Locked {
		t.Errorf("planning changed the account")
	}
}

// cutDir completes an AddPerson at the directory, then stops the run, as a
// SIGTERM that ends the context while the answer is on its way does.
type cutDir struct {
	*fakeDir
	cancel context.CancelFunc
}

func (d cutDir) AddPerson(ctx context.Context, p rules.Account) error {
	if err := d.fakeDir.AddPerson(ctx, p); err != nil {
		return err
	}
	d.cancel()
	return context.Canceled
}

// An operation cut off by a stop may have happened at the directory: its
// intent stays open (never "not_done"), and the next run records it as
// found done, so the change has its record.
func TestEngine_StopCutsAnOperationOff(t *testing.T) {
	f := newFakeDir()
	ctx, cancel := context.WithCancel(context.Background())
	e, cfg := newEngine(t, cutDir{fakeDir: f, cancel: cancel}, t0)
	n, _ := rules.ParseFullName("Lê Văn Tuấn")
	if _, err := e.journal.Add([]Event{{Source: SourceInbox, ID: "H1", Type: Hire, EmployeeID: "NV1", Name: n, Unit: "sotttt", Effective: effective, Received: t0}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Process(ctx); err == nil {
		t.Fatalf("a stopped run reported no error")
	}
	data, _ := os.ReadFile(AuditPath(cfg))
	for _, line := range strings.Split(string(data), "\n") {
		// (The first password's operation, sealed with the batch and never
		// sent, is closed as not done, its letter voided.)
		if strings.Contains(line, `"not_done"`) && strings.Contains(line, `"op":"create"`) {
			t.Fatalf("the cut-off create was recorded as not done:\n%s", data)
		}
	}
	// The next run (a restart) finds the account and records its creation.
	e2 := e
	e2.dir = f
	e2.applier.Dir = f
	if _, _, err := e2.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(AuditPath(cfg))
	if strings.Count(string(data), `"action":"create"`) != 1 || !strings.Contains(string(data), "found done") {
		t.Errorf("the creation is not recorded once as found done:\n%s", data)
	}
}
