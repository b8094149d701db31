package directory

import "testing"

func TestLayout_place(t *testing.T) {
	l, err := validConfig().layout()
	if err != nil {
		t.Fatal(err)
	}
	const base = "dc=ninhthuan,dc=gov,dc=vn"
	tests := []struct {
		dn   string
		want place
	}{
		{"uid=quoctrang,ou=people," + base, inPeople},
		{"UID=QuocTrang,OU=People,DC=Ninhthuan,dc=gov,dc=vn", inPeople},
		{"uid=quoctrang,ou=revoked," + base, inRevoked},
		{"uid=tuan.nv,ou=Users," + base, elsewhere},
		{"cn=Trần Thị Hoa,ou=sotttt-old," + base, elsewhere},
		{"uid=nested,ou=old,ou=people," + base, elsewhere},
		{"uid=x," + base, elsewhere},
		{"uid=postmaster,ou=services," + base, elsewhere}, // the config names no services OU
		{"cn=ldapsync,ou=services," + base, nowhere},      // the service account
		{base, nowhere},
		{"dc=gov,dc=vn", nowhere},
		{"uid=x,dc=other,dc=vn", nowhere},
		{"ou=people," + base, nowhere},
		{"ou=revoked," + base, nowhere},
		{"uid=x,ou=below,ou=revoked," + base, nowhere},
		{"ou=units," + base, nowhere},
		{"ou=sonv,ou=units," + base, nowhere},
		{"uid=vanthu,ou=sonv,ou=units," + base, nowhere},
		{"cn=mail,ou=groups," + base, nowhere},
		{"cn=default,ou=policies," + base, nowhere},
	}
	for _, tt := range tests {
		if got := l.placeOf(tt.dn); got != tt.want {
			t.Errorf("place of %q = %d, want %d", tt.dn, got, tt.want)
		}
	}
	if got := l.placeOf("not a DN"); got != nowhere {
		t.Errorf("place of a non-DN = %d", got)
	}
}
