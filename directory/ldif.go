package directory

import (
	"fmt"
	"io"
	"strings"

	"github.com/go-ldap/ldif"

	"github.com/ldapsync/ldapsync/rules"
)

// ReadPeopleLDIF reads the people of another directory from an LDIF export
// (ldapsearch -LLL … > other.ldif, or slapcat): every entry with a uid,
// as an Account with its DN, uid, names, mail, unit and HR id. It is what
// a merger of two provinces' directories is checked against: see
// sync.Collisions.
func ReadPeopleLDIF(r io.Reader) ([]rules.Account, error) {
	var l ldif.LDIF
	if err := ldif.Unmarshal(r, &l); err != nil {
		return nil, fmt.Errorf("directory: ldif: %w", err)
	}
	var out []rules.Account
	for _, e := range l.AllEntries() {
		get := e.GetEqualFoldAttributeValue
		if get("uid") == "" || !isPersonClass(e.GetEqualFoldAttributeValues("objectClass")) {
			continue
		}
		out = append(out, rules.Account{
			DN: e.DN, UID: get("uid"), EmployeeID: get("employeeNumber"), CN: get("cn"), SN: get("sn"),
			GivenName: get("givenName"), DisplayName: get("displayName"), Mail: get("mail"),
			Unit: get("departmentNumber"), Title: get("title"),
		})
	}
	return out, nil
}

// isPersonClass reports whether the object classes are a person's.
func isPersonClass(classes []string) bool {
	for _, c := range classes {
		switch strings.ToLower(c) {
		case "inetorgperson", "person", "organizationalperson", "posixaccount":
			return true
		}
	}
	return len(classes) == 0 // an export without objectClass: take it
}
