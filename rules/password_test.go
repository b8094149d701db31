package rules

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

func TestPasswordProfile_Check(t *testing.T) {
	nt7 := DefaultPasswordConfig().Profiles["nt7"]
	btc5 := DefaultPasswordConfig().Profiles["btc5"]
	tests := []struct {
		name     string
		p        PasswordProfile
		pw, user string
		problems []string // substrings; none means valid
	}{
		{"nt7 valid", nt7, "Ab3#efgh", "quoctrang", nil},
		{"nt7 short", nt7, "Ab3#efg", "quoctrang", []string{"shorter than 8"}},
		{"nt7 no special of its set", nt7, "Ab3^efgh", "quoctrang", []string{"has 3 of the 4", "missing special"}},
		{"nt7 letters only", nt7, "Abcdefgh", "quoctrang", []string{"missing digit, special"}},
		{"nt7 allows the username", nt7, "Quoctrang1#", "quoctrang", nil},
		{"btc5 three classes", btc5, "abcdEFG1", "quoctrang", nil},
		{"btc5 space is special", btc5, "abcd efg1", "quoctrang", nil},
		{"btc5 two classes", btc5, "abcdefg1", "quoctrang", []string{"has 2 of the 3"}},
		{"btc5 part of the username", btc5, "Xtrang#1234", "quoctrang", []string{"3 or more consecutive characters of the account name"}},
		{"btc5 part, any case", btc5, "TUAN#12345", "tuanlv.nh", []string{"consecutive"}},
		{"btc5 short parts do not count", btc5, "Xnh#123456", "tuanlv.nh", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.pw, tt.user)
			if len(tt.problems) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check passed")
			}
			for _, p := range tt.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%v lacks %q", err, p)
				}
			}
			if strings.Contains(err.Error(), tt.pw) {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

func TestPasswordProfile_Generate(t *testing.T) {
	cfg := DefaultPasswordConfig()
	for name, p := range cfg.Profiles {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 500 {
				s, err := p.Generate(nil, cfg.GeneratedLength, "tuanlv.nh")
				if err != nil {
					t.Fatal(err)
				}
				pw := s.Reveal()
				if len(pw) != cfg.GeneratedLength {
					t.Fatalf("length %d", len(pw))
				}
				if err := p.Check(pw, "tuanlv.nh"); err != nil {
					t.Fatalf("generated password fails its own profile: %v", err)
				}
				if strings.ContainsAny(pw, "Il1O0o '\"`\\") {
					t.Fatalf("generated password has a look-alike or hard-to-type character")
				}
				for _, r := range pw {
					if r > unicode.MaxASCII || !unicode.IsPrint(r) {
						t.Fatalf("non-printable character %U", r)
					}
				}
				if seen[pw] {
					t.Fatal("the same password twice in 500")
				}
				seen[pw] = true
			}
		})
	}
	if _, err := cfg.Profiles["nt7"].Generate(nil, 7, "x"); err == nil {
		t.Error("a password shorter than the profile's minimum was generated")
	}
	// A random source that fails is an error, not a weak password.
	if _, err := cfg.Profiles["nt7"].Generate(bytes.NewReader(nil), 14, "x"); err == nil {
		t.Error("Generate with an exhausted random source succeeded")
	}
}

func TestPasswordConfig_Validate(t *testing.T) {
	c := DefaultPasswordConfig()
	c.GeneratedLength = 6
	c.Profiles["weird"] = PasswordProfile{MinLength: 0, MinClasses: 5, Specials: "aé", UsernamePart: -1, History: -1}
	text := c.Validate("rules.password").Error()
	for _, w := range []string{
		"rules.password.generated_length: 6 is too short: profile nt7 needs at least 8",
		"rules.password.profiles.weird.min_length: must be at least 1",
		"rules.password.profiles.weird.min_classes: must be between 0 and 4",
		`rules.password.profiles.weird.specials: 'a' is not a printable ASCII`,
		`rules.password.profiles.weird.specials: 'é' is not`,
		"rules.password.profiles.weird.username_part: must not be negative",
		"rules.password.profiles.weird.history: must not be negative",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
}

func TestPasswordProfile_Problems(t *testing.T) {
	nt7 := DefaultPasswordConfig().Profiles["nt7"]
	btc5 := DefaultPasswordConfig().Profiles["btc5"]
	tests := []struct {
		name     string
		p        PasswordProfile
		pw, user string
		want     []PasswordProblem
	}{
		{"nt7 valid", nt7, "Ab3#efgh", "quoctrang", nil},
		{"nt7 short", nt7, "Ab3#efg", "quoctrang", []PasswordProblem{{Code: ProblemTooShort, MinLength: 8}}},
		{"nt7 password1", nt7, "password1", "quoctrang", []PasswordProblem{
			{Code: ProblemClasses, Have: 2, Need: 4, Missing: []string{ClassUpper, ClassSpecial}, Specials: "!@#%$*&"}}},
		{"nt7 short and one class", nt7, "abc", "quoctrang", []PasswordProblem{
			{Code: ProblemTooShort, MinLength: 8},
			{Code: ProblemClasses, Have: 1, Need: 4, Missing: []string{ClassUpper, ClassDigit, ClassSpecial}, Specials: "!@#%$*&"}}},
		{"nt7 caret is not special", nt7, "Ab3^efgh", "quoctrang", []PasswordProblem{
			{Code: ProblemClasses, Have: 3, Need: 4, Missing: []string{ClassSpecial}, Specials: "!@#%$*&"}}},
		{"btc5 valid", btc5, "abcdEFG1", "quoctrang", nil},
		{"btc5 password1", btc5, "password1", "quoctrang", []PasswordProblem{
			{Code: ProblemClasses, Have: 2, Need: 3, Missing: []string{ClassUpper, ClassSpecial}}}},
		{"btc5 account name", btc5, "Trang#2026", "quoctrang", []PasswordProblem{{Code: ProblemAccountName, Part: 3}}},
		{"btc5 everything", btc5, "quoc", "quoctrang", []PasswordProblem{
			{Code: ProblemTooShort, MinLength: 8},
			{Code: ProblemClasses, Have: 1, Need: 3, Missing: []string{ClassUpper, ClassDigit, ClassSpecial}},
			{Code: ProblemAccountName, Part: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Problems(tt.pw, tt.user)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Problems = %+v, want %+v", got, tt.want)
			}
			// Check says the same, rule by rule.
			err := tt.p.Check(tt.pw, tt.user)
			if (err == nil) != (len(tt.want) == 0) {
				t.Fatalf("Check = %v with problems %v", err, got)
			}
			for _, pr := range got {
				if !strings.Contains(err.Error(), pr.String()) {
					t.Errorf("Check %q lacks %q", err, pr)
				}
				if strings.Contains(pr.String(), tt.pw) {
					t.Errorf("problem %q quotes the password", pr)
				}
			}
		})
	}
}
