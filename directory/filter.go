package directory

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// eq returns the equality filter (attr=value). Every filter this package
// builds from a value is built here, so each value is escaped exactly once
// (RFC 4515: `( ) * \` and NUL, and every byte above 0x7F, as \XX); attr is
// always a constant.
func eq(attr, value string) string {
	return "(" + attr + "=" + ldap.EscapeFilter(value) + ")"
}

// OpenLDAP's matching rules of entryDN (slapd 2.4 and later) that match
// entries by where they are.
const (
	dnSubtreeMatch  = "dnSubtreeMatch"  // dn and every entry below it
	dnOneLevelMatch = "dnOneLevelMatch" // the entries directly below dn
)

// entryDN returns the extensible match (entryDN:rule:=dn): it selects
// entries by their place in the tree, which a search filter cannot
// otherwise say. rule is one of the constants above.
func entryDN(rule, dn string) string {
	return "(entryDN:" + rule + ":=" + ldap.EscapeFilter(dn) + ")"
}

// and returns the conjunction of filters, which are already built.
func and(filters ...string) string { return "(&" + strings.Join(filters, "") + ")" }

// or returns the disjunction of filters, which are already built.
func or(filters ...string) string { return "(|" + strings.Join(filters, "") + ")" }

// not returns the negation of filter, which is already built.
func not(filter string) string { return "(!" + filter + ")" }
