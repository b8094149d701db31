package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapsync/ldapsync/rules"
)

// personAttrs are the attributes Snapshot reads from each person,
// operational ones included.
var personAttrs = []string{
	"uid", "employeeNumber", "cn", "sn", "givenName", "displayName", "mail",
	"departmentNumber", "title", "telephoneNumber",
	"ldapsyncStatus", "ldapsyncLockReason", "ldapsyncRevokedTime", "ldapsyncIssuedFor",
	"pwdAccountLockedTime", "pwdReset", "pwdChangedTime", "pwdLastSuccess", "createTimestamp",
	attrDepartureKind, attrDepartureDate, attrDepartureEvent, attrDepartureLeader,
	attrLeader, attrLeaderSince, attrLockAt, attrRevokeAt, attrLeaveUntil, attrLastActive, attrFirstSeen,
}

// pageSize is the number of entries per page of a whole-directory read.
const pageSize = 500

// Snapshot reads every person and account in one paged search of the base:
// the people wherever they are (under People, the revoked tombstones under
// Revoked, adopted and hand-made entries anywhere else) with their groups
// from memberOf (the memberof overlay of setup part 40), and every other
// entry that holds a uid. However many people there are, and wherever they
// are, it is this one search.
//
// People are the accounts ldapsync manages, each with its real DN: the
// entries under People with an employeeNumber, the tombstones, and the
// entries adopted where they were made (objectClass ldapsyncAccount with
// an employeeNumber) anywhere else under the base but in ldapsync's
// containers. Their groups come from the groups' member values, which
// name them by those DNs.
//
// Unadopted are the entries made by hand that ldapsync has not adopted:
// an inetOrgPerson with a uid and without employeeNumber (one without a
// uid is a contact, not an account), directly under People or
// anywhere else under the base but in ldapsync's containers (units,
// groups, policies, tombstones) and the service account. A hand-made
// entry directly under People is in Unadopted only, not in People: People
// holds what ldapsync manages, and nothing but Adopt (and an
// administrator) ever touches a hand-made entry. Their uids are in
// Accounts, with the uid of every entry that is not a person, so every
// uid of the directory is in People or Accounts and the username ladder
// never hands out a taken name.
//
// A value ldapsync cannot read (a lifecycle day an administrator typed as
// "31.2.2027", an unknown departure kind) fails the whole snapshot, with
// an error that names every such entry and attribute (the first
// maxBadValues of them) so that one ldapmodify session fixes them all:
// skipping the person would hand their uid out again, and ignoring the
// value would sweep on a wrong deadline (a lock during a notified absence).
func (c *Client) Snapshot(ctx context.Context) (*rules.Snapshot, error) {
	var snap rules.Snapshot
	// One search: every person with the groups memberOf names (the
	// memberof overlay of setup part 40 keeps it), and every other entry
	// that holds a uid, for the username ladder.
	read, err := c.readPeople(ctx, "snapshot", "", append(slices.Clone(personAttrs), "memberOf"), true)
	if err != nil {
		return nil, err
	}
	snap.People, snap.Unadopted, snap.Accounts = read.people, read.unadopted, read.holders
	// A handful of groups, named by every person: each value parsed once.
	names := map[string]string{}
	for i, e := range read.entries {
		for _, g := range e.GetEqualFoldAttributeValues("memberOf") {
			cn, seen := names[g]
			if !seen {
				cn, _ = c.groupName(g) // "": not one of ldapsync's groups
				names[g] = cn
			}
			if cn != "" {
				c.addGroup(&snap.People[i], cn)
			}
		}
		slices.Sort(snap.People[i].Groups)
	}
	slices.SortFunc(snap.People, func(a, b rules.Account) int { return strings.Compare(a.UID, b.UID) })
	slices.SortFunc(snap.Unadopted, func(a, b rules.Account) int { return strings.Compare(a.DN, b.DN) })
	slices.Sort(snap.Accounts)
	snap.Accounts = slices.Compact(snap.Accounts)
	return &snap, nil
}

// peopleRead is what searchPeople read.
type peopleRead struct {
	// people are the people (Revoked set, groups left to the caller), and
	// entries the entry each was read from.
	people  []rules.Account
	entries []*ldap.Entry
	// unadopted are the hand-made entries (see Snapshot).
	unadopted []rules.Account
	// holders are the uids of the entries that are not people (units,
	// services, hand-made entries), when asked for.
	holders []string
}

// searchPeople reads, with attrs, the entries where people are that also
// match filter ("" for all), in one paged whole-subtree search of the base
// for persons (inetOrgPerson, or ldapsyncAccount): each entry's place
// comes from its DN (see layout.place), which leaves out ldapsync's other
// containers, the entries below a tombstone and the service account.
func (c *Client) searchPeople(ctx context.Context, what, filter string, attrs []string) (peopleRead, error) {
	return c.readPeople(ctx, what, filter, attrs, false)
}

// readPeople is searchPeople; with holders, the same search also returns
// every other entry with a uid, and read.holders their uids.
func (c *Client) readPeople(ctx context.Context, what, filter string, attrs []string, holders bool) (peopleRead, error) {
	var read peopleRead
	var bad badValues
	with := func(f string) string {
		if filter == "" {
			return f
		}
		return and(f, filter)
	}
	// One whole-subtree search, its entries placed by their DNs: the people
	// directly under People, the tombstones directly under Revoked, and
	// the entries made by hand elsewhere (adopted or not). One pass over
	// the directory instead of one per place.
	persons := "(|(objectClass=inetOrgPerson)(objectClass=ldapsyncAccount))"
	if holders {
		persons = "(|(objectClass=inetOrgPerson)(objectClass=ldapsyncAccount)(uid=*))"
	}
	found, err := c.searchAll(ctx, c.cfg.BaseDN, ldap.ScopeWholeSubtree, with(persons), append(slices.Clone(attrs), "objectClass"))
	if err != nil {
		return peopleRead{}, err
	}
	for _, e := range found {
		where := c.where.placeOf(e.DN)
		kind := kindOther
		if where != nowhere && (where == elsewhere || hasFold(e.GetEqualFoldAttributeValues("objectClass"), "inetOrgPerson")) {
			kind = c.kindOf(e, where)
		}
		if holders && kind != kindPerson {
			read.holders = append(read.holders, e.GetEqualFoldAttributeValues("uid")...)
		}
		switch kind {
		case kindPerson:
			p, err := personFromEntry(e)
			if err != nil {
				bad.add(e.DN, err)
				continue
			}
			p.Revoked = where == inRevoked
			read.people = append(read.people, p)
			read.entries = append(read.entries, e)
		case kindHandMade:
			read.unadopted = append(read.unadopted, handMadeFromEntry(e))
		}
	}
	if err := bad.err(); err != nil {
		return peopleRead{}, fmt.Errorf("directory: %s: %w", what, err)
	}
	return read, nil
}

// Kinds of entry searchPeople finds.
const (
	kindOther    = iota // none of ours: left out
	kindPerson          // a person ldapsync manages, or a tombstone
	kindHandMade        // an entry made by hand, not adopted
)

// kindOf returns the kind of e, an inetOrgPerson or ldapsyncAccount found
// by the search of where.
func (c *Client) kindOf(e *ldap.Entry, where place) int {
	numbered := len(e.GetEqualFoldAttributeValues("employeeNumber")) > 0
	account := e.GetEqualFoldAttributeValue("uid") != ""
	switch where {
	case inRevoked:
		return kindPerson
	case inPeople:
		switch {
		case numbered:
			return kindPerson
		case account:
			return kindHandMade
		}
		return kindOther // an address book's contact, say
	}
	if c.where.placeOf(e.DN) != elsewhere {
		return kindOther
	}
	classes := e.GetEqualFoldAttributeValues("objectClass")
	switch {
	case numbered && hasFold(classes, "ldapsyncAccount"):
		return kindPerson
	case !numbered && account && hasFold(classes, "inetOrgPerson"):
		return kindHandMade
	}
	return kindOther
}

// hasFold reports whether values holds v, compared without regard to case.
func hasFold(values []string, v string) bool {
	return slices.ContainsFunc(values, func(x string) bool { return strings.EqualFold(x, v) })
}

// handMadeFromEntry reads what Snapshot.Unadopted holds of a hand-made
// entry: DN, uid, names, mail, unit, title and lock.
func handMadeFromEntry(e *ldap.Entry) rules.Account {
	get := e.GetEqualFoldAttributeValue
	return rules.Account{
		DN:          e.DN,
		UID:         get("uid"),
		CN:          get("cn"),
		SN:          get("sn"),
		GivenName:   get("givenName"),
		DisplayName: get("displayName"),
		Mail:        get("mail"),
		Unit:        get("departmentNumber"),
		Title:       get("title"),
		Locked:      get("pwdAccountLockedTime") != "",
	}
}

// maxBadValues is how many unreadable values an error names; the rest are
// counted.
const maxBadValues = 20

// badValues collects the values a read could not map, each named by its
// entry and attribute.
type badValues struct {
	errs []error
	more int
}

// add records err, one error or several joined, of the entry at dn.
func (b *badValues) add(dn string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, err := range j.Unwrap() {
			b.add(dn, err)
		}
		return
	}
	if len(b.errs) < maxBadValues {
		b.errs = append(b.errs, fmt.Errorf("%q: %w", dn, err))
	} else {
		b.more++
	}
}

// err returns nil when nothing was added, else one error naming them all.
func (b *badValues) err() error {
	if len(b.errs) == 0 {
		return nil
	}
	n := len(b.errs) + b.more
	errs := b.errs
	if b.more > 0 {
		errs = append(slices.Clone(errs), fmt.Errorf("and %d more", b.more))
	}
	return fmt.Errorf("%d values ldapsync cannot read; correct them with ldapmodify:\n%w", n, errors.Join(errs...))
}

// addGroup records p's membership of the group called cn: the active group
// sets Active, any other is an application.
func (c *Client) addGroup(p *rules.Account, cn string) {
	if strings.EqualFold(cn, c.cfg.ActiveGroup) {
		p.Active = true
	} else {
		p.Groups = append(p.Groups, cn)
	}
}

// searchAll runs a paged search. A base that does not exist yet (before
// EnsureTree) holds nothing.
func (c *Client) searchAll(ctx context.Context, base string, scope int, filter string, attrs []string) ([]*ldap.Entry, error) {
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, "search", base, func(conn ldap.Client) error {
		var err error
		res, err = conn.SearchWithPaging(req, pageSize)
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return res.Entries, nil
}

// personFromEntry reads a person's attributes; the groups come from the
// groups' members. Every value it cannot read is reported, each naming its
// attribute.
func personFromEntry(e *ldap.Entry) (rules.Account, error) {
	get := e.GetEqualFoldAttributeValue
	p := rules.Account{
		DN:          e.DN,
		UID:         get("uid"),
		EmployeeID:  get("employeeNumber"),
		CN:          get("cn"),
		SN:          get("sn"),
		GivenName:   get("givenName"),
		DisplayName: get("displayName"),
		Mail:        get("mail"),
		Unit:        get("departmentNumber"),
		Title:       get("title"),
		Phone:       get("telephoneNumber"),
		Status:      get("ldapsyncStatus"),
		Locked:      get("pwdAccountLockedTime") != "",
		LockReason:  get("ldapsyncLockReason"),
		Issued:      get("ldapsyncIssuedFor"),
		MustChange:  strings.EqualFold(get("pwdReset"), "TRUE"),
	}
	var errs []error
	for _, t := range []struct {
		attr string
		dst  *time.Time
	}{
		{"pwdChangedTime", &p.PasswordChanged},
		{"pwdLastSuccess", &p.LastLogin},
		{"createTimestamp", &p.Created},
		{"ldapsyncRevokedTime", &p.RevokedAt},
	} {
		v := get(t.attr)
		if v == "" {
			continue
		}
		var err error
		if *t.dst, err = parseGeneralizedTime(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.attr, err))
		}
	}
	var err error
	if p.Lifecycle, err = lifecycleFromEntry(e); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return rules.Account{}, err
	}
	return p, nil
}

// generalizedTimeLayouts are the GeneralizedTime forms (RFC 4517 3.3.13)
// slapd writes: to the second (fractions are accepted after the seconds),
// to the minute (an admin lock, 000001010000Z) and to the hour.
var generalizedTimeLayouts = []string{"20060102150405Z0700", "200601021504Z0700", "2006010215Z0700"}

func parseGeneralizedTime(s string) (time.Time, error) {
	for _, layout := range generalizedTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a generalized time", s)
}

// groupCN returns the cn of a group entry, from its RDN so that a group
// with several cn values is still named once.
func groupCN(e *ldap.Entry) string {
	if d, err := ldap.ParseDN(e.DN); err == nil && len(d.RDNs) > 0 {
		for _, a := range d.RDNs[0].Attributes {
			if strings.EqualFold(a.Type, "cn") {
				return a.Value
			}
		}
	}
	return e.GetEqualFoldAttributeValue("cn")
}

// dnKey returns a form of dn for comparing DNs as slapd does for the
// attributes ldapsync names entries by (all case-insensitive): attribute
// types and values lower-cased, escaping made uniform. An unparsable DN is
// only lower-cased.
func dnKey(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(d.String())
}
