package directory_test

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

func TestClient_CreatePerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	odd := person("odd", "NV-0009")
	odd.CN = `Trần (Văn) *A\B, C+D "E" <F>; G`

	tests := []struct {
		name    string
		p       rules.Account
		wantErr error  // errors.Is target; nil for success
		errHas  string // text the error must contain
	}{
		{name: "new", p: person("quoctrang", "NV-0001")},
		{name: "replay", p: person("quoctrang", "NV-0001")},
		{name: "uid of another employee", p: person("quoctrang", "NV-0002"), wantErr: directory.ErrConflict, errHas: `"NV-0001", not "NV-0002"`},
		{name: "special characters in cn", p: odd},
		{name: "special characters in uid", p: person(`a,b+c"d\e<f>g;h=i #`, "NV-0010")},
		{name: "no sn", p: rules.Account{UID: "nosn", EmployeeID: "NV-0003", CN: "X"}, errHas: "sn is required"},
		{name: "unknown application", p: func() rules.Account {
			p := person("noapp", "NV-0004")
			p.Groups = []string{"nosuchapp"}
			return p
		}(), errHas: "No Such Object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.CreatePerson(ctx(t), tt.p)
			switch {
			case tt.wantErr == nil && tt.errHas == "":
				if err != nil {
					t.Fatal(err)
				}
			case err == nil:
				t.Fatalf("no error, want %v %q", tt.wantErr, tt.errHas)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			case !strings.Contains(err.Error(), tt.errHas) || !strings.HasPrefix(err.Error(), "directory: "):
				t.Fatalf("error %q, want it to start with directory: and contain %q", err, tt.errHas)
			}
			if err != nil {
				return
			}
			got := e.snapshotPerson(t, tt.p.UID)
			if got.CN != tt.p.CN || got.EmployeeID != tt.p.EmployeeID || !sameDN(t, got.DN, e.cfg.PersonDN(tt.p.UID)) {
				t.Errorf("snapshot has cn %q employee %q dn %q, want %q %q %q", got.CN, got.EmployeeID, got.DN, tt.p.CN, tt.p.EmployeeID, e.cfg.PersonDN(tt.p.UID))
			}
			if !got.Active || !slices.Equal(got.Groups, tt.p.Groups) {
				t.Errorf("snapshot: active %v groups %v, want active and %v", got.Active, got.Groups, tt.p.Groups)
			}
			if got.Created.IsZero() || got.Mail != tt.p.Mail || got.Unit != tt.p.Unit || got.Phone != tt.p.Phone || got.Title != tt.p.Title {
				t.Errorf("snapshot person %+v lacks attributes of %+v", got, tt.p)
			}
		})
	}

	status := get(t, e.root(t), e.cfg.PersonDN("quoctrang"), "ldapsyncStatus", "objectClass")
	if s := status.GetAttributeValue("ldapsyncStatus"); s != rules.StatusActive {
		t.Errorf("ldapsyncStatus = %q, want %q", s, rules.StatusActive)
	}
	memberOf := get(t, e.root(t), e.cfg.PersonDN("quoctrang"), "memberOf").GetAttributeValues("memberOf")
	slices.Sort(memberOf)
	if want := []string{e.cfg.GroupDN("active"), e.cfg.GroupDN("mail")}; !slices.Equal(memberOf, want) {
		t.Errorf("memberOf = %v, want %v", memberOf, want)
	}
}

func TestClient_SetPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	dn, first := e.user(t, person("tuanlv", "NV-0100"), "Xk7#mPq2@vRt9w")

	res, err := e.c.Bind(ctx(t), dn, first)
	if err != nil || !res.MustChange {
		t.Fatalf("bind with the first password: %+v, %v; want success with MustChange", res, err)
	}
	// The real OpenLDAP client sees the same.
	out, err := exec.Command("ldapwhoami", "-x", "-H", e.srv.URL, "-D", dn, "-w", first.Reveal(), "-e", "ppolicy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Password must be changed") {
		t.Errorf("ldapwhoami -e ppolicy: %v\n%s", err, out)
	}

	stored := get(t, e.root(t), dn, "userPassword", "pwdReset").GetAttributeValue("userPassword")
	wantScheme := "{SSHA}"
	if e.srv.Argon2 {
		wantScheme = "{ARGON2}$argon2"
	}
	if !strings.HasPrefix(stored, wantScheme) {
		t.Errorf("stored userPassword starts %.16q, want %s", stored, wantScheme)
	}

	// A replay, as after a crash or a lost answer, sets the same password,
	// and records with the flag the event it was issued for.
	if err := e.c.SetPassword(ctx(t), dn, first, "inbox/HR-1"); err != nil {
		t.Errorf("SetPassword again with the same password: %v", err)
	}
	issued := func() rules.Account {
		t.Helper()
		found, err := e.c.FindPeople(ctx(t), directory.ByUID, "tuanlv")
		if err != nil || len(found) != 1 {
			t.Fatalf("find tuanlv: %v %v", found, err)
		}
		return found[0]
	}
	if a := issued(); a.Issued != "inbox/HR-1" || !a.MustChange {
		t.Errorf("after an issue for inbox/HR-1: Issued %q MustChange %v", a.Issued, a.MustChange)
	}

	short := e.pw("Ab1!")
	if err := e.c.SetPassword(ctx(t), dn, short, ""); !ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) {
		t.Errorf("a 4-character password: %v, want constraint violation from ppolicy", err)
	}

	// The user changes the first password, as at first login, with the
	// real client: the must-change flow does not dead-end.
	chosen := e.pw("Ch0sen!Passw0rd")
	out, err = exec.Command("ldappasswd", "-x", "-H", e.srv.URL, "-D", dn, "-w", first.Reveal(), "-s", chosen.Reveal()).CombinedOutput()
	if err != nil {
		t.Fatalf("ldappasswd by the user after a reset: %v\n%s", err, out)
	}
	if res, err := e.c.Bind(ctx(t), dn, chosen); err != nil || res.MustChange {
		t.Errorf("bind with the chosen password: %+v, %v; want success without MustChange", res, err)
	}
	if _, err := e.c.Bind(ctx(t), dn, first); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("bind with the old password: %v, want ErrInvalidCredentials", err)
	}
	// The user's own change clears pwdReset and keeps the record of the
	// issue: a replayed hire sees a password was issued and changed.
	if a := issued(); a.Issued != "inbox/HR-1" || a.MustChange {
		t.Errorf("after the user's change: Issued %q MustChange %v", a.Issued, a.MustChange)
	}
	if err := e.c.SetPassword(ctx(t), dn, secret.Secret{}, ""); err == nil {
		t.Error("an empty password was accepted")
	}
}

func TestClient_Bind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := person("locked", "NV-0200")
	dn, pw := e.user(t, p, "Lk9#mPq2@vRt9w")
	// Lock as the service account would: the access rules must let it.
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
	if err := e.service(t).Modify(mod); err != nil {
		t.Fatalf("lock as the service account: %v", err)
	}

	tests := []struct {
		name string
		dn   string
		pw   string
		want error
	}{
		{"locked", dn, pw.Reveal(), directory.ErrAccountLocked},
		// slapd checks the lock before the password: with
		// olcPPolicyUseLockout even a wrong password learns of the lock.
		{"locked, wrong password", dn, "Wrong#Passw0rd", directory.ErrAccountLocked},
		{"no such user", e.cfg.PersonDN("nobody"), pw.Reveal(), directory.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.Bind(ctx(t), tt.dn, e.pw(tt.pw))
			if !errors.Is(err, tt.want) {
				t.Fatalf("bind: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.dn) || strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error %q must name the DN and not the password", err)
			}
		})
	}
	if got := e.snapshotPerson(t, p.UID); !got.Locked || got.Mail != p.Mail {
		t.Errorf("snapshot of a locked person: locked %v mail %q, want locked with mail %q", got.Locked, got.Mail, p.Mail)
	}
}

func TestClient_Snapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := person("quoctrang", "NV-0001")
	dn, pw := e.user(t, p, "Sn4p#shotPassw0rd")
	before := e.snapshotPerson(t, p.UID)
	if !before.LastLogin.IsZero() || before.PasswordChanged.IsZero() || !before.MustChange {
		t.Errorf("before any bind: last login %v, password changed %v, must change %v", before.LastLogin, before.PasswordChanged, before.MustChange)
	}
	if _, err := e.c.Bind(ctx(t), dn, pw); err != nil {
		t.Fatal(err)
	}
	after := e.snapshotPerson(t, p.UID)
	if since := time.Since(after.LastLogin); since < 0 || since > time.Minute {
		t.Errorf("LastLogin = %v after a bind just now", after.LastLogin)
	}

	// Uid holders outside the people container, and a revoked tombstone.
	root := e.root(t)
	add := ldap.NewAddRequest("uid=postmaster,ou=services,"+e.cfg.BaseDN, nil)
	add.Attribute("objectClass", []string{"account"})
	add.Attribute("uid", []string{"postmaster"})
	if err := root.Add(add); err != nil {
		t.Fatal(err)
	}
	add = ldap.NewAddRequest("uid=oldhand,ou=revoked,"+e.cfg.BaseDN, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson", "ldapsyncAccount"})
	add.Attribute("uid", []string{"oldhand"})
	add.Attribute("cn", []string{"Old Hand"})
	add.Attribute("sn", []string{"Hand"})
	add.Attribute("ldapsyncRevokedTime", []string{"20240131170000Z"})
	if err := root.Add(add); err != nil {
		t.Fatal(err)
	}
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"postmaster", "sonv", "sonv_vp", "ubnd_lamson", "ubnd_ns", "vhtt_ns"}; !slices.Equal(snap.Accounts, want) {
		t.Errorf("accounts = %v, want %v: the units and postmaster, no person", snap.Accounts, want)
	}
	var uids []string
	for _, q := range snap.People {
		uids = append(uids, q.UID)
	}
	if !slices.Equal(uids, []string{"oldhand", "quoctrang"}) {
		t.Fatalf("people = %v", uids)
	}
	old := snap.People[0]
	if !old.Revoked || !old.RevokedAt.Equal(time.Date(2024, 1, 31, 17, 0, 0, 0, time.UTC)) || old.Active {
		t.Errorf("tombstone: revoked %v at %v, active %v", old.Revoked, old.RevokedAt, old.Active)
	}
}

// TestClient_Snapshot_paged reads more entries than slapd's default size
// limit (500) returns to one search, in each of the searches of people:
// people ldapsync manages and hand-made entries under People, and
// hand-made entries elsewhere.
func TestClient_Snapshot_paged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	const n = 501
	var ldif strings.Builder
	ldif.WriteString("dn: ou=Users," + e.cfg.BaseDN + "\nobjectClass: organizationalUnit\nou: Users\n\n")
	for i := range n {
		for _, kind := range []struct{ prefix, parent, extra string }{
			{"m", e.cfg.People + "," + e.cfg.BaseDN, "objectClass: ldapsyncAccount\nemployeeNumber: NV-%05d\nldapsyncStatus: active\n"},
			{"h", e.cfg.People + "," + e.cfg.BaseDN, ""},
			{"u", "ou=Users," + e.cfg.BaseDN, ""},
		} {
			uid := fmt.Sprintf("%s%05d", kind.prefix, i)
			extra := kind.extra
			if extra != "" {
				extra = fmt.Sprintf(extra, i)
			}
			ldif.WriteString("dn: uid=" + uid + "," + kind.parent + "\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn: " + uid + "\nsn: " + uid + "\n" + extra + "\n")
		}
	}
	cmd := exec.Command("ldapmodify", "-a", "-x", "-H", e.srv.URL, "-D", e.srv.RootDN, "-y", e.srv.RootPasswordFile)
	cmd.Stdin = strings.NewReader(ldif.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.People) != n || len(snap.Unadopted) != 2*n {
		t.Errorf("snapshot has %d people and %d unadopted, want %d and %d", len(snap.People), len(snap.Unadopted), n, 2*n)
	}
}

// TestClient_FindPeople finds people again through every filter that
// carries a value, with the characters RFC 4515 and RFC 4514 escape in the
// values: a value that reached a filter unescaped would match nothing, or
// more than it should.
func TestClient_FindPeople(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	const specials = `( ) * \ , + " < > ;`
	odd := withApps(person(`odd(1)*\,+"<>;`, `NV-(7)*\,+"<>; `+"đ"), "mail")
	odd.CN = "Trần " + specials + " Văn"
	odd.Mail = "odd@ninhthuan.gov.vn"
	dn, _ := e.user(t, odd, "0dd#Passw0rdXy")
	e.user(t, person("plain", "NV-0002"), "Pl4in#Passw0rd")

	tests := []struct {
		name  string
		key   directory.Key
		value string
		want  []string // uids
	}{
		{"cn", directory.ByName, odd.CN, []string{odd.UID}},
		{"cn, another case", directory.ByName, strings.ToUpper(odd.CN), []string{odd.UID}},
		{"employee id", directory.ByEmployeeID, odd.EmployeeID, []string{odd.UID}},
		{"uid", directory.ByUID, odd.UID, []string{odd.UID}},
		{"mail", directory.ByMail, odd.Mail, []string{odd.UID}},
		{"a star is not a wildcard", directory.ByName, "*", nil},
		{"nor inside a value", directory.ByName, "Trần *", nil},
		{"no injection", directory.ByUID, "plain)(uid=*", nil},
		{"plain", directory.ByUID, "plain", []string{"plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.c.FindPeople(ctx(t), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var uids []string
			for _, p := range got {
				uids = append(uids, p.UID)
			}
			if !slices.Equal(uids, tt.want) {
				t.Fatalf("found %q, want %q", uids, tt.want)
			}
		})
	}
	if _, err := e.c.FindPeople(ctx(t), "userPassword", "x"); err == nil {
		t.Error("FindPeople by userPassword was allowed")
	}

	// The member filter: the groups of the person are found to be changed,
	// and the tombstone is found again.
	if err := e.c.SetGroups(ctx(t), dn, []string{"eoffice"}); err != nil {
		t.Fatal(err)
	}
	found, err := e.c.FindPeople(ctx(t), directory.ByEmployeeID, odd.EmployeeID)
	if err != nil || len(found) != 1 || !slices.Equal(found[0].Groups, []string{"eoffice"}) || !found[0].Active {
		t.Fatalf("after SetGroups: %+v, %v; want groups [eoffice], active", found, err)
	}
	if err := e.c.Revoke(ctx(t), dn, revokedAt); err != nil {
		t.Fatal(err)
	}
	found, err = e.c.FindPeople(ctx(t), directory.ByName, odd.CN)
	if err != nil || len(found) != 1 || !found[0].Revoked || found[0].Active || len(found[0].Groups) != 0 {
		t.Fatalf("after Revoke: %+v, %v; want the tombstone, in no group", found, err)
	}
}
