package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestOpenLDAP(t *testing.T) {
	const example = "../../config.example.yaml"
	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string // in the output, in this order
		wantNot  []string
		errorHas string
	}{
		{
			name: "example config",
			args: []string{"--config", example},
			want: []string{
				"# ldapsync setup 10", "olcModuleLoad: ppolicy",
				"# ldapsync setup 30", "dn: cn=ldapsync,cn=schema,cn=config",
				"# ldapsync setup 40", "dn: olcOverlay=ppolicy,olcDatabase={1}mdb,cn=config",
				"olcPPolicyDefault: cn=default,ou=policies,dc=ninhthuan,dc=gov,dc=vn",
				"# ldapsync setup 50", `by dn.exact="cn=ldapsync,ou=services,dc=ninhthuan,dc=gov,dc=vn" =w`,
			},
			wantNot: []string{"olcPasswordHash: {ARGON2}", "replace: olcLastBindPrecision"},
		},
		{
			name: "another database, argon2, slapd 2.6",
			args: []string{"--config", example, "--database", "olcDatabase={2}mdb,cn=config", "--argon2", "--last-bind-precision", "60"},
			want: []string{"# ldapsync setup 20", "olcPasswordHash: {ARGON2}", "dn: olcOverlay=memberof,olcDatabase={2}mdb,cn=config", "olcLastBindPrecision: 60"},
		},
		{name: "not a cn=config database", args: []string{"--config", example, "--database", "dc=x"}, code: exitUsage, errorHas: "olcDatabase={N}TYPE,cn=config"},
		{name: "an argument", args: []string{"--config", example, "extra"}, code: exitUsage},
		{name: "no config", args: []string{"--config", "/nonexistent.yaml"}, code: exitUsage, errorHas: "/nonexistent.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ldapsync(t, nil, append([]string{"openldap"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.errorHas) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.errorHas)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (or has it out of order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if tt.code != exitOK {
				return
			}
			// The real ldapmodify reads it as one stream of records (-n:
			// parse and print, contact no server).
			if _, err := exec.LookPath("ldapmodify"); err != nil {
				t.Skip("ldapmodify not installed")
			}
			cmd := exec.Command("ldapmodify", "-n", "-H", "ldap://127.0.0.1:1")
			cmd.Stdin = strings.NewReader(out)
			parsed, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("ldapmodify -n: %v\n%s", err, parsed)
			}
			if n := strings.Count(string(parsed), "!"); n < 6 {
				t.Errorf("ldapmodify -n saw %d records, want at least 6:\n%s", n, parsed)
			}
		})
	}
}
