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

// Snapshot reads every person and account: one paged search each of
// people, revoked tombstones, groups and uid holders.
//
// A value ldapsync cannot read (a lifecycle day an administrator typed as
// "31.2.2027", an unknown departure kind) fails the whole snapshot, with
// an error that names every such entry and attribute (the first
// maxBadValues of them) so that one ldapmodify session fixes them all:
// skipping the person would hand their uid out again, and ignoring the
// value would sweep on a wrong deadline (a lock during a notified absence).
func (c *Client) Snapshot(ctx context.Context) (*rules.Snapshot, error) {
	var snap rules.Snapshot
	var err error
	if snap.People, _, err = c.searchPeople(ctx, "snapshot", "(objectClass=inetOrgPerson)", personAttrs); err != nil {
		return nil, err
	}
	idx := c.newPersonIndex(snap.People)

	groups, err := c.searchAll(ctx, c.cfg.under(c.cfg.Groups), ldap.ScopeSingleLevel, "(objectClass=groupOfNames)", []string{"cn", "member"})
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		cn := groupCN(g)
		for _, m := range g.GetEqualFoldAttributeValues("member") {
			i, ok := idx.find(m)
			if !ok {
				continue // the empty placeholder, or not a person
			}
			c.addGroup(&snap.People[i], cn)
		}
	}
	byDN := idx.byDN

	holders, err := c.searchAll(ctx, c.cfg.BaseDN, ldap.ScopeWholeSubtree, "(uid=*)", []string{"uid"})
	if err != nil {
		return nil, err
	}
	for _, e := range holders {
		if _, person := byDN[dnKey(e.DN)]; !person {
			snap.Accounts = append(snap.Accounts, e.GetEqualFoldAttributeValues("uid")...)
		}
	}

	for i := range snap.People {
		slices.Sort(snap.People[i].Groups)
	}
	slices.SortFunc(snap.People, func(a, b rules.Account) int { return strings.Compare(a.UID, b.UID) })
	slices.Sort(snap.Accounts)
	snap.Accounts = slices.Compact(snap.Accounts)
	return &snap, nil
}

// searchPeople reads the people under People and the tombstones under
// Revoked that match filter, with attrs: one paged search each. It returns
// each as a Person (Revoked set, groups left to the caller) and as the
// entry it was read from.
func (c *Client) searchPeople(ctx context.Context, what, filter string, attrs []string) ([]rules.Account, []*ldap.Entry, error) {
	var people []rules.Account
	var entries []*ldap.Entry
	var bad badValues
	for _, ct := range []struct {
		rdn     string
		revoked bool
	}{{c.cfg.People, false}, {c.cfg.Revoked, true}} {
		found, err := c.searchAll(ctx, c.cfg.under(ct.rdn), ldap.ScopeSingleLevel, filter, attrs)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range found {
			p, err := personFromEntry(e)
			if err != nil {
				bad.add(e.DN, err)
				continue
			}
			p.Revoked = ct.revoked
			people = append(people, p)
		}
		entries = append(entries, found...)
	}
	if err := bad.err(); err != nil {
		return nil, nil, fmt.Errorf("directory: %s: %w", what, err)
	}
	return people, entries, nil
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
	err := c.do(ctx, "search", base, func(conn *ldap.Conn) error {
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

// personIndex finds people by a DN as a group's member value holds it.
// Groups of a province hold tens of thousands of members, nearly all
// written by ldapsync as uid=<uid>,<People>,<BaseDN>: those are found by
// their uid without parsing the DN, which would dominate a snapshot's
// time. Anything else is compared as slapd compares DNs.
type personIndex struct {
	byDN   map[string]int // dnKey → index
	byUID  map[string]int // lower-case uid of a live person → index
	suffix string         // ",<People>,<BaseDN>", lower case
}

func (c *Client) newPersonIndex(people []rules.Account) personIndex {
	idx := personIndex{
		byDN:   make(map[string]int, len(people)),
		byUID:  make(map[string]int, len(people)),
		suffix: "," + strings.ToLower(c.cfg.under(c.cfg.People)),
	}
	for i, p := range people {
		idx.byDN[dnKey(p.DN)] = i
		if !p.Revoked {
			idx.byUID[strings.ToLower(p.UID)] = i
		}
	}
	return idx
}

// find returns the index of the person dn names.
func (idx personIndex) find(dn string) (int, bool) {
	lower := strings.ToLower(dn)
	if rdn, ok := strings.CutSuffix(lower, idx.suffix); ok {
		if uid, ok := strings.CutPrefix(rdn, "uid="); ok && !strings.ContainsAny(uid, "\\,+=\"<>;# ") {
			i, ok := idx.byUID[uid]
			return i, ok
		}
	}
	i, ok := idx.byDN[dnKey(dn)]
	return i, ok
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
