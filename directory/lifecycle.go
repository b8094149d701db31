package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// AdminLockTime is the pwdAccountLockedTime of a lock held until an
// administrator lifts it (slapo-ppolicy(5)); it takes effect only where the
// applying policy has pwdLockout: TRUE.
const AdminLockTime = "000001010000Z"

// generalizedTime is the layout ldapsync writes GeneralizedTime in.
const generalizedTime = "20060102150405Z"

// Lock locks the account at dn (NT 6.1, 6.2): slapd refuses its binds
// (pwdAccountLockedTime: AdminLockTime), ldapsyncStatus becomes locked with
// reason in ldapsyncLockReason (none when reason is empty), and it leaves
// the active group, for applications that ignore ppolicy. Its entry, mail
// and application groups stay: a locked account still receives mail and
// documents. Locking a locked account again only updates the reason.
func (c *Client) Lock(ctx context.Context, dn, reason string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: lock %q: %w", dn, err)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdAccountLockedTime", []string{AdminLockTime})
	mod.Replace("ldapsyncStatus", []string{rules.StatusLocked})
	mod.Replace("ldapsyncLockReason", nonEmpty(reason))
	if err := c.modifyPerson(ctx, "lock", dn, mod); err != nil {
		return err
	}
	return c.removeMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// Unlock restores a locked account (NT 6.3): it sets pw with Password
// Modify, then lifts the lock, sets pwdReset: TRUE (the user must change
// pw at the next login), status active, and puts the account back in the
// active group. A revoked account is refused. The password comes first: slapd lifts its lock on a
// password change, and so the old password never works again, even if
// Unlock stops half way. Unlocking an active account only sets pw.
func (c *Client) Unlock(ctx context.Context, dn string, pw secret.Secret) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: unlock %q: %w", dn, err)
	}
	if pw.IsZero() {
		return fmt.Errorf("directory: unlock %q: the password is empty", dn)
	}
	e, err := c.readPerson(ctx, "unlock", dn, "ldapsyncStatus")
	if err != nil {
		return err
	}
	if strings.EqualFold(e.GetEqualFoldAttributeValue("ldapsyncStatus"), rules.StatusRevoked) {
		return fmt.Errorf("directory: unlock %q: the account is being revoked, which is for good", dn)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdAccountLockedTime", nil)
	mod.Replace("ldapsyncLockReason", nil)
	mod.Replace("ldapsyncStatus", []string{rules.StatusActive})
	if err := c.setPassword(ctx, dn, pw, mod); err != nil {
		return err
	}
	return c.addMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// Revoke ends the account at dn for good at time at: it leaves every group
// under Groups, loses its password (userPassword deleted, and a lock
// besides), and gets ldapsyncStatus revoked and ldapsyncRevokedTime at
// (the caller's clock: the reuse embargo counts from it). Then, with
// Config.Revoke "tombstone" (the default), the entry moves under Revoked
// with the same RDN, so that its uid stays taken and Snapshot shows it
// with Revoked set; with "delete" it is deleted.
//
// A replay converges: when dn no longer exists but its tombstone does, the
// tombstone is made right and Revoke succeeds; with "delete", a missing
// entry is success. With "tombstone", neither is ErrNotFound.
func (c *Client) Revoke(ctx context.Context, dn string, at time.Time) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: revoke %q: %w", dn, err)
	}
	tomb := c.tombstoneDN(dn)
	live, err := c.read(ctx, dn, []string{"ldapsyncRevokedTime"})
	if err != nil {
		return err
	}
	if c.cfg.Revoke == RevokeDelete {
		if live == nil {
			return nil
		}
		if err := c.leaveGroups(ctx, dn); err != nil {
			return err
		}
		err := c.do(ctx, "delete", dn, func(conn *ldap.Conn) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		return err
	}
	t, err := c.read(ctx, tomb, []string{"ldapsyncRevokedTime"})
	switch {
	case err != nil:
		return err
	case live == nil && t == nil:
		return fmt.Errorf("directory: revoke %q: %w (and no tombstone %q)", dn, ErrNotFound, tomb)
	case live == nil:
		// Moved already: finish what a stop after the move left, if
		// anything (refint renamed any membership to the tombstone).
		return c.endAccount(ctx, tomb, t, at)
	case t != nil:
		return fmt.Errorf("directory: revoke %q: a revoked account with the same RDN exists already (%q); it cannot be moved there", dn, tomb)
	}
	if err := c.endAccount(ctx, dn, live, at); err != nil {
		return err
	}
	err = c.do(ctx, "move to revoked", dn, func(conn *ldap.Conn) error {
		return conn.ModifyDN(ldap.NewModifyDNRequest(dn, firstRDN(dn), true, c.cfg.under(c.cfg.Revoked)))
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		// A move whose answer was lost before a retry.
		if t, rerr := c.read(ctx, tomb, []string{"1.1"}); rerr == nil && t != nil {
			return nil
		}
	}
	return err
}

// endAccount takes the entry at dn, which e holds the revocation time of,
// out of every group, removes its password and marks it revoked at at.
func (c *Client) endAccount(ctx context.Context, dn string, e *ldap.Entry, at time.Time) error {
	if err := c.leaveGroups(ctx, dn); err != nil {
		return err
	}
	revoked := e.GetEqualFoldAttributeValue("ldapsyncRevokedTime") // kept from a first attempt
	if revoked == "" {
		revoked = at.UTC().Format(generalizedTime)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("userPassword", nil)
	mod.Replace("pwdReset", nil)
	mod.Replace("pwdAccountLockedTime", []string{AdminLockTime})
	mod.Replace("ldapsyncStatus", []string{rules.StatusRevoked})
	mod.Replace("ldapsyncRevokedTime", []string{revoked})
	return c.modifyPerson(ctx, "revoke", dn, mod)
}

// leaveGroups removes dn from every group under Groups that lists it.
func (c *Client) leaveGroups(ctx context.Context, dn string) error {
	groups, err := c.groupsOf(ctx, dn)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range groups {
		errs = append(errs, c.removeMember(ctx, g.DN, dn))
	}
	return errors.Join(errs...)
}

// tombstoneDN returns the DN the person at dn, which checkPersonDN
// accepted, has once revoked: the same RDN under Revoked.
func (c *Client) tombstoneDN(dn string) string {
	return firstRDN(dn) + "," + c.cfg.under(c.cfg.Revoked)
}

// firstRDN returns the first RDN of dn, which checkPersonDN accepted, with
// its value escaped afresh.
func firstRDN(dn string) string {
	a, _, _ := splitDN(dn)
	return rdn(a.Type, a.Value)
}

// splitDN splits dn into the one attribute of its first RDN and its
// parent, the latter as dnKey writes it.
func splitDN(dn string) (*ldap.AttributeTypeAndValue, string, error) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, "", fmt.Errorf("not a DN: %w", err)
	}
	if len(d.RDNs) < 2 || len(d.RDNs[0].Attributes) != 1 {
		return nil, "", errors.New("want a DN whose first RDN has one attribute, under a parent")
	}
	return d.RDNs[0].Attributes[0], dnKey((&ldap.DN{RDNs: d.RDNs[1:]}).String()), nil
}

// DeleteTombstone deletes the tombstone of the revoked account uid, so that
// its username can be given to someone else once its reuse embargo is over.
// A tombstone that is not there is success.
func (c *Client) DeleteTombstone(ctx context.Context, uid string) error {
	dn := rdn("uid", uid) + "," + c.cfg.under(c.cfg.Revoked)
	err := c.do(ctx, "delete tombstone", dn, func(conn *ldap.Conn) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	return err
}
