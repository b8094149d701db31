package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LeaseCN names the entry under Policies that holds the lease of the
// active ldapsync instance: cn=ldapsync-lease,<Policies>,<BaseDN>. The
// service account may write there (setup 50, rule {8}), and nobody else
// reads it.
const LeaseCN = "ldapsync-lease"

// leaseAttr holds the lease as "holder=<id>;expires=<RFC 3339 UTC>".
const leaseAttr = "description"

// LeaseDN returns the DN of the lease entry.
func (c *Client) LeaseDN() string { return c.cfg.PolicyDN(LeaseCN) }

// AcquireLease takes or renews the lease for holder until now+ttl, and
// reports whether holder has it, and who holds it until when (holder and
// its new expiry when held). now is the caller's clock; every instance
// must use a clock close to the others', as the expiry one instance writes
// is read by the others' clocks.
//
// The lease is taken when it is holder's already or has expired at now,
// with one modify that deletes the exact value read and adds the new one:
// slapd applies a modify whole or not at all, so when another instance
// changed the value in between, the delete fails (noSuchAttribute) and the
// lease is not taken. A write whose answer was lost and that was retried
// fails the same way: held is then false until the next call, which finds
// holder's own lease and renews it. The entry is created when missing
// (and the Policies container with it, before the tree exists); a racing
// create by another instance makes this one read again.
func (c *Client) AcquireLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (held bool, current string, expires time.Time, err error) {
	if holder == "" || strings.Contains(holder, ";") {
		return false, "", time.Time{}, fmt.Errorf("directory: lease holder %q: must be non-empty, without ';'", holder)
	}
	dn := c.LeaseDN()
	until := now.Add(ttl).UTC().Truncate(time.Second)
	want := formatLease(holder, until)
	for range 3 { // a create race, or an empty entry, costs one more read
		values, found, err := c.readLease(ctx)
		if err != nil {
			return false, "", time.Time{}, err
		}
		if !found {
			err := c.addLease(ctx, want)
			if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
				continue
			}
			if err != nil {
				return false, "", time.Time{}, err
			}
			return true, holder, until, nil
		}
		if len(values) == 0 {
			// Nothing to compare with: put an expired value first, the same
			// for every instance, so that racing instances swap from it.
			err := c.do(ctx, "modify", dn, func(conn ldap.Client) error {
				mod := ldap.NewModifyRequest(dn, nil)
				mod.Add(leaseAttr, []string{formatLease("", time.Time{})})
				return conn.Modify(mod)
			})
			if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
				return false, "", time.Time{}, err
			}
			continue
		}
		cur, curUntil, _ := parseLease(values)
		if cur != holder && now.Before(curUntil) {
			return false, cur, curUntil, nil
		}
		err = c.swapLease(ctx, values, want)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			values, _, rerr := c.readLease(ctx)
			if rerr != nil {
				return false, "", time.Time{}, rerr
			}
			cur, curUntil, _ := parseLease(values)
			return false, cur, curUntil, nil
		}
		if err != nil {
			return false, "", time.Time{}, err
		}
		return true, holder, until, nil
	}
	return false, "", time.Time{}, fmt.Errorf("directory: lease %q: changed under every attempt to read it", dn)
}

// ReleaseLease gives up holder's lease, on a clean shutdown, so that
// another instance takes it at its next try instead of after the ttl: it
// writes an expiry long past, with the same compare-and-swap as
// AcquireLease. A lease holder does not hold is left alone.
func (c *Client) ReleaseLease(ctx context.Context, holder string) error {
	values, found, err := c.readLease(ctx)
	if err != nil || !found {
		return err
	}
	if cur, _, ok := parseLease(values); !ok || cur != holder {
		return nil
	}
	err = c.swapLease(ctx, values, formatLease(holder, time.Time{}))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
		return nil // taken meanwhile: not ours to release
	}
	return err
}

// readLease returns the lease entry's values, and whether it exists.
func (c *Client) readLease(ctx context.Context) ([]string, bool, error) {
	e, err := c.read(ctx, c.LeaseDN(), []string{leaseAttr})
	if err != nil || e == nil {
		return nil, false, err
	}
	return e.GetEqualFoldAttributeValues(leaseAttr), true, nil
}

// addLease creates the lease entry holding value; when the Policies
// container is missing (a new directory, before EnsureTree), it creates
// that first.
func (c *Client) addLease(ctx context.Context, value string) error {
	dn := c.LeaseDN()
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"device"})
	req.Attribute("cn", []string{LeaseCN})
	req.Attribute(leaseAttr, []string{value})
	add := func() error { return c.do(ctx, "add", dn, func(conn ldap.Client) error { return conn.Add(req) }) }
	err := add()
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return err
	}
	if _, cerr := c.ensure(ctx, entrySpec{dn: c.cfg.under(c.cfg.Policies), attrs: []attr{
		{name: "objectClass", values: []string{"organizationalUnit"}, merge: true},
		{name: "ou", values: []string{ouValue(c.cfg.Policies)}, merge: true},
	}}); cerr != nil {
		return errors.Join(err, cerr)
	}
	return add()
}

// swapLease replaces the lease's values old with value in one modify,
// which fails with noSuchAttribute when any of old is gone.
func (c *Client) swapLease(ctx context.Context, old []string, value string) error {
	dn := c.LeaseDN()
	mod := ldap.NewModifyRequest(dn, nil)
	for _, v := range old {
		mod.Delete(leaseAttr, []string{v})
	}
	mod.Add(leaseAttr, []string{value})
	return c.do(ctx, "modify", dn, func(conn ldap.Client) error { return conn.Modify(mod) })
}

// formatLease returns the value of a lease held by holder until until.
func formatLease(holder string, until time.Time) string {
	return "holder=" + holder + ";expires=" + until.UTC().Format(time.RFC3339)
}

// parseLease reads a lease's values. Anything but one well-formed value
// (an entry an administrator edited) is a lease nobody holds, expired
// long ago, which the next AcquireLease replaces whole (ok is false).
func parseLease(values []string) (holder string, until time.Time, ok bool) {
	if len(values) != 1 {
		return "", time.Time{}, false
	}
	rest, found := strings.CutPrefix(values[0], "holder=")
	i := strings.LastIndex(rest, ";expires=")
	if !found || i < 0 {
		return "", time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, rest[i+len(";expires="):])
	if err != nil {
		return "", time.Time{}, false
	}
	return rest[:i], t, true
}
