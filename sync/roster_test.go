package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

const rosterHeader = "employee_id,full_name,unit,title\n"

// Reconcile derives exactly the events that bring the directory to the
// roster, with ids that depend only on the roster's content.
func TestReconcile_DerivesEvents(t *testing.T) {
	r := exampleRules(t)
	today := rules.DateOf(t0.In(r.Location))
	staff := func(uid, employee, name, unit string) rules.Account {
		a := account(uid, employee, unit, "Chuyên viên")
		a.CN = name
		return a
	}
	left := departed(r, staff("thodn", "NV4", "Đàng Năng Thọ", "sotttt"), rules.DepartRetire, today.AddDays(-10), true)
	gone := staff("bon", "NV5", "Chamaléa Bốn", "vhtt_ba")
	gone.Revoked, gone.Status = true, rules.StatusRevoked
	handMade := staff("hoa.pt", "", "Phạm Thị Hoa", "sotttt")
	handMade.Status = ""
	snap := &rules.Snapshot{People: []rules.Account{
		staff("quoctrang", "NV1", "Nguyễn Quốc Trạng", "sotttt"),
		staff("tuanlv", "NV2", "Lê Văn Tuấn", "sotttt"),
		staff("vannam", "NV3", "Trần Văn Nam", "sotttt"),
		left, gone, handMade,
		staff("thilan", "NV7", "Trần Thị Lan", "sotttt"),
	}}
	roster := rosterHeader +
		"NV1,Nguyễn Quốc Trạng,sonv_vp,Chuyên viên\n" + // transfer
		"NV2,Lê Văn Tuấn Anh,sotttt,Chuyên viên\n" + // rename
		"NV3,Trần Văn Nam,sotttt,Phó Giám đốc Sở\n" + // title_change
		"NV4,Đàng Năng Thọ,sotttt,Chuyên viên\n" + // return before revocation
		"NV5,Chamaléa Bốn,vhtt_ba,Chuyên viên\n" + // return after revocation
		"NV6,Phạm Thị Hoa,sotttt,Chuyên viên\n" // hire
	// NV7 is missing: a departure, held. The hand-made entry is left alone.
	ro, err := ParseRoster("roster-1.csv", []byte(roster), r, t0)
	if err != nil || len(ro.Batch.Rejected) > 0 {
		t.Fatalf("parse: %v %+v", err, ro.Batch.Rejected)
	}
	events := Reconcile(ro, snap, nil, r, t0)
	got := map[string]EventType{}
	for _, ev := range events {
		got[ev.EmployeeID] = ev.Type
		if !strings.HasPrefix(ev.ID, "roster:"+ro.Hash[:12]+":"+ev.EmployeeID+":") || ev.Source != SourceRoster || ev.Effective != today {
			t.Errorf("event %s/%s effective %s", ev.Source, ev.ID, ev.Effective)
		}
	}
	want := map[string]EventType{"NV1": Transfer, "NV2": Rename, "NV3": TitleChange, "NV4": Return, "NV5": Return, "NV6": Hire, "NV7": RosterDeparture}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("derived %v\nwant    %v", got, want)
	}
	again, _ := ParseRoster("roster-2.csv", []byte(roster), r, t0)
	if ids := func(evs []Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Key())
		}
		slices.Sort(out)
		return out
	}; !slices.Equal(ids(events), ids(Reconcile(again, snap, nil, r, t0))) {
		t.Errorf("the same roster under another name derives other ids")
	}
	// What an event still waiting in the journal asks for is not derived
	// again.
	waiting := []Entry{{Seq: 1, Event: Event{Source: SourceInbox, ID: "T9", Type: Transfer, EmployeeID: "NV1"}}}
	for _, ev := range Reconcile(ro, snap, waiting, r, t0) {
		if ev.EmployeeID == "NV1" {
			t.Errorf("derived %s again", ev.Type)
		}
	}
}

func TestParseRoster_RejectsRows(t *testing.T) {
	r := exampleRules(t)
	ro, err := ParseRoster("roster.csv", []byte(rosterHeader+
		"NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên\n"+
		",Lê Văn Tuấn,sotttt,Chuyên viên\n"+
		"NV3,Trần Văn Nam,nowhere,Chuyên viên\n"+
		"NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên\n"), r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.Rows) != 1 || len(ro.Batch.Rejected) != 3 {
		t.Fatalf("rows %d, rejected %d", len(ro.Rows), len(ro.Batch.Rejected))
	}
	for i, want := range []string{"roster.csv:3: employee_id: required", `roster.csv:4: unit: "nowhere" is not a unit`, `roster.csv:5: employee_id: "NV1" is listed again (first on line 2)`} {
		if got := ro.Batch.Rejected[i].Error(); !strings.HasPrefix(got, want) {
			t.Errorf("rejection %d = %q, want %q", i, got, want)
		}
	}
	for _, bad := range []string{"", "employee_id,unit\n", "full_name\nNguyễn Quốc Trạng\n"} {
		if _, err := ParseRoster("roster.csv", []byte(bad), r, t0); err == nil || !errors.As(err, new(*FileError)) {
			t.Errorf("roster %q: %v, want a FileError", bad, err)
		}
	}
}

// Through the engine: the departures a roster suggests wait for an
// operator; the same roster again changes nothing; a truncated roster is
// refused whole.
func TestEngine_Roster(t *testing.T) {
	env := newLifeEnv(t)
	names := []string{"Nguyễn Quốc Trạng", "Lê Văn Tuấn", "Trần Văn Nam", "Phạm Thị Hoa", "Đàng Năng Thọ"}
	for i, n := range names {
		env.hire(fmt.Sprintf("NV%d", i), n, "sotttt", "Chuyên viên")
	}
	var roster strings.Builder
	roster.WriteString(rosterHeader)
	for i, n := range names[:4] { // NV4 is missing
		unit := "sotttt"
		if i == 0 {
			unit = "sonv_vp"
		}
		fmt.Fprintf(&roster, "NV%d,%s,%s,Chuyên viên\n", i, n, unit)
	}
	path := filepath.Join(t.TempDir(), "roster-2026.csv")
	writeFile(t, path, roster.String())
	res, err := env.eng.IngestRoster(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Derived[Transfer] != 1 || res.Derived[RosterDeparture] != 1 {
		t.Fatalf("derived %v (%d added)", res.Derived, res.Added)
	}
	_, rep, err := env.eng.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Guarded != 1 || env.person("NV0").Unit != "sonv_vp" || env.person("NV4").Locked {
		t.Fatalf("report %+v; NV0 in %s, NV4 %s", rep, env.person("NV0").Unit, status(env.person("NV4")))
	}
	holds := env.eng.Holds(HoldPending)
	if len(holds) != 1 || holds[0].Counts["departure"] != 1 {
		t.Fatalf("holds %+v", holds)
	}
	// The same roster again: nothing new.
	if res, err := env.eng.IngestRoster(path); err != nil || res.Added != 0 {
		t.Fatalf("again: %+v %v", res, err)
	}
	if _, err := env.eng.Approve(context.Background(), holds[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV4"); !a.Locked || a.Lifecycle.Departure.Kind != rules.DepartUnspecified {
		t.Errorf("approved departure: %s %+v", status(a), a.Lifecycle.Departure)
	}
	// Two people of five listed: refused whole.
	short := filepath.Join(t.TempDir(), "roster-short.csv")
	writeFile(t, short, rosterHeader+"NV1,Lê Văn Tuấn,sotttt,Chuyên viên\nNV2,Trần Văn Nam,sotttt,Chuyên viên\n")
	if _, err := env.eng.IngestRoster(short); err == nil || !strings.Contains(err.Error(), "min_roster_ratio") {
		t.Errorf("short roster: %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

// The scheduled reconciliation reads the newest roster the glob names.
func TestEngine_ReconcileJob(t *testing.T) {
	env := newLifeEnv(t)
	env.hire("NV0", "Nguyễn Quốc Trạng", "sotttt", "Chuyên viên")
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "roster-a.csv"), filepath.Join(dir, "roster-b.csv")
	writeFile(t, older, rosterHeader+"NV0,Nguyễn Quốc Trạng,sotttt,Chuyên viên\n")
	writeFile(t, newer, rosterHeader+"NV0,Nguyễn Quốc Trạng,sonv_vp,Chuyên viên\n")
	// File times come from the OS: set them relative to real time.
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(older, past, past); err != nil {
		t.Fatal(err)
	}
	env.eng.cfg.Roster.Path = filepath.Join(dir, "roster-*.csv")
	if got, err := LatestRoster(env.eng.cfg.Roster.Path); err != nil || got != newer {
		t.Fatalf("latest %s %v, want %s", got, err, newer)
	}
	if err := env.eng.reconcileJob(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV0"); a.Unit != "sonv_vp" {
		t.Errorf("after the scheduled reconciliation: %s", a.Unit)
	}
	if _, err := LatestRoster(filepath.Join(dir, "none-*.csv")); err == nil {
		t.Errorf("no roster: no error")
	}
}

// An approval applies what was held; if the held events would now change
// more (a departure whose revocation fell due meanwhile), they are held
// again for a new decision.
func TestEngine_ApprovalOfAHoldThatGrew(t *testing.T) {
	env := newLifeEnv(t)
	for i, n := range []string{"Nguyễn Quốc Trạng", "Lê Văn Tuấn"} {
		env.hire(fmt.Sprintf("NV%d", i), n, "sotttt", "Chuyên viên")
	}
	path := filepath.Join(t.TempDir(), "roster.csv")
	writeFile(t, path, rosterHeader+"NV0,Nguyễn Quốc Trạng,sotttt,Chuyên viên\n")
	env.eng.cfg.Guard.MinRosterRatio = 0.5
	if _, err := env.eng.IngestRoster(path); err != nil {
		t.Fatal(err)
	}
	if _, rep, err := env.eng.Process(context.Background()); err != nil || rep.Guarded != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	first := env.eng.Holds(HoldPending)[0]
	if first.Ops != 1 {
		t.Fatalf("held %+v", first)
	}
	// Seven months later the revocation is due too: the same event now
	// locks and revokes.
	env.now = env.now.AddDate(0, 7, 0)
	rep, err := env.eng.Approve(context.Background(), first.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Guarded != 1 || len(rep.Holds) != 1 || rep.Holds[0] == first.ID {
		t.Fatalf("approval of a hold that grew: %+v", rep)
	}
	if a := env.person("NV1"); a.Locked || a.Revoked {
		t.Errorf("applied although it grew: %s", status(a))
	}
	again := env.eng.Holds(HoldPending)
	if len(again) != 1 || again[0].Ops != 1 || again[0].Counts["revoke"] != 1 {
		t.Fatalf("held again: %+v", again)
	}
	if _, err := env.eng.Approve(context.Background(), again[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV1"); !a.Revoked {
		t.Errorf("after the second approval: %s", status(a))
	}
}

func TestEngine_RosterPathAllowed(t *testing.T) {
	env := newLifeEnv(t)
	env.eng.cfg.Roster.Path = "/srv/hr/roster-*.csv"
	for path, want := range map[string]bool{
		filepath.Join(env.cfg.InboxDir(), "roster-1.csv"):        true,
		"/srv/hr/roster-2026.csv":                                true,
		"/etc/shadow":                                            false,
		filepath.Join(env.cfg.InboxDir(), "..", "journal.jsonl"): false,
		env.cfg.InboxDir():                                       false,
	} {
		if got := env.eng.RosterPathAllowed(path); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
}
