package directory_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
)

// The first-login gate against slapd: a new account is pending, outside
// the active group, until its user changes the password ldapsync issued;
// Activate refuses it before, lets it in after; a reset by hand makes it
// pending again (AwaitChange); a lock lifted without a new password leaves
// it pending while the issued password is unchanged. What an application
// sees is checked with OpenLDAP's own ldapsearch, filtering on memberOf.
func TestClient_FirstLoginGate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := person("gate", "NV-3000")
	p.Status = "" // a new hire
	if err := e.c.CreatePerson(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	dn := e.cfg.PersonDN(p.UID)
	first := e.pw("Gate-first#2026")
	if err := e.c.SetPassword(ctx(t), dn, first, "inbox/HIRE-1"); err != nil {
		t.Fatal(err)
	}
	active := "(memberOf=" + e.cfg.GroupDN(e.cfg.ActiveGroup) + ")"
	inActive := func() bool {
		return strings.Contains(ldapsearch(t, e, dn, "base", active, "1.1"), "dn: ")
	}
	got := e.snapshotPerson(t, p.UID)
	if got.Status != rules.StatusPending || got.Active || !got.MustChange || !slices.Equal(got.Groups, []string{"mail"}) || inActive() {
		t.Fatalf("a new account: %+v; want pending, out of the active group, in mail, must change", got)
	}
	pending, err := e.c.Pending(ctx(t))
	if err != nil || len(pending) != 1 || pending[0].UID != p.UID || pending[0].Issued != "inbox/HIRE-1" {
		t.Fatalf("Pending: %+v, %v", pending, err)
	}
	if err := e.c.Activate(ctx(t), dn); !errors.Is(err, directory.ErrNotPending) {
		t.Fatalf("Activate before the change: %v, want ErrNotPending", err)
	}

	// The user changes the password (ldappasswd -a OLD -s NEW).
	next := e.pw("Gate-next#2026")
	out, err := exec.Command("ldappasswd", "-x", "-H", e.srv.URL, "-D", dn, "-w", first.Reveal(), "-a", first.Reveal(), "-s", next.Reveal()).CombinedOutput()
	if err != nil {
		t.Fatalf("ldappasswd as the user: %v\n%s", err, out)
	}
	for range 2 { // the second is a replay
		if err := e.c.Activate(ctx(t), dn); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.snapshotPerson(t, p.UID); got.Status != rules.StatusActive || !got.Active || got.MustChange || !inActive() {
		t.Fatalf("after the change and Activate: %+v", got)
	}
	if pending, err := e.c.Pending(ctx(t)); err != nil || len(pending) != 0 {
		t.Fatalf("Pending after activation: %+v, %v", pending, err)
	}
	if err := e.c.AwaitChange(ctx(t), dn); !errors.Is(err, directory.ErrNotPending) {
		t.Fatalf("AwaitChange of an account in use: %v, want ErrNotPending", err)
	}

	// An administrator resets the password as root: slapd sets pwdReset.
	if _, err := e.root(t).PasswordModify(ldap.NewPasswordModifyRequest(dn, "", "Reset-by-hand#1")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.c.AwaitChange(ctx(t), dn); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.snapshotPerson(t, p.UID); got.Status != rules.StatusPending || got.Active || !got.MustChange || inActive() {
		t.Fatalf("after a reset and AwaitChange: %+v", got)
	}

	// Locked, then the lock lifted without a new password: still pending.
	if err := e.c.Lock(ctx(t), dn, "compromised"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Activate(ctx(t), dn); !errors.Is(err, directory.ErrNotPending) {
		t.Fatalf("Activate of a locked account: %v, want ErrNotPending", err)
	}
	if err := e.c.LiftLock(ctx(t), dn); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, p.UID); got.Locked || got.Status != rules.StatusPending || got.Active || inActive() {
		t.Fatalf("after LiftLock with the password still to change: %+v", got)
	}
}
