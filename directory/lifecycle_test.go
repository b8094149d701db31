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
	tests := []struct {
		name string
		pw   string
	}{
		{"unlock", restored.Reveal()},
		{"replay with the same password", restored.Reveal()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.Unlock(ctx(t), dn, e.pw(tt.pw)); err != nil {
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
			if got.Locked || got.Status != rules.StatusActive || got.LockReason != "" || !got.Active || !got.MustChange ||
				!slices.Equal(got.Groups, []string{"mail"}) {
				t.Errorf("after Unlock: %+v; want unlocked, active, in the active group, must change, groups [mail]", got)
			}
		})
	}
	// The real client sees the must-change state too.
	out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", restored.Reveal(), "-e", "ppolicy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Password must be changed") {
		t.Errorf("ldapwhoami -e ppolicy after Unlock: %v\n%s", err, out)
	}
	if err := e.c.Unlock(ctx(t), e.cfg.PersonDN("nobody"), restored); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Unlock of nobody: %v, want ErrNotFound", err)
	}
	// A revoke that stopped before the move is not undone by an unlock.
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("ldapsyncStatus", []string{rules.StatusRevoked})
	if err := e.root(t).Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Unlock(ctx(t), dn, e.pw("An0ther#Passw0rd")); err == nil || !strings.Contains(err.Error(), "revoked") {
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
