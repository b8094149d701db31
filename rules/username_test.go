package rules

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultUsernameConfig(t *testing.T) {
	c := DefaultUsernameConfig()
	if errs := c.Validate("rules.username"); len(errs) > 0 {
		t.Fatalf("default config is invalid:\n%v", errs)
	}
	if c.MaxLength != 64 || c.ReuseEmbargo != (Period{Months: 12}) {
		t.Errorf("MaxLength %d, ReuseEmbargo %s; want 64, 12 months", c.MaxLength, c.ReuseEmbargo)
	}
	for _, r := range []string{"admin", "root", "postmaster", "abuse", "hostmaster", "webmaster", "noreply", "ldap", "ioc"} {
		if !strings.Contains(" "+strings.Join(c.Reserved, " ")+" ", " "+r+" ") {
			t.Errorf("%q is not reserved by default", r)
		}
	}
}

func TestUsernameConfig_Validate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*UsernameConfig)
		want   []string
	}{
		{"max_length zero", func(c *UsernameConfig) { c.MaxLength = 0 },
			[]string{"rules.username.max_length: 0 is not between 1 and 64 (a mail local part is at most 64 characters)"}},
		{"max_length above the mail limit", func(c *UsernameConfig) { c.MaxLength = 65 },
			[]string{"rules.username.max_length: 65 is not between 1 and 64 (a mail local part is at most 64 characters)"}},
		{"reserved names outside the character set", func(c *UsernameConfig) { c.Reserved = []string{"ok", "No-Reply", "", "2fa"} },
			[]string{
				`rules.username.reserved[1]: "No-Reply" can never be a username: character 'N' (U+004E) is not allowed (only a-z, 0-9, '.' and '_')`,
				`rules.username.reserved[2]: "" can never be a username: empty`,
				`rules.username.reserved[3]: "2fa" can never be a username: must start with a letter a-z`,
			}},
		{"negative embargo", func(c *UsernameConfig) { c.ReuseEmbargo = Period{Months: -1} },
			[]string{"rules.username.reuse_embargo: -1 months is negative"}},
		{"no embargo is allowed", func(c *UsernameConfig) { c.ReuseEmbargo = Period{} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultUsernameConfig()
			tt.change(&c)
			if got, want := c.Validate("rules.username").Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		wantErr  string
	}{
		{"rule 1", "quoctrang", 64, ""},
		{"rule 4", "tuanlv2.nh", 64, ""},
		{"organisational", "ubnd_phuochai", 64, ""},
		{"exactly the limit", "tuanlv", 6, ""},
		{"too long", "tuanlv.nh", 6, `rules: username "tuanlv.nh": 9 characters, more than 6`},
		{"empty", "", 64, `rules: username "": empty`},
		{"upper case", "Tuanlv", 64, `rules: username "Tuanlv": character 'T' (U+0054) is not allowed (only a-z, 0-9, '.' and '_')`},
		{"hyphen", "no-reply", 64, `rules: username "no-reply": character '-' (U+002D) is not allowed (only a-z, 0-9, '.' and '_')`},
		{"diacritic", "tuấn", 64, `rules: username "tuấn": character 'ấ' (U+1EA5) is not allowed (only a-z, 0-9, '.' and '_')`},
		{"leading digit", "2tuan", 64, `rules: username "2tuan": must start with a letter a-z`},
		{"leading dot", ".nh", 64, `rules: username ".nh": must start with a letter a-z`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUsername(tt.in, tt.max)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("ValidateUsername(%q, %d) = %s; want %s", tt.in, tt.max, got, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// alloc is one Allocate call of a scenario and what it must return.
type alloc struct {
	full string // "family|middle|given", or a full name
	abbr string
	want string // a username, or "error: <part of the message>"
}

func (c alloc) name(t *testing.T) Name {
	t.Helper()
	if parts := strings.Split(c.full, "|"); len(parts) == 3 {
		return Name{parts[0], parts[1], parts[2]}
	}
	n, err := ParseFullName(c.full)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAllocator_Allocate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*UsernameConfig)
		taken  []string
		allocs []alloc
	}{
		{name: "rule 1: regulation example", allocs: []alloc{
			{"Nguyễn Quốc Trạng", "sotttt", "quoctrang"},
		}},
		{name: "regulation ladder for Lê Văn Tuấn in Ninh Hải", allocs: []alloc{
			{"Lê Văn Tuấn", "nh", "vantuan"},
			{"Lê Văn Tuấn", "nh", "tuanlv"},
			{"Lê Văn Tuấn", "nh", "tuanlv.nh"},
			{"Lê Văn Tuấn", "nh", "tuanlv2.nh"},
			{"Lê Văn Tuấn", "nh", "tuanlv3.nh"},
		}},
		{name: "rule 2 when rule 1 is in the directory", taken: []string{"vantuan"}, allocs: []alloc{
			{"Lê Văn Tuấn", "nh", "tuanlv"},
		}},
		{name: "rule 3 when rules 1 and 2 are in the directory", taken: []string{"vantuan", "tuanlv"}, allocs: []alloc{
			{"Lê Văn Tuấn", "nh", "tuanlv.nh"},
		}},
		{name: "rule 4 starts at 2", taken: []string{"vantuan", "tuanlv", "tuanlv.nh"}, allocs: []alloc{
			{"Lê Văn Tuấn", "nh", "tuanlv2.nh"},
		}},
		{name: "rule 3 differs by unit", taken: []string{"vantuan", "tuanlv", "tuanlv.nh"}, allocs: []alloc{
			{"Lê Văn Tuấn", "ns", "tuanlv.ns"},
			{"Lê Văn Tuấn", "nh", "tuanlv2.nh"},
		}},
		{name: "a different person with the same rule 1", allocs: []alloc{
			{"Nguyễn Văn Tuấn", "nh", "vantuan"},
			{"Lê Văn Tuấn", "nh", "tuanlv"},
		}},
		{name: "no middle name", allocs: []alloc{
			{"Lê Tuấn", "nh", "tuan"},
			{"Lê Tuấn", "nh", "tuanl"},
			{"Lê Tuấn", "nh", "tuanl.nh"},
			{"Lê Tuấn", "nh", "tuanl2.nh"},
		}},
		{name: "compound family name: only family words left out of rule 1", allocs: []alloc{
			{"Tôn Nữ|Thị|Hà", "sonv", "thiha"},
			{"Tôn Nữ|Thị|Hà", "sonv", "hatnt"},
			{"Tôn Nữ|Thị|Hà", "sonv", "hatnt.sonv"},
		}},
		{name: "compound family name, no middle name", allocs: []alloc{
			{"Tôn Thất||Thuyết", "prtc", "thuyet"},
			{"Tôn Thất||Thuyết", "prtc", "thuyettt"},
		}},
		{name: "two middle names and a two-word given name", allocs: []alloc{
			{"Trần|Thị Minh|Thu Hà", "np", "thiminhthuha"},
			{"Trần|Thị Minh|Thu Hà", "np", "thuhattm"},
		}},
		{name: "Cham and Raglai names", allocs: []alloc{
			{"Đàng Năng Thọ", "np", "nangtho"},
			{"Chamaléa Thị Thu", "ba", "thithu"},
			{"Katơr||Hùng", "ba", "hung"},
			{"Katơr||Hùng", "ba", "hungk"},
			{"Pinăng Văn Bình", "ba", "vanbinh"},
		}},
		{name: "apostrophe and hyphen join", allocs: []alloc{
			{"K'Brông||Ha", "tn", "ha"},
			{"K'Brông||Ha", "tn", "hak"},
		}},
		{name: "default reserved name is taken", allocs: []alloc{
			{"Nguyễn Hồ Trợ", "nh", "tronh"},
		}},
		{name: "configured reserved name is taken", cfg: func(c *UsernameConfig) { c.Reserved = []string{"vanan"} }, allocs: []alloc{
			{"Nguyễn Văn An", "nh", "annv"},
		}},
		{name: "a rung over MaxLength is skipped, not cut", cfg: func(c *UsernameConfig) { c.MaxLength = 10 }, allocs: []alloc{
			{"Nguyễn Thị Minh Khai", "np", "khaintm"},
			{"Nguyễn Thị Minh Khai", "np", "khaintm.np"},
			{"Nguyễn Thị Minh Khai", "np", "error: no free username of at most 10 characters"},
		}},
		{name: "bad character", allocs: []alloc{
			{"Lê|Văn|7", "nh", "error: character '7' (U+0037)"},
		}},
		{name: "no family name", allocs: []alloc{
			{"|Văn|Tuấn", "nh", "error: no family name"},
		}},
		{name: "bad abbreviation", allocs: []alloc{
			{"Lê Văn Tuấn", "N H", `error: rules: ladder abbreviation "N H"`},
		}},
		{name: "no abbreviation: rules 1 and 2 only", allocs: []alloc{
			{"Lê Văn Tuấn", "", "vantuan"},
			{"Lê Văn Tuấn", "", "tuanlv"},
			{"Lê Văn Tuấn", "", "error: rules 1 and 2 are not free, and rules 3 and 4 need the unit's abbreviation"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultUsernameConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			taken := map[string]bool{}
			for _, u := range tt.taken {
				taken[u] = true
			}
			a := NewAllocator(cfg, func(u string) bool { return taken[u] })
			for i, c := range tt.allocs {
				got, err := a.Allocate(c.name(t), c.abbr)
				if want, ok := strings.CutPrefix(c.want, "error: "); ok {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("%d: Allocate(%s, %q) = %q, %v; want an error containing %q", i, c.full, c.abbr, got, err, want)
					}
				} else if err != nil || got != c.want {
					t.Errorf("%d: Allocate(%s, %q) = %q, %v; want %q", i, c.full, c.abbr, got, err, c.want)
				}
			}
		})
	}
}

func TestAllocator_noFreeUsername(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		taken func(string) bool
	}{
		{"every rung too long", 5, nil},
		{"taken answers true for everything", 64, func(string) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultUsernameConfig()
			cfg.MaxLength = tt.max
			got, err := NewAllocator(cfg, tt.taken).Allocate(Name{"Lê", "Văn", "Tuấn"}, "nh")
			if !errors.Is(err, ErrNoFreeUsername) {
				t.Errorf("Allocate = %q, %v; want ErrNoFreeUsername", got, err)
			}
		})
	}
}

// TestAllocator_deepLadder allocates 500 people of one name in a district
// whose directory already holds rules 1 to 3 and rule 4 numbers 2 to 300
// of that name, and counts the look-ups: remembering the next number per
// stem keeps them linear, where walking rule 4 from 2 for each person would
// make about 150,000.
func TestAllocator_deepLadder(t *testing.T) {
	dir := map[string]bool{"vananh": true, "anhnv": true, "anhnv.ns": true}
	for i := 2; i <= 300; i++ {
		dir["anhnv"+strconv.Itoa(i)+".ns"] = true
	}
	calls := 0
	a := NewAllocator(DefaultUsernameConfig(), func(u string) bool { calls++; return dir[u] })
	for i := range 500 {
		want := "anhnv" + strconv.Itoa(301+i) + ".ns"
		if got, err := a.Allocate(Name{"Nguyễn", "Văn", "Anh"}, "ns"); err != nil || got != want {
			t.Fatalf("person %d: Allocate = %q, %v; want %q", i, got, err, want)
		}
	}
	// Rules 1-3 for everyone, numbers 2-301 for the first, one number for
	// each of the others.
	if want := 3*500 + 300 + 499; calls != want {
		t.Errorf("taken was called %d times; want %d", calls, want)
	}
}

// TestAllocator_gaps checks that the remembered rule 4 number never skips
// a free name: numbers taken in the directory are stepped over one by one.
func TestAllocator_gaps(t *testing.T) {
	taken := map[string]bool{"vananh": true, "anhnv": true, "anhnv.ns": true, "anhnv2.ns": true, "anhnv3.ns": true, "anhnv5.ns": true}
	a := NewAllocator(DefaultUsernameConfig(), func(u string) bool { return taken[u] })
	for _, want := range []string{"anhnv4.ns", "anhnv6.ns", "anhnv7.ns"} {
		if got, err := a.Allocate(Name{"Nguyễn", "Văn", "Anh"}, "ns"); err != nil || got != want {
			t.Errorf("Allocate = %q, %v; want %q", got, err, want)
		}
	}
	if got, err := a.Allocate(Name{"Nguyễn", "Văn", "Anh"}, "nh"); err != nil || got != "anhnv.nh" {
		t.Errorf("Allocate in another district = %q, %v; want anhnv.nh", got, err)
	}
}

var abbrRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

func FuzzAllocate(f *testing.F) {
	f.Add("Lê", "Văn", "Tuấn", "nh", uint8(63), "vantuan,tuanlv,tuanlv.nh,tuanlv2.nh")
	f.Add("Nguyễn", "Quốc", "Trạng", "sotttt", uint8(63), "")
	f.Add("Tôn Nữ", "Thị", "Hà", "sonv", uint8(9), "thiha,hatnt")
	f.Add("Katơr", "", "Hùng", "ba", uint8(4), "hung")
	f.Add("Lê", "Văn", "7", "nh", uint8(63), "")
	f.Add("Lê", "Văn", "Tuấn", "N_H", uint8(63), "")
	f.Add("Lê", "Văn", "Tuấn", "", uint8(63), "vantuan")
	f.Fuzz(func(t *testing.T, family, middle, given, abbr string, maxLen uint8, takenCSV string) {
		cfg := DefaultUsernameConfig()
		cfg.MaxLength = int(maxLen)%MaxUsernameLength + 1
		taken := map[string]bool{}
		for _, u := range strings.Split(takenCSV, ",") {
			taken[u] = true
		}
		n := Name{family, middle, given}
		a := NewAllocator(cfg, func(u string) bool { return taken[u] })
		known := knownTaken(cfg, taken)
		_, nameErr := n.fold(nil)
		for range 3 {
			got, err := a.Allocate(n, abbr)
			want, k := lowestFree(n, abbr, cfg.MaxLength, known)
			switch {
			case nameErr != nil || abbr != "" && !abbrRE.MatchString(abbr) || abbr == "" && (want == "" || k > 2):
				if err == nil {
					t.Fatalf("Allocate(%+v, %q) = %q; want an error", n, abbr, got)
				}
				return
			case want == "":
				if !errors.Is(err, ErrNoFreeUsername) {
					t.Fatalf("Allocate(%+v, %q) = %q, %v; want ErrNoFreeUsername", n, abbr, got, err)
				}
				return
			case err != nil || got != want:
				t.Fatalf("Allocate(%+v, %q) = %q, %v; want %q", n, abbr, got, err, want)
			}
			if err := ValidateUsername(got, cfg.MaxLength); err != nil || taken[got] {
				t.Fatalf("Allocate(%+v, %q) = %q: %v, taken %v", n, abbr, got, err, taken[got])
			}
			known[got] = true
		}
	})
}
