package directory_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
)

func TestClient_EnsureTree(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	r := testRules(t)
	cfg := e.cfg
	base := cfg.BaseDN
	policy := cfg.DefaultPolicyDN()

	first, err := e.c.EnsureTree(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ou=people," + base, "ou=units," + base, "ou=groups," + base, "ou=policies," + base, "ou=revoked," + base,
		"ou=sonv,ou=units," + base,
		"ou=sonv_vp,ou=sonv,ou=units," + base,
		"ou=ubnd_ns,ou=units," + base,
		"ou=vhtt_ns,ou=ubnd_ns,ou=units," + base,
		"ou=ubnd_lamson,ou=ubnd_ns,ou=units," + base,
		cfg.GroupDN("active"), cfg.GroupDN("mail"), cfg.GroupDN("eoffice"),
		policy, cfg.PolicyDN("btc5"), cfg.PolicyDN("nt7"), cfg.ServicePolicyDN(),
	}
	var got []string
	for _, c := range first {
		if c.What != "created" {
			t.Errorf("%s: %q on an empty directory, want created", c.DN, c.What)
		}
		got = append(got, c.DN)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("first run created\n%q\nwant\n%q", got, want)
	}

	root := e.root(t)
	for _, u := range r.Units.All() {
		dn := cfg.UnitDN(u)
		got := get(t, root, dn, "uid", "mail", "ldapsyncUnitKind", "description", "displayName", "objectClass")
		for attr, v := range map[string]string{
			"uid": u.Account(), "mail": u.Account() + "@ninhthuan.gov.vn", "ldapsyncUnitKind": string(u.Kind),
			"description": u.Name, "displayName": u.Name,
		} {
			if g := got.GetAttributeValue(attr); g != v {
				t.Errorf("%s: %s = %q, want %q", dn, attr, g, v)
			}
		}
		if oc := got.GetAttributeValues("objectClass"); !slices.Contains(oc, "ldapsyncUnit") {
			t.Errorf("%s: objectClass %v lacks ldapsyncUnit", dn, oc)
		}
	}
	policies := []struct {
		dn   string
		want map[string]string
	}{
		{policy, map[string]string{
			"pwdLockout": "TRUE", "pwdMustChange": "TRUE", "pwdAllowUserChange": "TRUE", "pwdMinLength": "8",
			"pwdCheckQuality": "2", "pwdInHistory": "1", "pwdMaxAge": "0", "pwdAttribute": "userPassword",
			"description": "Applies to every account: a copy of cn=nt7 (rules.password.profile)",
		}},
		{cfg.PolicyDN("nt7"), map[string]string{"pwdLockout": "TRUE", "pwdMustChange": "TRUE", "pwdMinLength": "8", "pwdInHistory": "1", "pwdMaxAge": "0"}},
		{cfg.PolicyDN("btc5"), map[string]string{"pwdLockout": "TRUE", "pwdMustChange": "TRUE", "pwdMinLength": "8", "pwdInHistory": "1", "pwdMaxAge": "7776000"}},
		{cfg.ServicePolicyDN(), map[string]string{"pwdLockout": "FALSE", "pwdMustChange": "FALSE", "pwdMaxAge": "0", "pwdAttribute": "userPassword"}},
	}
	for _, p := range policies {
		var attrs []string
		for a := range p.want {
			attrs = append(attrs, a)
		}
		e := get(t, root, p.dn, attrs...)
		for attr, v := range p.want {
			if g := e.GetAttributeValue(attr); g != v {
				t.Errorf("%s: %s = %q, want %q", p.dn, attr, g, v)
			}
		}
	}
	g := get(t, root, cfg.GroupDN("mail"), "member", "description")
	if m := g.GetAttributeValues("member"); !slices.Equal(m, []string{directory.EmptyMember}) {
		t.Errorf("new group's members = %q, want only the empty placeholder", m)
	}
	if d := g.GetAttributeValue("description"); d != "Thư điện tử công vụ" {
		t.Errorf("mail group description = %q", d)
	}

	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sonv", "sonv_vp", "ubnd_lamson", "ubnd_ns", "vhtt_ns"}; !slices.Equal(snap.Accounts, want) {
		t.Errorf("snapshot accounts = %v, want the units' %v", snap.Accounts, want)
	}

	again, err := e.c.EnsureTree(ctx(t), r)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run: changed %v, error %v; want nothing", again, err)
	}

	// Drift: an administrator loosens the policy, strips a group's
	// description and placeholder and edits a unit; the profile moves to
	// BTC 5 (90 days).
	for _, m := range []struct {
		dn  string
		mod func(*ldap.ModifyRequest)
	}{
		{policy, func(m *ldap.ModifyRequest) { m.Replace("pwdMinLength", []string{"4"}) }},
		{cfg.GroupDN("mail"), func(m *ldap.ModifyRequest) {
			m.Add("member", []string{"uid=x," + base})
			m.Delete("member", []string{""})
			m.Delete("description", nil)
		}},
		{"ou=sonv,ou=units," + base, func(m *ldap.ModifyRequest) { m.Replace("mail", []string{"old@example.org"}) }},
	} {
		req := ldap.NewModifyRequest(m.dn, nil)
		m.mod(req)
		if err := root.Modify(req); err != nil {
			t.Fatal(err)
		}
	}
	rc := r.Config
	rc.Password.Profile = "btc5"
	r, errs := rules.New(rc, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	fixed, err := e.c.EnsureTree(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	wantFixed := []rules.TreeChange{
		{DN: "ou=sonv,ou=units," + base, What: "corrected mail"},
		{DN: cfg.GroupDN("mail"), What: "corrected description, member"},
		{DN: policy, What: "corrected description, pwdMinLength, pwdMaxAge"},
	}
	if !slices.Equal(fixed, wantFixed) {
		t.Errorf("after drift: %v, want %v", fixed, wantFixed)
	}
	if v := get(t, root, policy, "pwdMaxAge").GetAttributeValue("pwdMaxAge"); v != "7776000" {
		t.Errorf("pwdMaxAge = %q, want 7776000 (90 days)", v)
	}
}

// TestClient_EnsureTree_policies checks that the chosen profile is what
// slapd applies to people, that a change of profile takes effect with the
// next EnsureTree, and that the service account's own policy keeps it out
// of the people's: its password never expires.
func TestClient_EnsureTree_policies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	cfg := rules.DefaultConfig()
	cfg.Units = []*rules.Unit{{Name: "Sở Nội vụ", Kind: rules.KindDepartment, Abbr: "sonv"}}
	cfg.Password.Profiles = map[string]rules.PasswordProfile{
		"long":     {MinLength: 12, MinClasses: 4, History: 1},
		"expiring": {MinLength: 8, MinClasses: 4, History: 1, MaxAge: rules.Duration(time.Second)},
	}
	ensure := func(t *testing.T, profile string) {
		t.Helper()
		cfg.Password.Profile = profile
		r, errs := rules.New(cfg, "rules")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if _, err := e.c.EnsureTree(ctx(t), r); err != nil {
			t.Fatal(err)
		}
	}
	ensure(t, "long")
	dn, _ := e.user(t, person("pol", "NV-1"), "L0ng#Enough!Passw0rd")
	ten := e.pw("Ten#Chars1")
	if err := e.c.SetPassword(ctx(t), dn, ten, ""); !ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) {
		t.Errorf("10 characters under a 12-character profile: %v, want a constraint violation", err)
	}
	ensure(t, "expiring")
	// An administrator sets the service account's password as the root
	// DN, as when rotating it: from now on it has a pwdChangedTime, which
	// expiry counts from, and slapd sets pwdReset where the policy says
	// pwdMustChange.
	if out, err := exec.Command("ldappasswd", "-x", "-H", e.srv.URL, "-D", e.srv.RootDN, "-y", e.srv.RootPasswordFile,
		"-T", e.srv.ServicePasswordFile, e.srv.ServiceDN).CombinedOutput(); err != nil {
		t.Fatalf("ldappasswd for the service account: %v\n%s", err, out)
	}
	if err := e.c.SetPassword(ctx(t), dn, ten, ""); err != nil {
		t.Fatalf("10 characters after the switch to an 8-character profile: %v", err)
	}
	// A password to change (pwdReset) does not expire: slapd lets the
	// bind through for the change. The user's own does.
	own := e.pw("Own#Chosen1")
	if out, err := exec.Command("ldappasswd", "-x", "-H", e.srv.URL, "-D", dn, "-w", ten.Reveal(), "-s", own.Reveal()).CombinedOutput(); err != nil {
		t.Fatalf("ldappasswd by the user: %v\n%s", err, out)
	}
	time.Sleep(2100 * time.Millisecond) // pwdMaxAge is 1s, pwdChangedTime counts seconds
	if _, err := e.c.Bind(ctx(t), dn, own); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("bind with an expired password: %v, want ErrInvalidCredentials", err)
	}
	// The service account's password is older than a second too, but its
	// own policy has no maximum age.
	c, err := directory.Dial(ctx(t), e.cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("the service account under the expiring profile: %v", err)
	}
	defer c.Close()
	if _, err := c.Snapshot(ctx(t)); err != nil {
		t.Errorf("the service account after its password was reset: %v", err)
	}

	cfg.Password.Profiles["service"] = rules.PasswordProfile{MinLength: 8}
	r, errs := rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := e.c.EnsureTree(ctx(t), r); err == nil || !strings.Contains(err.Error(), `"service"`) {
		t.Errorf("a profile called service: %v, want an error", err)
	}
}
