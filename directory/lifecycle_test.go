package directory_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// withApps returns p in the groups of apps.
func withApps(p rules.Account, apps ...string) rules.Account {
	p.Groups = apps
	return p
}

// revokedAt is when the tests say they revoke: the caller's clock, which
// may be a rehearsal's (--now), not the wall clock.
var revokedAt = time.Date(2027, 3, 14, 9, 26, 53, 0, time.UTC)

func TestClient_Lock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("khoa", "NV-0300"), "eoffice", "mail")
	dn, pw := e.user(t, p, "Kh0a#Passw0rd!x")

	tests := []struct {
		name   string
		reason string
	}{
		{"lock", "NT 6.2.b: leaked password"},
		{"replay", "NT 6.2.b: leaked password"},
		{"replay with another reason", "NT 5.2.c: retired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.Lock(ctx(t), dn, tt.reason); err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.Bind(ctx(t), dn, pw); !errors.Is(err, directory.ErrAccountLocked) {
				t.Errorf("bind after Lock: %v, want ErrAccountLocked", err)
			}
			got := e.snapshotPerson(t, p.UID)
			if !got.Locked || got.Status != rules.StatusLocked || got.LockReason != tt.reason {
				t.Errorf("locked %v, status %q, reason %q; want locked, %q, %q", got.Locked, got.Status, got.LockReason, rules.StatusLocked, tt.reason)
			}
			// NT 6.1: mail and documents still arrive.
			if got.Active || got.Mail != p.Mail || !slices.Equal(got.Groups, []string{"eoffice", "mail"}) || got.Unit != p.Unit {
				t.Errorf("active %v, mail %q, groups %v, unit %q; want inactive with mail %q, groups [eoffice mail], unit %q",
					got.Active, got.Mail, got.Groups, got.Unit, p.Mail, p.Unit)
			}
		})
	}

	// The real OpenLDAP client is told the account is locked.
	out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", pw.Reveal(), "-e", "ppolicy").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Account locked") {
		t.Errorf("ldapwhoami -e ppolicy as a locked user: %v\n%s", err, out)
	}
	// Applications that ignore ppolicy filter on the status or the group.
	res, err := e.service(t).Search(ldap.NewSearchRequest(e.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|(ldapsyncStatus=active)(memberOf="+ldap.EscapeFilter(e.cfg.GroupDN("active"))+"))", []string{"uid"}, nil))
	if err != nil || len(res.Entries) != 0 {
		t.Errorf("active accounts after the lock: %v, %v; want none", res, err)
	}
	// A new password would lift slapd's lock.
	if err := e.c.SetPassword(ctx(t), dn, e.pw("N3w#Passw0rdXyz"), ""); !errors.Is(err, directory.ErrAccountLocked) {
		t.Errorf("SetPassword on a locked account: %v, want ErrAccountLocked", err)
	}
	if _, err := e.c.Bind(ctx(t), dn, pw); !errors.Is(err, directory.ErrAccountLocked) {
		t.Errorf("bind after a refused SetPassword: %v, want ErrAccountLocked", err)
	}

	for _, tt := range []struct {
		name string
		dn   string
		want error
	}{
		{"no such person", e.cfg.PersonDN("nobody"), directory.ErrNotFound},
		{"not a person", e.cfg.GroupDN("mail"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.Lock(ctx(t), tt.dn, "x")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.dn) {
				t.Fatalf("Lock(%s): %v, want an error naming the DN (%v)", tt.dn, err, tt.want)
			}
		})
	}
}

func TestClient_Unlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("lan", "NV-0400"), "mail")
	dn, old := e.user(t, p, "L4n#OldPassw0rd")
	if err := e.c.Lock(ctx(t), dn, "NT 6.2.a: unused for 6 months"); err != nil {
		t.Fatal(err)
	}
	restored := e.pw("R3stored#Passw0rd")
	const event = "helpdesk/2027-0042"
	tests := []struct {
		name      string
		pw        string
		issuedFor string
		want      string // Issued afterwards
	}{
		{"unlock", restored.Reveal(), event, event},
		{"replay with the same password", restored.Reveal(), event, event},
		{"replay without an event leaves it", restored.Reveal(), "", event},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.Unlock(ctx(t), dn, e.pw(tt.pw), tt.issuedFor); err != nil {
				t.Fatal(err)
			}
			res, err := e.c.Bind(ctx(t), dn, restored)
			if err != nil || !res.MustChange {
				t.Errorf("bind with the new password: %+v, %v; want success with MustChange", res, err)
			}
			if _, err := e.c.Bind(ctx(t), dn, old); !errors.Is(err, directory.ErrInvalidCredentials) {
				t.Errorf("bind with the old password: %v, want ErrInvalidCredentials", err)
			}
			got := e.snapshotPerson(t, p.UID)
			// Pending until the user changes the new password (the
			// first-login gate): out of the active group, in its
			// applications' groups.
			if got.Locked || got.Status != rules.StatusPending || got.LockReason != "" || got.Active || !got.MustChange ||
				!slices.Equal(got.Groups, []string{"mail"}) || got.Issued != tt.want {
				t.Errorf("after Unlock: %+v; want unlocked, pending, out of the active group, must change, groups [mail], issued for %q", got, tt.want)
			}
		})
	}
	// The real client sees the must-change state too.
	out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", restored.Reveal(), "-e", "ppolicy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Password must be changed") {
		t.Errorf("ldapwhoami -e ppolicy after Unlock: %v\n%s", err, out)
	}
	if err := e.c.Unlock(ctx(t), e.cfg.PersonDN("nobody"), restored, event); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Unlock of nobody: %v, want ErrNotFound", err)
	}
	// A revoke that stopped before the move is not undone by an unlock.
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("ldapsyncStatus", []string{rules.StatusRevoked})
	if err := e.root(t).Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Unlock(ctx(t), dn, e.pw("An0ther#Passw0rd"), event); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("Unlock of a revoked account: %v, want an error", err)
	}
}

func TestClient_Revoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("hung", "NV-0500"), "eoffice", "mail")
	dn, pw := e.user(t, p, "Hung#Passw0rd!1")
	tomb := "uid=hung,ou=revoked," + e.cfg.BaseDN
	// Not a round hour: the revocation time must be the one the caller gives.

	// A revoke that stopped before the move: credentials and groups gone,
	// the entry still under people.
	half := withApps(person("half", "NV-0501"), "mail")
	halfDN, _ := e.user(t, half, "Half#Passw0rd!1")
	m := ldap.NewModifyRequest(halfDN, nil)
	m.Replace("ldapsyncStatus", []string{rules.StatusRevoked})
	m.Replace("ldapsyncRevokedTime", []string{"20260101000000Z"})
	m.Delete("userPassword", nil)
	if err := e.root(t).Modify(m); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		dn      string
		wantErr error
	}{
		{"revoke", dn, nil},
		{"replay: the tombstone exists", dn, nil},
		{"replay after a stop before the move", halfDN, nil},
		{"never existed", e.cfg.PersonDN("nobody"), directory.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.Revoke(ctx(t), tt.dn, revokedAt)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Revoke: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if get(t, e.root(t), tt.dn, "uid") != nil {
				t.Errorf("%s still exists", tt.dn)
			}
		})
	}

	got := e.snapshotPerson(t, p.UID)
	if !got.Revoked || got.Status != rules.StatusRevoked || !got.RevokedAt.Equal(revokedAt) ||
		got.Active || len(got.Groups) != 0 || !sameDN(t, got.DN, tomb) {
		t.Errorf("tombstone in the snapshot: %+v; want revoked at %s (the caller's clock), in no group, at %s", got, revokedAt, tomb)
	}
	if h := e.snapshotPerson(t, half.UID); !h.Revoked || !h.RevokedAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || h.Active || len(h.Groups) != 0 {
		t.Errorf("the half-revoked account: %+v; want revoked at the first attempt's time, in no group", h)
	}
	if v := get(t, e.root(t), tomb, "userPassword").GetAttributeValues("userPassword"); len(v) != 0 {
		t.Errorf("the tombstone keeps a password")
	}
	if _, err := e.c.Bind(ctx(t), tomb, pw); err == nil {
		t.Error("bind as the tombstone succeeded")
	}
	for _, g := range []string{"active", "mail", "eoffice"} {
		members := get(t, e.root(t), e.cfg.GroupDN(g), "member").GetAttributeValues("member")
		if !slices.Equal(members, []string{directory.EmptyMember}) {
			t.Errorf("%s members after the revokes: %q", g, members)
		}
	}
	// The uid stays taken.
	if err := e.c.CreatePerson(ctx(t), person("hung", "NV-0999")); err != nil {
		t.Fatalf("a new hung under people: %v", err) // the planner's business to avoid; the DN is free
	}
	if err := e.c.Revoke(ctx(t), e.cfg.PersonDN("hung"), revokedAt); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("revoking a second hung over the tombstone: %v, want a clear error", err)
	}
	both, err := e.c.FindPeople(ctx(t), directory.ByUID, "hung")
	if err != nil || len(both) != 2 {
		t.Fatalf("FindPeople hung: %+v, %v; want the tombstone and the new one", both, err)
	}
	slices.SortFunc(both, func(a, b rules.Account) int { return strings.Compare(a.Status, b.Status) })
	if both[0].Status != rules.StatusActive || !both[0].Active || both[0].Revoked || !both[1].Revoked {
		t.Errorf("after a refused revoke: %+v; want the second hung untouched beside the tombstone", both)
	}
}

func TestClient_Revoke_delete(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, true, slapdtest.Options{}, func(c *directory.Config) { c.Revoke = directory.RevokeDelete })
	p := withApps(person("gone", "NV-0600"), "mail")
	dn, _ := e.user(t, p, "G0ne#Passw0rd!1")
	for _, name := range []string{"revoke", "replay", "revoke again"} {
		t.Run(name, func(t *testing.T) {
			if err := e.c.Revoke(ctx(t), dn, revokedAt); err != nil {
				t.Fatal(err)
			}
			snap, err := e.c.Snapshot(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.People) != 0 {
				t.Errorf("people after a delete: %+v", snap.People)
			}
			if m := get(t, e.root(t), e.cfg.GroupDN("mail"), "member").GetAttributeValues("member"); !slices.Equal(m, []string{directory.EmptyMember}) {
				t.Errorf("mail members: %q", m)
			}
		})
	}
}

func TestClient_Move(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("minh", "NV-0700"), "mail")
	dn, _ := e.user(t, p, "M1nh#Passw0rd!1")
	for _, tt := range []struct{ name, unit string }{
		{"move", "sonv_vp"},
		{"replay", "sonv_vp"},
		{"move again", "vhtt_ns"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.Move(ctx(t), dn, tt.unit); err != nil {
				t.Fatal(err)
			}
			got := e.snapshotPerson(t, p.UID)
			if got.Unit != tt.unit || !sameDN(t, got.DN, dn) || got.Mail != p.Mail || !got.Active || !slices.Equal(got.Groups, p.Groups) {
				t.Errorf("after Move: %+v; want unit %s, same DN, mail and groups", got, tt.unit)
			}
		})
	}
	// A transfer that also changes the applications the person uses (the
	// new unit works in eoffice, not mail): Move and ChangeGroups, the DN
	// the same throughout, the active membership untouched.
	if err := e.c.Move(ctx(t), dn, "sonv"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.ChangeGroups(ctx(t), []rules.GroupChange{{Group: "eoffice", Add: []string{dn}}, {Group: "mail", Remove: []string{dn}}}); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, p.UID); got.Unit != "sonv" || !sameDN(t, got.DN, dn) || !got.Active || !slices.Equal(got.Groups, []string{"eoffice"}) {
		t.Errorf("after a transfer with new applications: %+v", got)
	}
	if err := e.c.Move(ctx(t), e.cfg.PersonDN("nobody"), "sonv"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Move of nobody: %v, want ErrNotFound", err)
	}
	if err := e.c.Move(ctx(t), dn, ""); err == nil {
		t.Error("Move to no unit succeeded")
	}
}

func TestClient_UpdatePerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := person("quoctrang", "NV-0800")
	dn, _ := e.user(t, p, "Qu0c#Passw0rd!1")
	tests := []struct {
		name    string
		u       directory.PersonUpdate
		check   func(rules.Account) bool
		wantErr string
	}{
		{"name change", directory.PersonUpdate{CN: new("Trần Quốc Trạng"), SN: new("Trần"), GivenName: new("Trạng"), DisplayName: new("Trần Quốc Trạng")},
			func(g rules.Account) bool {
				return g.CN == "Trần Quốc Trạng" && g.SN == "Trần" && g.DisplayName == "Trần Quốc Trạng" && g.Title == p.Title
			}, ""},
		{"replay", directory.PersonUpdate{CN: new("Trần Quốc Trạng"), SN: new("Trần")},
			func(g rules.Account) bool { return g.CN == "Trần Quốc Trạng" }, ""},
		{"title", directory.PersonUpdate{Title: new("Phó Trưởng phòng")},
			func(g rules.Account) bool {
				return g.Title == "Phó Trưởng phòng" && g.CN == "Trần Quốc Trạng"
			}, ""},
		{"phone removed", directory.PersonUpdate{Phone: new("")},
			func(g rules.Account) bool { return g.Phone == "" && g.Title == "Phó Trưởng phòng" }, ""},
		{"phone removed again", directory.PersonUpdate{Phone: new("")},
			func(g rules.Account) bool { return g.Phone == "" }, ""},
		{"nothing", directory.PersonUpdate{}, func(rules.Account) bool { return true }, ""},
		{"cn removed", directory.PersonUpdate{CN: new("")}, nil, "cn cannot be removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.UpdatePerson(ctx(t), dn, tt.u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := e.snapshotPerson(t, p.UID)
			if !tt.check(got) || got.UID != p.UID || got.Mail != p.Mail || !sameDN(t, got.DN, dn) {
				t.Errorf("after the update: %+v", got)
			}
		})
	}
	if err := e.c.UpdatePerson(ctx(t), e.cfg.PersonDN("nobody"), directory.PersonUpdate{Title: new("x")}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("UpdatePerson of nobody: %v, want ErrNotFound", err)
	}
}

func TestClient_SetGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("thu", "NV-0900"), "mail")
	dn, _ := e.user(t, p, "Thu#Passw0rd!12")
	tests := []struct {
		name    string
		apps    []string
		want    []string
		wantErr string
	}{
		{"add and remove", []string{"eoffice"}, []string{"eoffice"}, ""},
		{"replay", []string{"eoffice"}, []string{"eoffice"}, ""},
		{"both", []string{"mail", "eoffice"}, []string{"eoffice", "mail"}, ""},
		{"none", nil, nil, ""},
		{"unknown application", []string{"mail", "nosuchapp"}, []string{"mail"}, "No Such Object"},
		{"the active group", []string{"active"}, []string{"mail"}, "not an application"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.SetGroups(ctx(t), dn, tt.apps)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			got := e.snapshotPerson(t, p.UID)
			if !slices.Equal(got.Groups, tt.want) || !got.Active {
				t.Errorf("groups %v active %v, want %v and active", got.Groups, got.Active, tt.want)
			}
		})
	}
	if err := e.c.SetGroups(ctx(t), e.cfg.PersonDN("nobody"), []string{"mail"}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetGroups of nobody: %v, want ErrNotFound", err)
	}
	// A locked account's groups change without putting it back in the
	// active group.
	if err := e.c.Lock(ctx(t), dn, "x"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetGroups(ctx(t), dn, []string{"eoffice"}); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, p.UID); got.Active || !slices.Equal(got.Groups, []string{"eoffice"}) {
		t.Errorf("locked: active %v groups %v", got.Active, got.Groups)
	}
}

func TestClient_DeleteTombstone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("cu", "NV-0700"), "mail")
	dn, _ := e.user(t, p, "Cu#Passw0rd!123")
	if err := e.c.Revoke(ctx(t), dn, revokedAt); err != nil {
		t.Fatal(err)
	}
	for _, round := range []string{"delete", "replay"} {
		if err := e.c.DeleteTombstone(ctx(t), "cu"); err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.People) != 0 || slices.Contains(snap.Accounts, "cu") {
		t.Errorf("after DeleteTombstone: people %+v accounts %v", snap.People, snap.Accounts)
	}
	// The name can be given again.
	if err := e.c.CreatePerson(ctx(t), person("cu", "NV-0701")); err != nil {
		t.Fatal(err)
	}
}

// sameLifecycle reports whether a and b hold the same facts, times compared
// as instants.
func sameLifecycle(a, b rules.Lifecycle) bool {
	return a.Departure == b.Departure && a.Leader == b.Leader && a.LeaderSince == b.LeaderSince && a.LeaveUntil == b.LeaveUntil &&
		a.LockAt.Equal(b.LockAt) && a.RevokeAt.Equal(b.RevokeAt) && a.LastActive.Equal(b.LastActive) && a.FirstSeen.Equal(b.FirstSeen)
}

// day returns the rules.Date of y-m-d.
func day(y int, m time.Month, d int) rules.Date { return rules.Date{Year: y, Month: m, Day: d} }

// ict is Vietnam's time zone, in which the caller computes deadlines.
var ict = time.FixedZone("ICT", 7*3600)

// ldapsearch runs OpenLDAP's ldapsearch as the harness's root account, as
// an administrator would, and returns its LDIF.
func ldapsearch(t *testing.T, e *env, base, scope, filter string, attrs ...string) string {
	t.Helper()
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", e.srv.URL, "-D", e.srv.RootDN, "-y", e.srv.RootPasswordFile,
		"-b", base, "-s", scope, filter}, attrs...)
	out, err := exec.Command("ldapsearch", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestClient_SetLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("nam", "NV-1100"), "mail")
	dn, _ := e.user(t, p, "N4m#Passw0rd!12")

	// Values the test writes itself: the caller's clock, in Vietnam's zone.
	departure := rules.Lifecycle{
		Departure:   rules.Departure{Kind: rules.DepartRetire, Effective: day(2027, 3, 31), Event: "hr/2027-0115", Leader: true},
		Leader:      true,
		LeaderSince: day(2019, 7, 1),
		LockAt:      time.Date(2027, 4, 1, 0, 0, 0, 0, ict),
		RevokeAt:    time.Date(2027, 6, 30, 0, 0, 0, 0, ict),
		LeaveUntil:  day(2027, 2, 28),
		LastActive:  time.Date(2027, 1, 12, 8, 15, 42, 0, ict),
		FirstSeen:   time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC),
	}
	withdrawn := departure
	withdrawn.Departure, withdrawn.LockAt, withdrawn.RevokeAt = rules.Departure{}, time.Time{}, time.Time{}
	resign := rules.Lifecycle{Departure: rules.Departure{Kind: rules.DepartResign, Effective: day(2027, 5, 15), Event: "hr/2027-0200"},
		FirstSeen: departure.FirstSeen}

	tests := []struct {
		name string
		l    rules.Lifecycle
		// LDIF lines ldapsearch shows, and attributes it must not show.
		wantLDIF []string
		wantNot  []string
	}{
		{"every field", departure, []string{
			"ldapsyncDepartureKind: retire", "ldapsyncDepartureDate: 2027-03-31", "ldapsyncDepartureEvent: hr/2027-0115",
			"ldapsyncDepartureLeader: TRUE", "ldapsyncLeader: TRUE", "ldapsyncLeaderSince: 2019-07-01",
			"ldapsyncLockAt: 20270331170000Z", "ldapsyncRevokeAt: 20270629170000Z", "ldapsyncLeaveUntil: 2027-02-28",
			"ldapsyncLastActive: 20270112011542Z", "ldapsyncFirstSeen: 20261102030405Z",
		}, nil},
		{"replay", departure, []string{"ldapsyncDepartureKind: retire", "ldapsyncLockAt: 20270331170000Z"}, nil},
		{"departure withdrawn", withdrawn, []string{"ldapsyncLeader: TRUE", "ldapsyncLeaveUntil: 2027-02-28"},
			[]string{"ldapsyncDepartureKind", "ldapsyncDepartureDate", "ldapsyncDepartureEvent", "ldapsyncDepartureLeader", "ldapsyncLockAt", "ldapsyncRevokeAt"}},
		{"another departure, not a leader", resign, []string{"ldapsyncDepartureKind: resign", "ldapsyncDepartureDate: 2027-05-15"},
			[]string{"ldapsyncDepartureLeader", "ldapsyncLeader:", "ldapsyncLeaderSince", "ldapsyncLeaveUntil", "ldapsyncLastActive"}},
		{"cleared", rules.Lifecycle{}, nil, []string{"ldapsync"}},
		{"cleared again", rules.Lifecycle{}, nil, []string{"ldapsync"}},
	}
	lifecycleAttrs := []string{"ldapsyncDepartureKind", "ldapsyncDepartureDate", "ldapsyncDepartureEvent", "ldapsyncDepartureLeader",
		"ldapsyncLeader", "ldapsyncLeaderSince", "ldapsyncLockAt", "ldapsyncRevokeAt", "ldapsyncLeaveUntil", "ldapsyncLastActive", "ldapsyncFirstSeen"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.SetLifecycle(ctx(t), dn, tt.l); err != nil {
				t.Fatal(err)
			}
			got := e.snapshotPerson(t, p.UID)
			if !sameLifecycle(got.Lifecycle, tt.l) {
				t.Errorf("lifecycle in the snapshot:\n%+v\nwant\n%+v", got.Lifecycle, tt.l)
			}
			if got.Status != rules.StatusActive || !got.Active || got.Locked {
				t.Errorf("SetLifecycle changed the account: %+v", got)
			}
			found, err := e.c.FindPeople(ctx(t), directory.ByUID, p.UID)
			if err != nil || len(found) != 1 || !sameLifecycle(found[0].Lifecycle, tt.l) {
				t.Errorf("FindPeople: %+v, %v; want the same lifecycle", found, err)
			}
			out := ldapsearch(t, e, dn, "base", "(objectClass=*)", lifecycleAttrs...)
			for _, w := range tt.wantLDIF {
				if !strings.Contains(out, w+"\n") {
					t.Errorf("ldapsearch lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("ldapsearch shows %q:\n%s", w, out)
				}
			}
		})
	}

	// An administrator's filters on the days and deadlines (the ordering
	// rules of the schema).
	if err := e.c.SetLifecycle(ctx(t), dn, departure); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{"(ldapsyncDepartureDate<=2027-03-31)", true},
		{"(ldapsyncDepartureDate<=2027-03-30)", false},
		{"(ldapsyncDepartureDate>=2027-01-01)", true},
		{"(&(ldapsyncDepartureKind=RETIRE)(ldapsyncDepartureLeader=TRUE))", true},
		{"(ldapsyncRevokeAt<=20270629170000Z)", true},
		{"(ldapsyncRevokeAt<=20270629165959Z)", false},
		{"(ldapsyncLockAt>=20270331170000Z)", true},
	} {
		out := ldapsearch(t, e, e.cfg.BaseDN, "sub", tt.filter, "uid")
		if got := strings.Contains(out, "uid: nam\n"); got != tt.want {
			t.Errorf("ldapsearch %s: found %v, want %v\n%s", tt.filter, got, tt.want, out)
		}
	}

	// A fraction of a second is dropped: GeneralizedTime to the second.
	frac := rules.Lifecycle{LastActive: time.Date(2027, 1, 12, 8, 15, 42, 999_000_000, ict)}
	if err := e.c.SetLifecycle(ctx(t), dn, frac); err != nil {
		t.Fatal(err)
	}
	stored := rules.Lifecycle{LastActive: frac.LastActive.Truncate(time.Second)}
	if got := e.snapshotPerson(t, p.UID).Lifecycle; !sameLifecycle(got, stored) {
		t.Errorf("lifecycle %+v, want %+v", got, stored)
	}

	revoked := withApps(person("cuong", "NV-1101"), "mail")
	revokedDN, _ := e.user(t, revoked, "Cu0ng#Passw0rd!")
	if err := e.c.Revoke(ctx(t), revokedDN, revokedAt); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		dn      string
		l       rules.Lifecycle
		want    error
		wantErr string
	}{
		{"no such person", e.cfg.PersonDN("nobody"), departure, directory.ErrNotFound, "nobody"},
		{"a tombstone", "uid=cuong,ou=revoked," + e.cfg.BaseDN, departure, nil, "not a person"},
		{"unknown departure kind", dn, rules.Lifecycle{Departure: rules.Departure{Kind: "fired"}}, nil, "ldapsyncDepartureKind"},
		{"no such day", dn, rules.Lifecycle{LeaveUntil: day(2027, 2, 29)}, nil, "ldapsyncLeaveUntil"},
		{"both", dn, rules.Lifecycle{Departure: rules.Departure{Kind: "Retire", Effective: day(2027, 13, 1)}}, nil, "ldapsyncDepartureDate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.SetLifecycle(ctx(t), tt.dn, tt.l)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SetLifecycle: %v, want an error containing %q (%v)", err, tt.wantErr, tt.want)
			}
			// Nothing was written.
			if got := e.snapshotPerson(t, p.UID).Lifecycle; !sameLifecycle(got, stored) {
				t.Errorf("lifecycle after a refused SetLifecycle: %+v", got)
			}
		})
	}
}

// TestClient_Snapshot_lifecycleValues checks what Snapshot makes of
// lifecycle values an administrator typed with ldapmodify.
func TestClient_Snapshot_lifecycleValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	a, _ := e.user(t, person("an", "NV-1200"), "An#Passw0rd!123")
	b, _ := e.user(t, person("binh", "NV-1201"), "B1nh#Passw0rd!1")
	write := func(t *testing.T, dn string, values map[string]string) {
		t.Helper()
		m := ldap.NewModifyRequest(dn, nil)
		for attr, v := range values {
			m.Replace(attr, []string{v})
		}
		if err := e.root(t).Modify(m); err != nil {
			t.Fatal(err)
		}
	}
	// Readable: the day-first form of Vietnamese documents, a kind in
	// capitals (slapd matches it without regard to case), FALSE.
	write(t, a, map[string]string{"ldapsyncLeaveUntil": "31/03/2027", "ldapsyncDepartureKind": "Transfer_Out", "ldapsyncLeader": "FALSE"})
	got := e.snapshotPerson(t, "an").Lifecycle
	if got.LeaveUntil != day(2027, 3, 31) || got.Departure.Kind != rules.DepartTransferOut || got.Leader {
		t.Errorf("lifecycle typed by hand: %+v", got)
	}

	// Unreadable: every one is named, with its entry, in one error.
	write(t, a, map[string]string{"ldapsyncLeaveUntil": "31.02.2027", "ldapsyncDepartureKind": "fired"})
	write(t, b, map[string]string{"ldapsyncLeaderSince": "mai"})
	_, err := e.c.Snapshot(ctx(t))
	if err == nil {
		t.Fatal("Snapshot with unreadable values succeeded")
	}
	for _, w := range []string{"3 values", `"` + a + `": ldapsyncLeaveUntil`, `"` + a + `": ldapsyncDepartureKind: "fired"`, `"` + b + `": ldapsyncLeaderSince`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Snapshot error lacks %q:\n%v", w, err)
		}
	}
	if _, err := e.c.FindPeople(ctx(t), directory.ByUID, "binh"); err == nil || !strings.Contains(err.Error(), "ldapsyncLeaderSince") {
		t.Errorf("FindPeople of an unreadable entry: %v, want an error naming the attribute", err)
	}
	// Corrected, the snapshot reads again.
	if err := e.c.SetLifecycle(ctx(t), a, rules.Lifecycle{}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetLifecycle(ctx(t), b, rules.Lifecycle{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Snapshot(ctx(t)); err != nil {
		t.Errorf("Snapshot after the corrections: %v", err)
	}
}

func TestClient_LiftLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("ha", "NV-1300"), "eoffice", "mail")
	dn, pw := e.user(t, p, "Ha#0wnPassw0rd!")
	// The person's own password, chosen at the first login.
	own := e.pw("Ha#Ch0sen-2027!")
	if out, err := exec.Command("ldappasswd", "-x", "-H", e.srv.URL, "-D", dn, "-w", pw.Reveal(), "-s", own.Reveal()).CombinedOutput(); err != nil {
		t.Fatalf("ha changes her first password: %v\n%s", err, out)
	}
	// A retirement entered by mistake locks the account.
	if err := e.c.Lock(ctx(t), dn, "retire: hr/2027-0300"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Bind(ctx(t), dn, own); !errors.Is(err, directory.ErrAccountLocked) {
		t.Fatalf("bind while locked: %v, want ErrAccountLocked", err)
	}
	for _, name := range []string{"lift", "replay", "an unlocked account"} {
		t.Run(name, func(t *testing.T) {
			if err := e.c.LiftLock(ctx(t), dn); err != nil {
				t.Fatal(err)
			}
			res, err := e.c.Bind(ctx(t), dn, own)
			if err != nil || res.MustChange {
				t.Errorf("bind with her own password: %+v, %v; want success, no change asked", res, err)
			}
			got := e.snapshotPerson(t, p.UID)
			if got.Locked || got.Status != rules.StatusActive || got.LockReason != "" || !got.Active || got.MustChange ||
				!slices.Equal(got.Groups, []string{"eoffice", "mail"}) {
				t.Errorf("after LiftLock: %+v; want unlocked, active, in the active group, groups [eoffice mail], no reason", got)
			}
		})
	}
	if out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", own.Reveal(), "-e", "ppolicy").CombinedOutput(); err != nil ||
		strings.Contains(string(out), "must be changed") {
		t.Errorf("ldapwhoami -e ppolicy after LiftLock: %v\n%s", err, out)
	}

	// Revoked accounts stay revoked.
	gone := withApps(person("gia", "NV-1301"), "mail")
	goneDN, gonePW := e.user(t, gone, "Gia#Passw0rd!12")
	if err := e.c.Revoke(ctx(t), goneDN, revokedAt); err != nil {
		t.Fatal(err)
	}
	half := withApps(person("hai", "NV-1302"), "mail")
	halfDN, halfPW := e.user(t, half, "Hai#Passw0rd!12")
	if err := e.c.Lock(ctx(t), halfDN, "resign: hr/2027-0301"); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(halfDN, nil)
	m.Replace("ldapsyncStatus", []string{rules.StatusRevoked}) // a revoke that stopped half way
	if err := e.root(t).Modify(m); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		dn      string
		pw      secret.Secret
		want    error
		wantErr string
	}{
		{"the live DN of a revoked account", goneDN, gonePW, directory.ErrNotFound, "no such person"},
		{"a tombstone", "uid=gia,ou=revoked," + e.cfg.BaseDN, gonePW, nil, "not a person"},
		{"status revoked", halfDN, halfPW, nil, "revoked"},
		{"no such person", e.cfg.PersonDN("nobody"), gonePW, directory.ErrNotFound, "nobody"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.LiftLock(ctx(t), tt.dn)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LiftLock: %v, want an error containing %q (%v)", err, tt.wantErr, tt.want)
			}
			if _, err := e.c.Bind(ctx(t), tt.dn, tt.pw); err == nil {
				t.Error("bind succeeded after a refused LiftLock")
			}
		})
	}
	if got := e.snapshotPerson(t, half.UID); !got.Locked || got.Active {
		t.Errorf("the half-revoked account after a refused LiftLock: %+v; want locked, not active", got)
	}
}

func TestClient_Reinstate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	const event = "hr/2028-0007"
	newPW := e.pw("H0a#Returned-2028")

	// revoked creates uid, gives it a departure, and revokes it; it returns
	// the live DN and the first password.
	revoked := func(t *testing.T, uid, employee string) (string, secret.Secret) {
		t.Helper()
		dn, pw := e.user(t, withApps(person(uid, employee), "eoffice", "mail"), "Old#Passw0rd-"+uid)
		l := rules.Lifecycle{Departure: rules.Departure{Kind: rules.DepartResign, Effective: day(2027, 3, 31), Event: "hr/2027-0500"},
			RevokeAt: revokedAt}
		if err := e.c.SetLifecycle(ctx(t), dn, l); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Revoke(ctx(t), dn, revokedAt); err != nil {
			t.Fatal(err)
		}
		return dn, pw
	}
	tombOf := func(uid string) string { return "uid=" + uid + "," + e.cfg.Revoked + "," + e.cfg.BaseDN }
	// check checks that uid is back, at dn, as the same person, with pw to
	// change at the first login.
	check := func(t *testing.T, uid, employee, dn string, old secret.Secret) {
		t.Helper()
		res, err := e.c.Bind(ctx(t), dn, newPW)
		if err != nil || !res.MustChange {
			t.Errorf("bind with the new password: %+v, %v; want success with MustChange", res, err)
		}
		if _, err := e.c.Bind(ctx(t), dn, old); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("bind with the password before the revocation: %v, want ErrInvalidCredentials", err)
		}
		got := e.snapshotPerson(t, uid)
		if got.Revoked || !got.RevokedAt.IsZero() || got.Status != rules.StatusPending || got.Locked || got.LockReason != "" ||
			got.Active || !got.MustChange || got.Issued != event || got.EmployeeID != employee || !sameDN(t, got.DN, dn) ||
			len(got.Groups) != 0 {
			t.Errorf("after Reinstate: %+v; want %s at %s, pending (in no group until the new password is changed), must change, issued for %s",
				got, uid, dn, event)
		}
		// The lifecycle is the caller's to rewrite.
		if got.Lifecycle.Departure.Kind != rules.DepartResign || !got.Lifecycle.RevokeAt.Equal(revokedAt) {
			t.Errorf("lifecycle after Reinstate: %+v; want it left as it was", got.Lifecycle)
		}
		if get(t, e.root(t), tombOf(uid), "uid") != nil {
			t.Errorf("the tombstone of %s is still there", uid)
		}
	}

	dn, old := revoked(t, "hoa", "NV-1400")
	for _, name := range []string{"reinstate", "replay"} {
		t.Run(name, func(t *testing.T) {
			if err := e.c.Reinstate(ctx(t), dn, newPW, event); err != nil {
				t.Fatal(err)
			}
			check(t, "hoa", "NV-1400", dn, old)
		})
	}
	out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", newPW.Reveal(), "-e", "ppolicy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Password must be changed") {
		t.Errorf("ldapwhoami -e ppolicy after Reinstate: %v\n%s", err, out)
	}

	// Stops half way, finished by a replay.
	for _, tt := range []struct {
		name, uid, employee string
		stop                func(t *testing.T, dn string)
	}{
		{"moved back, no password yet", "lam", "NV-1401", func(t *testing.T, dn string) {
			if err := e.root(t).ModifyDN(ldap.NewModifyDNRequest(tombOf("lam"), "uid=lam", true, e.cfg.People+","+e.cfg.BaseDN)); err != nil {
				t.Fatal(err)
			}
		}},
		{"moved back, password set, still marked revoked", "long", "NV-1402", func(t *testing.T, dn string) {
			if err := e.root(t).ModifyDN(ldap.NewModifyDNRequest(tombOf("long"), "uid=long", true, e.cfg.People+","+e.cfg.BaseDN)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.service(t).PasswordModify(ldap.NewPasswordModifyRequest(dn, "", newPW.Reveal())); err != nil {
				t.Fatal(err)
			}
		}},
		{"a revoke that stopped before its move", "mai", "NV-1403", func(t *testing.T, dn string) {
			if err := e.root(t).ModifyDN(ldap.NewModifyDNRequest(tombOf("mai"), "uid=mai", true, e.cfg.People+","+e.cfg.BaseDN)); err != nil {
				t.Fatal(err)
			}
			m := ldap.NewModifyRequest(dn, nil)
			m.Delete("ldapsyncRevokedTime", nil) // status revoked only
			if err := e.root(t).Modify(m); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dn, old := revoked(t, tt.uid, tt.employee)
			tt.stop(t, dn)
			for range 2 {
				if err := e.c.Reinstate(ctx(t), dn, newPW, event); err != nil {
					t.Fatal(err)
				}
				check(t, tt.uid, tt.employee, dn, old)
			}
		})
	}

	// Refused.
	conflictDN, _ := revoked(t, "nga", "NV-1410")
	if err := e.c.CreatePerson(ctx(t), person("nga", "NV-1411")); err != nil {
		t.Fatal(err)
	}
	twinDN, _ := revoked(t, "oanh", "NV-1420")
	if err := e.c.CreatePerson(ctx(t), person("oanh", "NV-1420")); err != nil {
		t.Fatal(err)
	}
	liveDN, livePW := e.user(t, person("phuc", "NV-1430"), "Phuc#Passw0rd!1")
	for _, tt := range []struct {
		name      string
		dn        string
		issuedFor string
		want      error
		wantErr   []string
	}{
		{"another employee's entry at the DN", conflictDN, event, directory.ErrConflict, []string{"NV-1410", "NV-1411", conflictDN, tombOf("nga")}},
		{"the entry and its tombstone", twinDN, event, nil, []string{"both", tombOf("oanh")}},
		{"an account never revoked", liveDN, event, nil, []string{"not revoked"}},
		{"no event", liveDN, "", nil, []string{"required"}},
		{"no entry, no tombstone", e.cfg.PersonDN("nobody"), event, directory.ErrNotFound, []string{"nobody"}},
		{"a tombstone's DN", tombOf("nga"), event, nil, []string{"not a person"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.Reinstate(ctx(t), tt.dn, newPW, tt.issuedFor)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Reinstate: %v, want an error (%v)", err, tt.want)
			}
			if tt.want == nil && errors.Is(err, directory.ErrConflict) {
				t.Errorf("Reinstate: %v, want no ErrConflict", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Reinstate: %v, want it to name %q", err, w)
				}
			}
		})
	}
	// Nothing was touched.
	for _, uid := range []string{"nga", "oanh"} {
		if get(t, e.root(t), tombOf(uid), "uid") == nil {
			t.Errorf("the tombstone of %s is gone after a refused Reinstate", uid)
		}
	}
	if _, err := e.c.Bind(ctx(t), liveDN, livePW); err != nil {
		t.Errorf("the account never revoked after a refused Reinstate: %v, want its password unchanged", err)
	}
}
