package directory_test

import (
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

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
		policy,
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
	p := get(t, root, policy, "pwdLockout", "pwdMustChange", "pwdAllowUserChange", "pwdMinLength", "pwdCheckQuality", "pwdInHistory", "pwdMaxAge", "pwdAttribute")
	for attr, v := range map[string]string{
		"pwdLockout": "TRUE", "pwdMustChange": "TRUE", "pwdAllowUserChange": "TRUE", "pwdMinLength": "8",
		"pwdCheckQuality": "2", "pwdInHistory": "1", "pwdMaxAge": "0", "pwdAttribute": "userPassword",
	} {
		if g := p.GetAttributeValue(attr); g != v {
			t.Errorf("policy %s = %q, want %q", attr, g, v)
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
	r.Password = rules.DefaultPasswordConfig().Profiles["btc5"]
	fixed, err := e.c.EnsureTree(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	wantFixed := []directory.Created{
		{DN: "ou=sonv,ou=units," + base, What: "corrected mail"},
		{DN: cfg.GroupDN("mail"), What: "corrected description, member"},
		{DN: policy, What: "corrected pwdMinLength, pwdMaxAge"},
	}
	if !slices.Equal(fixed, wantFixed) {
		t.Errorf("after drift: %v, want %v", fixed, wantFixed)
	}
	if v := get(t, root, policy, "pwdMaxAge").GetAttributeValue("pwdMaxAge"); v != "7776000" {
		t.Errorf("pwdMaxAge = %q, want 7776000 (90 days)", v)
	}
}
