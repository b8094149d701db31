package sync

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/rules"
)

// handMade is an entry an administrator made before ldapsync.
func handMade(dn, uid, cn, unit string) *rules.Account {
	return &rules.Account{DN: dn, UID: uid, CN: cn, Unit: unit, Mail: uid + "@ninhthuan.gov.vn"}
}

// Adoption against hand-made entries: exact matches adopted where they
// are, the ambiguous pair left for an administrator, and nobody given a
// second account by the roster that follows.
func TestEngine_AdoptThenReconcile(t *testing.T) {
	env := newLifeEnv(t)
	base := "dc=ninhthuan,dc=gov,dc=vn"
	for _, a := range []*rules.Account{
		handMade("uid=quoc.trang,ou=Users,"+base, "quoc.trang", "Nguyễn Quốc Trạng", ""),
		handMade("uid=tuan,ou=Users,"+base, "tuan", "Lê Văn Tuấn", "sotttt"),
		handMade("uid=tuanlv,ou=ninhhai,"+base, "tuanlv", "Lê Văn Tuấn", "ubnd_nh"),
		handMade("uid=nam1,ou=Users,"+base, "nam1", "Trần Văn Nam", "sotttt"),
		handMade("uid=nam2,ou=Users,"+base, "nam2", "Trần Văn Nam", "sotttt"),
		handMade("uid=hoapt,ou=Users,"+base, "hoapt", "Phạm Thị Hoa", ""),
	} {
		env.dir.unadopted[a.DN] = a
	}
	roster := "employee_id,full_name,unit,title,username\n" +
		"NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên,\n" +
		"NV2,Lê Văn Tuấn,sotttt,Chuyên viên,\n" +
		"NV3,Trần Văn Nam,sotttt,Chuyên viên,\n" +
		"NV4,Phạm Thị Hoa,sotttt,Chuyên viên,hoapt\n"
	path := filepath.Join(t.TempDir(), "roster.csv")
	writeFile(t, path, roster)
	ctx := context.Background()

	dry, err := env.eng.AdoptRoster(ctx, path, true, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range dry.Report.Matched {
		got[m.EmployeeID] = m.UID + "/" + m.By
	}
	if len(got) != 3 || got["NV1"] != "quoc.trang/name" || got["NV2"] != "tuan/name" || got["NV4"] != "hoapt/username" {
		t.Errorf("matched %v", got)
	}
	if len(dry.Report.Ambiguous) != 1 || dry.Report.Ambiguous[0].EmployeeID != "NV3" || len(dry.Report.Ambiguous[0].DNs) != 2 {
		t.Errorf("ambiguous %+v", dry.Report.Ambiguous)
	}
	for _, m := range dry.Report.Matched {
		if m.EmployeeID == "NV1" && !m.OffLadder {
			t.Errorf("quoc.trang not reported off the ladder")
		}
	}
	if len(env.dir.people) != 0 {
		t.Fatalf("a dry run adopted: %v", env.dir.people)
	}

	res, err := env.eng.AdoptRoster(ctx, path, false, "admin")
	if err != nil || res.Added != 3 || res.Run.Done != 3 {
		t.Fatalf("adopt: %+v %v", res, err)
	}
	for _, id := range []string{"NV1", "NV2", "NV4"} {
		a := env.person(id)
		if a.Status != rules.StatusActive || a.Unit != "sotttt" || !strings.Contains(a.DN, "ou=Users") {
			t.Errorf("%s adopted as %+v", id, a)
		}
	}
	// Again: nothing more.
	if res, err := env.eng.AdoptRoster(ctx, path, false, "admin"); err != nil || res.Added != 0 || len(res.Report.Matched) != 0 {
		t.Errorf("second adoption: %+v %v", res, err)
	}

	// The roster itself: NV3 has no account, but two hand-made entries
	// may be theirs: the hire waits for an operator.
	rpath := filepath.Join(t.TempDir(), "roster-1.csv")
	writeFile(t, rpath, roster)
	if _, err := env.eng.IngestRoster(rpath); err != nil {
		t.Fatal(err)
	}
	_, rep, err := env.eng.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Guarded != 1 || len(env.dir.people) != 3 {
		t.Fatalf("report %+v; %d accounts", rep, len(env.dir.people))
	}
	holds := env.eng.Holds(HoldPending)
	if len(holds) != 1 || holds[0].Counts["review"] != 1 || !strings.Contains(strings.Join(holds[0].Sample, " "), "uid=nam1") {
		t.Errorf("holds %+v", holds)
	}
	// Ops on an adopted account use its own DN.
	if _, err := env.eng.Submit(ctx, OperatorAction{Type: Lock, UID: "tuan", Reason: rules.LockSpam, Request: "R1", By: "admin"}); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV2"); !a.Locked || a.DN != "uid=tuan,ou=Users,"+base {
		t.Errorf("lock of an adopted account: %+v", a)
	}
}
