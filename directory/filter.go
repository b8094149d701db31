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

// and returns the conjunction of filters, which are already built.
func and(filters ...string) string { return "(&" + strings.Join(filters, "") + ")" }

// or returns the disjunction of filters, which are already built.
func or(filters ...string) string { return "(|" + strings.Join(filters, "") + ")" }

// not returns the negation of filter, which is already built.
func not(filter string) string { return "(!" + filter + ")" }
