package rules

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/ldapsync/ldapsync/internal/field"
)

// MaxUsernameLength is the longest username any configuration allows, and
// the default limit: a username is the local part of a mail address
// (<username>@ninhthuan.gov.vn), and RFC 5321 (4.5.3.1.1) caps a local
// part at 64 octets.
const MaxUsernameLength = 64

// UsernameConfig is the rules.username config section: the limits of the
// NT Art. 4.2 ladder and the names it must never hand out.
type UsernameConfig struct {
	// MaxLength is the longest username the ladder hands out, between 1
	// and 64. Default 64. A rung longer than this is skipped, not cut
	// short: a truncated name would no longer follow the format the
	// regulation prescribes and could equal another person's rung.
	MaxLength int `yaml:"max_length"`
	// Reserved are names never handed to a person: mailbox names that
	// RFC 2142 and mail systems expect to exist, system accounts, the
	// province's IOC mailbox (NT Art. 5.1: ioc@ninhthuan.gov.vn) and words
	// that would let one person pass for a service. Lower-case, in the
	// username character set. Default: see DefaultUsernameConfig. A list in
	// the config replaces the default list.
	Reserved []string `yaml:"reserved"`
	// ReuseEmbargo is how long a revoked username stays taken, counted from
	// its revocation. Default 12 months: the longest period NT Art. 5.2.c
	// lets an account live on after its holder left, so the people who
	// wrote to the holder have had as long again to learn the address is
	// gone before mail to it could reach a stranger. "0" lets a revoked
	// name be reused at once. The caller applies it in its taken function.
	ReuseEmbargo Period `yaml:"reuse_embargo"`
}

// DefaultUsernameConfig returns the regulation's defaults.
func DefaultUsernameConfig() UsernameConfig {
	return UsernameConfig{
		MaxLength: MaxUsernameLength,
		Reserved: []string{
			// RFC 2142 mailbox names and what mail software sends from.
			"abuse", "hostmaster", "info", "noc", "postmaster", "security",
			"support", "webmaster", "mailerdaemon", "noreply", "donotreply",
			// System and directory accounts.
			"admin", "administrator", "root", "daemon", "nobody", "operator",
			"system", "ldap", "mail", "guest",
			// The province's operations centre (NT Art. 5.1, 10.5) and the
			// Vietnamese words for "support" and "administration".
			"ioc", "hotro", "quantri",
		},
		ReuseEmbargo: Period{Months: 12},
	}
}

// Validate checks the section and reports every problem, each named under
// path.
func (c UsernameConfig) Validate(path string) field.List {
	var errs field.List
	if c.MaxLength < 1 || c.MaxLength > MaxUsernameLength {
		errs.Add(field.Join(path, "max_length"), "%d is not between 1 and %d (a mail local part is at most %d characters)", c.MaxLength, MaxUsernameLength, MaxUsernameLength)
	}
	for i, r := range c.Reserved {
		if msg := usernameProblem(r, MaxUsernameLength); msg != "" {
			errs.Add(field.Index(field.Join(path, "reserved"), i), "%q can never be a username: %s", r, msg)
		}
	}
	if e := c.ReuseEmbargo; e.Years < 0 || e.Months < 0 || e.Days < 0 {
		errs.Add(field.Join(path, "reuse_embargo"), "%s is negative", e)
	}
	return errs
}

// ValidateUsername reports whether u is a username the regulation allows:
// lower-case ASCII letters, digits, "." and "_", starting with a letter, at
// most maxLen characters.
func ValidateUsername(u string, maxLen int) error {
	if msg := usernameProblem(u, maxLen); msg != "" {
		return fmt.Errorf("rules: username %q: %s", u, msg)
	}
	return nil
}

// usernameProblem says what is wrong with u, or "" when nothing is.
func usernameProblem(u string, maxLen int) string {
	for _, r := range u {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '.' || r == '_') {
			return fmt.Sprintf("character %q (%U) is not allowed (only a-z, 0-9, '.' and '_')", r, r)
		}
	}
	switch {
	case u == "":
		return "empty"
	case u[0] < 'a' || u[0] > 'z':
		return "must start with a letter a-z"
	case len(u) > maxLen:
		return fmt.Sprintf("%d characters, more than %d", len(u), maxLen)
	}
	return ""
}

// ErrNoFreeUsername is wrapped by Allocate when every rung of the ladder
// that fits MaxLength is taken. The person needs a decision by a human.
var ErrNoFreeUsername = errors.New("no free username")

// maxCounter bounds the rule 4 counter. No province has a million people
// of one stem in one unit; reaching it means the taken function answers
// true for everything, and failing is better than spinning.
const maxCounter = 1_000_000

// Allocator hands out usernames down the NT Art. 4.2 ladder:
//
//  1. <middle names><given name>: Nguyễn Quốc Trạng → quoctrang; with no
//     middle name, the given name alone;
//  2. <given name><initials of the family name words><initials of the
//     middle names>: Lê Văn Tuấn → tuanlv; Tôn Nữ Thị Hà → hatnt;
//  3. rule 2 + "." + the ladder abbreviation: tuanlv.nh;
//  4. rule 2 + a number from 2 + "." + the abbreviation: tuanlv2.nh, …
//
// A name is taken when the taken function says so (the directory, revoked
// names within ReuseEmbargo, organisational accounts), when it is reserved,
// or when this allocator handed it out before. An Allocator serves one
// batch: it is not safe for concurrent use, and it assumes that a name
// taken once stays taken for its life, because it remembers, per rule 4
// stem, the lowest number that may still be free, so that the 500th
// Nguyễn Văn Anh in a district costs one look-up, not 500. The same names
// allocated in the same order with the same taken function give the same
// usernames.
type Allocator struct {
	maxLen   int
	taken    func(string) bool
	reserved map[string]bool
	issued   map[string]bool
	// used, when set (NewAllocatorIn), holds the taken names, the reserved
	// ones and those handed out, in one set: one look-up per rung.
	used *NameSet
	// next is, per rule 4 stem ("tuanlv.nh"), the number after the highest
	// one handed out: every lower number was taken when last looked at.
	next map[string]int
}

// NewAllocator returns an allocator that treats taken(u)==true, reserved
// names and everything it allocated before as taken. taken may be nil when
// nothing else is taken. cfg should have passed Validate.
func NewAllocator(cfg UsernameConfig, taken func(string) bool) *Allocator {
	a := &Allocator{
		maxLen:   cfg.MaxLength,
		taken:    taken,
		reserved: make(map[string]bool, len(cfg.Reserved)),
		issued:   map[string]bool{},
		next:     map[string]int{},
	}
	for _, r := range cfg.Reserved {
		a.reserved[r] = true
	}
	return a
}

// NewAllocatorIn returns an allocator whose taken names are those of
// used; it adds the reserved names to used, and every name it hands out.
// One look-up of a compact set per rung instead of three map look-ups:
// what a plan over a large directory wants. cfg should have passed
// Validate.
func NewAllocatorIn(cfg UsernameConfig, used *NameSet) *Allocator {
	a := &Allocator{maxLen: cfg.MaxLength, used: used, next: map[string]int{}}
	for _, r := range cfg.Reserved {
		used.Add(r)
	}
	return a
}

// Allocate returns the first free rung of the ladder for n in a unit whose
// ladder abbreviation (Unit.LadderAbbr) is abbr, and counts it as taken
// from then on. Rungs longer than MaxLength are skipped; when no rung fits
// and is free, the error wraps ErrNoFreeUsername. abbr may be empty when
// the unit is not known, as for a quick look-up; then only rules 1 and 2
// are tried. A name that does not fold is a *CharError.
func (a *Allocator) Allocate(n Name, abbr string) (string, error) {
	// Buffers that hold the usual name and rung without allocating; longer
	// ones grow onto the heap.
	var parts [3 * MaxUsernameLength]byte
	var rung [MaxUsernameLength + 8]byte
	f, err := n.fold(parts[:0])
	if err != nil {
		return "", err
	}
	if abbr != "" && !isAbbr(abbr) {
		return "", fmt.Errorf("rules: ladder abbreviation %q: want lower-case letters and digits, starting with a letter", abbr)
	}
	// Rule 1.
	b := appendJoined(rung[:0], f.middle)
	b = appendJoined(b, f.given)
	if u, ok := a.claim(b); ok {
		return u, nil
	}
	// Rule 2.
	b = appendJoined(b[:0], f.given)
	b = appendInitials(b, f.family)
	b = appendInitials(b, f.middle)
	if u, ok := a.claim(b); ok {
		return u, nil
	}
	if abbr == "" {
		return "", fmt.Errorf("rules: name %q: rules 1 and 2 are not free, and rules 3 and 4 need the unit's abbreviation", n.Full())
	}
	rule2 := len(b)
	// Rule 3.
	b = append(append(b, '.'), abbr...)
	if u, ok := a.claim(b); ok {
		return u, nil
	}
	// Rule 4. b is the stem ("tuanlv.nh") here.
	for i := max(2, a.next[string(b)]); i <= maxCounter; i++ {
		b = strconv.AppendInt(b[:rule2], int64(i), 10)
		b = append(append(b, '.'), abbr...)
		if len(b) > a.maxLen {
			break // a larger number is no shorter
		}
		if u, ok := a.claim(b); ok {
			a.next[string(b[:rule2])+"."+abbr] = i + 1
			return u, nil
		}
	}
	return "", fmt.Errorf("rules: name %q, abbreviation %q: %w of at most %d characters", n.Full(), abbr, ErrNoFreeUsername, a.maxLen)
}

// claim hands out b if it fits and is free.
func (a *Allocator) claim(b []byte) (string, bool) {
	if a.used != nil {
		if len(b) > a.maxLen {
			return "", false
		}
		h := a.used.print(b)
		if a.used.has(h) {
			return "", false
		}
		a.used.insert(h)
		return string(b), true
	}
	if len(b) > a.maxLen || a.reserved[string(b)] || a.issued[string(b)] {
		return "", false
	}
	u := string(b)
	if a.taken != nil && a.taken(u) {
		return "", false
	}
	a.issued[u] = true
	return u, true
}

// appendJoined appends the words of the folded text s without the spaces.
func appendJoined(b, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			b = append(b, s[i])
		}
	}
	return b
}

// appendInitials appends the first letter of each word of the folded text
// s: "ton nu" gives "tn".
func appendInitials(b, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && (i == 0 || s[i-1] == ' ') {
			b = append(b, s[i])
		}
	}
	return b
}
