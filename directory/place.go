package directory

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// place is where an entry is, as far as people are concerned.
type place int

const (
	// nowhere is no place for a person: outside BaseDN, BaseDN itself, one
	// of ldapsync's containers, anything under Units, Groups or Policies,
	// below a tombstone, or the service account.
	nowhere place = iota
	// inPeople is directly under People, where ldapsync creates accounts.
	inPeople
	// inRevoked is directly under Revoked: a revoked account's tombstone.
	inRevoked
	// elsewhere is anywhere else under BaseDN: an entry made by hand
	// before ldapsync, adopted where it is or not yet (deeper below People
	// too).
	elsewhere
)

// layout holds the DNs that decide an entry's place, parsed once.
type layout struct {
	base, people, revoked *ldap.DN
	// closed are the containers no person lives in: Units, Groups,
	// Policies, and Revoked below its tombstones.
	closed  []*ldap.DN
	service *ldap.DN
}

// layout parses the DNs of c, which Validate accepted.
func (c Config) layout() (layout, error) {
	parse := func(dn string) (*ldap.DN, error) {
		d, err := ldap.ParseDN(dn)
		if err != nil {
			return nil, fmt.Errorf("%q is not a DN: %w", dn, err)
		}
		return d, nil
	}
	var l layout
	var err error
	if l.base, err = parse(c.BaseDN); err != nil {
		return layout{}, err
	}
	if l.service, err = parse(c.BindDN); err != nil {
		return layout{}, err
	}
	if l.people, err = parse(c.under(c.People)); err != nil {
		return layout{}, err
	}
	if l.revoked, err = parse(c.under(c.Revoked)); err != nil {
		return layout{}, err
	}
	for _, rdn := range []string{c.Units, c.Groups, c.Policies} {
		d, err := parse(c.under(rdn))
		if err != nil {
			return layout{}, err
		}
		l.closed = append(l.closed, d)
	}
	return l, nil
}

// place returns the place of the entry at d.
func (l layout) place(d *ldap.DN) place {
	if !l.base.AncestorOfFold(d) || d.EqualFold(l.service) || d.EqualFold(l.people) || d.EqualFold(l.revoked) {
		return nowhere
	}
	parent := &ldap.DN{RDNs: d.RDNs[1:]}
	switch {
	case parent.EqualFold(l.people):
		return inPeople
	case parent.EqualFold(l.revoked):
		return inRevoked
	case l.revoked.AncestorOfFold(d):
		return nowhere
	}
	for _, c := range l.closed {
		if c.EqualFold(d) || c.AncestorOfFold(d) {
			return nowhere
		}
	}
	return elsewhere
}

// placeOf returns the place of the entry at dn; nowhere when dn does not
// parse.
func (l layout) placeOf(dn string) place {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return nowhere
	}
	return l.place(d)
}
