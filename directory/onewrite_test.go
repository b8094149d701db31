package directory_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
)

// One write per new account, only where slapd is proven to hash a
// password added in clear: the harness's slapd (ppolicy_hash_cleartext)
// passes the proof; the add stores an {ARGON2} hash, must-change, pending;
// a replay is success, another issue a conflict. With the option turned
// off in cn=config the proof fails and the add is refused.
func TestClient_AddPersonWithPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true) // EnsureTree runs the proof
	if !e.c.HashesCleartext() {
		t.Fatal("the harness slapd hashes cleartext, but the proof failed")
	}
	p := person("onew", "NV-6000")
	p.Status = ""
	pw := e.pw("One-write#2026x")
	var writes int
	e.c.SetRecorder(func(any) { writes++ })
	if err := e.c.AddPersonWithPassword(ctx(t), p, pw, "inbox/H1"); err != nil {
		t.Fatal(err)
	}
	e.c.SetRecorder(nil)
	if writes != 1 {
		t.Errorf("%d requests for a new account with its password, want 1", writes)
	}
	dn := e.cfg.PersonDN(p.UID)
	if stored := get(t, e.root(t), dn, "userPassword").GetAttributeValue("userPassword"); !strings.HasPrefix(stored, "{ARGON2}") {
		t.Errorf("stored userPassword %.12q…, want an {ARGON2} hash", stored)
	}
	res, err := e.c.Bind(ctx(t), dn, pw)
	if err != nil || !res.MustChange {
		t.Errorf("bind with the first password: %+v %v; want must change", res, err)
	}
	got := e.snapshotPerson(t, p.UID)
	if got.Status != rules.StatusPending || got.Active || !got.MustChange || got.Issued != "inbox/H1" {
		t.Errorf("after the add: %+v", got)
	}
	if err := e.c.AddPersonWithPassword(ctx(t), p, pw, "inbox/H1"); err != nil {
		t.Errorf("replay: %v", err)
	}
	if err := e.c.AddPersonWithPassword(ctx(t), p, pw, "inbox/OTHER"); !errors.Is(err, directory.ErrConflict) {
		t.Errorf("another issue on the same entry: %v, want ErrConflict", err)
	}

	// Without ppolicy_hash_cleartext the proof fails, and so does the add.
	dnOf, err := exec.Command("ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", e.srv.LDAPI, "-b", "cn=config", "(objectClass=olcPPolicyConfig)", "1.1").CombinedOutput()
	overlay := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(dnOf)), "dn: "))
	if err != nil || !strings.Contains(overlay, "ppolicy") {
		t.Fatalf("the ppolicy overlay's entry: %v\n%s", err, dnOf)
	}
	mod := exec.Command("ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", e.srv.LDAPI)
	mod.Stdin = strings.NewReader("dn: " + overlay + "\nchangetype: modify\nreplace: olcPPolicyHashCleartext\nolcPPolicyHashCleartext: FALSE\n")
	if out, err := mod.CombinedOutput(); err != nil {
		t.Fatalf("turn ppolicy_hash_cleartext off: %v\n%s", err, out)
	}
	if ok, err := e.c.ProbeHashing(ctx(t)); err != nil || ok || e.c.HashesCleartext() {
		t.Fatalf("proof without hashing: %v %v", ok, err)
	}
	q := person("onew2", "NV-6001")
	if err := e.c.AddPersonWithPassword(ctx(t), q, pw, "inbox/H2"); err == nil {
		t.Fatal("a cleartext add to a server that stores it as sent was not refused")
	}
	if get(t, e.root(t), e.cfg.PersonDN(q.UID), "1.1") != nil {
		t.Error("the refused add made an entry")
	}
	if get(t, e.root(t), e.cfg.PolicyDN("cleartext-hashing-probe"), "1.1") != nil {
		t.Error("the probe entry is left behind")
	}
}
