package sync

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/rules"
)

// Two districts merged into one: everyone of the one that ceased is moved,
// usernames unchanged, and only once an operator approves; a split that
// does not place someone leaves them where they are and says so.
func TestEngine_UnitReorganisation(t *testing.T) {
	env := newLifeEnv(t)
	for i, n := range []string{"Lê Văn Tuấn", "Trần Văn Nam", "Phạm Thị Hoa"} {
		env.hire(fmt.Sprintf("NV%d", i), n, []string{"ubnd_nh", "vhtt_nh", "ubnd_np"}[i], "Chuyên viên")
	}
	before := map[string]string{}
	for i := range 3 {
		before[fmt.Sprintf("NV%d", i)] = env.person(fmt.Sprintf("NV%d", i)).UID
	}
	day := rules.DateOf(env.now.In(env.r.Location))
	cfg := env.r.Config
	cfg.UnitChanges = []rules.UnitChange{
		{ID: "merge-nh", Effective: day, From: []string{"ubnd_nh"}, To: []string{"ubnd_np"}, Act: "Resolution 1667/NQ-UBTVQH15"},
		{ID: "split-vhtt", Effective: day, From: []string{"vhtt_nh"}, To: []string{"ubnd_np", "ubnd_prtc"}},
	}
	r, errs := rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	env.eng.SetRules(r)
	env.r = r
	res := env.sweep()
	if res.Report.Guarded != 1 || env.person("NV0").Unit != "ubnd_nh" {
		t.Fatalf("sweep %+v; NV0 in %s", res.Report, env.person("NV0").Unit)
	}
	f, err := env.eng.Forecast(context.Background(), 1)
	if err != nil || len(f.Unplaced) != 1 {
		t.Errorf("unplaced %v %v", f.Unplaced, err)
	}
	holds := env.eng.Holds(HoldPending)
	if len(holds) != 1 || holds[0].Counts["move"] != 1 {
		t.Fatalf("holds %+v", holds)
	}
	if _, err := env.eng.Approve(context.Background(), holds[0].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if a := env.person("NV0"); a.Unit != "ubnd_np" || a.UID != before["NV0"] {
		t.Errorf("after approval: %s in %s, was %s", a.UID, a.Unit, before["NV0"])
	}
	if a := env.person("NV1"); a.Unit != "vhtt_nh" {
		t.Errorf("an unplaced person moved to %s", a.Unit)
	}
	// Placing the person: a new config with the choice.
	cfg.UnitChanges[1].People = map[string]string{"NV1": "ubnd_prtc"}
	r, errs = rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	env.eng.SetRules(r)
	env.sweep()
	h := env.eng.Holds(HoldPending)
	if len(h) != 1 {
		t.Fatalf("holds %+v", h)
	}
	env.eng.Approve(context.Background(), h[0].ID, "admin")
	if a := env.person("NV1"); a.Unit != "ubnd_prtc" || a.UID != before["NV1"] {
		t.Errorf("placed: %s in %s", a.UID, a.Unit)
	}
	if a := env.person("NV2"); a.Unit != "ubnd_np" {
		t.Errorf("a person of the receiving unit moved: %s", a.Unit)
	}
}

func TestUnitChanges_Validate(t *testing.T) {
	r := exampleRules(t)
	day := rules.DateOf(t0)
	cfg := r.Config
	cfg.UnitChanges = []rules.UnitChange{
		{ID: "a", Effective: day, From: []string{"ubnd_nh"}, To: []string{"nowhere"}},
		{ID: "a", From: []string{"ubnd_nh"}, To: []string{"ubnd_np"}, People: map[string]string{"NV1": "ubnd_np"}},
		{ID: "c", Effective: day, From: []string{"vhtt_nh"}, To: []string{"ubnd_np", "ubnd_prtc"}, OldAccounts: "alias"},
		{ID: "d", Effective: day, From: []string{"gone"}, To: []string{"ubnd_np"}, OldAccounts: "alias"},
		{ID: "e", Effective: day, From: []string{"tnmt_nh"}, To: []string{"ubnd_np"}, OldAccounts: "forget"},
	}
	_, errs := rules.New(cfg, "rules")
	want := []string{
		`rules.unit_changes[0].to[0]: "nowhere" is not a unit of rules.units`,
		`rules.unit_changes[1].id: "a" is used twice`,
		`rules.unit_changes[1].effective: required`,
		`rules.unit_changes[1].from[0]: "ubnd_nh" already ceases in change "a"`,
		`rules.unit_changes[1].people: only a split`,
		`rules.unit_changes[2].old_accounts: alias needs one unit in to`,
		`rules.unit_changes[3].from[0]: "gone" must stay in rules.units while old_accounts is alias`,
		`rules.unit_changes[4].old_accounts: "forget" must be embargo or alias`,
	}
	text := errs.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
}

// examples/reorg-2025.yaml is a valid change for the example config, and
// moves the people of the three old units of xã Ninh Phước there.
func TestExampleReorganisation(t *testing.T) {
	data, err := os.ReadFile("../examples/reorg-2025.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rules struct {
			Units       []*rules.Unit      `yaml:"units"`
			UnitChanges []rules.UnitChange `yaml:"unit_changes"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	cfg := exampleRules(t).Config
	cfg.Units = append(slices.Clone(cfg.Units), doc.Rules.Units...)
	cfg.UnitChanges = doc.Rules.UnitChanges
	r, errs := rules.New(cfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := r.UnitChanges[0]
	for _, old := range []string{"ubnd_phuochai", "ubnd_phuocdan", "ubnd_phuocthuan"} {
		if !c.Ceases(old) {
			t.Errorf("%s does not cease", old)
		}
		if to, _ := c.Target("NT-1"); to != "ubnd_ninhphuoc" {
			t.Errorf("target %s", to)
		}
	}
}
