package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"

	"github.com/ldapsync/ldapsync/internal/field"
)

// UnitKind is a kind of unit of NT Art. 4.1. The kind decides where a unit
// may stand in the tree and how its account name is derived.
type UnitKind string

// The unit kinds of NT Art. 4.1 and the account each derives.
const (
	// KindDepartment is a provincial department or agency (sở, ban,
	// ngành): <abbr>, e.g. sotttt. Top level.
	KindDepartment UnitKind = "department"
	// KindDistrict is a district or city People's Committee: ubnd_<abbr>,
	// e.g. ubnd_prtc. Top level.
	KindDistrict UnitKind = "district"
	// KindCommune is a commune, ward or township People's Committee, under
	// a district: ubnd_<its name folded>, e.g. ubnd_phuochai.
	KindCommune UnitKind = "commune"
	// KindDepartmentOffice is an office of a department (phòng, ban):
	// <department abbr>_<abbr>, e.g. sonv_vp.
	KindDepartmentOffice UnitKind = "department_office"
	// KindDepartmentUnit is a unit under a department (đơn vị trực
	// thuộc): <abbr>, e.g. ttcntttt.
	KindDepartmentUnit UnitKind = "department_unit"
	// KindDistrictOffice is an office or unit under a district:
	// <abbr>_<district abbr>, e.g. vhtt_ns.
	KindDistrictOffice UnitKind = "district_office"
)

// unitKinds lists the kinds in the order messages name them.
var unitKinds = []UnitKind{KindDepartment, KindDistrict, KindCommune, KindDepartmentOffice, KindDepartmentUnit, KindDistrictOffice}

// childKinds says which kinds may stand directly under a kind; "" is the
// top level. Art. 4.1 knows no deeper levels, so the other kinds have no
// children. Since the 2025 reform abolished the district level (1 July
// 2025), communes and wards answer to the province: a commune may stand at
// the top level too.
var childKinds = map[UnitKind][]UnitKind{
	"":             {KindDepartment, KindDistrict, KindCommune},
	KindDepartment: {KindDepartmentOffice, KindDepartmentUnit},
	KindDistrict:   {KindCommune, KindDistrictOffice},
}

// Unit is one node of the configured unit tree.
type Unit struct {
	// Name is the unit's full Vietnamese name: "Sở Thông tin và Truyền
	// thông", "Xã Phước Hải". A commune's account is derived from it: a
	// leading "Ủy ban nhân dân" or "UBND" and then "Xã", "Phường" or "Thị
	// trấn" are dropped, and the rest is folded and written without
	// spaces, so "Xã Phước Hải", "Ủy ban nhân dân xã Phước Hải" and "Phước
	// Hải" all give ubnd_phuochai.
	Name string `yaml:"name"`
	// Kind is one of the Kind constants.
	Kind UnitKind `yaml:"kind"`
	// Abbr is the official abbreviation: lower-case letters and digits,
	// starting with a letter; "_" is not allowed because it separates the
	// parts of an account name. Required for every kind but a commune,
	// which has none.
	Abbr string `yaml:"abbr"`
	// Units are the units directly under this one.
	Units []*Unit `yaml:"units"`
	// AgeRecipients are the public keys the unit's sealed letters are
	// encrypted to with age: X25519 keys (age1…), post-quantum keys
	// (age1pq1…, not mixed with the others) or SSH keys (ssh-ed25519 …,
	// ssh-rsa …). A unit without any takes its nearest ancestor's; a tree
	// without any writes plain letters, readable by their owner only.
	// Default: none.
	AgeRecipients []string `yaml:"age_recipients"`

	parent     *Unit
	account    string
	recipients []age.Recipient
}

// Account returns the unit's organisational account name as BuildUnitTree
// derived it; it is empty before BuildUnitTree has accepted the tree.
func (u *Unit) Account() string { return u.account }

// Parent returns the unit above u, nil at the top. It is set by
// BuildUnitTree.
func (u *Unit) Parent() *Unit { return u.parent }

// LetterRecipients returns the age recipients u's letters are encrypted
// to: its own AgeRecipients, else those of the nearest unit above it that
// has some; none means plain letters. They are parsed by BuildUnitTree.
func (u *Unit) LetterRecipients() []age.Recipient {
	for v := u; v != nil; v = v.parent {
		if len(v.recipients) > 0 {
			return v.recipients
		}
	}
	return nil
}

// LadderAbbr returns the abbreviation rules 3 and 4 of Art. 4.2 append for
// people of u: the abbreviation of the department or district u is, or
// stands under.
func (u *Unit) LadderAbbr() string {
	for v := u; v != nil; v = v.parent {
		if v.Kind == KindDepartment || v.Kind == KindDistrict {
			return v.Abbr
		}
	}
	return ""
}

// UnitTree is the validated tree.
type UnitTree struct {
	Roots []*Unit

	all       []*Unit
	byAccount map[string]*Unit
}

// BuildUnitTree validates roots, links every unit to its parent and derives
// its account name. It reports every problem at once, each named by its
// path under path ("rules.units[3].units[0].abbr"), and then returns a nil
// tree. Two units that derive the same account name are a problem named at
// the second, and the message names the first.
func BuildUnitTree(roots []*Unit, path string) (*UnitTree, field.List) {
	b := treeBuilder{
		tree:  &UnitTree{Roots: roots, byAccount: map[string]*Unit{}},
		paths: map[string]string{},
	}
	b.walk(roots, nil, path)
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	return b.tree, nil
}

// Lookup finds a unit by account name.
func (t *UnitTree) Lookup(account string) (*Unit, bool) {
	u, ok := t.byAccount[account]
	return u, ok
}

// All returns every unit, parents before children, in config order.
func (t *UnitTree) All() []*Unit { return t.all }

type treeBuilder struct {
	tree  *UnitTree
	errs  field.List
	paths map[string]string // account name → path of the unit that derived it
}

func (b *treeBuilder) walk(units []*Unit, parent *Unit, path string) {
	for i, u := range units {
		p := field.Index(path, i)
		if u == nil {
			b.errs.Add(p, "empty unit")
			continue
		}
		u.parent, u.account = parent, ""
		b.tree.all = append(b.tree.all, u)
		if b.check(u, p) {
			b.derive(u, p)
		}
		u.recipients = b.recipients(u.AgeRecipients, field.Join(p, "age_recipients"))
		b.walk(u.Units, u, field.Join(p, "units"))
	}
}

// check reports what is wrong with u's own fields and whether its account
// can be derived.
func (b *treeBuilder) check(u *Unit, p string) bool {
	ok := true
	if strings.TrimSpace(u.Name) == "" {
		b.errs.Add(field.Join(p, "name"), "required")
		ok = false
	}
	var parentKind UnitKind
	where := "at the top level"
	if u.parent != nil {
		parentKind, where = u.parent.Kind, "under a "+string(u.parent.Kind)
	}
	switch {
	case !slices.Contains(unitKinds, u.Kind):
		b.errs.Add(field.Join(p, "kind"), "%q is not a unit kind (%s)", u.Kind, kindList(unitKinds))
		ok = false
	case u.parent != nil && !slices.Contains(unitKinds, parentKind):
		ok = false // the parent's kind is reported already
	case !slices.Contains(childKinds[parentKind], u.Kind):
		b.errs.Add(field.Join(p, "kind"), "a %s cannot stand %s (allowed there: %s)", u.Kind, where, kindList(childKinds[parentKind]))
		ok = false
	}
	switch {
	case u.Kind == KindCommune && u.Abbr != "":
		b.errs.Add(field.Join(p, "abbr"), "a commune has no abbreviation: its account name comes from its name")
		ok = false
	case u.Kind == KindCommune:
	case u.Abbr == "":
		b.errs.Add(field.Join(p, "abbr"), "required")
		ok = false
	case !isAbbr(u.Abbr):
		b.errs.Add(field.Join(p, "abbr"), "%q must be lower-case letters a-z and digits, starting with a letter", u.Abbr)
		ok = false
	}
	return ok
}

// derive sets u's account name, unless its parent's could not be derived
// (a problem reported at the parent) or the name is bad or already derived
// by another unit.
func (b *treeBuilder) derive(u *Unit, p string) {
	var account string
	switch u.Kind {
	case KindDepartment, KindDepartmentUnit:
		account = u.Abbr
	case KindDistrict:
		account = "ubnd_" + u.Abbr
	case KindCommune:
		name, err := communeName(u.Name)
		if err != nil {
			b.errs.Add(field.Join(p, "name"), "%v", err)
			return
		}
		account = "ubnd_" + name
	case KindDepartmentOffice:
		if u.parent.account == "" {
			return
		}
		account = u.parent.Abbr + "_" + u.Abbr
	case KindDistrictOffice:
		if u.parent.account == "" {
			return
		}
		account = u.Abbr + "_" + u.parent.Abbr
	}
	if msg := usernameProblem(account, MaxUsernameLength); msg != "" {
		b.errs.Add(p, "account name %q: %s", account, msg)
		return
	}
	if other, dup := b.paths[account]; dup {
		b.errs.Add(p, "account name %q is also derived by %s", account, other)
		return
	}
	b.paths[account] = p
	b.tree.byAccount[account] = u
	u.account = account
}

// recipients parses a unit's age recipients, reporting each that does not
// parse. A value is echoed only when it starts like a public key: an age
// secret key pasted by mistake must not reach a log.
func (b *treeBuilder) recipients(keys []string, p string) []age.Recipient {
	var recs []age.Recipient
	seen := map[string]bool{}
	pq, classic := false, false
	ok := true
	for i, k := range keys {
		ip := field.Index(p, i)
		k = strings.TrimSpace(k)
		r, err := parseRecipient(k)
		if err != nil {
			b.errs.Add(ip, "%v", err)
			ok = false
			continue
		}
		if seen[k] {
			b.errs.Add(ip, "%q is listed twice", k)
			ok = false
			continue
		}
		seen[k] = true
		if _, isPQ := r.(*age.HybridRecipient); isPQ {
			pq = true
		} else {
			classic = true
		}
		recs = append(recs, r)
	}
	if pq && classic {
		b.errs.Add(p, "post-quantum (age1pq1…) and other recipients cannot be mixed: age refuses to encrypt to both")
		ok = false
	}
	if !ok {
		return nil
	}
	return recs
}

// parseRecipient parses one age recipient: age1pq1… (post-quantum), age1…
// (X25519) or an SSH public key line.
func parseRecipient(k string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(k, "age1pq1"):
		return age.ParseHybridRecipient(k)
	case strings.HasPrefix(k, "age1"):
		r, err := age.ParseX25519Recipient(k)
		if err != nil {
			return nil, fmt.Errorf("%w (plugin recipients, age1<plugin>1…, are not supported)", err)
		}
		return r, nil
	case strings.HasPrefix(k, "ssh-"):
		return agessh.ParseRecipient(k)
	case strings.HasPrefix(strings.ToUpper(k), "AGE-SECRET-KEY-"), strings.HasPrefix(strings.ToUpper(k), "AGE-PLUGIN-"):
		return nil, errors.New("this is a secret key, not a recipient: put its public key here (age-keygen -y) and keep the secret key off this host")
	case k == "":
		return nil, errors.New("empty")
	default:
		return nil, errors.New("not an age recipient: want age1…, age1pq1…, ssh-ed25519 … or ssh-rsa …")
	}
}

// communeName returns the folded commune name without its designation and
// spaces: "Ủy ban nhân dân xã Phước Hải" gives "phuochai".
func communeName(name string) (string, error) {
	f, err := Fold(name)
	var ce *CharError
	if errors.As(err, &ce) {
		return "", fmt.Errorf("character %q (%U) cannot be part of an account name", ce.Char, ce.Char)
	}
	f += " " // so that a prefix is always a whole word followed by a space
	for _, prefixes := range [][]string{{"uy ban nhan dan ", "ubnd "}, {"xa ", "phuong ", "thi tran "}} {
		for _, pre := range prefixes {
			if rest, ok := strings.CutPrefix(f, pre); ok {
				f = rest
				break
			}
		}
	}
	if f == "" {
		return "", fmt.Errorf("%q has no commune name after its designation", name)
	}
	return strings.ReplaceAll(f, " ", ""), nil
}

// isAbbr reports whether s is a valid abbreviation: lower-case ASCII
// letters and digits, starting with a letter.
func isAbbr(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func kindList(kinds []UnitKind) string {
	if len(kinds) == 0 {
		return "none"
	}
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
