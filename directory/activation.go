package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/rules"
)

// The first-login gate (BTC 4, NT 6.3.c). slapd lets a bind with a password
// that must be changed (pwdReset) succeed, and restricts only that
// connection to the change, which only clients that send the ppolicy
// control are told: a mail server with auth_bind sees a plain success. So
// an account ldapsync issues a password to is pending (ldapsyncStatus
// pending, outside the active group, in its application groups, receiving
// mail) until its user has changed that password, which clears pwdReset;
// then Activate makes it active and puts it in the active group, which is
// what applications filter on.

// Activate makes the pending account at dn active once its user has
// changed the password ldapsync issued: ldapsyncStatus active, then a
// member of the active group. An account that still has to change its
// password (pwdReset), a locked one, or a revoked one is refused with
// ErrNotPending; an active one is success, and is put in the active group
// if a stop left it out (a replay).
func (c *Client) Activate(ctx context.Context, dn string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: activate %q: %w", dn, err)
	}
	e, err := c.readPerson(ctx, "activate", dn, "ldapsyncStatus", "pwdReset", "pwdAccountLockedTime")
	if err != nil {
		return err
	}
	switch status := e.GetEqualFoldAttributeValue("ldapsyncStatus"); {
	case e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != "":
		return fmt.Errorf("directory: activate %q: %w: the account is locked", dn, ErrNotPending)
	case strings.EqualFold(e.GetEqualFoldAttributeValue("pwdReset"), "TRUE"):
		return fmt.Errorf("directory: activate %q: %w: its password must still be changed (pwdReset)", dn, ErrNotPending)
	case strings.EqualFold(status, rules.StatusActive):
	case strings.EqualFold(status, rules.StatusPending):
		mod := ldap.NewModifyRequest(dn, nil)
		mod.Replace("ldapsyncStatus", []string{rules.StatusActive})
		if err := c.modifyPerson(ctx, "activate", dn, mod); err != nil {
			return err
		}
	default:
		return fmt.Errorf("directory: activate %q: %w: its status is %q", dn, ErrNotPending, status)
	}
	return c.addMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// AwaitChange makes the active account at dn pending again because its
// password must be changed (pwdReset): an account made before the gate
// whose first password is still unchanged, or one an administrator reset
// by hand. It sets ldapsyncStatus pending and takes the account out of the
// active group. A locked or revoked account, or one whose password need not
// be changed, is refused with ErrNotPending; a pending one is success (and
// leaves the active group if a stop left it there).
func (c *Client) AwaitChange(ctx context.Context, dn string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: await change %q: %w", dn, err)
	}
	e, err := c.readPerson(ctx, "await change", dn, "ldapsyncStatus", "pwdReset", "pwdAccountLockedTime")
	if err != nil {
		return err
	}
	switch status := e.GetEqualFoldAttributeValue("ldapsyncStatus"); {
	case e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != "":
		return fmt.Errorf("directory: await change %q: %w: the account is locked", dn, ErrNotPending)
	case strings.EqualFold(status, rules.StatusPending):
	case !strings.EqualFold(e.GetEqualFoldAttributeValue("pwdReset"), "TRUE"):
		return fmt.Errorf("directory: await change %q: %w: its password need not be changed", dn, ErrNotPending)
	case strings.EqualFold(status, rules.StatusActive):
		mod := ldap.NewModifyRequest(dn, nil)
		mod.Replace("ldapsyncStatus", []string{rules.StatusPending})
		if err := c.modifyPerson(ctx, "await change", dn, mod); err != nil {
			return err
		}
	default:
		return fmt.Errorf("directory: await change %q: %w: its status is %q", dn, ErrNotPending, status)
	}
	return c.removeMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// People returns the people, as Snapshot does (tombstones included, Revoked
// set), without their groups and without the other entries of the
// directory: what a sweep or a forecast needs, which reads no membership,
// in the three searches of the people only. Active is false for each.
func (c *Client) People(ctx context.Context) ([]rules.Account, error) {
	read, err := c.searchPeople(ctx, "people", "", personAttrs)
	if err != nil {
		return nil, err
	}
	return read.people, nil
}

// Pending returns the accounts waiting for their first password change
// (ldapsyncStatus pending), wherever they are, with the attributes
// Snapshot reads but not their groups: a cheap, indexed read the daemon
// repeats every few seconds to activate those whose user has changed the
// password. Active is false for each.
func (c *Client) Pending(ctx context.Context) ([]rules.Account, error) {
	read, err := c.searchPeople(ctx, "pending accounts", "(ldapsyncStatus="+rules.StatusPending+")", personAttrs)
	if err != nil {
		return nil, err
	}
	out := read.people[:0]
	for _, p := range read.people {
		if !p.Revoked {
			out = append(out, p)
		}
	}
	return out, nil
}
