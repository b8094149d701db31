package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// pw at the next login) and status pending: the account joins the active
// group once the user has changed pw (Activate), so that applications
// that bind without the ppolicy control refuse the letter's password too.
// A revoked account is refused. The password comes first:
// slapd lifts its lock on a password change, and so the old password never
// works again, even if Unlock stops half way. Unlocking an active account
// only sets pw.
//
// issuedFor, when set, is written as ldapsyncIssuedFor in the same request
// as pwdReset, as SetPassword does: the entry says which event its
// password was issued for. When empty, ldapsyncIssuedFor is left as it is.
func (c *Client) Unlock(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error {
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
	mod.Replace("ldapsyncStatus", []string{rules.StatusPending})
	if issuedFor != "" {
		mod.Replace("ldapsyncIssuedFor", []string{issuedFor})
	}
	if err := c.setPassword(ctx, dn, pw, mod); err != nil {
		return err
	}
	return c.removeMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// LiftLock lifts the lock on the account at dn without touching its
// password: for a lock that should never have been, such as a departure
// entered by mistake and withdrawn, after which the person's own password
// works again. It removes pwdAccountLockedTime and ldapsyncLockReason,
// sets ldapsyncStatus active and puts the account back in the active
// group, or, when the account still has to change a password ldapsync
// issued (pwdReset), sets it pending and leaves it out of the active
// group until then; pwdReset and the application groups stay as they are. A revoked
// account (status revoked, or a tombstone under Revoked) is refused:
// Reinstate is the way back from a revocation. Lifting the lock of an
// account that has none is success.
func (c *Client) LiftLock(ctx context.Context, dn string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: lift lock %q: %w", dn, err)
	}
	e, err := c.readPerson(ctx, "lift lock", dn, "ldapsyncStatus", "pwdReset", "ldapsyncIssuedFor")
	if err != nil {
		return err
	}
	if strings.EqualFold(e.GetEqualFoldAttributeValue("ldapsyncStatus"), rules.StatusRevoked) {
		return fmt.Errorf("directory: lift lock %q: the account is being revoked, which only Reinstate undoes", dn)
	}
	status := rules.StatusActive
	if strings.EqualFold(e.GetEqualFoldAttributeValue("pwdReset"), "TRUE") && e.GetEqualFoldAttributeValue("ldapsyncIssuedFor") != "" {
		status = rules.StatusPending
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdAccountLockedTime", nil)
	mod.Replace("ldapsyncLockReason", nil)
	mod.Replace("ldapsyncStatus", []string{status})
	if err := c.modifyPerson(ctx, "lift lock", dn, mod); err != nil {
		return err
	}
	if status == rules.StatusPending {
		return nil
	}
	return c.addMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// Reinstate gives a departed person whose account was revoked the same
// account back (NT 2.1: one account per person, never a second one). dn is
// the live DN, as PersonDN builds it, or the DN an adopted account had
// elsewhere under the base; the tombstone Revoke left is at the same RDN
// under Revoked. Reinstate moves the tombstone back under People with that
// RDN (the DN PersonDN builds, for an RDN uid=<uid>): an adopted account
// that lived elsewhere (ou=Users, a unit's OU) comes back with a new DN,
// under People, and applications that stored its old DN must be told
// (ldapsync keeps no record of where a tombstone came from, and the
// service account may not add entries outside its containers). It sets pw
// with Password Modify, and in one request removes ldapsyncRevokedTime,
// the lock and its reason, sets ldapsyncStatus pending, pwdReset: TRUE (the
// user must change pw at the first login) and ldapsyncIssuedFor
// issuedFor; the account joins the active group once the user has changed
// pw (Activate). The uid and
// the employeeNumber are the ones the person had, and so is the DN of an
// account that lived under People.
//
// What it leaves to the caller: the application groups (SetGroups: Revoke
// emptied them and the person may return to other work), the unit and
// title (Move, UpdatePerson), and the lifecycle attributes, whose departure
// and deadlines still describe the departure that ended: the caller writes
// the new ones with SetLifecycle once Reinstate has succeeded, so that a
// replay never finds the departure cleared on an account still revoked.
//
// A replay converges: an entry already moved back (under People, whatever
// dn names) is carried on from where it stopped. For that, issuedFor is
// required: a live entry without a tombstone is taken for one Reinstate
// moved back only while it still bears the revocation (status revoked or ldapsyncRevokedTime) or holds a
// password issued for issuedFor; any other live entry is refused, so that
// a wrong call never resets the password of an account in use (Unlock and
// SetPassword do that). A revoke that stopped before its move leaves the
// revocation on the live entry, and Reinstate finishes it the other way,
// where the entry is: an adopted account's stays at its DN elsewhere.
//
// A live entry at dn beside the tombstone is an ErrConflict naming both
// employeeNumbers when they differ (the uid was given to someone else after
// the tombstone was deleted and somehow restored), and an error otherwise.
// No entry at dn and no tombstone is ErrNotFound, as with Revoke "delete",
// after which the person needs a new entry.
func (c *Client) Reinstate(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: reinstate %q: %w", dn, err)
	}
	if pw.IsZero() {
		return fmt.Errorf("directory: reinstate %q: the password is empty", dn)
	}
	if issuedFor == "" {
		return fmt.Errorf("directory: reinstate %q: the event the password is issued for is required", dn)
	}
	tomb := c.tombstoneDN(dn)
	back := firstRDN(dn) + "," + c.cfg.under(c.cfg.People)
	attrs := []string{"employeeNumber", "ldapsyncStatus", "ldapsyncRevokedTime", "ldapsyncIssuedFor"}
	live, err := c.read(ctx, dn, attrs)
	if err != nil {
		return err
	}
	if live == nil && dnKey(back) != dnKey(dn) {
		// An adopted account from elsewhere comes back under People.
		if live, err = c.read(ctx, back, attrs); err != nil {
			return err
		}
		if live != nil {
			dn = back
		}
	}
	t, err := c.read(ctx, tomb, attrs)
	if err != nil {
		return err
	}
	switch {
	case live == nil && t == nil:
		return fmt.Errorf("directory: reinstate %q: %w (and no tombstone %q)", dn, ErrNotFound, tomb)
	case live != nil && t != nil:
		have, was := live.GetEqualFoldAttributeValue("employeeNumber"), t.GetEqualFoldAttributeValue("employeeNumber")
		if have != was {
			return fmt.Errorf("directory: reinstate %q: the entry there has employeeNumber %q, the tombstone %q has %q: %w", dn, have, tomb, was, ErrConflict)
		}
		return fmt.Errorf("directory: reinstate %q: both the entry and its tombstone %q exist, for employeeNumber %q; an administrator must remove one", dn, tomb, have)
	case live == nil:
		if err := c.moveBack(ctx, tomb, back); err != nil {
			return err
		}
		dn = back
	case !revoked(live) && live.GetEqualFoldAttributeValue("ldapsyncIssuedFor") != issuedFor:
		return fmt.Errorf("directory: reinstate %q: the account is not revoked (status %q, no tombstone %q) and its password was not issued for %q; use Unlock or SetPassword",
			dn, live.GetEqualFoldAttributeValue("ldapsyncStatus"), tomb, issuedFor)
	}
	// The revocation marks go in the request after the password, so that
	// until the password is set a replay still sees a revoked entry. slapd
	// lifts the lock with the Password Modify already; in between, the
	// account binds only with pw, which nobody has been given yet, and
	// applications that filter on the status or the active group still
	// see it revoked. The lock is removed here as well for a server that
	// keeps it.
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("ldapsyncRevokedTime", nil)
	mod.Replace("pwdAccountLockedTime", nil)
	mod.Replace("ldapsyncLockReason", nil)
	mod.Replace("ldapsyncStatus", []string{rules.StatusPending})
	mod.Replace("ldapsyncIssuedFor", []string{issuedFor})
	if err := c.setPassword(ctx, dn, pw, mod); err != nil {
		return err
	}
	return c.removeMember(ctx, c.cfg.GroupDN(c.cfg.ActiveGroup), dn)
}

// revoked reports whether e, a live entry, bears a revocation: a revoke
// that stopped before its move, or a tombstone moved back by Reinstate.
func revoked(e *ldap.Entry) bool {
	return strings.EqualFold(e.GetEqualFoldAttributeValue("ldapsyncStatus"), rules.StatusRevoked) ||
		e.GetEqualFoldAttributeValue("ldapsyncRevokedTime") != ""
}

// moveBack moves the tombstone at tomb to dn, directly under People.
func (c *Client) moveBack(ctx context.Context, tomb, dn string) error {
	err := c.do(ctx, "move back from revoked", tomb, func(conn ldap.Client) error {
		return conn.ModifyDN(ldap.NewModifyDNRequest(tomb, firstRDN(dn), true, c.cfg.under(c.cfg.People)))
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		// A move whose answer was lost before a retry.
		if e, rerr := c.read(ctx, dn, []string{"1.1"}); rerr == nil && e != nil {
			return nil
		}
	}
	return err
}

// Names of the lifecycle attributes (setup 30), one per field of
// rules.Lifecycle.
const (
	attrDepartureKind   = "ldapsyncDepartureKind"
	attrDepartureDate   = "ldapsyncDepartureDate"
	attrDepartureEvent  = "ldapsyncDepartureEvent"
	attrDepartureLeader = "ldapsyncDepartureLeader"
	attrLeader          = "ldapsyncLeader"
	attrLeaderSince     = "ldapsyncLeaderSince"
	attrLockAt          = "ldapsyncLockAt"
	attrRevokeAt        = "ldapsyncRevokeAt"
	attrLeaveUntil      = "ldapsyncLeaveUntil"
	attrLastActive      = "ldapsyncLastActive"
	attrFirstSeen       = "ldapsyncFirstSeen"
)

// departureKinds are the values ldapsyncDepartureKind may hold.
var departureKinds = []string{rules.DepartRetire, rules.DepartResign, rules.DepartTransferOut, rules.DepartUnspecified}

// SetLifecycle makes the lifecycle attributes of the person at dn exactly
// l, in one modify request: every attribute is replaced, and the attribute
// of a zero field removed (a false Leader or Departure.Leader too: absent
// reads as false). Days are written "YYYY-MM-DD", times as GeneralizedTime
// in UTC to the second (a fraction of a second is dropped), booleans as
// TRUE. Writing what the entry holds already is success. A departure kind
// other than the rules.Depart* values, an impossible day or a time outside
// the years 0 to 9999 is refused before anything is written; no entry is
// ErrNotFound. A tombstone (under Revoked) is refused: its lifecycle
// stays as the revocation left it.
func (c *Client) SetLifecycle(ctx context.Context, dn string, l rules.Lifecycle) error {
	if err := c.checkPersonDN(dn); err != nil {
		return fmt.Errorf("directory: set lifecycle %q: %w", dn, err)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	var errs []error
	day := func(attr string, d rules.Date) {
		if d.IsZero() {
			mod.Replace(attr, nil)
			return
		}
		if _, err := rules.ParseDate(d.String()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", attr, err))
			return
		}
		mod.Replace(attr, []string{d.String()})
	}
	instant := func(attr string, t time.Time) {
		if t.IsZero() {
			mod.Replace(attr, nil)
			return
		}
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			errs = append(errs, fmt.Errorf("%s: %s is outside the years GeneralizedTime holds", attr, t))
			return
		}
		mod.Replace(attr, []string{t.UTC().Format(generalizedTime)})
	}
	flag := func(attr string, b bool) {
		if b {
			mod.Replace(attr, []string{"TRUE"})
		} else {
			mod.Replace(attr, nil)
		}
	}
	d := l.Departure
	if d.Kind != "" && !slices.Contains(departureKinds, d.Kind) {
		errs = append(errs, fmt.Errorf("%s: %q is not one of %s", attrDepartureKind, d.Kind, strings.Join(departureKinds, ", ")))
	}
	mod.Replace(attrDepartureKind, nonEmpty(d.Kind))
	day(attrDepartureDate, d.Effective)
	mod.Replace(attrDepartureEvent, nonEmpty(d.Event))
	flag(attrDepartureLeader, d.Leader)
	flag(attrLeader, l.Leader)
	day(attrLeaderSince, l.LeaderSince)
	instant(attrLockAt, l.LockAt)
	instant(attrRevokeAt, l.RevokeAt)
	day(attrLeaveUntil, l.LeaveUntil)
	instant(attrLastActive, l.LastActive)
	instant(attrFirstSeen, l.FirstSeen)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("directory: set lifecycle %q: %w", dn, err)
	}
	return c.modifyPerson(ctx, "set lifecycle", dn, mod)
}

// lifecycleFromEntry reads the lifecycle attributes of e. Days are read as
// rules.ParseDate reads them, so a day an administrator typed as
// 31/03/2027 is understood; a departure kind is matched without regard to
// case, as slapd matches it. Every value it cannot read is an error naming
// its attribute.
func lifecycleFromEntry(e *ldap.Entry) (rules.Lifecycle, error) {
	get := e.GetEqualFoldAttributeValue
	var l rules.Lifecycle
	var errs []error
	day := func(attr string, dst *rules.Date) {
		if v := get(attr); v != "" {
			d, err := rules.ParseDate(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", attr, err))
			}
			*dst = d
		}
	}
	instant := func(attr string, dst *time.Time) {
		if v := get(attr); v != "" {
			t, err := parseGeneralizedTime(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", attr, err))
			}
			*dst = t
		}
	}
	flag := func(attr string, dst *bool) {
		switch v := get(attr); {
		case v == "", strings.EqualFold(v, "FALSE"):
		case strings.EqualFold(v, "TRUE"):
			*dst = true
		default:
			errs = append(errs, fmt.Errorf("%s: %q is neither TRUE nor FALSE", attr, v))
		}
	}
	if v := get(attrDepartureKind); v != "" {
		i := slices.IndexFunc(departureKinds, func(k string) bool { return strings.EqualFold(k, strings.TrimSpace(v)) })
		if i < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not one of %s", attrDepartureKind, v, strings.Join(departureKinds, ", ")))
		} else {
			l.Departure.Kind = departureKinds[i]
		}
	}
	day(attrDepartureDate, &l.Departure.Effective)
	l.Departure.Event = get(attrDepartureEvent)
	flag(attrDepartureLeader, &l.Departure.Leader)
	flag(attrLeader, &l.Leader)
	day(attrLeaderSince, &l.LeaderSince)
	instant(attrLockAt, &l.LockAt)
	instant(attrRevokeAt, &l.RevokeAt)
	day(attrLeaveUntil, &l.LeaveUntil)
	instant(attrLastActive, &l.LastActive)
	instant(attrFirstSeen, &l.FirstSeen)
	if err := errors.Join(errs...); err != nil {
		return rules.Lifecycle{}, err
	}
	return l, nil
}

// Revoke ends the account at dn for good at time at: it leaves every group
// under Groups, loses its password (userPassword deleted, and a lock
// besides), and gets ldapsyncStatus revoked and ldapsyncRevokedTime at
// (the caller's clock: the reuse embargo counts from it). Then, with
// Config.Revoke "tombstone" (the default), the entry moves under Revoked
// with the same RDN, so that its uid stays taken and Snapshot shows it
// with Revoked set; with "delete" it is deleted. An adopted entry that
// lives elsewhere under the base moves there too (Reinstate brings it back
// under People).
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
		err := c.do(ctx, "delete", dn, func(conn ldap.Client) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
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
	err = c.do(ctx, "move to revoked", dn, func(conn ldap.Client) error {
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
// The tombstone of an account adopted under another RDN (cn=<name>, as
// administrators often named them) is found by its uid. A tombstone that
// is not there is success.
func (c *Client) DeleteTombstone(ctx context.Context, uid string) error {
	dn := rdn("uid", uid) + "," + c.cfg.under(c.cfg.Revoked)
	err := c.deleteTombstone(ctx, dn)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return err
	}
	found, err := c.searchAll(ctx, c.cfg.under(c.cfg.Revoked), ldap.ScopeSingleLevel, eq("uid", uid), []string{"1.1"})
	if err != nil {
		return err
	}
	for _, e := range found {
		if err := c.deleteTombstone(ctx, e.DN); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return err
		}
	}
	return nil
}

// deleteTombstone deletes the entry at dn.
func (c *Client) deleteTombstone(ctx context.Context, dn string) error {
	return c.do(ctx, "delete tombstone", dn, func(conn ldap.Client) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
}
