package sync

import (
	"context"
	"encoding/base64"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/rules"
)

// ldapadd adds LDIF entries as the root DN, as an administrator would.
func ldapadd(t *testing.T, srv *slapdtest.Server, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

// rootSearch returns the entries filter finds, as the root DN reads them.
func rootSearch(t *testing.T, srv *slapdtest.Server, filter string, attrs ...string) string {
	t.Helper()
	out, err := exec.Command("ldapsearch", append([]string{"-x", "-LLL", "-o", "ldif_wrap=no", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile,
		"-b", srv.BaseDN, filter}, attrs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(out)
}

// handMadeLDIF is a person an administrator made by hand, before ldapsync.
func handMadeLDIF(dn, uid, cn, sn, unit string) string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	s := "dn: " + dn + "\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn:: " + b64(cn) + "\nsn:: " + b64(sn) + "\nmail: " + uid + "@ninhthuan.gov.vn\n"
	if unit != "" {
		s += "departmentNumber: " + unit + "\n"
	}
	return s + "\n"
}

// Against slapd: hand-made entries (no employeeNumber, usernames off the
// ladder, two people of the same name in different units, two in the
// same unit) and a roster: the exact matches are adopted where they are,
// the ambiguous pair is left alone, and nobody gets a second account.
func TestSlapd_Adoption(t *testing.T) {
	env := newSlapdLife(t)
	srv := env.srv
	users := "ou=Users," + srv.BaseDN
	ldapadd(t, srv, "dn: "+users+"\nobjectClass: organizationalUnit\nou: Users\n\n"+
		handMadeLDIF("uid=quoc.trang,"+users, "quoc.trang", "Nguyễn Quốc Trạng", "Nguyễn", "")+
		handMadeLDIF("uid=tuan,"+users, "tuan", "Lê Văn Tuấn", "Lê", "sotttt")+
		handMadeLDIF("uid=tuanlv,"+users, "tuanlv", "Lê Văn Tuấn", "Lê", "ubnd_nh")+
		handMadeLDIF("uid=nam1,"+users, "nam1", "Trần Văn Nam", "Trần", "sotttt")+
		handMadeLDIF("uid=nam2,"+users, "nam2", "Trần Văn Nam", "Trần", "sotttt"))
	roster := rosterHeader +
		"NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên\n" +
		"NV2,Lê Văn Tuấn,sotttt,Chuyên viên\n" +
		"NV3,Trần Văn Nam,sotttt,Chuyên viên\n"
	path := filepath.Join(t.TempDir(), "roster.csv")
	writeFile(t, path, roster)
	ctx := context.Background()

	dry, err := env.eng.AdoptRoster(ctx, path, true, "")
	if err != nil {
		t.Fatal(err)
	}
	var matched []string
	for _, m := range dry.Report.Matched {
		matched = append(matched, m.EmployeeID+"="+m.DN)
	}
	slices.Sort(matched)
	if want := []string{"NV1=uid=quoc.trang," + users, "NV2=uid=tuan," + users}; !slices.Equal(matched, want) {
		t.Fatalf("matched %v, want %v", matched, want)
	}
	if len(dry.Report.Ambiguous) != 1 || dry.Report.Ambiguous[0].EmployeeID != "NV3" {
		t.Fatalf("ambiguous %+v", dry.Report.Ambiguous)
	}
	if strings.Contains(rootSearch(t, srv, "(employeeNumber=*)", "dn"), "dn:") {
		t.Fatalf("a dry run wrote")
	}

	res, err := env.eng.AdoptRoster(ctx, path, false, "admin")
	if err != nil || res.Run.Refused != 0 || res.Added != 2 {
		t.Fatalf("adopt: %+v %v", res, err)
	}
	got := rootSearch(t, srv, "(employeeNumber=NV1)", "objectClass", "employeeNumber", "departmentNumber", "ldapsyncStatus", "memberOf")
	for _, want := range []string{"dn: uid=quoc.trang," + users, "objectClass: ldapsyncAccount", "departmentNumber: sotttt", "ldapsyncStatus: active", "memberOf: cn=active,ou=groups,"} {
		if !strings.Contains(got, want) {
			t.Errorf("adopted entry lacks %q:\n%s", want, got)
		}
	}

	// The roster itself afterwards: the adopted two are managed, the third
	// person may be either hand-made entry, so no account is created.
	rpath := filepath.Join(t.TempDir(), "roster-1.csv")
	writeFile(t, rpath, roster)
	if _, err := env.eng.IngestRoster(rpath); err != nil {
		t.Fatal(err)
	}
	if _, rep, err := env.eng.Process(ctx); err != nil || rep.Guarded != 1 {
		t.Fatalf("process: %+v %v", rep, err)
	}
	all := rootSearch(t, srv, "(objectClass=inetOrgPerson)", "dn")
	if n := strings.Count(all, "dn: "); n != 5 {
		t.Errorf("%d people in the directory, want the 5 hand-made ones:\n%s", n, all)
	}
	if strings.Contains(all, "ou=people") {
		t.Errorf("a second account was made:\n%s", all)
	}
	// The adopted account is managed where it is.
	if _, err := env.eng.Submit(ctx, OperatorAction{Type: Lock, UID: "tuan", Reason: rules.LockSpam, Request: "SOC-9", By: "admin"}); err != nil {
		t.Fatal(err)
	}
	if got := rootSearch(t, srv, "(uid=tuan)", "ldapsyncStatus", "pwdAccountLockedTime"); !strings.Contains(got, "dn: uid=tuan,"+users) || !strings.Contains(got, "ldapsyncStatus: locked") {
		t.Errorf("lock of the adopted account:\n%s", got)
	}
}

// Against slapd: two districts merged into a new one: the new unit's entry
// and organisational account made, people moved once approved, usernames
// unchanged.
func TestSlapd_UnitReorganisation(t *testing.T) {
	env := newSlapdLife(t)
	a, _ := env.hire("NV-1", "Lê Văn Tuấn", "Chuyên viên")
	env.submit(Event{ID: "T1", Type: Transfer, EmployeeID: "NV-1", Unit: "ubnd_nh"})
	n, _ := rules.ParseFullName("Trần Văn Nam")
	env.submit(Event{ID: "H2", Type: Hire, EmployeeID: "NV-2", Name: n, Unit: "ubnd_np", Title: "Chuyên viên", Applications: []string{"mail"}})
	b := env.person("NV-2")

	cfg := env.r.Config
	cfg.Units = append(slices.Clone(cfg.Units), &rules.Unit{Name: "Ủy ban nhân dân huyện Ninh Hải - Ninh Phước", Kind: rules.KindDistrict, Abbr: "nhnp"})
	cfg.UnitChanges = []rules.UnitChange{{ID: "merge-2025", Effective: rules.DateOf(env.now.In(env.r.Location)),
		From: []string{"ubnd_nh", "ubnd_np"}, To: []string{"ubnd_nhnp"}, Act: "illustrative", OldAccounts: rules.OldAccountsAlias}}
	r, errs := rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	env.eng.SetRules(r)
	if err := env.eng.EnsureTree(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rootSearch(env.t, env.srv, "(uid=ubnd_nhnp)", "mail")
	for _, want := range []string{"dn: ou=ubnd_nhnp,ou=units,", "mail: ubnd_nhnp@ninhthuan.gov.vn", "mail: ubnd_nh@ninhthuan.gov.vn", "mail: ubnd_np@ninhthuan.gov.vn"} {
		if !strings.Contains(got, want) {
			t.Errorf("the new unit's entry lacks %q:\n%s", want, got)
		}
	}
	res, err := env.eng.Sweep(context.Background(), SweepOptions{})
	if err != nil || res.Report.Guarded != 2 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if p := env.person("NV-1"); p.Unit != "ubnd_nh" {
		t.Fatalf("moved before approval: %s", p.Unit)
	}
	holds := env.eng.Holds(HoldPending)
	if len(holds) != 1 {
		t.Fatalf("holds %+v", holds)
	}
	if _, err := env.eng.Approve(context.Background(), holds[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ id, uid string }{{"NV-1", a.UID}, {"NV-2", b.UID}} {
		p := env.person(x.id)
		if p.Unit != "ubnd_nhnp" || p.UID != x.uid || p.DN != env.dcfg.PersonDN(x.uid) {
			t.Errorf("%s after the merger: %s %s in %s", x.id, p.UID, p.DN, p.Unit)
		}
	}
	// The old units' entries stay, their names taken, their addresses
	// the new unit's now.
	if got := rootSearch(env.t, env.srv, "(|(uid=ubnd_nh)(uid=ubnd_np))", "mail"); strings.Count(got, "dn: ") != 2 || strings.Contains(got, "mail:") {
		t.Errorf("old units:\n%s", got)
	}
}
