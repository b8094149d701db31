package rules

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CharError reports a character that is not a letter of a Latin-script
// Vietnamese name, so a name cannot be folded to an account name. HR has to
// correct the record; dropping the character silently could hand out a
// username nobody would recognise.
type CharError struct {
	// Text is the text that was being folded, as given; for a Name, the
	// whole name.
	Text string
	// Char is the first offending character as it is written, composed
	// with its marks: 'Ñ' for a VNI-encoded Đ read as Latin-1, 'й' for a
	// Cyrillic letter, '7' for a digit.
	Char rune
}

func (e *CharError) Error() string {
	return fmt.Sprintf("rules: name %q: character %q (%U) is not a letter of a Vietnamese name", e.Text, e.Char, e.Char)
}

// Fold returns s as lower-case ASCII with Vietnamese diacritics removed and
// words separated by single spaces: "Nguyễn  Quốc Trạng" is
// "nguyen quoc trang".
//
// Input may be NFC, NFD or a mix of the two, with either tone placement
// (hoà and hòa both fold to hoa) and the Windows-1258 habit of a base letter
// followed by a combining tone, because canonical decomposition turns all
// of them into the same base letters and combining marks. The marks are
// dropped, but only where Vietnamese writing puts them: at most one tone
// (grave, acute, hook above, tilde, dot below) on a vowel a e i o u y, and
// at most one vowel mark: circumflex on a e o, breve on a, horn on o u.
// That rejects the legacy encodings that real HR data still holds, such as
// VNI text read as Latin-1, where "Dương" is "Döông" and "Đinh" is "Ñinh":
// dropping every mark would turn them silently into doong and ninh. Đ and
// đ, which Unicode does not decompose, become d. The other letters a–z
// (f, j, w, z occur in minority and foreign-origin names) are kept.
//
// Non-breaking and other Unicode spaces count as spaces; zero-width
// characters (U+200B–U+200D, U+2060, U+FEFF) are dropped. Apostrophes
// (' ’ ʼ) and hyphens (- ‐ ‑ and the soft hyphen) are dropped and join the
// letters around them: K'Brông is kbrong, Jean-Pierre is jeanpierre. Some
// minority and foreign-origin names are written with them and an account
// name cannot contain them; treating them as word breaks instead would
// change how ParseFullName splits a name.
//
// Any other character, such as a digit, "@", an emoji, a Cyrillic or CJK
// letter, a letter that Vietnamese does not write (ø, ñ, ü, ß) or a mark
// where Vietnamese puts none, is a *CharError.
func Fold(s string) (string, error) {
	if isFolded(s) {
		return s, nil
	}
	var buf [64]byte // most names fit, saving an allocation
	out, err := appendFold(buf[:0], s)
	return string(out), err
}

// appendFold appends Fold(s) to dst. Each character is decomposed on its
// own, with the canonical decomposition of Unicode's tables (norm), rather
// than normalising the whole string first: the marks of one letter are
// checked as a set, so their order does not matter, and the allocator
// folds a name without allocating.
func appendFold(dst []byte, s string) ([]byte, error) {
	f := folder{out: dst, start: len(dst)}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		ok := true
		if d := decomposition(r, s[i:i+size]); d != nil {
			for j := 0; ok && j < len(d); {
				dr, n := utf8.DecodeRune(d[j:])
				f, ok = f.add(dr)
				j += n
			}
		} else {
			f, ok = f.add(r)
		}
		if !ok {
			return dst, &CharError{Text: s, Char: composedAt(s, i)}
		}
		i += size
	}
	return f.out, nil
}

// decomposition returns the canonical decomposition of the rune r, whose
// UTF-8 encoding is enc, or nil when it has none.
func decomposition(r rune, enc string) []byte {
	if r < utf8.RuneSelf {
		return nil
	}
	return norm.NFD.PropertiesString(enc).Decomposition()
}

// folder is the state of appendFold.
type folder struct {
	out   []byte
	start int  // where this text's letters begin in out
	space bool // a space is due before the next letter
	// The vowel the marks that follow belong to (0 after anything else),
	// and whether it has its tone and its vowel mark yet.
	vowel         byte
	toned, marked bool
}

// add takes one decomposed rune, and reports false when it cannot stand
// where it is. It works on a copy, not through a pointer, so that the
// buffer appendFold is given can stay on the caller's stack.
func (f folder) add(r rune) (folder, bool) {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', r == 'đ', r == 'Đ':
		c := byte('d')
		if r < utf8.RuneSelf {
			c = byte(r) | 0x20 // lower case
		}
		f.vowel, f.toned, f.marked = 0, false, false
		if strings.IndexByte("aeiouy", c) >= 0 {
			f.vowel = c
		}
		if f.space {
			f.out = append(f.out, ' ')
			f.space = false
		}
		f.out = append(f.out, c)
	case f.vowel != 0 && !f.toned && isTone(r):
		f.toned = true
	case !f.marked && isVowelMark(f.vowel, r):
		f.marked = true
	case isInvisible(r):
	case isJoiner(r):
		f.vowel = 0
	case unicode.IsSpace(r):
		f.vowel = 0
		f.space = len(f.out) > f.start
	default:
		return f, false
	}
	return f, true
}

// isTone reports the combining forms of the five Vietnamese tone marks.
func isTone(r rune) bool {
	switch r {
	case '\u0300', '\u0301', '\u0303', '\u0309', '\u0323':
		return true
	}
	return false
}

// isVowelMark reports whether r is a vowel mark that Vietnamese writes on
// vowel: circumflex on a e o (â ê ô), breve on a (ă), horn on o u (ơ ư).
func isVowelMark(vowel byte, r rune) bool {
	switch r {
	case '\u0302':
		return vowel == 'a' || vowel == 'e' || vowel == 'o'
	case '\u0306':
		return vowel == 'a'
	case '\u031b':
		return vowel == 'o' || vowel == 'u'
	}
	return false
}

// composedAt returns the offending character at byte i of s as it is
// written: its base and marks composed, when they compose to one character
// ('Ñ' also when typed as N and a combining tilde), or else the rune at i
// itself.
func composedAt(s string, i int) rune {
	start := i
	for start > 0 {
		if r, _ := utf8.DecodeRuneInString(s[start:]); !unicode.Is(unicode.Mn, r) {
			break
		}
		_, n := utf8.DecodeLastRuneInString(s[:start])
		start -= n
	}
	at, n := utf8.DecodeRuneInString(s[i:])
	end := i + n
	for end < len(s) {
		r, n := utf8.DecodeRuneInString(s[end:])
		if !unicode.Is(unicode.Mn, r) {
			break
		}
		end += n
	}
	if c := norm.NFC.String(s[start:end]); utf8.RuneCountInString(c) == 1 {
		r, _ := utf8.DecodeRuneInString(c)
		return r
	}
	return at
}

// isFolded reports whether s is already what Fold returns, which is the
// common case for text that was folded before, so Fold can skip the
// normalisation and the copy.
func isFolded(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
			continue
		}
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// isInvisible reports the zero-width characters that word processors and
// web forms leave inside names.
func isInvisible(r rune) bool {
	return r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
}

// isJoiner reports the apostrophes and hyphens that may stand inside a name.
func isJoiner(r rune) bool {
	switch r {
	case '\'', '\u2019', '\u02bc', '-', '\u2010', '\u2011', '\u00ad':
		return true
	}
	return false
}

// cleanText returns s as a name is displayed and stored: NFC, zero-width
// characters removed, every run of spaces one ASCII space, no space at
// either end.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if isInvisible(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}
