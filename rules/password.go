package rules

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/internal/secret"
)

// Character classes of a password.
const (
	ClassUpper   = "upper"
	ClassLower   = "lower"
	ClassDigit   = "digit"
	ClassSpecial = "special"
)

// PasswordProfile is one password rule set, such as NT Art. 7 or BTC 5.
type PasswordProfile struct {
	// MinLength is the least number of characters. NT 7 and BTC 5: 8.
	MinLength int `yaml:"min_length"`
	// MinClasses is how many of upper, lower, digit and special a password
	// must contain. NT 7: all 4; BTC 5: 3.
	MinClasses int `yaml:"min_classes"`
	// Specials lists the characters that count as special. Empty means any
	// printable ASCII character that is not a letter or digit, space
	// included (BTC 5). NT 7: "!@#%$*&".
	Specials string `yaml:"specials"`
	// UsernamePart, when above 0, forbids any run of that many characters
	// of the account name inside the password, case-insensitively (BTC 5:
	// "không được trùng với một phần tên của tài khoản"). 0 turns it off.
	UsernamePart int `yaml:"username_part"`
	// History is how many earlier passwords a new one must differ from
	// (slapd pwdInHistory). BTC 5 and NT: 1.
	History int `yaml:"history"`
	// MaxAge is how long a password lasts before slapd makes the user
	// change it (pwdMaxAge); 0 means it never expires. BTC 5: 90d.
	MaxAge Duration `yaml:"max_age"`
}

// PasswordConfig is the rules.password config section.
type PasswordConfig struct {
	// Profile names the profile in Profiles that generated passwords and the
	// directory's password policy follow. Default "nt7".
	Profile string `yaml:"profile"`
	// GeneratedLength is the length of generated first and reset passwords.
	// Default 14. They avoid look-alike characters (I l 1 O 0 o) because
	// people type them from a paper letter.
	GeneratedLength int `yaml:"generated_length"`
	// Profiles are the available rule sets. Defaults: nt7 and btc5. A profile
	// written in the config replaces the default of that name entirely.
	Profiles map[string]PasswordProfile `yaml:"profiles"`
}

// DefaultPasswordConfig returns NT Art. 7 as the active profile, with BTC 5
// also defined.
func DefaultPasswordConfig() PasswordConfig {
	return PasswordConfig{
		Profile:         "nt7",
		GeneratedLength: 14,
		Profiles: map[string]PasswordProfile{
			"nt7":  {MinLength: 8, MinClasses: 4, Specials: "!@#%$*&", History: 1},
			"btc5": {MinLength: 8, MinClasses: 3, UsernamePart: 3, History: 1, MaxAge: Duration(90 * 24 * time.Hour)},
		},
	}
}

// Validate checks the section.
func (c PasswordConfig) Validate(path string) field.List {
	var errs field.List
	if _, ok := c.Profiles[c.Profile]; !ok {
		errs.Add(field.Join(path, "profile"), "%q is not one of the profiles (%s)", c.Profile, strings.Join(c.names(), ", "))
	}
	for _, name := range c.names() {
		p := c.Profiles[name]
		pp := field.Join(field.Join(path, "profiles"), name)
		if p.MinLength < 1 {
			errs.Add(field.Join(pp, "min_length"), "must be at least 1")
		}
		if p.MinClasses < 0 || p.MinClasses > 4 {
			errs.Add(field.Join(pp, "min_classes"), "must be between 0 and 4")
		}
		for _, r := range p.Specials {
			if r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsLetter(r) || unicode.IsDigit(r) {
				errs.Add(field.Join(pp, "specials"), "%q is not a printable ASCII character other than a letter or digit", r)
			}
		}
		if p.UsernamePart < 0 {
			errs.Add(field.Join(pp, "username_part"), "must not be negative")
		}
		if p.History < 0 {
			errs.Add(field.Join(pp, "history"), "must not be negative")
		}
		if min := max(p.MinLength, generatedClasses); c.Profile == name && c.GeneratedLength < min {
			errs.Add(field.Join(path, "generated_length"), "%d is too short: profile %s needs at least %d (min_length %d, and one character of each of the %d classes)",
				c.GeneratedLength, name, min, p.MinLength, generatedClasses)
		}
	}
	return errs
}

func (c PasswordConfig) names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Active returns the profile that Profile names.
func (c PasswordConfig) Active() PasswordProfile { return c.Profiles[c.Profile] }

// isSpecial reports whether r counts as a special character in p.
func (p PasswordProfile) isSpecial(r rune) bool {
	if p.Specials != "" {
		return strings.ContainsRune(p.Specials, r)
	}
	return r <= unicode.MaxASCII && unicode.IsPrint(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// Codes of the rules a password may break, in PasswordProblem.Code: they
// never change, so callers may key messages and tests on them.
const (
	// ProblemTooShort is a password shorter than MinLength.
	ProblemTooShort = "too_short"
	// ProblemClasses is a password with fewer than MinClasses of the
	// character classes.
	ProblemClasses = "classes"
	// ProblemAccountName is a password that holds UsernamePart or more
	// consecutive characters of the account name (BTC 5).
	ProblemAccountName = "account_name"
)

// PasswordProblem is one rule of a profile that a password breaks. It says
// which rule and by how much, never what the password is.
type PasswordProblem struct {
	// Code is one of the Problem constants.
	Code string
	// MinLength is the profile's minimum length (ProblemTooShort).
	MinLength int
	// Have is how many classes the password has, Need how many the profile
	// asks for, and Missing the classes it lacks, in the order upper,
	// lower, digit, special (ProblemClasses).
	Have, Need int
	Missing    []string
	// Specials are the characters that count as special; "" means any
	// printable ASCII character that is not a letter or digit.
	Specials string
	// Part is the length of the runs of the account name that the password
	// may not hold (ProblemAccountName).
	Part int
}

// String says in English which rule the password breaks, as Check words
// it: "shorter than 8 characters".
func (p PasswordProblem) String() string {
	switch p.Code {
	case ProblemTooShort:
		return fmt.Sprintf("shorter than %d characters", p.MinLength)
	case ProblemClasses:
		return fmt.Sprintf("has %d of the %d character classes required (missing %s)", p.Have, p.Need, strings.Join(p.Missing, ", "))
	case ProblemAccountName:
		return fmt.Sprintf("contains %d or more consecutive characters of the account name", p.Part)
	}
	return p.Code
}

// Problems returns every rule of p that password breaks for the account
// username, in the order length, classes, account name; none when it is
// acceptable. What slapd checks itself (history, age) is not here.
func (p PasswordProfile) Problems(password, username string) []PasswordProblem {
	var problems []PasswordProblem
	if n := len([]rune(password)); n < p.MinLength {
		problems = append(problems, PasswordProblem{Code: ProblemTooShort, MinLength: p.MinLength})
	}
	have := map[string]bool{}
	for _, r := range password {
		switch {
		case unicode.IsUpper(r):
			have[ClassUpper] = true
		case unicode.IsLower(r):
			have[ClassLower] = true
		case unicode.IsDigit(r):
			have[ClassDigit] = true
		case p.isSpecial(r):
			have[ClassSpecial] = true
		}
	}
	if len(have) < p.MinClasses {
		var missing []string
		for _, c := range []string{ClassUpper, ClassLower, ClassDigit, ClassSpecial} {
			if !have[c] {
				missing = append(missing, c)
			}
		}
		problems = append(problems, PasswordProblem{Code: ProblemClasses, Have: len(have), Need: p.MinClasses, Missing: missing, Specials: p.Specials})
	}
	if p.UsernamePart > 0 && containsPart(strings.ToLower(password), strings.ToLower(username), p.UsernamePart) {
		problems = append(problems, PasswordProblem{Code: ProblemAccountName, Part: p.UsernamePart})
	}
	return problems
}

// Check reports every rule of p that password breaks for the account
// username (see Problems). The error names the rules, never the password.
func (p PasswordProfile) Check(password, username string) error {
	problems := p.Problems(password, username)
	if len(problems) == 0 {
		return nil
	}
	texts := make([]string, len(problems))
	for i, pr := range problems {
		texts[i] = pr.String()
	}
	return errors.New("password " + strings.Join(texts, "; "))
}

// containsPart reports whether s contains any n-character run of name's
// letters and digits ("tuanlv.nh" has runs "tua", "uan", …, "nh" is too
// short).
func containsPart(s, name string, n int) bool {
	for _, part := range strings.FieldsFunc(name, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		rs := []rune(part)
		for i := 0; i+n <= len(rs); i++ {
			if strings.Contains(s, string(rs[i:i+n])) {
				return true
			}
		}
	}
	return false
}

// generatedClasses is how many classes a generated password always has.
const generatedClasses = 4

// Alphabets for generated passwords: no look-alikes (I, l, 1, O, 0, o),
// because the first password is read off a paper letter.
const (
	genUpper    = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	genLower    = "abcdefghijkmnpqrstuvwxyz"
	genDigit    = "23456789"
	genSpecials = "!@#%$*&"
)

// Generate returns a random password of length characters for username
// that satisfies p, drawing randomness from rnd (crypto/rand.Reader when
// nil). It always includes every character class, so it satisfies any
// MinClasses.
func (p PasswordProfile) Generate(rnd io.Reader, length int, username string) (secret.Secret, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	specials := p.generatorSpecials()
	classes := []string{genUpper, genLower, genDigit, specials}
	if length < max(p.MinLength, len(classes)) {
		return secret.Secret{}, fmt.Errorf("rules: generated password length %d is below the minimum %d", length, max(p.MinLength, len(classes)))
	}
	all := strings.Join(classes, "")
	for range 100 {
		buf := make([]byte, 0, length)
		for _, c := range classes {
			b, err := pick(rnd, c)
			if err != nil {
				return secret.Secret{}, err
			}
			buf = append(buf, b)
		}
		for len(buf) < length {
			b, err := pick(rnd, all)
			if err != nil {
				return secret.Secret{}, err
			}
			buf = append(buf, b)
		}
		// Fisher-Yates, so the class characters are not always first.
		for i := len(buf) - 1; i > 0; i-- {
			j, err := randInt(rnd, i+1)
			if err != nil {
				return secret.Secret{}, err
			}
			buf[i], buf[j] = buf[j], buf[i]
		}
		if p.Check(string(buf), username) == nil {
			return secret.New(string(buf)), nil
		}
	}
	return secret.Secret{}, errors.New("rules: could not generate a password that satisfies the profile")
}

// generatorSpecials returns the special characters the generator uses: the
// profile's own, minus those that are hard to read or type from a letter
// (space, quotes, backslash, backtick), or the NT 7 set.
func (p PasswordProfile) generatorSpecials() string {
	if p.Specials == "" {
		return genSpecials
	}
	var b strings.Builder
	for _, r := range p.Specials {
		if !strings.ContainsRune(" '\"`\\", r) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return genSpecials
	}
	return b.String()
}

func pick(rnd io.Reader, alphabet string) (byte, error) {
	i, err := randInt(rnd, len(alphabet))
	if err != nil {
		return 0, err
	}
	return alphabet[i], nil
}

func randInt(rnd io.Reader, n int) (int, error) {
	v, err := rand.Int(rnd, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("rules: random source: %w", err)
	}
	return int(v.Int64()), nil
}
