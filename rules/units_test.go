package rules

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/text/unicode/norm"
	"gopkg.in/yaml.v3"
)

// regulationTree is the smallest tree that holds every example of NT
// Art. 4.1 and 4.2.
func regulationTree() []*Unit {
	return []*Unit{
		{Name: "Sở Thông tin và Truyền thông", Kind: KindDepartment, Abbr: "sotttt", Units: []*Unit{
			{Name: "Trung tâm Công nghệ thông tin và Truyền thông", Kind: KindDepartmentUnit, Abbr: "ttcntttt"},
		}},
		{Name: "Sở Nội vụ", Kind: KindDepartment, Abbr: "sonv", Units: []*Unit{
			{Name: "Văn phòng Sở Nội vụ", Kind: KindDepartmentOffice, Abbr: "vp"},
		}},
		{Name: "Ủy ban nhân dân thành phố Phan Rang - Tháp Chàm", Kind: KindDistrict, Abbr: "prtc"},
		{Name: "Ủy ban nhân dân huyện Ninh Phước", Kind: KindDistrict, Abbr: "np", Units: []*Unit{
			{Name: "Xã Phước Hải", Kind: KindCommune},
		}},
		{Name: "Ủy ban nhân dân huyện Ninh Sơn", Kind: KindDistrict, Abbr: "ns", Units: []*Unit{
			{Name: "Phòng Văn hóa và Thông tin", Kind: KindDistrictOffice, Abbr: "vhtt"},
		}},
		{Name: "Ủy ban nhân dân huyện Ninh Hải", Kind: KindDistrict, Abbr: "nh"},
	}
}

// regulationAccounts are the account names of NT Art. 4.1 with the ladder
// abbreviation of Art. 4.2 their staff get and the account of the unit
// above, "" at the top.
var regulationAccounts = []struct {
	account, ladder, parent string
}{
	{"sotttt", "sotttt", ""},
	{"ttcntttt", "sotttt", "sotttt"},
	{"sonv", "sonv", ""},
	{"sonv_vp", "sonv", "sonv"},
	{"ubnd_prtc", "prtc", ""},
	{"ubnd_np", "np", ""},
	{"ubnd_phuochai", "np", "ubnd_np"},
	{"ubnd_ns", "ns", ""},
	{"vhtt_ns", "ns", "ubnd_ns"},
	{"ubnd_nh", "nh", ""},
}

func TestUnit_Account(t *testing.T) {
	tree, errs := BuildUnitTree(regulationTree(), "rules.units")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	checkAccounts(t, tree)
}

func checkAccounts(t *testing.T, tree *UnitTree) {
	t.Helper()
	for _, tt := range regulationAccounts {
		t.Run(tt.account, func(t *testing.T) {
			u, ok := tree.Lookup(tt.account)
			if !ok {
				t.Fatalf("no unit has the account %q", tt.account)
			}
			parent := ""
			if u.Parent() != nil {
				parent = u.Parent().Account()
			}
			if u.Account() != tt.account || u.LadderAbbr() != tt.ladder || parent != tt.parent {
				t.Errorf("%s: account %q, ladder abbr %q, parent %q; want %q, %q, %q",
					u.Name, u.Account(), u.LadderAbbr(), parent, tt.account, tt.ladder, tt.parent)
			}
		})
	}
}

func TestUnitTree_All(t *testing.T) {
	tree, errs := BuildUnitTree(regulationTree(), "rules.units")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, u := range tree.All() {
		got = append(got, u.Account())
	}
	want := "sotttt ttcntttt sonv sonv_vp ubnd_prtc ubnd_np ubnd_phuochai ubnd_ns vhtt_ns ubnd_nh"
	if strings.Join(got, " ") != want {
		t.Errorf("All() = %v; want %s", got, want)
	}
	if _, ok := tree.Lookup("phuochai"); ok {
		t.Error("Lookup found a unit by a name that is not an account")
	}
}

func TestBuildUnitTree_communeNames(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"commune", "Xã Phước Hải", "ubnd_phuochai"},
		{"bare name", "Phước Hải", "ubnd_phuochai"},
		{"committee", "Ủy ban nhân dân xã Phước Hải", "ubnd_phuochai"},
		{"committee, old tone placement", "Uỷ ban nhân dân Xã Phước Hải", "ubnd_phuochai"},
		{"committee abbreviated", "UBND xã Phước Hải", "ubnd_phuochai"},
		{"NFD", norm.NFD.String("Xã Phước Hải"), "ubnd_phuochai"},
		{"ward", "Phường Đạo Long", "ubnd_daolong"},
		{"township", "Thị trấn Khánh Hải", "ubnd_khanhhai"},
		{"name that starts like a designation", "Xã Xuân Hải", "ubnd_xuanhai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots := []*Unit{{Name: "Ủy ban nhân dân huyện Ninh Phước", Kind: KindDistrict, Abbr: "np", Units: []*Unit{
				{Name: tt.in, Kind: KindCommune},
			}}}
			if _, errs := BuildUnitTree(roots, "rules.units"); len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := roots[0].Units[0].Account(); got != tt.want {
				t.Errorf("account of %q = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBuildUnitTree_errors(t *testing.T) {
	district := func(abbr string, units ...*Unit) *Unit {
		return &Unit{Name: "Huyện " + abbr, Kind: KindDistrict, Abbr: abbr, Units: units}
	}
	tests := []struct {
		name  string
		roots []*Unit
		want  []string
	}{
		{"missing abbreviation", []*Unit{{Name: "Sở Nội vụ", Kind: KindDepartment}},
			[]string{"rules.units[0].abbr: required"}},
		{"invalid abbreviation", []*Unit{{Name: "Sở Nội vụ", Kind: KindDepartment, Abbr: "so_nv"}},
			[]string{`rules.units[0].abbr: "so_nv" must be lower-case letters a-z and digits, starting with a letter`}},
		{"missing name", []*Unit{{Kind: KindDepartment, Abbr: "sonv"}},
			[]string{"rules.units[0].name: required"}},
		{"empty entry", []*Unit{nil},
			[]string{"rules.units[0]: empty unit"}},
		{"unknown kind", []*Unit{{Name: "Sở Nội vụ", Kind: "agency", Abbr: "sonv"}},
			[]string{`rules.units[0].kind: "agency" is not a unit kind (department, district, commune, department_office, department_unit, district_office)`}},
		{"district office at the top", []*Unit{{Name: "Phòng Nội vụ", Kind: KindDistrictOffice, Abbr: "nv"}},
			[]string{"rules.units[0].kind: a district_office cannot stand at the top level (allowed there: department, district, commune)"}},
		{"department office under a district", []*Unit{district("ns", &Unit{Name: "Văn phòng", Kind: KindDepartmentOffice, Abbr: "vp"})},
			[]string{"rules.units[0].units[0].kind: a department_office cannot stand under a district (allowed there: commune, district_office)"}},
		{"anything under a department unit", []*Unit{{Name: "Sở", Kind: KindDepartment, Abbr: "so", Units: []*Unit{
			{Name: "Trung tâm", Kind: KindDepartmentUnit, Abbr: "tt", Units: []*Unit{{Name: "Phòng", Kind: KindDepartmentOffice, Abbr: "p"}}},
		}}},
			[]string{"rules.units[0].units[0].units[0].kind: a department_office cannot stand under a department_unit (allowed there: none)"}},
		{"commune with an abbreviation", []*Unit{district("np", &Unit{Name: "Xã Phước Hải", Kind: KindCommune, Abbr: "ph"})},
			[]string{"rules.units[0].units[0].abbr: a commune has no abbreviation: its account name comes from its name"}},
		{"commune name that does not fold", []*Unit{district("np", &Unit{Name: "Xã Phước H4i", Kind: KindCommune})},
			[]string{"rules.units[0].units[0].name: character '4' (U+0034) cannot be part of an account name"}},
		{"commune name of a designation only", []*Unit{district("np", &Unit{Name: "Xã", Kind: KindCommune})},
			[]string{`rules.units[0].units[0].name: "Xã" has no commune name after its designation`}},
		{"two communes that fold alike", []*Unit{
			district("prtc", &Unit{Name: "Xã Thành Hải", Kind: KindCommune}),
			district("nh", &Unit{Name: "Xã Thanh Hải", Kind: KindCommune}),
		},
			[]string{`rules.units[1].units[0]: account name "ubnd_thanhhai" is also derived by rules.units[0].units[0]`}},
		{"department and department unit with one abbreviation", []*Unit{
			{Name: "Sở A", Kind: KindDepartment, Abbr: "sotttt", Units: []*Unit{{Name: "Trung tâm", Kind: KindDepartmentUnit, Abbr: "ttcntttt"}}},
			{Name: "Sở B", Kind: KindDepartment, Abbr: "ttcntttt"},
		},
			[]string{`rules.units[1]: account name "ttcntttt" is also derived by rules.units[0].units[0]`}},
		{"account name too long", []*Unit{district(strings.Repeat("a", 60))},
			[]string{`rules.units[0]: account name "ubnd_` + strings.Repeat("a", 60) + `": 65 characters, more than 64`}},
		{"children of a bad unit are still checked, without repeating its problem", []*Unit{
			{Name: "Sở", Kind: "agency", Abbr: "so", Units: []*Unit{{Name: "Phòng", Kind: KindDepartmentOffice}}},
		},
			[]string{
				`rules.units[0].kind: "agency" is not a unit kind (department, district, commune, department_office, department_unit, district_office)`,
				"rules.units[0].units[0].abbr: required",
			}},
		{"every problem at once", []*Unit{
			{Name: "Sở Nội vụ", Kind: KindDepartment},
			nil,
			district("ns", &Unit{Name: "Phòng Văn hóa", Kind: KindDistrictOffice, Abbr: "VHTT"}, &Unit{Name: "Xã 1", Kind: KindCommune}),
		},
			[]string{
				"rules.units[0].abbr: required",
				"rules.units[1]: empty unit",
				`rules.units[2].units[0].abbr: "VHTT" must be lower-case letters a-z and digits, starting with a letter`,
				"rules.units[2].units[1].name: character '1' (U+0031) cannot be part of an account name",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, errs := BuildUnitTree(tt.roots, "rules.units")
			if got, want := errs.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("BuildUnitTree:\n%s\nwant:\n%s", got, want)
			}
			if tree != nil {
				t.Error("BuildUnitTree returned a tree with problems")
			}
		})
	}
}

// exampleTree returns the unit tree of config.example.yaml, read with a
// struct of its own so that the test needs no other section of the file.
func exampleTree(tb testing.TB) *UnitTree {
	tb.Helper()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Rules struct {
			Units []*Unit `yaml:"units"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		tb.Fatalf("config.example.yaml: %v", err)
	}
	tree, errs := BuildUnitTree(file.Rules.Units, "rules.units")
	if len(errs) > 0 {
		tb.Fatalf("config.example.yaml:\n%v", errs)
	}
	return tree
}

// TestBuildUnitTree_exampleConfig checks that the example's tree is valid
// and holds every example of the regulation, the seven districts and
// cities of Ninh Thuận and their communes and wards.
func TestBuildUnitTree_exampleConfig(t *testing.T) {
	tree := exampleTree(t)
	checkAccounts(t, tree)
	var districts []string
	communes := 0
	for _, u := range tree.All() {
		switch u.Kind {
		case KindDistrict:
			districts = append(districts, u.Abbr)
		case KindCommune:
			communes++
		}
	}
	if got := strings.Join(districts, " "); got != "prtc nh np ns ba tb tn" {
		t.Errorf("districts %s; want prtc nh np ns ba tb tn", got)
	}
	// Ninh Thuận had 65 communes, wards and townships in 2022; Xã Thanh Hải
	// is left out of the example (see there).
	if communes != 64 {
		t.Errorf("%d communes; want 64", communes)
	}
}

// sshEd25519Key returns the authorized_keys line of a new Ed25519 key.
func sshEd25519Key(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var wire []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		wire = binary.BigEndian.AppendUint32(wire, uint32(len(part)))
		wire = append(wire, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(wire) + " ops@ninhthuan"
}

func newX25519(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUnit_LetterRecipients(t *testing.T) {
	dept, office := newX25519(t), newX25519(t)
	roots := regulationTree()
	roots[1].AgeRecipients = []string{dept.Recipient().String(), sshEd25519Key(t)} // sonv
	roots[4].AgeRecipients = []string{dept.Recipient().String()}                   // ubnd_ns
	roots[4].Units[0].AgeRecipients = []string{" " + office.Recipient().String()}  // vhtt_ns: its own wins
	tree, errs := BuildUnitTree(roots, "rules.units")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name, account string
		want          []string
	}{
		{"own recipients", "sonv", []string{dept.Recipient().String(), "ssh-ed25519"}},
		{"inherited from the department", "sonv_vp", []string{dept.Recipient().String(), "ssh-ed25519"}},
		{"its own rather than its district's", "vhtt_ns", []string{office.Recipient().String()}},
		{"none in its branch", "sotttt", nil},
		{"none above a commune", "ubnd_phuochai", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := tree.Lookup(tt.account)
			got := u.LetterRecipients()
			if len(got) != len(tt.want) {
				t.Fatalf("%s: %d recipients; want %d", tt.account, len(got), len(tt.want))
			}
			for i, r := range got {
				s := fmt.Sprint(r)
				if x, ok := r.(*age.X25519Recipient); ok {
					s = x.String()
				}
				if _, ssh := r.(*agessh.Ed25519Recipient); ssh {
					s = "ssh-ed25519"
				}
				if s != tt.want[i] {
					t.Errorf("%s: recipient %d is %s; want %s", tt.account, i, s, tt.want[i])
				}
			}
		})
	}
}

func TestBuildUnitTree_recipientErrors(t *testing.T) {
	x := newX25519(t).Recipient().String()
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	secretKey := newX25519(t).String()
	// The last character changed: the bech32 checksum fails.
	last := "q"
	if strings.HasSuffix(x, "q") {
		last = "p"
	}
	badSum := x[:len(x)-1] + last
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"not a key", []string{x, "hello"},
			"rules.units[1].age_recipients[1]: not an age recipient: want age1…, age1pq1…, ssh-ed25519 … or ssh-rsa …"},
		{"bad checksum", []string{badSum},
			"rules.units[1].age_recipients[0]: malformed recipient"},
		{"a secret key is refused and not echoed", []string{secretKey},
			"rules.units[1].age_recipients[0]: this is a secret key, not a recipient: put its public key here (age-keygen -y) and keep the secret key off this host"},
		{"bad ssh key", []string{"ssh-ed25519 AAAA"},
			"rules.units[1].age_recipients[0]: malformed SSH recipient"},
		{"empty", []string{""}, "rules.units[1].age_recipients[0]: empty"},
		{"twice", []string{x, x}, fmt.Sprintf("rules.units[1].age_recipients[1]: %q is listed twice", x)},
		{"post-quantum and classic", []string{pq.Recipient().String(), x},
			"rules.units[1].age_recipients: post-quantum (age1pq1…) and other recipients cannot be mixed: age refuses to encrypt to both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots := regulationTree()
			roots[1].AgeRecipients = tt.keys
			tree, errs := BuildUnitTree(roots, "rules.units")
			if tree != nil || len(errs) != 1 {
				t.Fatalf("BuildUnitTree: %v; want one problem", errs)
			}
			if got := errs.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
			if strings.Contains(errs.Error(), secretKey) {
				t.Errorf("the secret key is in the message: %s", errs)
			}
		})
	}
	t.Run("post-quantum alone", func(t *testing.T) {
		roots := regulationTree()
		roots[1].AgeRecipients = []string{pq.Recipient().String()}
		tree, errs := BuildUnitTree(roots, "rules.units")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		u, _ := tree.Lookup("sonv_vp")
		if _, ok := u.LetterRecipients()[0].(*age.HybridRecipient); !ok || len(u.LetterRecipients()) != 1 {
			t.Errorf("recipients %v", u.LetterRecipients())
		}
	})
}
