package sync

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// slapdLife is an engine on a real slapd whose clock the test moves. The
// clock only ever moves forward from the test clock; slapd's own stamps
// (createTimestamp, pwdChangedTime, pwdLastSuccess) are read back and the
// deadlines derived from them, never compared with a literal date.
type slapdLife struct {
	t      *testing.T
	srv    *slapdtest.Server
	client *directory.Client
	dcfg   directory.Config
	eng    *Engine
	cfg    Config
	r      *rules.Rules
	now    time.Time
	n      int
}

func newSlapdLife(t *testing.T) *slapdLife {
	t.Helper()
	srv := slapdtest.New(t, slapdtest.Options{})
	env := &slapdLife{t: t, srv: srv, dcfg: srv.Config(), r: exampleRules(t), now: t0}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	client, err := directory.Dial(context.Background(), env.dcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	env.client = client
	env.cfg = DefaultConfig()
	env.cfg.StateDir = t.TempDir()
	eng, err := Open(Options{Config: env.cfg, Rules: env.r, Directory: client, Layout: layoutOf(env.dcfg), Log: log,
		Now: func() time.Time { return env.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	env.eng = eng
	if err := eng.EnsureTree(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env
}

func (env *slapdLife) submit(ev Event) {
	env.t.Helper()
	env.n++
	ev.Source = SourceInbox
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("S%d", env.n)
	}
	if ev.Effective.IsZero() {
		ev.Effective = rules.DateOf(env.now.In(env.r.Location))
	}
	ev.Received = env.now
	if _, err := env.eng.journal.Add([]Event{ev}, env.now); err != nil {
		env.t.Fatal(err)
	}
	if _, rep, err := env.eng.Process(context.Background()); err != nil || rep.Refused > 0 {
		env.t.Fatalf("process %s: %v (%d refused)", ev.ID, err, rep.Refused)
	}
}

func (env *slapdLife) hire(employee, full, title string) (rules.Account, secret.Secret) {
	env.t.Helper()
	n, err := rules.ParseFullName(full)
	if err != nil {
		env.t.Fatal(err)
	}
	env.submit(Event{ID: "H-" + employee, Type: Hire, EmployeeID: employee, Name: n, Unit: "sotttt", Title: title, Applications: []string{"mail"}})
	a := env.person(employee)
	_, pw, err := ReadLetter(env.letter(a.UID, "H-"+employee))
	if err != nil {
		env.t.Fatal(err)
	}
	return a, pw
}

func (env *slapdLife) letter(uid, eventID string) string {
	env.t.Helper()
	m, _ := filepath.Glob(filepath.Join(env.cfg.Letters(), "*", uid+"_"+eventID+".txt"))
	if len(m) != 1 {
		env.t.Fatalf("letters of %s for %s: %v", uid, eventID, m)
	}
	return m[0]
}

func (env *slapdLife) person(employee string) rules.Account {
	env.t.Helper()
	people, err := env.client.FindPeople(context.Background(), directory.ByEmployeeID, employee)
	if err != nil || len(people) != 1 {
		env.t.Fatalf("find %s: %v %v", employee, people, err)
	}
	return people[0]
}

func (env *slapdLife) sweepAt(at time.Time) {
	env.t.Helper()
	env.now = at
	if res, err := env.eng.Sweep(context.Background(), SweepOptions{}); err != nil || res.Report.Refused > 0 {
		env.t.Fatalf("sweep at %s: %v (%+v)", at, err, res)
	}
}

// changeOwn changes the password at dn as its user does, with the user's
// own Password Modify (ldappasswd -a OLD -s NEW), which clears pwdReset.
func (env *slapdLife) changeOwn(dn string, old, next secret.Secret) {
	env.t.Helper()
	conn, err := ldap.DialURL(env.dcfg.URL)
	if err != nil {
		env.t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(dn, old.Reveal()); err != nil {
		env.t.Fatalf("bind as %s: %v", dn, err)
	}
	if _, err := conn.PasswordModify(ldap.NewPasswordModifyRequest("", old.Reveal(), next.Reveal())); err != nil {
		env.t.Fatalf("%s changes its password: %v", dn, err)
	}
}

// canBind reports whether the person can log in with pw.
func (env *slapdLife) canBind(uid string, pw secret.Secret) bool {
	env.t.Helper()
	_, err := env.client.Bind(context.Background(), env.dcfg.PersonDN(uid), pw)
	switch {
	case err == nil:
		return true
	case errors.Is(err, directory.ErrAccountLocked), errors.Is(err, directory.ErrInvalidCredentials):
		return false
	}
	env.t.Fatalf("bind %s: %v", uid, err)
	return false
}

// NT 5.2.c against slapd: staff locked at once and revoked after 6
// months; a leader can still log in a day before the month is out, is
// locked after it and revoked after 12 months; the staff member returns to
// the same username.
func TestSlapd_DepartureLifecycle(t *testing.T) {
	env := newSlapdLife(t)
	staff, staffPW := env.hire("NV-1", "Lê Văn Tuấn", "Chuyên viên")
	leader, leaderPW := env.hire("NV-2", "Nguyễn Quốc Trạng", "Giám đốc Sở Thông tin và Truyền thông")
	day := rules.DateOf(env.now.In(env.r.Location))
	env.submit(Event{ID: "RET-1", Type: Retire, EmployeeID: "NV-1"})
	env.submit(Event{ID: "RET-2", Type: Retire, EmployeeID: "NV-2"})

	if env.canBind(staff.UID, staffPW) {
		t.Fatalf("staff can log in after retiring")
	}
	s := env.person("NV-1")
	if s.Status != rules.StatusLocked || !strings.HasPrefix(s.LockReason, "retire") || s.Mail == "" || s.Active {
		t.Errorf("staff entry after retiring: %+v", s)
	}
	staffLock, staffRevoke := env.r.DepartureDeadlines(day, false)
	leaderLock, leaderRevoke := env.r.DepartureDeadlines(day, true)
	if !s.Lifecycle.RevokeAt.Equal(staffRevoke) || !staffLock.Equal(day.In(env.r.Location)) {
		t.Errorf("staff revoke_at on the entry %s, want %s", s.Lifecycle.RevokeAt, staffRevoke)
	}
	// A month counted as the Civil Code counts it (31 October + 1 month
	// ends at 24:00 on 30 November), never a day less.
	if min := (rules.Period{Months: 1}).AddTo(day.In(env.r.Location)).AddDate(0, 0, 1); leaderLock.Before(min) {
		t.Fatalf("leader lock %s before a month after %s", leaderLock, day)
	}

	env.sweepAt(leaderLock.Add(-24 * time.Hour))
	if !env.canBind(leader.UID, leaderPW) {
		t.Fatalf("the leader cannot log in a day before the month is out")
	}
	env.sweepAt(leaderLock)
	if env.canBind(leader.UID, leaderPW) {
		t.Fatalf("the leader can log in after the month")
	}

	env.sweepAt(staffRevoke.Add(-time.Second))
	if env.person("NV-1").Revoked {
		t.Fatalf("staff revoked early")
	}
	env.sweepAt(staffRevoke)
	if s := env.person("NV-1"); !s.Revoked || !s.RevokedAt.Equal(staffRevoke) {
		t.Fatalf("staff not revoked at %s: %+v", staffRevoke, s)
	}
	if l := env.person("NV-2"); l.Revoked {
		t.Fatalf("the leader revoked on the staff's deadline")
	}
	env.sweepAt(leaderRevoke)
	if l := env.person("NV-2"); !l.Revoked {
		t.Fatalf("the leader not revoked at %s", leaderRevoke)
	}

	// The staff member comes back: the same username, a new first password.
	env.now = env.now.Add(48 * time.Hour)
	env.submit(Event{ID: "BACK-1", Type: Return, EmployeeID: "NV-1", Applications: []string{"mail", "eoffice"}})
	back := env.person("NV-1")
	if back.UID != staff.UID || back.DN != staff.DN || back.Revoked || back.Locked || back.Active || back.Status != rules.StatusPending || !back.Lifecycle.Departure.IsZero() {
		t.Fatalf("returned: %+v", back)
	}
	_, pw, err := ReadLetter(env.letter(back.UID, "BACK-1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.client.Bind(context.Background(), back.DN, pw)
	if err != nil || !res.MustChange {
		t.Fatalf("bind with the return's letter: %+v %v", res, err)
	}
	if env.canBind(staff.UID, staffPW) {
		t.Errorf("the old password works again")
	}

	// The first-login gate: pending until the user changes the letter's
	// password (BTC 4, NT 6.3.c), then active; once, whatever the checks.
	if n, err := env.eng.Activations(context.Background()); err != nil || n != 0 {
		t.Fatalf("activations before the change: %d %v", n, err)
	}
	next := secret.New("Tuan-2027#moi")
	env.changeOwn(back.DN, pw, next)
	if a := env.person("NV-1"); a.MustChange || a.Active || a.Status != rules.StatusPending {
		t.Fatalf("after the user's change, before a check: %s active %v must change %v", a.Status, a.Active, a.MustChange)
	}
	if n, err := env.eng.Activations(context.Background()); err != nil || n != 1 {
		t.Fatalf("activations after the change: %d %v", n, err)
	}
	if a := env.person("NV-1"); !a.Active || a.Status != rules.StatusActive {
		t.Fatalf("after activation: %s active %v", a.Status, a.Active)
	}
	if n, err := env.eng.Activations(context.Background()); err != nil || n != 0 {
		t.Fatalf("activations once active: %d %v", n, err)
	}
	if !env.canBind(staff.UID, next) {
		t.Errorf("cannot log in with the new password")
	}
	recs, err := ReadAudit(AuditPath(env.cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	var activations int
	for _, r := range recs {
		if r.Action == string(OpActivate) && r.UID == staff.UID {
			activations++
			if r.Article != activationArticle {
				t.Errorf("activation audited under %q", r.Article)
			}
		}
	}
	if activations != 1 {
		t.Errorf("%d audit records of the activation, want 1", activations)
	}
}

// NT 6.2.a against slapd: idle past the period → locked; a leave notice,
// or activity an application reports, holds it off; an account never used
// counts from its creation and first password.
func TestSlapd_InactivitySweep(t *testing.T) {
	env := newSlapdLife(t)
	idle, _ := env.hire("NV-1", "Lê Văn Tuấn", "Chuyên viên")
	onLeave, _ := env.hire("NV-2", "Trần Văn Nam", "Chuyên viên")
	inApps, _ := env.hire("NV-3", "Phạm Thị Hoa", "Chuyên viên")
	used, usedPW := env.hire("NV-4", "Đàng Năng Thọ", "Chuyên viên")
	if !env.canBind(used.UID, usedPW) {
		t.Fatalf("cannot log in as %s", used.UID)
	}
	// Every deadline is derived from what slapd stamped.
	used = env.person("NV-4")
	if used.LastLogin.IsZero() {
		t.Fatalf("slapd recorded no pwdLastSuccess (olcLastBind)")
	}
	idle = env.person("NV-1")
	lockAt, basis := env.r.InactivityLockAt(&idle)
	if created := idle.Created.In(env.r.Location); lockAt.Before((rules.Period{Months: 6}).AddTo(created).AddDate(0, 0, 1)) {
		t.Fatalf("never-used account due at %s, before 6 months from its creation %s (%s)", lockAt, created, basis)
	}
	usedLock, _ := env.r.InactivityLockAt(&used)
	until := rules.DateOf(lockAt.In(env.r.Location)).AddDays(20)
	if env.now.Before(idle.Created) {
		env.now = idle.Created // the test clock may be behind slapd's
	}
	env.submit(Event{ID: "LEAVE-2", Type: LeaveNotice, EmployeeID: "NV-2", Until: until})
	env.now = lockAt.Add(-48 * time.Hour)
	feed := fmt.Sprintf("username;last_active\n%s;%s\n", inApps.UID, env.now.Format("2006-01-02 15:04"))
	if _, err := env.eng.ingest(filepath.Join(env.cfg.InboxDir(), "activity-webmail.csv"), "activity-webmail.csv", []byte(feed)); err != nil {
		t.Fatal(err)
	}

	env.sweepAt(lockAt.Add(-time.Second))
	if a := env.person("NV-1"); a.Locked {
		t.Fatalf("locked a second before %s", lockAt)
	}
	env.sweepAt(lockAt)
	if a := env.person("NV-1"); !a.Locked || rules.LockCode(a.LockReason) != rules.LockInactive || a.Status != rules.StatusLocked {
		t.Errorf("idle account at %s: %+v", lockAt, a)
	}
	if a := env.person("NV-2"); a.Locked {
		t.Errorf("locked during a notified leave: %+v", a)
	}
	if a := env.person("NV-3"); a.Locked || a.Lifecycle.LastActive.IsZero() {
		t.Errorf("locked despite activity in applications: %+v", a)
	}
	if usedLock.After(lockAt) {
		if a := env.person("NV-4"); a.Locked {
			t.Errorf("account used later locked at the other's deadline")
		}
	}
	env.sweepAt(env.r.PeriodEnd(until, env.r.Lifecycle.LeaveGrace))
	if a := env.person("NV-2"); !a.Locked {
		t.Errorf("not locked once the leave and its grace are over: %+v", a)
	}
	_ = onLeave
}
