package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/rules"
)

// EmptyMember is the member value every group ldapsync creates carries: the
// empty DN, which names no entry. groupOfNames requires at least one
// member, and a permanent placeholder lets a group lose its last real
// member without a schema violation and without a check-then-write race.
// refint writes the same value when it removes a group's last member.
// Applications filter on memberOf, which the placeholder never produces;
// readers of member should skip it.
const EmptyMember = ""

// activeGroupDescription describes the active group in the directory.
const activeGroupDescription = "Accounts that may log in (ldapsync removes locked and revoked ones)"

// attr is one attribute of an entry EnsureTree maintains. When merge is
// set, the values must be present and others may be too (objectClass, the
// RDN's attribute, member); otherwise the attribute must hold exactly
// values, and no values means absent.
type attr struct {
	name   string
	values []string
	merge  bool
}

// entrySpec is an entry as EnsureTree wants it.
type entrySpec struct {
	dn    string
	attrs []attr
}

// EnsureTree makes the containers, one entry per unit of the tree (nested as
// the tree is), one group per application plus the active group, and the
// password policy entries: cn=default (a copy of the chosen profile, which
// slapd applies to everyone), one per profile, and cn=service for the
// service account. It creates what is missing and corrects what differs in
// the attributes it sets; attributes it does not set (pwdMaxFailure or
// pwdGraceAuthNLimit an administrator adds to a policy) stay. It reports
// what it changed, also when it fails part way.
func (c *Client) EnsureTree(ctx context.Context, r *rules.Rules) ([]rules.TreeChange, error) {
	return c.EnsureTreeAt(ctx, r, time.Now())
}

// EnsureTreeAt is EnsureTree at now, the caller's clock: the unit changes
// in effect then decide which units carry the mail addresses of ceased
// ones (rules.UnitChange.OldAccounts "alias").
func (c *Client) EnsureTreeAt(ctx context.Context, r *rules.Rules, now time.Time) ([]rules.TreeChange, error) {
	for _, reserved := range []string{DefaultPolicyCN, ServicePolicyCN} {
		if _, ok := r.Config.Password.Profiles[reserved]; ok {
			return nil, fmt.Errorf("directory: password profile %q: the name is taken by the policy entry %s", reserved, c.cfg.PolicyDN(reserved))
		}
	}
	var changed []rules.TreeChange
	for _, spec := range c.treeSpecs(r, now) {
		what, err := c.ensure(ctx, spec)
		if err != nil {
			return changed, err
		}
		if what != "" {
			c.log.Debug().Str("dn", spec.dn).Str("what", what).Msg("tree entry")
			changed = append(changed, rules.TreeChange{DN: spec.dn, What: what})
		}
	}
	// The policies exist now: prove that a first password can go in the
	// add itself (see ProbeHashing).
	if ok, err := c.ProbeHashing(ctx); err != nil {
		c.log.Warn().Err(err).Msg("cannot prove that slapd hashes a password added in clear; first passwords are set with Password Modify")
	} else if !ok {
		c.log.Warn().Msg("slapd stores a password added in clear as sent (no ppolicy_hash_cleartext, setup part 40): first passwords are set with Password Modify, three writes instead of one")
	}
	return changed, nil
}

// treeSpecs lists the entries of the tree, every parent before its
// children.
func (c *Client) treeSpecs(r *rules.Rules, now time.Time) []entrySpec {
	var specs []entrySpec
	for _, ct := range c.cfg.containers() {
		specs = append(specs, entrySpec{dn: c.cfg.under(ct.rdn), attrs: []attr{
			{name: "objectClass", values: []string{"organizationalUnit"}, merge: true},
			{name: "ou", values: []string{ouValue(ct.rdn)}, merge: true},
		}})
	}
	var units []*rules.Unit
	if r.Units != nil {
		units = r.Units.All()
	}
	aliases, moved := r.MailAliases(now)
	for _, u := range units {
		acct := u.Account()
		mail := append([]string{r.Mail(acct)}, aliases[acct]...)
		if moved[acct] {
			mail = nil // the address is the new unit's now
		}
		specs = append(specs, entrySpec{dn: c.cfg.UnitDN(u), attrs: []attr{
			{name: "objectClass", values: []string{"organizationalUnit", "ldapsyncUnit"}, merge: true},
			{name: "ou", values: []string{acct}, merge: true},
			{name: "uid", values: []string{acct}},
			{name: "mail", values: mail},
			{name: "ldapsyncUnitKind", values: nonEmpty(string(u.Kind))},
			{name: "description", values: nonEmpty(u.Name)},
			{name: "displayName", values: nonEmpty(u.Name)},
		}})
	}
	group := func(cn, description string) entrySpec {
		return entrySpec{dn: c.cfg.GroupDN(cn), attrs: []attr{
			{name: "objectClass", values: []string{"groupOfNames"}, merge: true},
			{name: "cn", values: []string{cn}, merge: true},
			{name: "description", values: nonEmpty(description)},
			{name: "member", values: []string{EmptyMember}, merge: true},
		}}
	}
	specs = append(specs, group(c.cfg.ActiveGroup, activeGroupDescription))
	for _, app := range r.Applications {
		specs = append(specs, group(app.Name, app.Description))
	}
	// The default policy is a copy of the chosen profile's rather than
	// olcPPolicyDefault pointing at the profile's entry: the service
	// account cannot write cn=config, and a change of profile in the
	// config then takes effect at the next EnsureTree, for every account,
	// without touching one of them.
	chosen := r.Config.Password.Profile
	specs = append(specs, c.policySpec(DefaultPolicyCN, fmt.Sprintf("Applies to every account: a copy of cn=%s (rules.password.profile)", chosen), r.Password))
	for _, name := range slices.Sorted(maps.Keys(r.Config.Password.Profiles)) {
		specs = append(specs, c.policySpec(name, "Password profile "+name+" (rules.password.profiles)", r.Config.Password.Profiles[name]))
	}
	specs = append(specs, entrySpec{dn: c.cfg.ServicePolicyDN(), attrs: []attr{
		{name: "objectClass", values: []string{"device", "pwdPolicy"}, merge: true},
		{name: "cn", values: []string{ServicePolicyCN}, merge: true},
		{name: "description", values: []string{"The ldapsync service account (its pwdPolicySubentry): no expiry, no lockout"}},
		{name: "pwdAttribute", values: []string{"userPassword"}},
		{name: "pwdMaxAge", values: []string{"0"}},
		{name: "pwdLockout", values: []string{"FALSE"}},
		{name: "pwdMustChange", values: []string{"FALSE"}},
		{name: "pwdAllowUserChange", values: []string{"FALSE"}},
		{name: "pwdCheckQuality", values: []string{"0"}},
		{name: "pwdInHistory", values: []string{"0"}},
	}})
	return specs
}

// policySpec returns the password policy entry cn=<cn> under Policies for
// profile p. slapd checks length and history; it cannot check character
// classes or parts of the account name, which only the passwords ldapsync
// generates are held to (rules.PasswordProfile.Check).
func (c *Client) policySpec(cn, description string, p rules.PasswordProfile) entrySpec {
	return entrySpec{dn: c.cfg.PolicyDN(cn), attrs: []attr{
		{name: "objectClass", values: []string{"device", "pwdPolicy"}, merge: true},
		{name: "cn", values: []string{cn}, merge: true},
		{name: "description", values: []string{description}},
		{name: "pwdAttribute", values: []string{"userPassword"}},
		// pwdLockout is what makes slapd honour pwdAccountLockedTime.
		{name: "pwdLockout", values: []string{"TRUE"}},
		{name: "pwdMustChange", values: []string{"TRUE"}},
		{name: "pwdAllowUserChange", values: []string{"TRUE"}},
		// 2: slapd checks the length of every password it is given in
		// clear and refuses one it cannot check (a pre-hashed value).
		{name: "pwdCheckQuality", values: []string{"2"}},
		{name: "pwdMinLength", values: []string{strconv.Itoa(p.MinLength)}},
		{name: "pwdInHistory", values: []string{strconv.Itoa(p.History)}},
		{name: "pwdMaxAge", values: []string{strconv.FormatInt(int64(p.MaxAge.Std().Seconds()), 10)}},
	}}
}

// ouValue returns the value of a container's RDN, ou=VALUE, which
// Config.Validate checked.
func ouValue(rdn string) string {
	d, err := ldap.ParseDN(rdn)
	if err != nil || len(d.RDNs) != 1 || len(d.RDNs[0].Attributes) != 1 {
		return rdn
	}
	return d.RDNs[0].Attributes[0].Value
}

func nonEmpty(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// ensure creates spec's entry or corrects its attributes, and says what it
// did ("" for nothing).
func (c *Client) ensure(ctx context.Context, spec entrySpec) (string, error) {
	names := make([]string, len(spec.attrs))
	for i, a := range spec.attrs {
		names[i] = a.name
	}
	e, err := c.read(ctx, spec.dn, names)
	if err != nil {
		return "", err
	}
	if e == nil {
		req := ldap.NewAddRequest(spec.dn, nil)
		for _, a := range spec.attrs {
			if len(a.values) > 0 {
				req.Attribute(a.name, a.values)
			}
		}
		err := c.do(ctx, "add", spec.dn, func(conn ldap.Client) error { return conn.Add(req) })
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			// Added by a retried attempt whose answer was lost, or by
			// another ldapsync: check it again, if it can be read.
			if e, rerr := c.read(ctx, spec.dn, names); rerr != nil || e == nil {
				return "", errors.Join(err, rerr)
			}
			return c.ensure(ctx, spec)
		}
		if err != nil {
			return "", err
		}
		return "created", nil
	}
	mod := ldap.NewModifyRequest(spec.dn, nil)
	var fixed []string
	for _, a := range spec.attrs {
		have := e.GetEqualFoldAttributeValues(a.name)
		switch {
		case a.merge:
			var missing []string
			for _, v := range a.values {
				if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, v) }) {
					missing = append(missing, v)
				}
			}
			if len(missing) > 0 {
				mod.Add(a.name, missing)
				fixed = append(fixed, a.name)
			}
		case sameSet(have, a.values):
		case len(a.values) == 0:
			mod.Delete(a.name, nil)
			fixed = append(fixed, a.name)
		default:
			mod.Replace(a.name, a.values)
			fixed = append(fixed, a.name)
		}
	}
	if len(fixed) == 0 {
		return "", nil
	}
	if err := c.do(ctx, "modify", spec.dn, func(conn ldap.Client) error { return conn.Modify(mod) }); err != nil {
		return "", err
	}
	return "corrected " + strings.Join(fixed, ", "), nil
}

// read returns the entry at dn with attrs, or nil when there is none.
func (c *Client) read(ctx context.Context, dn string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", attrs, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, "read", dn, func(conn ldap.Client) error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, nil
	case err != nil:
		return nil, err
	case len(res.Entries) == 0:
		return nil, nil
	}
	return res.Entries[0], nil
}

// sameSet reports whether a and b hold the same values, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// Ping reads the base entry: whether the directory answers the service
// account now (for readiness probes). One base-scope search.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.read(ctx, c.cfg.BaseDN, []string{"1.1"})
	return err
}
