package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/internal/secret"
)

// Values of ldapsyncStatus.
const (
	StatusActive  = "active"
	StatusLocked  = "locked"
	StatusRevoked = "revoked"
)

// CreatePerson adds p (DN from PersonDN(p.UID)), a member of the active
// group and of the groups of p.Groups. If the entry already exists with the
// same EmployeeID it only makes sure of the memberships; with a different
// one it is an ErrConflict naming both.
func (c *Client) CreatePerson(ctx context.Context, p Person) error {
	dn := c.cfg.PersonDN(p.UID)
	if err := p.checkNew(); err != nil {
		return fmt.Errorf("directory: add %q: %w", dn, err)
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
		{"ldapsyncStatus", StatusActive},
	} {
		if a.value != "" {
			req.Attribute(a.name, []string{a.value})
		}
	}
	err := c.do(ctx, "add", dn, func(conn *ldap.Conn) error { return conn.Add(req) })
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
	for _, g := range append([]string{c.cfg.ActiveGroup}, p.Groups...) {
		if err := c.addMember(ctx, c.cfg.GroupDN(g), dn); err != nil {
			return err
		}
	}
	return nil
}

// checkNew reports what an entry for p would lack.
func (p Person) checkNew() error {
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
	err := c.do(ctx, "add member to", group, func(conn *ldap.Conn) error { return conn.Modify(mod) })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
		return nil
	}
	return err
}

// SetPassword sets the password with the Password Modify extended operation
// and sets pwdReset: TRUE, so the user must change it at the next bind.
// slapd hashes the password with its own scheme and checks it against the
// password policy; ldapsync never writes userPassword itself.
func (c *Client) SetPassword(ctx context.Context, dn string, pw secret.Secret) error {
	if pw.IsZero() {
		return fmt.Errorf("directory: set password %q: the password is empty", dn)
	}
	err := c.do(ctx, "set password", dn, func(conn *ldap.Conn) error {
		_, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", pw.Reveal()))
		return err
	})
	if err != nil {
		return err
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdReset", []string{"TRUE"})
	return c.do(ctx, "modify", dn, func(conn *ldap.Conn) error { return conn.Modify(mod) })
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
	conn, err := c.open(ctx)
	if err != nil {
		return BindResult{}, err
	}
	defer conn.Close()
	var res *ldap.SimpleBindResult
	err = withContext(ctx, conn, func() error {
		var err error
		res, err = conn.SimpleBind(&ldap.SimpleBindRequest{
			Username: dn,
			Password: pw.Reveal(), // go-ldap refuses an empty one: no anonymous bind
			Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()},
		})
		return err
	})
	var ppolicy *ldap.ControlBeheraPasswordPolicy
	if res != nil {
		ppolicy, _ = ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	}
	switch {
	case err == nil:
		return BindResult{MustChange: ppolicy != nil && ppolicy.Error == ldap.BeheraChangeAfterReset}, nil
	case !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return BindResult{}, fmt.Errorf("directory: bind %q: %w", dn, err)
	case ppolicy != nil && ppolicy.Error == ldap.BeheraAccountLocked:
		return BindResult{}, fmt.Errorf("directory: bind %q: %w: %w", dn, ErrAccountLocked, err)
	default:
		return BindResult{}, fmt.Errorf("directory: bind %q: %w: %w", dn, ErrInvalidCredentials, err)
	}
}
