package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// CreatePerson adds p (DN from PersonDN(p.UID)), a member of the groups
// of p.Groups, and of the active group when p.Status is active: AddPerson,
// then ChangeGroups. A new account is pending (p.Status ""), outside the
// active group, until its first password is changed (Activate). If the
// entry already exists with the same EmployeeID it only makes sure of the
// memberships; with a different one it is an ErrConflict naming both.
func (c *Client) CreatePerson(ctx context.Context, p rules.Account) error {
	if err := c.AddPerson(ctx, p); err != nil {
		return err
	}
	dn := c.cfg.PersonDN(p.UID)
	var changes []rules.GroupChange
	groups := p.Groups
	if p.Status == rules.StatusActive {
		groups = append([]string{c.cfg.ActiveGroup}, groups...)
	}
	for _, g := range groups {
		changes = append(changes, rules.GroupChange{Group: g, Add: []string{dn}})
	}
	if len(changes) == 0 {
		return nil
	}
	return c.ChangeGroups(ctx, changes)
}

// AddPerson adds the entry of p (DN from PersonDN(p.UID)) with ldapsyncStatus
// p.Status, pending or active; "" is pending, which is what a new account
// is: it joins the active group once its first password is changed
// (Activate). It adds no group memberships: a batch adds those for many people at
// once with ChangeGroups. If the entry already exists with the same
// EmployeeID it is success; with a different one it is an ErrConflict
// naming both.
func (c *Client) AddPerson(ctx context.Context, p rules.Account) error {
	dn := c.cfg.PersonDN(p.UID)
	req, err := c.addRequest(p)
	if err != nil {
		return err
	}
	err = c.do(ctx, "add", dn, func(conn ldap.Client) error { return conn.Add(req) })
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		e, err := c.read(ctx, dn, []string{"employeeNumber"})
		if err != nil {
			return err
		}
		if e == nil {
			return fmt.Errorf("directory: add %q: the entry exists but cannot be read", dn)
		}
		if have := e.GetEqualFoldAttributeValue("employeeNumber"); have != p.EmployeeID {
			return fmt.Errorf("directory: add %q: the entry's employeeNumber is %q, not %q: %w", dn, have, p.EmployeeID, ErrConflict)
		}
		c.log.Debug().Str("dn", dn).Msg("person exists")
	case err != nil:
		return err
	default:
		c.log.Debug().Str("dn", dn).Msg("person created")
	}
	return nil
}

// addRequest is the Add of p's entry, without a password.
func (c *Client) addRequest(p rules.Account) (*ldap.AddRequest, error) {
	dn := c.cfg.PersonDN(p.UID)
	if err := checkNew(p); err != nil {
		return nil, fmt.Errorf("directory: add %q: %w", dn, err)
	}
	status := cmp.Or(p.Status, rules.StatusPending)
	if status != rules.StatusPending && status != rules.StatusActive {
		return nil, fmt.Errorf("directory: add %q: a new account is pending or active, not %q", dn, status)
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson", "ldapsyncAccount"})
	for _, a := range []struct{ name, value string }{
		{"uid", p.UID},
		{"cn", p.CN},
		{"sn", p.SN},
		{"givenName", p.GivenName},
		{"displayName", p.DisplayName},
		{"mail", p.Mail},
		{"employeeNumber", p.EmployeeID},
		{"departmentNumber", p.Unit},
		{"title", p.Title},
		{"telephoneNumber", p.Phone},
		{"ldapsyncStatus", status},
	} {
		if a.value != "" {
			req.Attribute(a.name, []string{a.value})
		}
	}
	return req, nil
}

// Adopt makes the entry at dn, made by hand before ldapsync (an
// inetOrgPerson, see rules.Snapshot.Unadopted), the account of the
// employee employeeID, where it is. In one modify request it adds the
// object class ldapsyncAccount, sets employeeNumber, sets
// departmentNumber to unit unless unit is "", and sets ldapsyncStatus:
// locked when slapd holds a lock on the entry (pwdAccountLockedTime),
// else active. It never moves or renames the entry (applications store
// its DN), and never touches its password or its groups: the caller puts
// an active account in the active group (ChangeGroups). From then on
// Snapshot lists it among People with its DN, and every person operation
// works on it where it is.
//
// An entry with another employeeNumber is an ErrConflict naming both.
// An entry adopted already for employeeID (ldapsyncAccount, that
// employeeNumber and a status) is success and is not written again, so
// that a replay never undoes a later lock, transfer or revocation. An
// entry that is not an inetOrgPerson, or has no uid, is refused; no entry
// is ErrNotFound, and so is one outside ldapsync's containers that is not
// an inetOrgPerson, which the service account may not read (setup 50).
func (c *Client) Adopt(ctx context.Context, dn, employeeID, unit string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: adopt %q: %w", dn, err)
	}
	if employeeID == "" {
		return fmt.Errorf("directory: adopt %q: the employee id is empty", dn)
	}
	e, err := c.readPerson(ctx, "adopt", dn, "objectClass", "uid", "employeeNumber", "ldapsyncStatus", "pwdAccountLockedTime")
	if err != nil {
		return err
	}
	classes := e.GetEqualFoldAttributeValues("objectClass")
	if !hasFold(classes, "inetOrgPerson") {
		return fmt.Errorf("directory: adopt %q: not an inetOrgPerson, so not a person's entry", dn)
	}
	if e.GetEqualFoldAttributeValue("uid") == "" {
		return fmt.Errorf("directory: adopt %q: the entry has no uid, which every account needs", dn)
	}
	// employeeNumber matches without regard to case in slapd.
	have := e.GetEqualFoldAttributeValues("employeeNumber")
	if len(have) > 1 || len(have) == 1 && !strings.EqualFold(have[0], employeeID) {
		quoted := make([]string, len(have))
		for i, v := range have {
			quoted[i] = strconv.Quote(v)
		}
		return fmt.Errorf("directory: adopt %q: the entry's employeeNumber is %s, not %q: %w", dn, strings.Join(quoted, ", "), employeeID, ErrConflict)
	}
	adopted := hasFold(classes, "ldapsyncAccount")
	if adopted && len(have) == 1 && e.GetEqualFoldAttributeValue("ldapsyncStatus") != "" {
		c.log.Debug().Str("dn", dn).Msg("already adopted")
		return nil
	}
	mod := ldap.NewModifyRequest(dn, nil)
	if !adopted {
		mod.Add("objectClass", []string{"ldapsyncAccount"})
	}
	if len(have) == 0 {
		mod.Add("employeeNumber", []string{employeeID})
	}
	if unit != "" {
		mod.Replace("departmentNumber", []string{unit})
	}
	status := rules.StatusActive
	if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != "" {
		status = rules.StatusLocked
	}
	mod.Replace("ldapsyncStatus", []string{status})
	if err := c.modifyPerson(ctx, "adopt", dn, mod); err != nil {
		return err
	}
	c.log.Debug().Str("dn", dn).Str("status", status).Msg("adopted")
	return nil
}

// checkNew reports what an entry for p would lack.
func checkNew(p rules.Account) error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"uid", p.UID}, {"employeeNumber", p.EmployeeID}, {"cn", p.CN}, {"sn", p.SN},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	return errors.Join(errs...)
}

// addMember adds member to the group at group; a member already there is
// success.
func (c *Client) addMember(ctx context.Context, group, member string) error {
	mod := ldap.NewModifyRequest(group, nil)
	mod.Add("member", []string{member})
	err := c.do(ctx, "add member to", group, func(conn ldap.Client) error { return conn.Modify(mod) })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
		return nil
	}
	return err
}

// removeMember removes member from the group at group; a member not there,
// or a group that does not exist, is success.
func (c *Client) removeMember(ctx context.Context, group, member string) error {
	mod := ldap.NewModifyRequest(group, nil)
	mod.Delete("member", []string{member})
	err := c.do(ctx, "remove member from", group, func(conn ldap.Client) error { return conn.Modify(mod) })
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchAttribute, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	return err
}

// groupsOf returns the groups under Groups that list member, with their
// cn.
func (c *Client) groupsOf(ctx context.Context, member string) ([]*ldap.Entry, error) {
	return c.searchAll(ctx, c.cfg.under(c.cfg.Groups), ldap.ScopeSingleLevel,
		and("(objectClass=groupOfNames)", eq("member", member)), []string{"cn"})
}

// SetPassword sets the password with the Password Modify extended operation
// and sets pwdReset: TRUE, so the user must change it at the next bind.
// slapd hashes the password with its own scheme and checks it against the
// password policy; ldapsync never writes userPassword itself. Setting the
// password the entry already has is success (a replay).
//
// A password change lifts slapd's lock, so SetPassword refuses a locked or
// revoked account with ErrAccountLocked: Unlock is the way to give a locked
// account a new password.
//
// issuedFor, when set, is written as ldapsyncIssuedFor in the same request
// as pwdReset: the entry itself says which event its password was issued
// for, so a replay never has to guess whether to issue again.
func (c *Client) SetPassword(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: set password %q: %w", dn, err)
	}
	if pw.IsZero() {
		return fmt.Errorf("directory: set password %q: the password is empty", dn)
	}
	e, err := c.readPerson(ctx, "set password", dn, "pwdAccountLockedTime", "ldapsyncStatus")
	if err != nil {
		return err
	}
	status := e.GetEqualFoldAttributeValue("ldapsyncStatus")
	if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != "" || strings.EqualFold(status, rules.StatusLocked) || strings.EqualFold(status, rules.StatusRevoked) {
		return fmt.Errorf("directory: set password %q: %w (status %q): a new password would lift the lock; use Unlock", dn, ErrAccountLocked, status)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	if issuedFor != "" {
		mod.Replace("ldapsyncIssuedFor", []string{issuedFor})
	}
	return c.setPassword(ctx, dn, pw, mod)
}

// passwordUnchanged is how slapd's ppolicy refuses a password equal to the
// current one (seen with pwdInHistory: 1); for a replayed Password Modify,
// or one retried after its answer was lost, it means the password is set.
const passwordUnchanged = "Password is not being changed from existing value"

// setPassword sets pw with Password Modify, then applies mod with pwdReset:
// TRUE added.
func (c *Client) setPassword(ctx context.Context, dn string, pw secret.Secret, mod *ldap.ModifyRequest) error {
	err := c.do(ctx, "set password", dn, func(conn ldap.Client) error {
		_, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", pw.Reveal()))
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) && strings.Contains(err.Error(), passwordUnchanged):
		c.log.Debug().Str("dn", dn).Msg("password already set")
	case err != nil:
		return notFound(err)
	}
	mod.Replace("pwdReset", []string{"TRUE"})
	return c.modifyPerson(ctx, "modify", dn, mod)
}

// BindResult is what a bind as a user reports.
type BindResult struct {
	// MustChange is the ppolicy response control's changeAfterReset.
	MustChange bool
}

// Bind binds as dn with pw on a fresh connection, asking for the ppolicy
// response control, and closes it. For checks and tests. A refused bind is
// ErrAccountLocked when ppolicy says the account is locked, and
// ErrInvalidCredentials otherwise.
func (c *Client) Bind(ctx context.Context, dn string, pw secret.Secret) (BindResult, error) {
	var res *ldap.SimpleBindResult
	err := c.retry(ctx, "bind", dn, func() error {
		conn, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return runOn(ctx, conn, func() error {
			var err error
			res, err = conn.SimpleBind(&ldap.SimpleBindRequest{
				Username: dn,
				Password: pw.Reveal(), // go-ldap refuses an empty one: no anonymous bind
				Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()},
			})
			return err
		})
	})
	var ppolicy *ldap.ControlBeheraPasswordPolicy
	if res != nil {
		ppolicy, _ = ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	}
	switch {
	case err == nil:
		return BindResult{MustChange: ppolicy != nil && ppolicy.Error == ldap.BeheraChangeAfterReset}, nil
	case !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return BindResult{}, err
	case ppolicy != nil && ppolicy.Error == ldap.BeheraAccountLocked:
		return BindResult{}, fmt.Errorf("directory: bind %q: %w: %w", dn, ErrAccountLocked, errors.Unwrap(err))
	default:
		return BindResult{}, fmt.Errorf("directory: bind %q: %w: %w", dn, ErrInvalidCredentials, errors.Unwrap(err))
	}
}

// PersonUpdate is a change of name, job title or phone (BTC 6); see
// rules.PersonUpdate. Fields map to cn, sn, givenName, displayName, title
// and telephoneNumber.
type PersonUpdate = rules.PersonUpdate

// UpdatePerson applies u to the person at dn. A person without an entry is
// ErrNotFound.
func (c *Client) UpdatePerson(ctx context.Context, dn string, u PersonUpdate) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: update %q: %w", dn, err)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	for _, f := range []struct {
		attr     string
		v        *string
		required bool
	}{
		{"cn", u.CN, true},
		{"sn", u.SN, true},
		{"givenName", u.GivenName, false},
		{"displayName", u.DisplayName, false},
		{"title", u.Title, false},
		{"telephoneNumber", u.Phone, false},
	} {
		switch {
		case f.v == nil:
		case *f.v == "" && f.required:
			return fmt.Errorf("directory: update %q: %s cannot be removed", dn, f.attr)
		default:
			mod.Replace(f.attr, nonEmpty(*f.v))
		}
	}
	if len(mod.Changes) == 0 {
		return nil
	}
	return c.modifyPerson(ctx, "update", dn, mod)
}

// Move transfers the person at dn to unit, a unit's account name (NT
// 5.2.b): departmentNumber changes, the DN, the uid, mail and the groups
// stay (SetGroups changes the groups). Applications that need the unit's
// full name look it up in the unit's entry, whose uid is the account name
// (`(&(objectClass=ldapsyncUnit)(uid=<departmentNumber>))`); copying it
// into every person would go stale when a unit is renamed.
func (c *Client) Move(ctx context.Context, dn, unit string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: move %q: %w", dn, err)
	}
	if unit == "" {
		return fmt.Errorf("directory: move %q: the unit is empty", dn)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("departmentNumber", []string{unit})
	return c.modifyPerson(ctx, "move", dn, mod)
}

// SetGroups makes the application groups of the person at dn exactly apps
// (application names, each a group cn=<app> under Groups): it adds the
// missing memberships and removes the others. The active group is left as
// it is (Lock and Unlock handle it). An application without a group is an
// error, after the other memberships are made.
func (c *Client) SetGroups(ctx context.Context, dn string, apps []string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: set groups %q: %w", dn, err)
	}
	want := map[string]bool{}
	for _, a := range apps {
		if strings.EqualFold(a, c.cfg.ActiveGroup) {
			return fmt.Errorf("directory: set groups %q: %q is the active group, not an application", dn, a)
		}
		want[strings.ToLower(a)] = true
	}
	if _, err := c.readPerson(ctx, "set groups", dn); err != nil {
		return err
	}
	have, err := c.groupsOf(ctx, dn)
	if err != nil {
		return err
	}
	var changes []rules.GroupChange
	member := map[string]bool{}
	for _, g := range have {
		cn := strings.ToLower(groupCN(g))
		member[cn] = true
		if cn == strings.ToLower(c.cfg.ActiveGroup) || want[cn] {
			continue
		}
		changes = append(changes, rules.GroupChange{Group: groupCN(g), Remove: []string{dn}})
	}
	for _, a := range apps {
		if !member[strings.ToLower(a)] {
			changes = append(changes, rules.GroupChange{Group: a, Add: []string{dn}})
		}
	}
	return c.ChangeGroups(ctx, changes)
}

// Key is an attribute FindPeople finds people by.
type Key string

// Keys for FindPeople.
const (
	ByUID        Key = "uid"
	ByEmployeeID Key = "employeeNumber"
	ByName       Key = "cn"
	ByMail       Key = "mail"
)

// FindPeople returns the people, revoked tombstones and adopted entries
// included, whose key equals value as slapd matches it
// (case-insensitively), sorted by UID: the people Snapshot lists, not the
// hand-made entries. Their groups come from memberOf.
func (c *Client) FindPeople(ctx context.Context, key Key, value string) ([]rules.Account, error) {
	switch key {
	case ByUID, ByEmployeeID, ByName, ByMail:
	default:
		return nil, fmt.Errorf("directory: find people: cannot search by %q", key)
	}
	read, err := c.searchPeople(ctx, "find people", eq(string(key), value), append(slices.Clone(personAttrs), "memberOf"))
	if err != nil {
		return nil, err
	}
	people := read.people
	for i, e := range read.entries {
		for _, g := range e.GetEqualFoldAttributeValues("memberOf") {
			if cn, ok := c.groupName(g); ok {
				c.addGroup(&people[i], cn)
			}
		}
		slices.Sort(people[i].Groups)
	}
	slices.SortFunc(people, func(a, b rules.Account) int { return strings.Compare(a.UID, b.UID) })
	return people, nil
}

// groupName returns the cn of the group at dn when it is one of the groups
// under Groups.
func (c *Client) groupName(dn string) (string, bool) {
	a, parent, err := splitDN(dn)
	if err != nil || !strings.EqualFold(a.Type, "cn") || parent != dnKey(c.cfg.under(c.cfg.Groups)) {
		return "", false
	}
	return a.Value, true
}

// checkPersonDN checks that dn may name a person's entry: one attribute in
// its first RDN, under BaseDN, and not in ldapsync's containers of units,
// groups and policies, nor under Revoked (a tombstone is refused), nor the
// service account. Besides the entries PersonDN names, directly under
// People, that is an entry adopted where it was made by hand (ou=Users,
// a unit's own OU, anywhere else under BaseDN): ldapsync manages it there,
// under its DN, which applications store. It says nothing of what the
// entry is; the access rules let the service account write only the
// entries of people (setup 50).
func (c *Client) checkPersonDN(dn string) error {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return fmt.Errorf("not a DN: %w", err)
	}
	if len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) != 1 {
		return errors.New("want a DN whose first RDN has one attribute")
	}
	switch c.where.place(d) {
	case inPeople, elsewhere:
		return nil
	case inRevoked:
		return fmt.Errorf("not a person: a revoked account's tombstone, under %s", c.cfg.under(c.cfg.Revoked))
	}
	return fmt.Errorf("not a person: want an entry under %s, outside %s, %s, %s and %s", c.cfg.BaseDN,
		c.cfg.under(c.cfg.Units), c.cfg.under(c.cfg.Groups), c.cfg.under(c.cfg.Policies), c.cfg.under(c.cfg.Revoked))
}

// readPerson reads attrs of the person at dn; no entry is ErrNotFound.
func (c *Client) readPerson(ctx context.Context, what, dn string, attrs ...string) (*ldap.Entry, error) {
	if len(attrs) == 0 {
		attrs = []string{"1.1"} // no attributes (RFC 4511 4.5.1.8)
	}
	e, err := c.read(ctx, dn, attrs)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("directory: %s %q: %w", what, dn, ErrNotFound)
	}
	return e, nil
}

// modifyPerson applies mod to a person's entry; no entry is ErrNotFound.
func (c *Client) modifyPerson(ctx context.Context, what, dn string, mod *ldap.ModifyRequest) error {
	return notFound(c.do(ctx, what, dn, func(conn ldap.Client) error { return conn.Modify(mod) }))
}

// notFound adds ErrNotFound to err when it is slapd's "no such object" for
// an operation on a person's entry.
func notFound(err error) error {
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("%w (%w)", err, ErrNotFound)
	}
	return err
}
