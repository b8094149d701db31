package directory_test

import (
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/rules"
)

// handMade are the entries an administrator made before ldapsync, as
// Snapshot should read them into Unadopted: one under ou=Users, one under
// an old unit's OU and named by its cn, one under ou=people without
// employeeNumber, and one locked.
type handMade struct {
	tuan, hoa, lan, khoa rules.Account
	// tuanPW is tuan's own password, which adoption must leave alone.
	tuanPW string
}

// seedHandMade adds, with ldapadd as the root account, the entries of an
// administrator's directory from before ldapsync: the hand-made accounts
// and, beside them, entries that are not hand-made accounts (a contact
// without uid, mail and device accounts, an inetOrgPerson under Units,
// one with an employeeNumber of its own).
func seedHandMade(t *testing.T, e *env) handMade {
	t.Helper()
	base := e.cfg.BaseDN
	users, old, people := "ou=Users,"+base, "ou=sotttt-old,"+base, e.cfg.People+","+base
	h := handMade{
		tuan: rules.Account{DN: "uid=tuan.nv," + users, UID: "tuan.nv", CN: "Nguyễn Văn Tuấn", SN: "Nguyễn", GivenName: "Tuấn",
			DisplayName: "Nguyễn Văn Tuấn", Mail: "tuan.nv@ninhthuan.gov.vn", Title: "Chuyên viên"},
		hoa: rules.Account{DN: "cn=Trần Thị Hoa," + old, UID: "hoatt", CN: "Trần Thị Hoa", SN: "Trần",
			Mail: "hoatt@ninhthuan.gov.vn", Unit: "sotttt", Title: "Kế toán"},
		lan:    rules.Account{DN: "uid=lanpt," + people, UID: "lanpt", CN: "Phạm Thị Lan", SN: "Phạm"},
		khoa:   rules.Account{DN: "uid=khoadv," + users, UID: "khoadv", CN: "Đỗ Văn Khoa", SN: "Đỗ", Locked: true},
		tuanPW: e.pw("Tuan#Own-2019x").Reveal(),
	}
	ldif := []string{
		entryLDIF("ou=Users,"+base, "objectClass", "organizationalUnit", "ou", "Users"),
		entryLDIF(old, "objectClass", "organizationalUnit", "ou", "sotttt-old"),
		entryLDIF(h.tuan.DN, "objectClass", "inetOrgPerson", "uid", h.tuan.UID, "cn", h.tuan.CN, "sn", h.tuan.SN,
			"givenName", h.tuan.GivenName, "displayName", h.tuan.DisplayName, "mail", h.tuan.Mail, "title", h.tuan.Title,
			"userPassword", h.tuanPW),
		entryLDIF(h.hoa.DN, "objectClass", "inetOrgPerson", "uid", h.hoa.UID, "cn", h.hoa.CN, "sn", h.hoa.SN,
			"mail", h.hoa.Mail, "departmentNumber", h.hoa.Unit, "title", h.hoa.Title),
		entryLDIF(h.lan.DN, "objectClass", "inetOrgPerson", "uid", h.lan.UID, "cn", h.lan.CN, "sn", h.lan.SN),
		entryLDIF(h.khoa.DN, "objectClass", "inetOrgPerson", "uid", h.khoa.UID, "cn", h.khoa.CN, "sn", h.khoa.SN,
			"pwdAccountLockedTime", directory.AdminLockTime),
		// Not hand-made accounts.
		entryLDIF("cn=Phòng Tổ chức,"+users, "objectClass", "inetOrgPerson", "cn", "Phòng Tổ chức", "sn", "Tổ chức",
			"telephoneNumber", "0259 3822 000"),
		entryLDIF("uid=postmaster,ou=services,"+base, "objectClass", "account", "uid", "postmaster"),
		entryLDIF("uid=scanner,"+people, "objectClass", "account", "uid", "scanner"),
		entryLDIF("uid=vanthu,ou=sonv,"+e.cfg.Units+","+base, "objectClass", "inetOrgPerson", "uid", "vanthu", "cn", "Văn thư", "sn", "Văn thư"),
		entryLDIF("uid=numbered,"+users, "objectClass", "inetOrgPerson", "uid", "numbered", "cn", "Numbered", "sn", "Numbered",
			"employeeNumber", "HR-OLD-1"),
	}
	ldapadd(t, e, strings.Join(ldif, "\n"))
	return h
}

// entryLDIF returns the LDIF of an entry at dn with the attribute and value
// pairs of av, non-ASCII values base64-encoded as RFC 2849 wants.
func entryLDIF(dn string, av ...string) string {
	var b strings.Builder
	line := func(attr, v string) {
		if isSafe(v) {
			b.WriteString(attr + ": " + v + "\n")
		} else {
			b.WriteString(attr + ":: " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n")
		}
	}
	line("dn", dn)
	for i := 0; i+1 < len(av); i += 2 {
		line(av[i], av[i+1])
	}
	return b.String()
}

func isSafe(v string) bool {
	for _, r := range v {
		if r >= utf8.RuneSelf {
			return false
		}
	}
	return v == "" || (v[0] != ' ' && v[0] != ':' && v[0] != '<')
}

// ldapadd adds the entries of ldif as the root account, as an administrator
// would.
func ldapadd(t *testing.T, e *env, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-a", "-x", "-H", e.srv.URL, "-D", e.srv.RootDN, "-y", e.srv.RootPasswordFile)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

// snapshotAt returns the person at dn in snap.People, and whether there is
// one.
func snapshotAt(t *testing.T, snap *rules.Snapshot, dn string) (rules.Account, bool) {
	t.Helper()
	for _, p := range snap.People {
		if sameDN(t, p.DN, dn) {
			return p, true
		}
	}
	return rules.Account{}, false
}

// handFields is what Snapshot reads of a hand-made entry.
func handFields(a rules.Account) rules.Account {
	return rules.Account{DN: a.DN, UID: a.UID, CN: a.CN, SN: a.SN, GivenName: a.GivenName, DisplayName: a.DisplayName,
		Mail: a.Mail, Unit: a.Unit, Title: a.Title, Locked: a.Locked}
}

func TestClient_Snapshot_unadopted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	managed := withApps(person("quoctrang", "NV-0001"), "mail")
	e.user(t, managed, "Qu0c#Passw0rd!1")
	h := seedHandMade(t, e)

	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []rules.Account{h.hoa, h.khoa, h.tuan, h.lan}
	slices.SortFunc(want, func(a, b rules.Account) int { return strings.Compare(a.DN, b.DN) })
	if len(snap.Unadopted) != len(want) {
		t.Fatalf("unadopted:\n%+v\nwant\n%+v", snap.Unadopted, want)
	}
	for i, w := range want {
		t.Run(w.UID, func(t *testing.T) {
			got := snap.Unadopted[i]
			if !sameDN(t, got.DN, w.DN) {
				t.Fatalf("unadopted[%d] is %s, want %s (sorted by DN)", i, got.DN, w.DN)
			}
			got.DN = w.DN
			if !reflect.DeepEqual(got, handFields(w)) {
				t.Errorf("unadopted:\n%+v\nwant\n%+v", got, handFields(w))
			}
			if _, ok := snapshotAt(t, snap, w.DN); ok {
				t.Errorf("%s is among the people ldapsync manages", w.DN)
			}
			// The uid stays taken.
			if !slices.Contains(snap.Accounts, w.UID) {
				t.Errorf("accounts %v lack %s", snap.Accounts, w.UID)
			}
		})
	}
	if len(snap.People) != 1 || snap.People[0].UID != managed.UID {
		t.Errorf("people = %+v, want %s only", snap.People, managed.UID)
	}
	// Every uid of the directory is in People or Accounts; the entries that
	// are not hand-made accounts (mail and device accounts, an
	// inetOrgPerson under Units, one with an employeeNumber of its own) are
	// in Accounts only.
	for _, uid := range []string{"postmaster", "scanner", "vanthu", "numbered"} {
		if !slices.Contains(snap.Accounts, uid) {
			t.Errorf("accounts %v lack %s", snap.Accounts, uid)
		}
	}
	if slices.Contains(snap.Accounts, managed.UID) {
		t.Errorf("accounts %v hold the person %s", snap.Accounts, managed.UID)
	}
	// FindPeople finds the people Snapshot lists, not the hand-made entries.
	if found, err := e.c.FindPeople(ctx(t), directory.ByUID, h.lan.UID); err != nil || len(found) != 0 {
		t.Errorf("FindPeople of a hand-made entry: %+v, %v; want none", found, err)
	}
}

// TestClient_Snapshot_searches counts, in slapd's log, the searches one
// Snapshot makes of a directory with people, tombstones, adopted and
// hand-made entries: one per kind of place, never one per person.
func TestClient_Snapshot_searches(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "slapd.log")
	e := newEnvWith(t, true, slapdtest.Options{LogFile: logFile}, nil)
	h := seedHandMade(t, e)
	for _, a := range []struct{ dn, employee string }{{h.tuan.DN, "NV-2001"}, {h.hoa.DN, "NV-2002"}} {
		if err := e.c.Adopt(ctx(t), a.dn, a.employee, "sotttt"); err != nil {
			t.Fatal(err)
		}
	}
	for _, uid := range []string{"an", "binh", "cuong"} {
		e.user(t, withApps(person(uid, "NV-"+uid), "mail"), "Str0ng#Passw0rd-"+uid)
	}
	if err := e.c.Revoke(ctx(t), e.cfg.PersonDN("cuong"), revokedAt); err != nil {
		t.Fatal(err)
	}
	marker := func(s string) { ldapsearch(t, e, e.cfg.BaseDN, "base", "(description="+s+")", "1.1") }
	marker("snapshot-begins")
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	marker("snapshot-ends")
	if len(snap.People) != 5 || len(snap.Unadopted) != 2 {
		t.Fatalf("people %d, unadopted %d; want 5 and 2", len(snap.People), len(snap.Unadopted))
	}
	e.srv.Stop() // flushes the log
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	begin, end := strings.Index(log, "(description=snapshot-begins)"), strings.Index(log, "(description=snapshot-ends)")
	if begin < 0 || end < begin {
		t.Fatalf("markers not found in slapd's log")
	}
	var searches []string
	people := "" // "conn=N op=M" of the search for the people
	lines := strings.Split(log[begin:end], "\n")
	for _, line := range lines[1 : len(lines)-1] { // not the markers
		if i := strings.Index(line, " SRCH base="); i >= 0 {
			searches = append(searches, line[i+1:])
			if strings.Contains(line, "ldapsyncAccount") {
				j := strings.Index(line, "conn=")
				people = line[j:i]
			}
		}
	}
	if len(searches) != 1 {
		t.Errorf("Snapshot made %d searches, want 1 (the people wherever they are, with memberOf, and the other uid holders):\n%s", len(searches), strings.Join(searches, "\n"))
	}
	// That one returns every person once: those of People, the tombstone,
	// the adopted and the hand-made entries wherever they are, and the
	// other entries with a uid (units, the service account), which are
	// placed by their DNs and counted as taken names.
	if people == "" || !strings.Contains(log, people+" SEARCH RESULT") {
		t.Fatalf("no search for the people, or no result of it, in slapd's log")
	}
	result := log[strings.Index(log, people+" SEARCH RESULT"):]
	result = result[:strings.Index(result, "\n")]
	n, _ := strconv.Atoi(strings.Fields(result[strings.Index(result, "nentries=")+len("nentries="):])[0])
	if want := len(snap.People) + len(snap.Accounts); n < want || n > want+4 {
		t.Errorf("the search for the people: %s; want about %d entries (people and other uid holders), each once", result, want)
	}
}

func TestClient_Adopt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	h := seedHandMade(t, e)
	base := e.cfg.BaseDN
	tombDN, _ := e.user(t, withApps(person("cu", "NV-0700"), "mail"), "Cu#Passw0rd!123")
	if err := e.c.Revoke(ctx(t), tombDN, revokedAt); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		who      rules.Account
		employee string
		unit     string
		want     rules.Account // Status, Unit and Locked after the adoption
		wantErr  error
		errHas   []string
	}{
		{name: "under ou=Users", who: h.tuan, employee: "NV-2001", unit: "sotttt", want: rules.Account{Status: rules.StatusActive, Unit: "sotttt"}},
		{name: "replay", who: h.tuan, employee: "NV-2001", unit: "sotttt", want: rules.Account{Status: rules.StatusActive, Unit: "sotttt"}},
		{name: "replay, the id in another case", who: h.tuan, employee: "nv-2001", unit: "sotttt", want: rules.Account{Status: rules.StatusActive, Unit: "sotttt"}},
		{name: "another employee", who: h.tuan, employee: "NV-9999", wantErr: directory.ErrConflict, errHas: []string{`"NV-2001"`, `"NV-9999"`, h.tuan.DN}},
		{name: "named by cn, under an old unit's OU, its unit kept", who: h.hoa, employee: "NV-2002", want: rules.Account{Status: rules.StatusActive, Unit: "sotttt"}},
		{name: "under ou=people", who: h.lan, employee: "NV-2003", unit: "sonv_vp", want: rules.Account{Status: rules.StatusActive, Unit: "sonv_vp"}},
		{name: "locked", who: h.khoa, employee: "NV-2004", unit: "vhtt_ns", want: rules.Account{Status: rules.StatusLocked, Unit: "vhtt_ns", Locked: true}},
		{name: "locked, replay", who: h.khoa, employee: "NV-2004", unit: "vhtt_ns", want: rules.Account{Status: rules.StatusLocked, Unit: "vhtt_ns", Locked: true}},
		{name: "an employeeNumber of its own", who: rules.Account{DN: "uid=numbered,ou=Users," + base}, employee: "NV-2005",
			wantErr: directory.ErrConflict, errHas: []string{`"HR-OLD-1"`, `"NV-2005"`}},
		{name: "not a person's entry", who: rules.Account{DN: "uid=scanner,ou=people," + base}, employee: "NV-2006", errHas: []string{"inetOrgPerson"}},
		// The service account sees only the uid of an entry that is neither
		// in its containers nor a person's.
		{name: "not a person's entry, outside", who: rules.Account{DN: "uid=postmaster,ou=services," + base}, employee: "NV-2006", wantErr: directory.ErrNotFound},
		{name: "a contact without uid", who: rules.Account{DN: "cn=Phòng Tổ chức,ou=Users," + base}, employee: "NV-2007", errHas: []string{"no uid"}},
		{name: "no entry", who: rules.Account{DN: "uid=nobody,ou=Users," + base}, employee: "NV-2008", wantErr: directory.ErrNotFound},
		{name: "a tombstone", who: rules.Account{DN: "uid=cu,ou=revoked," + base}, employee: "NV-0700", errHas: []string{"not a person"}},
		{name: "under Units", who: rules.Account{DN: "uid=vanthu,ou=sonv,ou=units," + base}, employee: "NV-2009", errHas: []string{"not a person"}},
		{name: "no employee", who: h.lan, employee: "", errHas: []string{"employee id is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ldapsearch(t, e, e.cfg.BaseDN, "sub", "(objectClass=*)", "*")
			err := e.c.Adopt(ctx(t), tt.who.DN, tt.employee, tt.unit)
			if tt.wantErr != nil || tt.errHas != nil {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.HasPrefix(err.Error(), "directory: ") {
					t.Fatalf("Adopt: %v, want an error (%v)", err, tt.wantErr)
				}
				for _, w := range tt.errHas {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Adopt: %v, want it to name %s", err, w)
					}
				}
				if after := ldapsearch(t, e, e.cfg.BaseDN, "sub", "(objectClass=*)", "*"); after != before {
					t.Errorf("a refused Adopt changed the directory")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			snap, err := e.c.Snapshot(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := snapshotAt(t, snap, tt.who.DN)
			if !ok {
				t.Fatalf("%s is not among the people after Adopt", tt.who.DN)
			}
			if !strings.EqualFold(got.EmployeeID, tt.employee) || got.Status != tt.want.Status || got.Unit != tt.want.Unit ||
				got.Locked != tt.want.Locked || got.UID != tt.who.UID || got.CN != tt.who.CN || got.Mail != tt.who.Mail ||
				got.Revoked || got.Active || len(got.Groups) != 0 {
				t.Errorf("after Adopt: %+v; want employee %s, status %s, unit %s, locked %v, in no group, the rest as it was",
					got, tt.employee, tt.want.Status, tt.want.Unit, tt.want.Locked)
			}
			if i := slices.IndexFunc(snap.Unadopted, func(a rules.Account) bool { return sameDN(t, a.DN, tt.who.DN) }); i >= 0 {
				t.Errorf("%s is still unadopted", tt.who.DN)
			}
			if slices.Contains(snap.Accounts, tt.who.UID) {
				t.Errorf("accounts %v hold the person %s", snap.Accounts, tt.who.UID)
			}
			// An administrator sees the adoption on the entry, where it was.
			out := ldapsearch(t, e, tt.who.DN, "base", "(objectClass=*)", "objectClass", "employeeNumber", "ldapsyncStatus", "departmentNumber")
			for _, w := range []string{"objectClass: ldapsyncAccount", "employeeNumber: " + tt.employee, "ldapsyncStatus: " + tt.want.Status,
				"departmentNumber: " + tt.want.Unit} {
				if !strings.Contains(strings.ToLower(out), strings.ToLower(w)+"\n") {
					t.Errorf("ldapsearch lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// The password is the one the person had.
	if _, err := e.c.Bind(ctx(t), h.tuan.DN, e.pw(h.tuanPW)); err != nil {
		t.Errorf("bind with the password from before the adoption: %v", err)
	}
	// A replay never undoes what came after the adoption.
	if err := e.c.Lock(ctx(t), h.lan.DN, "other: test"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Adopt(ctx(t), h.lan.DN, "NV-2003", "sonv_vp"); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, h.lan.UID); got.Status != rules.StatusLocked || !got.Locked {
		t.Errorf("a replayed Adopt after a lock: %+v; want it still locked", got)
	}
}

// adopted seeds the hand-made entries and adopts tuan (under ou=Users) and
// hoa (under ou=sotttt-old, named by cn).
func adopted(t *testing.T, e *env) handMade {
	t.Helper()
	h := seedHandMade(t, e)
	for _, a := range []struct {
		who      *rules.Account
		employee string
	}{{&h.tuan, "NV-2001"}, {&h.hoa, "NV-2002"}} {
		if err := e.c.Adopt(ctx(t), a.who.DN, a.employee, "sotttt"); err != nil {
			t.Fatal(err)
		}
		a.who.EmployeeID = a.employee
	}
	return h
}

// TestClient_Lock_adopted runs the person operations on an account adopted
// outside ou=people, each twice (the second a replay), and checks the
// result in a snapshot and with ldapsearch as the root account.
func TestClient_Lock_adopted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	h := adopted(t, e)
	dn := h.tuan.DN
	own := e.pw(h.tuanPW)
	issued := e.pw("Tuan#Issued-2027x")
	departure := rules.Lifecycle{Departure: rules.Departure{Kind: rules.DepartRetire, Effective: day(2027, 3, 31), Event: "hr/2027-0115"},
		RevokeAt: revokedAt}

	tests := []struct {
		name  string
		do    func() error
		check func(rules.Account) bool
		ldif  []string // lines ldapsearch shows of the entry
		bind  error    // bind with the password set last; nil for success
	}{{
		name: "into the active group and mail",
		do: func() error {
			return e.c.ChangeGroups(ctx(t), []rules.GroupChange{{Group: "active", Add: []string{dn}}, {Group: "mail", Add: []string{dn}}})
		},
		check: func(g rules.Account) bool { return g.Active && slices.Equal(g.Groups, []string{"mail"}) },
		ldif:  []string{"memberOf: cn=mail,ou=groups," + e.cfg.BaseDN, "memberOf: cn=active,ou=groups," + e.cfg.BaseDN},
	}, {
		name: "lock",
		do:   func() error { return e.c.Lock(ctx(t), dn, "compromised: spam sent from it") },
		check: func(g rules.Account) bool {
			return g.Locked && g.Status == rules.StatusLocked && !g.Active && slices.Equal(g.Groups, []string{"mail"})
		},
		ldif: []string{"pwdAccountLockedTime: " + directory.AdminLockTime, "ldapsyncStatus: locked", "ldapsyncLockReason: compromised: spam sent from it"},
		bind: directory.ErrAccountLocked,
	}, {
		name:  "lift the lock",
		do:    func() error { return e.c.LiftLock(ctx(t), dn) },
		check: func(g rules.Account) bool { return !g.Locked && g.Status == rules.StatusActive && g.Active },
		ldif:  []string{"ldapsyncStatus: active"},
	}, {
		name:  "set the lifecycle",
		do:    func() error { return e.c.SetLifecycle(ctx(t), dn, departure) },
		check: func(g rules.Account) bool { return sameLifecycle(g.Lifecycle, departure) },
		ldif:  []string{"ldapsyncDepartureKind: retire", "ldapsyncDepartureDate: 2027-03-31"},
	}, {
		name:  "move",
		do:    func() error { return e.c.Move(ctx(t), dn, "sonv_vp") },
		check: func(g rules.Account) bool { return g.Unit == "sonv_vp" },
		ldif:  []string{"departmentNumber: sonv_vp"},
	}, {
		name: "update the title",
		do: func() error {
			return e.c.UpdatePerson(ctx(t), dn, directory.PersonUpdate{Title: new("Phó Trưởng phòng")})
		},
		check: func(g rules.Account) bool { return g.Title == "Phó Trưởng phòng" && g.CN == h.tuan.CN },
	}, {
		name:  "set groups",
		do:    func() error { return e.c.SetGroups(ctx(t), dn, []string{"eoffice"}) },
		check: func(g rules.Account) bool { return slices.Equal(g.Groups, []string{"eoffice"}) && g.Active },
		ldif:  []string{"memberOf: cn=eoffice,ou=groups," + e.cfg.BaseDN},
	}, {
		name:  "set a password",
		do:    func() error { return e.c.SetPassword(ctx(t), dn, issued, "helpdesk/2027-0001") },
		check: func(g rules.Account) bool { return g.MustChange && g.Issued == "helpdesk/2027-0001" },
		ldif:  []string{"pwdReset: TRUE", "ldapsyncIssuedFor: helpdesk/2027-0001"},
	}}
	pw := own
	for _, tt := range tests {
		for _, round := range []string{"", ", replay"} {
			t.Run(tt.name+round, func(t *testing.T) {
				if err := tt.do(); err != nil {
					t.Fatal(err)
				}
				if tt.name == "set a password" {
					pw = issued
				}
				snap, err := e.c.Snapshot(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				got, ok := snapshotAt(t, snap, dn)
				if !ok {
					t.Fatalf("%s is not among the people", dn)
				}
				if !tt.check(got) || got.UID != h.tuan.UID || got.EmployeeID != h.tuan.EmployeeID {
					t.Errorf("after %s: %+v", tt.name, got)
				}
				out := ldapsearch(t, e, dn, "base", "(objectClass=*)", "*", "memberOf", "pwdAccountLockedTime", "pwdReset")
				for _, w := range tt.ldif {
					if !strings.Contains(strings.ToLower(out), strings.ToLower(w)+"\n") {
						t.Errorf("ldapsearch lacks %q:\n%s", w, out)
					}
				}
				if _, err := e.c.Bind(ctx(t), dn, pw); !errors.Is(err, tt.bind) {
					t.Errorf("bind: %v, want %v", err, tt.bind)
				}
			})
		}
	}
	// The applications' groups name the account by its real DN.
	for _, g := range []string{"active", "eoffice"} {
		members := get(t, e.root(t), e.cfg.GroupDN(g), "member").GetAttributeValues("member")
		if !slices.ContainsFunc(members, func(m string) bool { return m == dn }) {
			t.Errorf("%s members %q lack %s", g, members, dn)
		}
	}
	// An account named by its cn, elsewhere, too.
	if err := e.c.ChangeGroups(ctx(t), []rules.GroupChange{{Group: "mail", Add: []string{h.hoa.DN}}}); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, h.hoa.UID); !slices.Equal(got.Groups, []string{"mail"}) || !sameDN(t, got.DN, h.hoa.DN) {
		t.Errorf("hoa after ChangeGroups: %+v", got)
	}
	out := ldapsearch(t, e, e.cfg.BaseDN, "sub", "(memberOf="+ldap.EscapeFilter(e.cfg.GroupDN("mail"))+")", "1.1")
	if !strings.Contains(out, "dn:: "+base64.StdEncoding.EncodeToString([]byte(h.hoa.DN))) {
		t.Errorf("ldapsearch of mail's members lacks %s:\n%s", h.hoa.DN, out)
	}
}

// TestClient_Lock_where checks where person operations may write: anywhere
// under the base but in ldapsync's containers of units, groups, policies
// and tombstones, and not on the service account.
func TestClient_Lock_where(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	h := seedHandMade(t, e)
	base := e.cfg.BaseDN
	tests := []struct {
		name    string
		dn      string
		wantErr string // "" when the DN is accepted
	}{
		{"a tombstone", "uid=cu,ou=revoked," + base, "tombstone"},
		{"a group", e.cfg.GroupDN("mail"), "not a person"},
		{"a unit", "ou=sonv,ou=units," + base, "not a person"},
		{"under a unit", "uid=vanthu,ou=sonv,ou=units," + base, "not a person"},
		{"a policy", e.cfg.DefaultPolicyDN(), "not a person"},
		{"the people container", "ou=people," + base, "not a person"},
		{"the base", base, "not a person"},
		{"outside the base", "uid=x,dc=example,dc=org", "not a person"},
		{"the service account", e.srv.ServiceDN, "not a person"},
		{"two attributes in the RDN", "uid=a+cn=b,ou=Users," + base, "one attribute"},
		{"not a DN", "uid", "not a DN"},
		// Accepted, but the access rules refuse a write to a hand-made
		// entry outside People: only Adopt writes it.
		{"a hand-made entry outside People", h.tuan.DN, "Insufficient Access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.Lock(ctx(t), tt.dn, "x")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.dn) {
				t.Fatalf("Lock(%s): %v, want an error naming the DN and %q", tt.dn, err, tt.wantErr)
			}
		})
	}
	if out := ldapsearch(t, e, h.tuan.DN, "base", "(objectClass=*)", "pwdAccountLockedTime", "ldapsyncStatus"); strings.Contains(out, "pwdAccountLockedTime") {
		t.Errorf("a refused Lock wrote:\n%s", out)
	}
}

// TestClient_Revoke_adopted revokes accounts adopted outside ou=people:
// their tombstones go under ou=revoked with the same RDN, and Reinstate
// brings them back under ou=people, a new DN.
func TestClient_Revoke_adopted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	h := adopted(t, e)
	base := e.cfg.BaseDN
	if err := e.c.ChangeGroups(ctx(t), []rules.GroupChange{{Group: "active", Add: []string{h.tuan.DN, h.hoa.DN}},
		{Group: "mail", Add: []string{h.tuan.DN, h.hoa.DN}}}); err != nil {
		t.Fatal(err)
	}
	tuanTomb, hoaTomb := "uid=tuan.nv,ou=revoked,"+base, "cn=Trần Thị Hoa,ou=revoked,"+base

	for _, tt := range []struct {
		name      string
		dn, tomb  string
		uid       string
		wantError bool
	}{
		{"under ou=Users", h.tuan.DN, tuanTomb, h.tuan.UID, false},
		{"under ou=Users, replay", h.tuan.DN, tuanTomb, h.tuan.UID, false},
		{"named by cn", h.hoa.DN, hoaTomb, h.hoa.UID, false},
	} {
		t.Run("revoke "+tt.name, func(t *testing.T) {
			if err := e.c.Revoke(ctx(t), tt.dn, revokedAt); err != nil {
				t.Fatal(err)
			}
			if get(t, e.root(t), tt.dn, "1.1") != nil {
				t.Errorf("%s is still there", tt.dn)
			}
			got := e.snapshotPerson(t, tt.uid)
			if !got.Revoked || !sameDN(t, got.DN, tt.tomb) || got.Active || len(got.Groups) != 0 || !got.RevokedAt.Equal(revokedAt) {
				t.Errorf("after Revoke: %+v; want the tombstone %s, in no group", got, tt.tomb)
			}
		})
	}
	for _, g := range []string{"active", "mail"} {
		if m := get(t, e.root(t), e.cfg.GroupDN(g), "member").GetAttributeValues("member"); !slices.Equal(m, []string{directory.EmptyMember}) {
			t.Errorf("%s members after the revokes: %q", g, m)
		}
	}

	// Back under ou=people, whether the caller names the DN under People
	// or the one the account had.
	const event = "hr/2028-0007"
	newPW := e.pw("Tuan#Returned-2028")
	back := e.cfg.PersonDN(h.tuan.UID)
	for _, tt := range []struct{ name, dn string }{
		{"by its DN under People", back},
		{"replay", back},
		{"replay by the DN it had", h.tuan.DN},
	} {
		t.Run("reinstate "+tt.name, func(t *testing.T) {
			if err := e.c.Reinstate(ctx(t), tt.dn, newPW, event); err != nil {
				t.Fatal(err)
			}
			got := e.snapshotPerson(t, h.tuan.UID)
			if got.Revoked || got.Status != rules.StatusPending || got.Active || got.EmployeeID != h.tuan.EmployeeID ||
				!sameDN(t, got.DN, back) || !got.MustChange || got.Issued != event {
				t.Errorf("after Reinstate: %+v; want %s at %s, pending, must change", got, h.tuan.UID, back)
			}
			if res, err := e.c.Bind(ctx(t), back, newPW); err != nil || !res.MustChange {
				t.Errorf("bind at %s: %+v, %v", back, res, err)
			}
			for _, gone := range []string{tuanTomb, h.tuan.DN} {
				if get(t, e.root(t), gone, "1.1") != nil {
					t.Errorf("%s is there after Reinstate", gone)
				}
			}
		})
	}
	out := ldapsearch(t, e, back, "base", "(objectClass=*)", "employeeNumber", "ldapsyncStatus", "memberOf")
	if !strings.Contains(out, "employeeNumber: NV-2001\n") || !strings.Contains(out, "ldapsyncStatus: pending\n") || strings.Contains(out, "memberOf: cn=active,") {
		t.Errorf("ldapsearch of the reinstated account:\n%s", out)
	}

	// A revoke of an adopted account that stopped before its move: the
	// entry is reinstated where it is.
	khoa := h.khoa
	if err := e.c.Adopt(ctx(t), khoa.DN, "NV-2004", "sotttt"); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(khoa.DN, nil)
	m.Replace("ldapsyncStatus", []string{rules.StatusRevoked})
	m.Replace("ldapsyncRevokedTime", []string{"20270314092653Z"})
	if err := e.root(t).Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Reinstate(ctx(t), khoa.DN, newPW, event); err != nil {
		t.Fatal(err)
	}
	if got := e.snapshotPerson(t, khoa.UID); got.Status != rules.StatusPending || !sameDN(t, got.DN, khoa.DN) || got.Locked {
		t.Errorf("a half-revoked adopted account after Reinstate: %+v; want pending at %s", got, khoa.DN)
	}

	// The tombstone of an account named by its cn is found by its uid.
	for _, round := range []string{"delete", "replay"} {
		if err := e.c.DeleteTombstone(ctx(t), h.hoa.UID); err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
	if get(t, e.root(t), hoaTomb, "1.1") != nil {
		t.Errorf("the tombstone %s is still there", hoaTomb)
	}
	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(snap.Accounts, h.hoa.UID) || slices.ContainsFunc(snap.People, func(p rules.Account) bool { return p.UID == h.hoa.UID }) {
		t.Errorf("%s is still taken after DeleteTombstone", h.hoa.UID)
	}
}
