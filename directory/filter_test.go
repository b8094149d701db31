package directory

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestEq(t *testing.T) {
	tests := []struct {
		attr, value, want string
	}{
		{"uid", "quoctrang", "(uid=quoctrang)"},
		{"cn", `a(b)c*d\e`, `(cn=a\28b\29c\2ad\5ce)`},
		{"cn", `, + " < > ;`, `(cn=, + " < > ;)`}, // DN specials mean nothing in a filter
		{"cn", "Trần", `(cn=Tr\e1\ba\a7n)`},
		{"member", `uid=a\,b,ou=people,dc=x`, `(member=uid=a\5c,b,ou=people,dc=x)`},
		{"cn", "", "(cn=)"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got := eq(tt.attr, tt.value)
			if got != tt.want {
				t.Fatalf("eq(%q, %q) = %q, want %q", tt.attr, tt.value, got, tt.want)
			}
			// It parses as one equality match whose value is the input.
			p, err := ldap.CompileFilter(got)
			if err != nil {
				t.Fatal(err)
			}
			if p.Tag != ldap.FilterEqualityMatch || string(p.Children[1].Data.Bytes()) != tt.value {
				t.Errorf("%s parses as tag %d value %q", got, p.Tag, p.Children[1].Data.Bytes())
			}
		})
	}
	if got := and("(objectClass=groupOfNames)", eq("member", "a*")); got != `(&(objectClass=groupOfNames)(member=a\2a))` {
		t.Errorf("and = %q", got)
	}
	if got := and(eq("uid", "a"), not(or(eq("cn", "b"), eq("cn", "c")))); got != "(&(uid=a)(!(|(cn=b)(cn=c))))" {
		t.Errorf("and, not, or = %q", got)
	}
}
