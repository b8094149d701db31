package sync

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// A file that is not UTF-8 is most often Excel's plain "CSV" on Vietnamese
// Windows, which is Windows-1258. But HR offices still keep files typed in
// the TCVN3 (ABC) and VNI fonts, whose bytes decode as Windows-1258 too:
// TCVN3's "Nguyễn Quốc An" reads "NguyÔn Quèc An", VNI's "Nguyễn" reads
// "Nguyeăn", and names that still look like letters fold to wrong accounts.
// Until those encodings are decoded, a file that is not UTF-8 is applied
// only when every word of it that is not plain ASCII (ASCII reads the same
// in all of them) is a well-formed Vietnamese word once read as
// Windows-1258; otherwise the whole file is set aside.

// notWindows1258 is the reason a legacy-encoded file is set aside.
const notWindows1258 = "not UTF-8 and not confidently Windows-1258 (looks like TCVN3/VNI?): save as CSV UTF-8 from Excel and resubmit"

// decodeWindows1258 decodes data, which is not UTF-8, as Windows-1258.
func decodeWindows1258(data []byte) ([]byte, error) {
	dec, err := charmap.Windows1258.NewDecoder().Bytes(data)
	if err != nil {
		return nil, fmt.Errorf("neither UTF-8 nor Windows-1258: %w", err)
	}
	return dec, nil
}

// checkWindows1258 checks that the text of a file decoded as Windows-1258
// reads as Vietnamese: the header, then every record (records and the rows
// readCSV or readJSONL already rejected), in line order. It names the first
// offending line and field.
func (b *Batch) checkWindows1258(records []Record) error {
	fail := func(line int, field, text, problem string) error {
		at := fmt.Sprintf("line %d", line)
		if field != "" {
			at += ", " + field
		}
		return fmt.Errorf("%s: %s: read as Windows-1258 it is %q: %s", notWindows1258, at, text, problem)
	}
	for _, h := range b.header {
		if p := windows1258Problem(h); p != "" {
			return fail(1, "header", h, p)
		}
	}
	all := slices.Clone(records)
	for _, r := range b.Rejected {
		all = append(all, r.Record)
	}
	slices.SortStableFunc(all, func(x, y Record) int { return x.Origin.Line - y.Origin.Line })
	for _, rec := range all {
		if b.Format == FormatCSV {
			for i, v := range rec.Raw {
				if p := windows1258Problem(v); p != "" {
					return fail(rec.Origin.Line, b.columnName(i), v, p)
				}
			}
			continue
		}
		for _, f := range Fields {
			if p := windows1258Problem(rec.Values[f]); p != "" {
				return fail(rec.Origin.Line, f, rec.Values[f], p)
			}
		}
		// The keys, and values of a line that is not an object or holds
		// unknown fields.
		if p := windows1258Problem(string(rec.JSON)); p != "" {
			return fail(rec.Origin.Line, "", string(rec.JSON), p)
		}
	}
	return nil
}

// columnName names CSV column i for a message.
func (b *Batch) columnName(i int) string {
	if i < len(b.header) {
		if c := normalizeHeader(b.header[i]); c != "" {
			return c
		}
	}
	return fmt.Sprintf("column %d", i+1)
}

// windows1258Problem returns why s, text decoded as Windows-1258, is not
// well-formed Vietnamese, or "" when it is (or is plain ASCII). Every
// character must be ASCII, a letter of the Vietnamese alphabet once
// Windows-1258's combining tone marks are composed with the letter before
// them, or a few typographic signs Excel writes; each word with a
// non-ASCII letter must be a Vietnamese syllable, see syllableProblem.
func windows1258Problem(s string) string {
	if isASCII(s) {
		return ""
	}
	s = norm.NFC.String(s)
	var word []rune
	var prev rune
	for _, r := range s {
		if r < utf8.RuneSelf && unicode.IsLetter(r) || vietLetters[r].base != 0 {
			word = append(word, r)
			prev = r
			continue
		}
		if p := syllableProblem(word); p != "" {
			return p
		}
		word = word[:0]
		switch {
		case r < utf8.RuneSelf || typographic(r):
		case unicode.Is(unicode.Mn, r):
			return fmt.Sprintf("mark %U after %q, where Vietnamese writes none", r, prev)
		default:
			return fmt.Sprintf("%q (%U) is not a letter of Vietnamese", r, r)
		}
		prev = r
	}
	return syllableProblem(word)
}

// typographic reports the non-ASCII signs Windows-1258 text legitimately
// holds: a no-break space, curly quotes, dashes, an ellipsis, the đồng sign.
func typographic(r rune) bool {
	return strings.ContainsRune("\u00a0\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u20ab", r)
}

// vietLetter is a letter of the Vietnamese alphabet, lower case, without
// its tone: 'ấ' is {'â', U+0301}.
type vietLetter struct {
	base rune // a ă â e ê i o ô ơ u ư y, or đ
	tone rune // 0 for none
}

// vietLetters holds every non-ASCII letter of Vietnamese, in both cases:
// the twelve vowels with and without each of the five tones, and đ.
var vietLetters = func() map[rune]vietLetter {
	m := map[rune]vietLetter{'đ': {base: 'đ'}, 'Đ': {base: 'đ'}}
	for _, v := range "aăâeêioôơuưy" {
		for _, tone := range []rune{0, '\u0300', '\u0301', '\u0303', '\u0309', '\u0323'} {
			s := string(v)
			if tone != 0 {
				s += string(tone)
			}
			r, _ := utf8.DecodeRuneInString(norm.NFC.String(s))
			for _, c := range []rune{r, unicode.ToUpper(r)} {
				if c >= utf8.RuneSelf {
					m[c] = vietLetter{base: v, tone: tone}
				}
			}
		}
	}
	return m
}()

// letterOf returns r as a vietLetter; an ASCII letter is its lower case.
func letterOf(r rune) vietLetter {
	if r < utf8.RuneSelf {
		return vietLetter{base: unicode.ToLower(r)}
	}
	return vietLetters[r]
}

func isVowel(base rune) bool { return strings.ContainsRune("aăâeêioôơuưy", base) }

// nuclei are the vowel sequences Vietnamese spelling writes in a syllable,
// without tones: "uyê" in Nguyễn, "ươi" in người. The u of qu and the i of
// gi belong to the consonant and are handled in syllableProblem.
var nuclei = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`a ă â e ê i o ô ơ u ư y
		ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ uy ưa ưi ươ ưu yê
		iêu oai oay oao oeo uây uôi uya uyê uyu ươi ươu yêu`) {
		nuclei[n] = true
	}
}

// syllableProblem returns why word, a run of letters, is not a Vietnamese
// syllable, or "". A word of ASCII letters only is not checked: it reads
// the same whatever the encoding. The checks are those that text in
// another encoding misread as Windows-1258 fails, and Vietnamese never
// does: a capital after a small letter (TCVN3's ễ is Windows-1258's Ô),
// more than one tone, vowels that do not make a Vietnamese vowel sequence
// (VNI writes ễ as e and a modifier byte that reads as ă: "Nguyeăn"), and a
// syllable ending in c, ch, p or t with a tone other than sắc or nặng
// (TCVN3's "Quốc" reads "Quèc").
func syllableProblem(word []rune) string {
	if isASCII(string(word)) {
		return ""
	}
	w := string(word)
	letters := make([]vietLetter, len(word))
	var tones []rune
	for i, r := range word {
		letters[i] = letterOf(r)
		if letters[i].tone != 0 {
			tones = append(tones, r)
		}
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(word[i-1]) {
			return fmt.Sprintf("capital %q inside the word %q", r, w)
		}
	}
	if len(tones) > 1 {
		return fmt.Sprintf("%q has %d tone marks (%s), a Vietnamese syllable one", w, len(tones), string(tones))
	}
	for i := 0; i < len(letters); {
		if !isVowel(letters[i].base) {
			i++
			continue
		}
		j := i
		var seq []rune
		for ; j < len(letters) && isVowel(letters[j].base); j++ {
			seq = append(seq, letters[j].base)
		}
		var before rune
		if i > 0 {
			before = letters[i-1].base
		}
		if !validNucleus(seq, before) {
			return fmt.Sprintf("%q is not a Vietnamese syllable (vowels %q)", w, string(seq))
		}
		i = j
	}
	if len(tones) == 1 {
		if t := letterOf(tones[0]).tone; t != '\u0301' && t != '\u0323' {
			lower := strings.ToLower(w)
			for _, stop := range []string{"ch", "c", "p", "t"} {
				if strings.HasSuffix(lower, stop) {
					return fmt.Sprintf("%q is not a Vietnamese syllable (tone of %q before final %q)", w, tones[0], stop)
				}
			}
		}
	}
	return ""
}

// validNucleus reports whether the vowels seq, after the letter before
// (0 at the start of a word), are a Vietnamese vowel sequence: qu takes
// its u and gi its i, so "quốc" has ô and "giường" ươ.
func validNucleus(seq []rune, before rune) bool {
	s := string(seq)
	switch {
	case before == 'q' && len(seq) > 1 && seq[0] == 'u':
		return nuclei[string(seq[1:])] && !strings.ContainsRune("ouư", seq[1])
	case before == 'g' && len(seq) > 1 && seq[0] == 'i' && nuclei[string(seq[1:])]:
		return true
	}
	return nuclei[s]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
