package sync

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

func hire(seq uint64, employee, full, unit string) Entry {
	n, err := rules.ParseFullName(full)
	if err != nil {
		panic(err)
	}
	return Entry{Seq: seq, Status: Pending, Event: Event{
		Source: SourceInbox, ID: "E" + employee, Type: Hire, Effective: effective,
		EmployeeID: employee, Name: n, Unit: unit,
	}}
}

func uids(ops []Op, kind OpKind) []string {
	var out []string
	for _, o := range ops {
		if o.Kind == kind {
			out = append(out, o.UID)
		}
	}
	return out
}

func TestPlanner_HireLadder(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	entries := []Entry{
		hire(1, "NV1", "Nguyễn Quốc Trạng", "sotttt"),
		hire(2, "NV2", "Lê Văn Tuấn", "ubnd_nh"),
		hire(3, "NV3", "Lê Văn Tuấn", "vhtt_nh"),
		hire(4, "NV4", "Lê Văn Tuấn", "ubnd_nh"),
		hire(5, "NV5", "Lê Văn Tuấn", "tnmt_nh"),
		hire(6, "NV6", "Phạm Văn Tuấn", "sonv_vp"),
	}
	p := pl.Plan(entries, &rules.Snapshot{}, t0)
	want := "quoctrang vantuan tuanlv tuanlv.nh tuanlv2.nh tuanpv"
	if got := strings.Join(uids(p.Ops, OpCreate), " "); got != want {
		t.Errorf("created %s\nwant    %s", got, want)
	}
	if got := strings.Join(uids(p.Ops, OpIssueCredentials), " "); got != want {
		t.Errorf("credentials for %s, want %s", got, want)
	}
	if len(p.Held)+len(p.Satisfied)+len(p.Refused) != 0 {
		t.Errorf("unexpected outcomes: %+v", p)
	}
	op := p.Ops[0]
	if op.DN != personDN("quoctrang") || op.Mail != "quoctrang@ninhthuan.gov.vn" || op.Article != "NT 5.2.a; BTC 4" {
		t.Errorf("op = %+v", op)
	}
	if per := op.Person(); per.CN != "Nguyễn Quốc Trạng" || per.SN != "Nguyễn" || per.GivenName != "Trạng" || per.Unit != "sotttt" {
		t.Errorf("person = %+v", per)
	}
}

func TestPlanner_TakenNames(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	snap := &rules.Snapshot{
		People:   []rules.Account{{UID: "vantuan", EmployeeID: "OLD1"}, {UID: "tuanlv", EmployeeID: "OLD2", Revoked: true}},
		Accounts: []string{"quoctrang"},
	}
	p := pl.Plan([]Entry{hire(1, "NV1", "Nguyễn Quốc Trạng", "sotttt"), hire(2, "NV2", "Lê Văn Tuấn", "vhtt_ns")}, snap, t0)
	if got := strings.Join(uids(p.Ops, OpCreate), " "); got != "trangnq tuanlv.ns" {
		t.Errorf("created %s, want trangnq (quoctrang is another entry's) and tuanlv.ns (vantuan active, tuanlv revoked)", got)
	}
}

func TestPlanner_ExistingEmployee(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	tests := []struct {
		name   string
		people []rules.Account
		ops    []OpKind
		status Status
		reason string
	}{
		{"account made, letter out, not yet used: nothing to do", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, MustChange: true, Active: true}},
			nil, Done, "already has account quoctrang"},
		{"account made and used: nothing to do", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, LastLogin: t0, Active: true}},
			nil, Done, "already has account quoctrang"},
		{"password set, not flagged, never used: issue again", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, Active: true}},
			[]OpKind{OpIssueCredentials}, "", ""},
		{"account made, password never set: issue it", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, Active: true}},
			[]OpKind{OpIssueCredentials}, "", ""},
		{"run stopped before its group changes: join them", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, Issued: "inbox/OLD", LastLogin: t0}},
			[]OpKind{OpGroups}, "", ""},
		{"first password not changed yet: not put in the active group", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusPending, PasswordChanged: t0, MustChange: true, Issued: "inbox/ENV1"}},
			nil, Done, "already has account"},
		{"locked: not put back in the active group", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, Locked: true}},
			nil, Done, "already has account"},
		{"password issued for an earlier event, changed by the user, never seen to log in: nothing to do",
			[]rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, PasswordChanged: t0, Issued: "inbox/OLD", Active: true}},
			nil, Done, "already has account quoctrang"},
		{"password set by someone else on an adopted entry: left alone",
			[]rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", PasswordChanged: t0, Active: true}},
			nil, Done, "already has account quoctrang"},
		{"same employee_id, another name: refused with both sides",
			[]rules.Account{{UID: "annv.prtc", EmployeeID: "NV1", CN: "Nguyễn Văn An", Unit: "ubnd_prtc", Status: rules.StatusActive, PasswordChanged: t0, Issued: "inbox/X", Active: true}},
			nil, Failed, "already has account annv.prtc (Nguyễn Văn An, unit ubnd_prtc), but this hire is for Nguyễn Quốc Trạng, unit sotttt: another name and another unit"},
		{"same employee_id and name, another unit: refused",
			[]rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sonv_vp", Status: rules.StatusActive, Active: true}},
			nil, Failed, "another unit; a transfer or a rename is its own event"},
		{"account revoked: refused", []rules.Account{{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, Revoked: true}},
			nil, Failed, "revoked"},
		{"two entries: refused", []rules.Account{{UID: "a", EmployeeID: "NV1"}, {UID: "b", EmployeeID: "NV1"}},
			nil, Failed, "held by 2 entries (a, b)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pl.Plan([]Entry{hire(1, "NV1", "Nguyễn Quốc Trạng", "sotttt")}, &rules.Snapshot{People: tt.people}, t0)
			var kinds []OpKind
			for _, o := range p.Ops {
				kinds = append(kinds, o.Kind)
			}
			if len(kinds) != len(tt.ops) || (len(kinds) > 0 && kinds[0] != tt.ops[0]) {
				t.Errorf("ops = %v, want %v", kinds, tt.ops)
			}
			outcomes := append(p.Satisfied, p.Refused...)
			if tt.status == "" {
				if len(outcomes) != 0 {
					t.Errorf("outcomes = %+v", outcomes)
				}
				return
			}
			if len(outcomes) != 1 || outcomes[0].Status != tt.status || !strings.Contains(outcomes[0].Reason, tt.reason) {
				t.Errorf("outcomes = %+v, want %s with %q", outcomes, tt.status, tt.reason)
			}
		})
	}
}

func TestPlanner_HeldUntilEffective(t *testing.T) {
	r := exampleRules(t)
	pl := &Planner{Rules: r, Layout: layout}
	e := hire(1, "NV1", "Nguyễn Quốc Trạng", "sotttt")
	e.Event.Effective = rules.Date{Year: 2026, Month: 12, Day: 1}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, r.Location)

	p := pl.Plan([]Entry{e}, &rules.Snapshot{}, start.Add(-time.Second))
	if len(p.Ops) != 0 || len(p.Held) != 1 || !p.Held[0].Until.Equal(start) || !p.NextDue().Equal(start) {
		t.Fatalf("a second before: ops %v held %+v", p.Ops, p.Held)
	}
	if !start.Equal(time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)) {
		t.Errorf("start = %v, want 00:00 in Asia/Ho_Chi_Minh (17:00 UTC the day before)", start)
	}
	// create and issue_credentials: no groups, as the hire names no
	// application and the account is pending until its first login.
	if p := pl.Plan([]Entry{e}, &rules.Snapshot{}, start); len(p.Ops) != 2 || len(p.Held) != 0 {
		t.Errorf("at 00:00: ops %v held %v", p.Ops, p.Held)
	}
}

// The plan is a function of its inputs: the order pending entries come in
// does not matter, only their effective dates and journal order.
func TestPlanner_Deterministic(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	var entries []Entry
	for i, n := range []string{"Lê Văn Tuấn", "Lê Văn Tuấn", "Lê Văn Tuấn", "Nguyễn Văn Anh", "Nguyễn Văn Anh", "Trần Thị Anh"} {
		entries = append(entries, hire(uint64(i+1), "NV"+string(rune('A'+i)), n, "ubnd_nh"))
	}
	entries[5].Event.Effective = rules.DateOf(effectiveTime.AddDate(0, -1, 0)) // earlier: planned first
	var want bytes.Buffer
	if err := pl.Plan(entries, &rules.Snapshot{}, t0).WriteJSON(&want); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(want.String(), `{"op":"create","uid":"thianh"`) {
		t.Errorf("earliest effective not first:\n%s", want.String())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
		var got bytes.Buffer
		pl.Plan(entries, &rules.Snapshot{}, t0).WriteJSON(&got)
		if got.String() != want.String() {
			t.Fatalf("plan depends on input order:\n%s\nwant\n%s", got.String(), want.String())
		}
	}
}

func apps(seq uint64, employee string, set []string, changes ...AppChange) Entry {
	return Entry{Seq: seq, Status: Pending, Event: Event{
		Source: SourceInbox, ID: fmt.Sprintf("A%d", seq), Type: Applications, Effective: rules.DateOf(effectiveTime.AddDate(0, 0, 1)),
		EmployeeID: employee, Applications: set, AppChanges: changes,
	}}
}

func TestPlanner_Applications(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	snap := &rules.Snapshot{People: []rules.Account{
		{UID: "quoctrang", EmployeeID: "NV1", CN: "Nguyễn Quốc Trạng", Unit: "sotttt", Status: rules.StatusActive, Groups: []string{"baocao", "mail"}, PasswordChanged: t0, MustChange: true, Active: true},
		{UID: "tuanlv", EmployeeID: "NV2", Revoked: true},
	}}
	tests := []struct {
		name    string
		entries []Entry
		want    string // "uid:apps (+joined -left)" per op
		outcome string
	}{
		{"whole set", []Entry{apps(1, "NV1", []string{"eoffice", "mail"})}, "quoctrang:eoffice,mail (+eoffice -baocao)", ""},
		{"changes", []Entry{apps(1, "NV1", nil, AppChange{App: "dichvucong"}, AppChange{App: "baocao", Remove: true})},
			"quoctrang:dichvucong,mail (+dichvucong -baocao)", ""},
		{"no change", []Entry{apps(1, "NV1", nil, AppChange{App: "mail"})}, "", "already has exactly the applications baocao, mail"},
		{"two events in a batch build on each other",
			[]Entry{apps(1, "NV1", nil, AppChange{App: "eoffice"}), apps(2, "NV1", nil, AppChange{App: "mail", Remove: true})},
			"quoctrang:baocao,eoffice,mail (+eoffice) quoctrang:baocao,eoffice (-mail)", ""},
		{"after a hire in the same batch", []Entry{hire(1, "NV9", "Trần Thị Hoa", "sotttt"), apps(2, "NV9", nil, AppChange{App: "mail", Remove: true})},
			"thihoa:eoffice,mail (+eoffice +mail) thihoa:eoffice (-mail)", ""},
		{"no account", []Entry{apps(1, "NV7", []string{"mail"})}, "", "employee NV7 has no account"},
		{"revoked", []Entry{apps(1, "NV2", []string{"mail"})}, "", "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "after a hire in the same batch" {
				tt.entries[0].Event.Applications = []string{"eoffice", "mail"}
			}
			p := pl.Plan(tt.entries, snap, t0)
			var got []string
			for _, o := range p.Ops {
				if o.Kind == OpGroups {
					var change []string
					for _, g := range o.Join {
						change = append(change, "+"+g)
					}
					for _, g := range o.Leave {
						change = append(change, "-"+g)
					}
					got = append(got, fmt.Sprintf("%s:%s (%s)", o.UID, strings.Join(o.Applications, ","), strings.Join(change, " ")))
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("ops %q, want %q", strings.Join(got, " "), tt.want)
			}
			outs := append(p.Satisfied, p.Refused...)
			if tt.outcome == "" && len(outs) > 0 || tt.outcome != "" && (len(outs) != 1 || !strings.Contains(outs[0].Reason, tt.outcome)) {
				t.Errorf("outcomes %+v, want %q", outs, tt.outcome)
			}
			if g := snap.People[0].Groups; strings.Join(g, ",") != "baocao,mail" {
				t.Fatalf("planning changed the snapshot: %v", g)
			}
		})
	}
}

func TestPlanner_ReuseEmbargo(t *testing.T) {
	r := exampleRules(t)
	pl := &Planner{Rules: r, Layout: layout}
	ict := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, r.Location) }
	tomb := rules.Account{UID: "quoctrang", EmployeeID: "OLD", Revoked: true, RevokedAt: ict(2025, 11, 23, 10)}
	tests := []struct {
		name    string
		embargo rules.Period
		revoked time.Time
		now     time.Time
		want    string
	}{
		{"within the 12 months", rules.Period{Months: 12}, tomb.RevokedAt, ict(2026, 11, 23, 23), "create:trangnq"},
		{"the day after the corresponding day", rules.Period{Months: 12}, tomb.RevokedAt, ict(2026, 11, 24, 0), "purge_tombstone:quoctrang create:quoctrang"},
		{"revocation date unknown: held for good", rules.Period{Months: 12}, time.Time{}, ict(2030, 1, 1, 0), "create:trangnq"},
		{"no embargo", rules.Period{}, ict(2026, 11, 22, 10), ict(2026, 11, 22, 10).Add(time.Minute), "purge_tombstone:quoctrang create:quoctrang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl.Rules.Username.ReuseEmbargo = tt.embargo
			old := tomb
			old.RevokedAt = tt.revoked
			e := hire(1, "NEW", "Nguyễn Quốc Trạng", "sotttt")
			e.Event.Effective = rules.Date{Year: 2025, Month: 11, Day: 1} // before every now below
			p := pl.Plan([]Entry{e}, &rules.Snapshot{People: []rules.Account{old}}, tt.now)
			var got []string
			for _, o := range p.Ops {
				if o.Kind == OpPurge || o.Kind == OpCreate {
					got = append(got, string(o.Kind)+":"+o.UID)
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("ops %v, want %s", got, tt.want)
			}
		})
	}
}

// LDAP compares uid and employeeNumber ignoring case; so does the planner.
func TestPlanner_IgnoresCase(t *testing.T) {
	pl := &Planner{Rules: exampleRules(t), Layout: layout}
	snap := &rules.Snapshot{
		People:   []rules.Account{{UID: "VANTUAN", EmployeeID: "OTHER"}, {UID: "tuanlv", EmployeeID: "nt-002", CN: "lê văn  TUẤN", Unit: "SOTTTT", PasswordChanged: t0, MustChange: true, Active: true}},
		Accounts: []string{"QuocTrang"},
	}
	p := pl.Plan([]Entry{hire(1, "NT-001", "Nguyễn Quốc Trạng", "sotttt"), hire(2, "NT-002", "Lê Văn Tuấn", "sotttt"), hire(3, "NT-003", "Lê Văn Tuấn", "sotttt")}, snap, t0)
	if got := strings.Join(uids(p.Ops, OpCreate), " "); got != "trangnq tuanlv.sotttt" {
		t.Errorf("created %s, want trangnq and tuanlv.sotttt: QuocTrang, VANTUAN and tuanlv are taken", got)
	}
	if len(p.Satisfied) != 1 || p.Satisfied[0].Event.EmployeeID != "NT-002" {
		t.Errorf("NT-002 is nt-002's account: satisfied %+v", p.Satisfied)
	}
}
