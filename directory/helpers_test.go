package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/rules"
)

// env is a harness slapd with a client dialled as the service account and
// the tree made.
type env struct {
	srv *slapdtest.Server
	c   *directory.Client
	cfg directory.Config
	log *syncbuf.Buffer
	// secrets must never show in log; checked at cleanup.
	secrets []string
}

// newEnv starts slapd, dials and, when tree is set, runs EnsureTree with
// testRules.
func newEnv(t *testing.T, tree bool) *env {
	t.Helper()
	return newEnvWith(t, tree, slapdtest.Options{}, nil)
}

// newEnvWith is newEnv with slapd started with opts and the client's
// configuration changed by edit (when not nil).
func newEnvWith(t *testing.T, tree bool, opts slapdtest.Options, edit func(*directory.Config)) *env {
	t.Helper()
	srv := slapdtest.New(t, opts)
	e := &env{srv: srv, cfg: srv.Config(), log: &syncbuf.Buffer{}}
	if edit != nil {
		edit(&e.cfg)
	}
	svc, err := srv.ServicePassword()
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, svc.Reveal(), srv.RootPassword)
	log := zerolog.New(e.log).Level(zerolog.DebugLevel)
	e.c, err = directory.Dial(ctx(t), e.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.c.Close()
		out := e.log.String()
		for _, s := range e.secrets {
			if strings.Contains(out, s) {
				t.Errorf("a password appears in the log:\n%s", out)
			}
		}
	})
	if tree {
		if _, err := e.c.EnsureTree(ctx(t), testRules(t)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// pw returns a password the default profile accepts, remembered as a
// secret that must not be logged.
func (e *env) pw(s string) secret.Secret {
	e.secrets = append(e.secrets, s)
	return secret.New(s)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// testRules are the default rules with two applications and a small unit
// tree: a department with an office, a district with an office and a
// commune.
func testRules(t testing.TB) *rules.Rules {
	t.Helper()
	cfg := rules.DefaultConfig()
	cfg.Applications = cfg.Applications[:2] // mail, eoffice
	cfg.Units = []*rules.Unit{
		{Name: "Sở Nội vụ", Kind: rules.KindDepartment, Abbr: "sonv", Units: []*rules.Unit{
			{Name: "Văn phòng Sở Nội vụ", Kind: rules.KindDepartmentOffice, Abbr: "vp"},
		}},
		{Name: "UBND huyện Ninh Sơn", Kind: rules.KindDistrict, Abbr: "ns", Units: []*rules.Unit{
			{Name: "Phòng Văn hóa và Thông tin huyện Ninh Sơn", Kind: rules.KindDistrictOffice, Abbr: "vhtt"},
			{Name: "Xã Lâm Sơn", Kind: rules.KindCommune},
		}},
	}
	r, errs := rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

// conn returns a connection bound as dn, closed at cleanup.
func (e *env) conn(t *testing.T, dn, pw string) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Bind(dn, pw); err != nil {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	return conn
}

// root returns a connection bound as the harness's root account, which
// sees past the access rules.
func (e *env) root(t *testing.T) *ldap.Conn {
	return e.conn(t, e.srv.RootDN, e.srv.RootPassword)
}

// service returns a connection bound as the service account.
func (e *env) service(t *testing.T) *ldap.Conn {
	pw, err := e.srv.ServicePassword()
	if err != nil {
		t.Fatal(err)
	}
	return e.conn(t, e.srv.ServiceDN, pw.Reveal())
}

// get reads attrs of dn through conn; nil when conn cannot see the entry.
func get(t *testing.T, conn *ldap.Conn, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0]
}

// person returns a valid new person with uid.
func person(uid, employee string) rules.Account {
	return rules.Account{
		UID:         uid,
		EmployeeID:  employee,
		CN:          "Nguyễn Quốc Trạng",
		SN:          "Nguyễn",
		GivenName:   "Trạng",
		DisplayName: "Nguyễn Quốc Trạng",
		Mail:        uid + "@ninhthuan.gov.vn",
		Unit:        "sotttt",
		Title:       "Chuyên viên",
		Phone:       "0259 3822 222",
		Groups:      []string{"mail"},
		// In use: its first password changed, in the active group. (A new
		// hire is pending: see TestClient_AddPerson_pending.)
		Status: rules.StatusActive,
	}
}

// user creates p and sets its password to pw, as for a new hire.
func (e *env) user(t *testing.T, p rules.Account, pw string) (string, secret.Secret) {
	t.Helper()
	if err := e.c.CreatePerson(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	dn := e.cfg.PersonDN(p.UID)
	s := e.pw(pw)
	if err := e.c.SetPassword(ctx(t), dn, s, ""); err != nil {
		t.Fatal(err)
	}
	return dn, s
}

// snapshotPerson returns uid's entry in a fresh snapshot.
func (e *env) snapshotPerson(t *testing.T, uid string) rules.Account {
	t.Helper()
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.People {
		if p.UID == uid {
			return p
		}
	}
	t.Fatalf("%s is not in the snapshot", uid)
	return rules.Account{}
}

// sameDN reports whether a and b name the same entry; slapd returns DNs
// with its own escaping (\2C for \,).
func sameDN(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := ldap.ParseDN(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := ldap.ParseDN(b)
	if err != nil {
		t.Fatal(err)
	}
	return da.EqualFold(db)
}
