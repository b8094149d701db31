package openldap_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/openldap"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

func params() openldap.Params {
	c := directory.DefaultConfig()
	c.BindDN = "cn=ldapsync,ou=services," + c.BaseDN
	return c.SetupParams("olcDatabase={1}mdb,cn=config")
}

func TestRender(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*openldap.Params)
		wantFiles []string
		wantText  []string // in the concatenated output
		wantErr   string
	}{
		{
			name:      "defaults",
			edit:      func(*openldap.Params) {},
			wantFiles: []string{"10-modules.ldif", "30-schema.ldif", "40-overlays.ldif", "50-database.ldif"},
			wantText: []string{
				"dn: olcOverlay=ppolicy,olcDatabase={1}mdb,cn=config",
				"olcPPolicyDefault: cn=default,ou=policies,dc=ninhthuan,dc=gov,dc=vn",
				`by dn.exact="cn=ldapsync,ou=services,dc=ninhthuan,dc=gov,dc=vn" =w by self =xw by anonymous auth by * none`,
				"olcLastBind: TRUE\n-\nadd: olcDbIndex",
				"#             cn=service,ou=policies,dc=ninhthuan,dc=gov,dc=vn",
			},
		},
		{
			name:      "argon2 and slapd 2.6",
			edit:      func(p *openldap.Params) { p.Argon2, p.LastBindPrecision = true, 3600 },
			wantFiles: []string{"10-modules.ldif", "20-argon2.ldif", "30-schema.ldif", "40-overlays.ldif", "50-database.ldif"},
			wantText:  []string{"olcPasswordHash: {ARGON2}", "olcLastBind: TRUE\n-\nreplace: olcLastBindPrecision\nolcLastBindPrecision: 3600\n-\n"},
		},
		{
			name:    "quote in a DN",
			edit:    func(p *openldap.Params) { p.ServiceDN = `cn=a\"b,dc=x` },
			wantErr: "service DN",
		},
		{
			name:    "not a cn=config database",
			edit:    func(p *openldap.Params) { p.Database = "dc=x" },
			wantErr: "olcDatabase={N}TYPE,cn=config",
		},
		{
			name:    "missing suffix",
			edit:    func(p *openldap.Params) { p.Suffix = "" },
			wantErr: "suffix: required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params()
			tt.edit(&p)
			files, err := openldap.Render(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var all strings.Builder
			for _, f := range files {
				names = append(names, f.Name)
				all.Write(f.Data)
				if strings.Contains(string(f.Data), "{{") || strings.Contains(string(f.Data), "<no value>") {
					t.Errorf("%s is not fully rendered", f.Name)
				}
			}
			if strings.Join(names, " ") != strings.Join(tt.wantFiles, " ") {
				t.Errorf("files %v, want %v", names, tt.wantFiles)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(all.String(), w) {
					t.Errorf("rendered files lack %q", w)
				}
			}
		})
	}
}

// start starts a harness slapd, set up with the rendered files, and makes
// the tree with the default rules as the service account.
func start(t *testing.T) (*slapdtest.Server, *directory.Client) {
	t.Helper()
	srv := slapdtest.New(t, slapdtest.Options{})
	c, err := directory.Dial(context.Background(), srv.Config(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rc := rules.DefaultConfig()
	rc.Units = []*rules.Unit{{Name: "Sở Nội vụ", Kind: rules.KindDepartment, Abbr: "sonv"}}
	r, errs := rules.New(rc, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := c.EnsureTree(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// TestRender_accessRules checks, against a slapd set up with the rendered
// files, what users and anonymous clients may do.
func TestRender_accessRules(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	cfg := srv.Config()
	ctx := context.Background()
	users := map[string]string{"alice": "Al1ce#Passw0rd", "bob": "B0b#Passw0rdXy", "carol": "Car0l#Passw0rd"}
	for uid, pw := range users {
		p := rules.Account{UID: uid, EmployeeID: "NV-" + uid, CN: uid, SN: uid, Mail: uid + "@ninhthuan.gov.vn"}
		if err := c.CreatePerson(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := c.SetPassword(ctx, cfg.PersonDN(uid), secret.New(pw), ""); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := cfg.PersonDN("alice"), cfg.PersonDN("bob")
	if err := c.Revoke(ctx, cfg.PersonDN("carol"), time.Now()); err != nil {
		t.Fatal(err)
	}
	carol := "uid=carol," + cfg.Revoked + "," + cfg.BaseDN
	if err := c.Lock(ctx, bob, "compromised: spam sent from it"); err != nil {
		t.Fatal(err)
	}
	// A notified absence is personal; a departure is not.
	for _, dn := range []string{alice, bob} {
		l := rules.Lifecycle{LeaveUntil: rules.Date{Year: 2027, Month: 3, Day: 31},
			Departure: rules.Departure{Kind: rules.DepartRetire, Effective: rules.Date{Year: 2027, Month: 6, Day: 30}}}
		if err := c.SetLifecycle(ctx, dn, l); err != nil {
			t.Fatal(err)
		}
	}
	// An account an administrator made before ldapsync, adopted where it
	// is: its own attributes keep the database's rules for anonymous
	// clients (Debian's: everyone reads), ldapsync's do not.
	erin := "uid=erin,ou=staff," + cfg.BaseDN
	rootAdd(t, srv, "dn: ou=staff,"+cfg.BaseDN+"\nobjectClass: organizationalUnit\nou: staff\n\n"+
		"dn: "+erin+"\nobjectClass: inetOrgPerson\nuid: erin\ncn: Erin\nsn: Erin\nmail: erin@ninhthuan.gov.vn\nuserPassword: Er1n#Passw0rd\n")
	if err := c.Adopt(ctx, erin, "NV-erin", "sonv"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLifecycle(ctx, erin, rules.Lifecycle{LeaveUntil: rules.Date{Year: 2027, Month: 3, Day: 31},
		Departure: rules.Departure{Kind: rules.DepartRetire, Effective: rules.Date{Year: 2027, Month: 6, Day: 30}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPassword(ctx, erin, secret.New("Er1n#Issued-2026"), "hr/E1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, erin, "compromised: password on a phishing page"); err != nil {
		t.Fatal(err)
	}

	// The first login's password change clears pwdReset, which otherwise
	// restricts alice's connection to changing her password.
	if out, err := exec.Command("ldappasswd", "-x", "-H", srv.URL, "-D", alice, "-w", users["alice"], "-s", "Al1ce#Chosen99").CombinedOutput(); err != nil {
		t.Fatalf("alice changes her first password: %v\n%s", err, out)
	}
	users["alice"] = "Al1ce#Chosen99"

	dial := func(t *testing.T, dn, pw string) *ldap.Conn {
		conn, err := ldap.DialURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if dn != "" {
			if err := conn.Bind(dn, pw); err != nil {
				t.Fatalf("bind as %s: %v", dn, err)
			}
		}
		return conn
	}
	read := func(conn *ldap.Conn, dn, attr string) ([]string, error) {
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{attr}, nil))
		if err != nil {
			return nil, err
		}
		if len(res.Entries) == 0 {
			return nil, nil
		}
		return res.Entries[0].GetAttributeValues(attr), nil
	}
	// A value of "-" deletes the attribute.
	modify := func(conn *ldap.Conn, dn, attr, value string) error {
		m := ldap.NewModifyRequest(dn, nil)
		if value == "-" {
			m.Delete(attr, nil)
		} else {
			m.Replace(attr, []string{value})
		}
		return conn.Modify(m)
	}

	tests := []struct {
		name     string
		as, pw   string // "" for anonymous
		dn, attr string
		write    string // value to write; "" to read
		allowed  bool
	}{
		// The root rows show that the values the others must not see exist.
		{"root reads a userPassword", srv.RootDN, srv.RootPassword, bob, "userPassword", "", true},
		{"root reads a pwdHistory", srv.RootDN, srv.RootPassword, alice, "pwdHistory", "", true},
		{"user reads another's mail", alice, users["alice"], bob, "mail", "", true},
		{"user reads another's userPassword", alice, users["alice"], bob, "userPassword", "", false},
		{"user reads own userPassword", alice, users["alice"], alice, "userPassword", "", false},
		{"user reads own pwdHistory", alice, users["alice"], alice, "pwdHistory", "", false},
		{"user writes own pwdAccountLockedTime", alice, users["alice"], alice, "pwdAccountLockedTime", "000001010000Z", false},
		{"user writes own ldapsyncStatus", alice, users["alice"], alice, "ldapsyncStatus", "active", false},
		{"user writes own mail", alice, users["alice"], alice, "mail", "x@example.org", false},
		{"user writes own departmentNumber", alice, users["alice"], alice, "departmentNumber", "sotttt", false},
		{"user writes own pwdPolicySubentry", alice, users["alice"], alice, "pwdPolicySubentry", cfg.ServicePolicyDN(), false},
		{"user writes own pwdReset", alice, users["alice"], alice, "pwdReset", "FALSE", false},
		{"user reads a revoked account", alice, users["alice"], carol, "uid", "", false},
		{"root reads a revoked account", srv.RootDN, srv.RootPassword, carol, "uid", "", true},
		{"user reads a policy", alice, users["alice"], cfg.DefaultPolicyDN(), "pwdMinLength", "", false},
		{"user writes another's userPassword", alice, users["alice"], bob, "userPassword", "Hij4ck#Passw0rd", false},
		{"anonymous reads a person", "", "", bob, "cn", "", false},
		{"anonymous reads a group", "", "", cfg.GroupDN("mail"), "member", "", false},
		{"anonymous reads a userPassword", "", "", bob, "userPassword", "", false},
		// The suffix entry is not ldapsync's: the database's rules decide,
		// and Debian's let everyone read it (base DN discovery).
		{"anonymous reads the suffix", "", "", cfg.BaseDN, "objectClass", "", true},
		{"anonymous reads people's container", "", "", "ou=people," + cfg.BaseDN, "objectClass", "", false},
		{"anonymous reads a pwdHistory", "", "", alice, "pwdHistory", "", false},
		{"anonymous reads a lock reason", "", "", bob, "ldapsyncLockReason", "", false},
		{"anonymous reads a status", "", "", bob, "ldapsyncStatus", "", false},
		{"anonymous reads a policy", "", "", cfg.DefaultPolicyDN(), "pwdMinLength", "", false},
		{"anonymous reads a revoked account", "", "", carol, "uid", "", false},
		{"anonymous reads the service account's userPassword", "", "", cfg.BindDN, "userPassword", "", false},
		{"user reads the service account's userPassword", alice, users["alice"], cfg.BindDN, "userPassword", "", false},
		{"user reads another's pwdHistory", alice, users["alice"], bob, "pwdHistory", "", false},
		{"user deletes own pwdAccountLockedTime", alice, users["alice"], alice, "pwdAccountLockedTime", "-", false},
		{"user writes own ldapsyncLockReason", alice, users["alice"], alice, "ldapsyncLockReason", "other", false},
		{"user writes another's departmentNumber", alice, users["alice"], bob, "departmentNumber", "sotttt", false},
		// An adopted account: anonymous clients read what the database's
		// rules give them of the entry, never what ldapsync keeps there.
		{"anonymous reads an adopted account's mail", "", "", erin, "mail", "", true},
		{"anonymous reads an adopted account's userPassword", "", "", erin, "userPassword", "", false},
		{"anonymous reads an adopted account's status", "", "", erin, "ldapsyncStatus", "", false},
		{"anonymous reads an adopted account's lock", "", "", erin, "pwdAccountLockedTime", "", false},
		{"anonymous reads an adopted account's lock reason", "", "", erin, "ldapsyncLockReason", "", false},
		{"anonymous reads an adopted account's leave", "", "", erin, "ldapsyncLeaveUntil", "", false},
		{"anonymous reads an adopted account's departure", "", "", erin, "ldapsyncDepartureKind", "", false},
		{"anonymous reads an adopted account's departure date", "", "", erin, "ldapsyncDepartureDate", "", false},
		{"anonymous reads an adopted account's issued-for", "", "", erin, "ldapsyncIssuedFor", "", false},
		{"user reads an adopted account's departure", alice, users["alice"], erin, "ldapsyncDepartureKind", "", true},
		{"user reads an adopted account's lock reason", alice, users["alice"], erin, "ldapsyncLockReason", "", false},
		{"user writes an adopted account's status", alice, users["alice"], erin, "ldapsyncStatus", "active", false},
		{"root reads an adopted account's departure", srv.RootDN, srv.RootPassword, erin, "ldapsyncDepartureKind", "", true},
		// Outside its containers the service account sees uids, nothing
		// more, whatever the database's rules give everyone.
		{"service reads a uid outside its containers", cfg.BindDN, mustLoad(t, srv), erin, "uid", "", true},
		{"service reads an entry outside its containers", cfg.BindDN, mustLoad(t, srv), "ou=staff," + cfg.BaseDN, "ou", "", false},
		{"anonymous reads an entry outside ldapsync's containers", "", "", "ou=staff," + cfg.BaseDN, "ou", "", true},
		{"root reads an adopted account's issued-for", srv.RootDN, srv.RootPassword, erin, "ldapsyncIssuedFor", "", true},
		{"root reads an adopted account's lock reason", srv.RootDN, srv.RootPassword, erin, "ldapsyncLockReason", "", true},
		{"root reads an adopted account's leave", srv.RootDN, srv.RootPassword, erin, "ldapsyncLeaveUntil", "", true},
		{"anonymous writes a person", "", "", bob, "title", "x", false},
		{"service writes pwdReset", cfg.BindDN, mustLoad(t, srv), bob, "pwdReset", "TRUE", true},
		{"service reads userPassword", cfg.BindDN, mustLoad(t, srv), bob, "userPassword", "", false},
		{"user reads another's status", alice, users["alice"], bob, "ldapsyncStatus", "", true},
		{"user reads another's lock reason", alice, users["alice"], bob, "ldapsyncLockReason", "", false},
		{"service reads a lock reason", cfg.BindDN, mustLoad(t, srv), bob, "ldapsyncLockReason", "", true},
		{"user reads another's leave", alice, users["alice"], bob, "ldapsyncLeaveUntil", "", false},
		{"user reads own leave", alice, users["alice"], alice, "ldapsyncLeaveUntil", "", true},
		{"service reads a leave", cfg.BindDN, mustLoad(t, srv), bob, "ldapsyncLeaveUntil", "", true},
		{"user writes own leave", alice, users["alice"], alice, "ldapsyncLeaveUntil", "2099-12-31", false},
		{"user reads another's departure", alice, users["alice"], bob, "ldapsyncDepartureDate", "", true},
		{"user writes own departure", alice, users["alice"], alice, "ldapsyncDepartureKind", "resign", false},
		{"anonymous reads a departure", "", "", bob, "ldapsyncDepartureKind", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := dial(t, tt.as, tt.pw)
			if tt.write != "" {
				err := modify(conn, tt.dn, tt.attr, tt.write)
				switch {
				case tt.allowed && err != nil:
					t.Fatalf("write refused: %v", err)
				// slapd refuses anonymous writes before the access rules.
				case !tt.allowed && !ldap.IsErrorAnyOf(err, ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultStrongAuthRequired):
					t.Fatalf("write: %v, want insufficient access", err)
				}
				return
			}
			vals, err := read(conn, tt.dn, tt.attr)
			if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				t.Fatal(err)
			}
			if got := len(vals) > 0; got != tt.allowed {
				t.Fatalf("read %s of %s: got %d values, allowed %v", tt.attr, tt.dn, len(vals), tt.allowed)
			}
		})
	}
}

// TestRender_ownPassword checks, with OpenLDAP's own clients, that users
// change their own password (with the old one, at first login and after)
// but never read their own hash: slapd hashes what it is given, and a hash
// in a user's hands is a hash to crack offline.
func TestRender_ownPassword(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	cfg := srv.Config()
	ctx := context.Background()
	const uid = "dave"
	dn := cfg.PersonDN(uid)
	if err := c.CreatePerson(ctx, rules.Account{UID: uid, EmployeeID: "NV-" + uid, CN: uid, SN: uid, Mail: uid + "@ninhthuan.gov.vn"}); err != nil {
		t.Fatal(err)
	}
	first, second, third := "D4ve#First-2026", "D4ve#Chosen-2026", "D4ve#Again-2027"
	if err := c.SetPassword(ctx, dn, secret.New(first), ""); err != nil {
		t.Fatal(err)
	}
	ldappasswd := func(t *testing.T, old, new string) {
		t.Helper()
		out, err := exec.Command("ldappasswd", "-x", "-H", srv.URL, "-D", dn, "-w", old, "-a", old, "-s", new).CombinedOutput()
		if err != nil {
			t.Fatalf("ldappasswd -a OLD -s NEW as %s: %v\n%s", uid, err, out)
		}
	}
	whoami := func(pw string) ([]byte, error) {
		return exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-e", "ppolicy", "-D", dn, "-w", pw).CombinedOutput()
	}
	// The forced change at first login (pwdReset), then an ordinary one.
	ldappasswd(t, first, second)
	ldappasswd(t, second, third)
	out, err := whoami(third)
	if err != nil || !strings.Contains(string(out), "dn:"+dn) || strings.Contains(string(out), "must be changed") {
		t.Fatalf("ldapwhoami with the new password: %v\n%s", err, out)
	}
	for _, old := range []string{first, second} {
		if out, err := whoami(old); err == nil {
			t.Fatalf("ldapwhoami with an old password succeeded:\n%s", out)
		}
	}

	// The hash is there, as root sees.
	out, err = exec.Command("ldapsearch", "-x", "-LLL", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile,
		"-b", dn, "-s", "base", "userPassword").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "userPassword:") {
		t.Fatalf("root reads the userPassword: %v\n%s", err, out)
	}
	// The user reads their entry but not its hash.
	out, err = exec.Command("ldapsearch", "-x", "-LLL", "-H", srv.URL, "-D", dn, "-w", third,
		"-b", dn, "-s", "base", "userPassword", "uid").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "uid: "+uid) {
		t.Fatalf("ldapsearch of their own entry as %s: %v\n%s", uid, err, out)
	}
	if strings.Contains(strings.ToLower(string(out)), "userpassword") {
		t.Errorf("ldapsearch as %s shows their own userPassword:\n%s", uid, out)
	}
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(dn, third); err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"userPassword", "uid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search of their own entry as %s: %v, %v", uid, res, err)
	}
	if v := res.Entries[0].GetAttributeValues("userPassword"); len(v) > 0 {
		t.Errorf("search as %s returns %d userPassword values, want none", uid, len(v))
	}
	// Nor can they test guesses against it with a compare.
	if ok, err := conn.Compare(dn, "userPassword", third); err == nil {
		t.Errorf("compare of their own userPassword as %s answered %v, want insufficient access", uid, ok)
	}
}

// TestRender_accessRulesLeaveOthersAlone checks that the rules decide only
// within ldapsync's containers: entries elsewhere keep the rules the
// database already had, here a helpdesk's right to reset staff passwords.
func TestRender_accessRulesLeaveOthersAlone(t *testing.T) {
	t.Parallel()
	srv, _ := start(t)
	base := srv.BaseDN
	helpdesk, clerk := "cn=helpdesk,ou=services,"+base, "uid=clerk,ou=staff,"+base
	ldapmodify := func(t *testing.T, args []string, ldif string) {
		t.Helper()
		cmd := exec.Command("ldapmodify", args...)
		cmd.Stdin = strings.NewReader(ldif)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ldapmodify: %v\n%s", err, out)
		}
	}
	// The database's own rules, after ldapsync's and before Debian's
	// (which end with "to * by * read"), as on a server in use.
	n := ruleCount(t)
	ldapmodify(t, []string{"-Q", "-Y", "EXTERNAL", "-H", srv.LDAPI}, "dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcAccess\n"+
		fmt.Sprintf("olcAccess: {%d}to dn.subtree=\"ou=staff,%s\" attrs=userPassword by dn.exact=\"%s\" write by anonymous auth by * none\n", n, base, helpdesk)+
		fmt.Sprintf("olcAccess: {%d}to dn.subtree=\"ou=services,%s\" attrs=userPassword by anonymous auth by * none\n", n+1, base))
	ldapmodify(t, []string{"-x", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile}, ""+
		"dn: "+helpdesk+"\nchangetype: add\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\nuserPassword: Help#Desk2026\n\n"+
		"dn: ou=staff,"+base+"\nchangetype: add\nobjectClass: organizationalUnit\n\n"+
		"dn: "+clerk+"\nchangetype: add\nobjectClass: account\nobjectClass: simpleSecurityObject\nuserPassword: Cl3rk#Passw0rd\n")
	out, err := exec.Command("ldappasswd", "-x", "-H", srv.URL, "-D", helpdesk, "-w", "Help#Desk2026", "-s", "N3w#Passw0rd!", clerk).CombinedOutput()
	if err != nil {
		t.Fatalf("the helpdesk resets a staff password, as the database's rules allow: %v\n%s", err, out)
	}
	if out, err := exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", clerk, "-w", "N3w#Passw0rd!").CombinedOutput(); err != nil {
		t.Fatalf("the clerk binds with the new password: %v\n%s", err, out)
	}
}

// TestRender_applicationAccount checks what README's "Setting up OpenLDAP"
// tells an administrator wiring an application: its own account under
// ou=services (as the service account is made, with the service policy)
// binds with its password, as Debian's rules after ldapsync's allow, and
// searches people as a mail server does: the login filter with the active
// group, the mail lookup without it. Anonymous clients read no person.
func TestRender_applicationAccount(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	cfg := srv.Config()
	ctx := context.Background()
	app := "cn=demo-app,ou=services," + cfg.BaseDN
	const appPassword = "App#Passw0rd-2026"
	rootAdd(t, srv, "dn: "+app+"\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: demo-app\n"+
		"description: an application\nuserPassword: "+appPassword+"\npwdPolicySubentry: "+cfg.ServicePolicyDN()+"\n")
	// gina is active; hank is new, pending his first password change,
	// outside the active group.
	for _, uid := range []string{"gina", "hank"} {
		p := rules.Account{UID: uid, EmployeeID: "NV-" + uid, CN: uid, SN: uid, Mail: uid + "@ninhthuan.gov.vn", Groups: []string{"mail"}}
		if err := c.CreatePerson(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := c.SetPassword(ctx, cfg.PersonDN(uid), secret.New("Secret#"+uid+"-2026"), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ChangeGroups(ctx, []rules.GroupChange{{Group: cfg.ActiveGroup, Add: []string{cfg.PersonDN("gina")}, Remove: []string{cfg.PersonDN("hank")}}}); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", app, "-w", appPassword).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dn:"+app) {
		t.Fatalf("ldapwhoami as the application: %v\n%s", err, out)
	}
	out, err = exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", app, "-w", "Wrong#Passw0rd").CombinedOutput()
	if code := exitCode(err); code != 49 {
		t.Fatalf("ldapwhoami as the application with a wrong password: exit %d, want 49 (invalid credentials)\n%s", code, out)
	}

	active := "(memberOf=" + ldap.EscapeFilter(cfg.GroupDN(cfg.ActiveGroup)) + ")"
	people := "ou=people," + cfg.BaseDN
	search := func(as, pw, base, filter string) ([]string, string) {
		t.Helper()
		args := []string{"-x", "-LLL", "-H", srv.URL, "-b", base, filter, "uid", "mail", "userPassword"}
		if as != "" {
			args = append(args, "-D", as, "-w", pw)
		}
		out, err := exec.Command("ldapsearch", args...).CombinedOutput()
		// An anonymous search under a base it may not see is "No such
		// object" (32), as if it did not exist.
		if err != nil && !(as == "" && exitCode(err) == 32) {
			t.Fatalf("ldapsearch -b %s %s: %v\n%s", base, filter, err, out)
		}
		var dns []string
		for _, l := range strings.Split(string(out), "\n") {
			if dn, ok := strings.CutPrefix(l, "dn: "); ok {
				dns = append(dns, dn)
			}
		}
		return dns, string(out)
	}
	tests := []struct {
		name       string
		as, pw     string
		base       string
		filter     string
		want       []string
		wantOutput []string
	}{
		{"application logs an active user in", app, appPassword, people, "(&(uid=gina)" + active + ")", []string{cfg.PersonDN("gina")}, []string{"mail: gina@ninhthuan.gov.vn"}},
		{"application logs a pending user in", app, appPassword, people, "(&(uid=hank)" + active + ")", nil, nil},
		{"application looks a pending user up for mail", app, appPassword, people, "(uid=hank)", []string{cfg.PersonDN("hank")}, []string{"mail: hank@ninhthuan.gov.vn"}},
		{"application lists the active users", app, appPassword, people, active, []string{cfg.PersonDN("gina")}, nil},
		{"anonymous looks a user up", "", "", people, "(uid=gina)", nil, nil},
		{"anonymous searches the whole tree for people", "", "", cfg.BaseDN, "(|(uid=gina)(uid=hank)(objectClass=inetOrgPerson))", nil, nil},
		{"anonymous lists the active group's members", "", "", cfg.BaseDN, active, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, out := search(tt.as, tt.pw, tt.base, tt.filter)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("entries %q, want %q:\n%s", got, tt.want, out)
			}
			for _, w := range tt.wantOutput {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(strings.ToLower(out), "userpassword") {
				t.Errorf("a password hash in the output:\n%s", out)
			}
		})
	}

	// The application changes nothing of a person.
	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(app, appPassword); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(cfg.PersonDN("hank"), nil)
	m.Replace("ldapsyncStatus", []string{"active"})
	if err := conn.Modify(m); !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		t.Errorf("the application sets a status: %v, want insufficient access", err)
	}
}

// exitCode returns the exit status of a command's error: 0 for none, -1
// when it did not run.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// ruleCount returns how many access rules part 50 inserts.
func ruleCount(t *testing.T) int {
	t.Helper()
	files, err := openldap.Render(params())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		n += strings.Count(string(f.Data), "\nolcAccess: ")
	}
	if n == 0 {
		t.Fatal("the setup files have no access rules")
	}
	return n
}

// rootAdd adds the entries of ldif as the root DN, with ldapadd.
func rootAdd(t *testing.T, srv *slapdtest.Server, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

func mustLoad(t *testing.T, srv *slapdtest.Server) string {
	pw, err := srv.ServicePassword()
	if err != nil {
		t.Fatal(err)
	}
	return pw.Reveal()
}

// TestRender_refint checks what the overlay file promises: deleting a
// group's last member leaves the empty DN, and memberof maintains memberOf.
func TestRender_refint(t *testing.T) {
	t.Parallel()
	srv, c := start(t)
	cfg := srv.Config()
	ctx := context.Background()
	p := rules.Account{UID: "solo", EmployeeID: "NV-1", CN: "Solo", SN: "Solo", Groups: []string{"baocao"}}
	if err := c.CreatePerson(ctx, p); err != nil {
		t.Fatal(err)
	}
	root, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Bind(srv.RootDN, srv.RootPassword); err != nil {
		t.Fatal(err)
	}
	members := func() []string {
		res, err := root.Search(ldap.NewSearchRequest(cfg.GroupDN("baocao"), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return res.Entries[0].GetAttributeValues("member")
	}
	res, err := root.Search(ldap.NewSearchRequest(cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(memberOf="+ldap.EscapeFilter(cfg.GroupDN("baocao"))+")", []string{"uid"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("uid") != "solo" {
		t.Fatalf("filter on memberOf: %v, %v; want solo", res, err)
	}
	m := ldap.NewModifyRequest(cfg.GroupDN("baocao"), nil)
	m.Delete("member", []string{directory.EmptyMember})
	if err := root.Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := root.Del(ldap.NewDelRequest(cfg.PersonDN("solo"), nil)); err != nil {
		t.Fatal(err)
	}
	// refint updates the groups in the background, after the delete
	// returned.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = members(); len(got) == 1 && got[0] == directory.EmptyMember {
			return
		}
	}
	t.Fatalf("members after the last one was deleted: %q, want only the empty DN", got)
}
