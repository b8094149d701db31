package rules

import (
	"fmt"
	"strings"
)

// Name is a person's name in Vietnamese order: family name, middle names,
// given name. Each part is display text (NFC, single spaces) and may hold
// several words: a compound family name such as "Tôn Nữ", several middle
// names, or none.
type Name struct {
	Family string `json:"family"`
	Middle string `json:"middle,omitempty"`
	Given  string `json:"given"`
}

// ParseFullName splits a full name as HR writes it when it gives no parts:
// the first word is the family name, the last the given name and anything
// between the middle names. A compound family name cannot be told from a
// middle name here; HR gives it with NameFromParts.
func ParseFullName(full string) (Name, error) {
	words := strings.Fields(cleanText(full))
	if len(words) < 2 {
		return Name{}, fmt.Errorf("rules: full name %q: want at least a family name and a given name", full)
	}
	n := Name{
		Family: words[0],
		Middle: strings.Join(words[1:len(words)-1], " "),
		Given:  words[len(words)-1],
	}
	if _, err := n.fold(nil); err != nil {
		return Name{}, err
	}
	return n, nil
}

// NameFromParts builds a Name from HR's separate family, middle and given
// name fields, used as they are. The middle name may be empty; the family
// and given names may not.
func NameFromParts(family, middle, given string) (Name, error) {
	n := Name{Family: cleanText(family), Middle: cleanText(middle), Given: cleanText(given)}
	if _, err := n.fold(nil); err != nil {
		return Name{}, err
	}
	return n, nil
}

// Full returns the display form "Family Middle Given", leaving out empty
// parts.
func (n Name) Full() string {
	parts := make([]string, 0, 3)
	for _, p := range [...]string{n.Family, n.Middle, n.Given} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// foldedName is a Name folded once, so the allocator builds every rung of
// the ladder from it without folding again. Each part is lower-case ASCII
// words separated by single spaces, all three in one buffer.
type foldedName struct {
	family, middle, given []byte
}

// fold appends the folded parts to dst, and checks that the family and
// given names are not empty once folded ("-" alone folds to nothing).
func (n Name) fold(dst []byte) (foldedName, error) {
	b := dst
	var ends [3]int
	for i, part := range [...]string{n.Family, n.Middle, n.Given} {
		var err error
		if b, err = appendFold(b, part); err != nil {
			if ce, ok := err.(*CharError); ok {
				ce.Text = n.Full() // the whole name tells HR which record to fix
			}
			return foldedName{}, err
		}
		ends[i] = len(b)
	}
	f := foldedName{family: b[len(dst):ends[0]], middle: b[ends[0]:ends[1]], given: b[ends[1]:]}
	switch {
	case len(f.family) == 0:
		return f, fmt.Errorf("rules: name %q: no family name", n.Full())
	case len(f.given) == 0:
		return f, fmt.Errorf("rules: name %q: no given name", n.Full())
	}
	return f, nil
}
