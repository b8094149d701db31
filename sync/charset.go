package sync

import (
	"bytes"
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
// the TCVN3 (ABC, .VnTime) and VNI (VNI-Times) fonts, whose bytes are
// other letters in each encoding: TCVN3's "Nguyễn Quốc An" reads "NguyÔn
// Quèc An" as Windows-1258, VNI's "Nguyễn" reads "Nguyeăn" as Windows-1258
// and "Nguyeón" as TCVN3, and names that still look like letters would
// fold to wrong accounts. So a
// file that is not UTF-8 is read in each of the three, and used only when
// exactly one reading makes every word of it that is not plain ASCII
// (ASCII reads the same in all of them) a well-formed Vietnamese word.
// When none does, or two do and say different things, the whole file is
// set aside: it is never read half in one encoding.
//
// No Go module maintains TCVN3 or VNI tables (golang.org/x/text has
// Windows-1258 only), so the tables are below, each with its source, and
// charset_test.go checks them on every letter of the alphabet.

// legacyEncoding is an 8-bit encoding Vietnamese files still come in.
type legacyEncoding struct {
	name string
	// decode returns the text as NFC UTF-8, or why data is not in it.
	decode func(data []byte) ([]byte, error)
}

// legacyEncodings are tried in this order; when two read a file alike,
// the first is named.
var legacyEncodings = []legacyEncoding{
	{"Windows-1258", decodeWindows1258},
	{"TCVN3", decodeTCVN3},
	{"VNI", decodeVNI},
}

// saveAsUTF8 ends the reason a file was set aside for its encoding.
const saveAsUTF8 = `save it as "CSV UTF-8" from Excel and resubmit`

// readLegacy reads data, which is not UTF-8, in the one legacy encoding in
// which it is well-formed Vietnamese, and says so in the warnings.
func (b *Batch) readLegacy(data []byte) ([]Record, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")):
		return nil, fmt.Errorf("the file is UTF-16 (Excel's \"Unicode Text\"), not CSV: %s", saveAsUTF8)
	case bytes.IndexByte(data, 0) >= 0:
		return nil, fmt.Errorf("not a text file: it holds NUL bytes, which no 8-bit text encoding writes (%s)", saveAsUTF8)
	}
	type reading struct {
		enc     string
		text    []byte
		batch   *Batch
		records []Record
		err     error // reading the text as CSV or JSON Lines
	}
	var fits []reading
	var misfits []string
	for _, enc := range legacyEncodings {
		text, err := enc.decode(data)
		if err != nil {
			misfits = append(misfits, fmt.Sprintf("as %s (%v)", enc.name, err))
			continue
		}
		rb := &Batch{File: b.File, Format: b.Format, headers: b.headers, encoding: enc.name}
		records, rerr := rb.read(text)
		var problem string
		if rerr == nil {
			problem = rb.vietnameseProblem(records)
		} else {
			// Not records (a broken quote, a missing column, maybe a
			// header misread): check the text line by line. What is wrong
			// with the file is told once an encoding fits.
			problem = linesProblem(text)
		}
		if problem != "" {
			misfits = append(misfits, fmt.Sprintf("as %s (%s)", enc.name, problem))
			continue
		}
		fits = append(fits, reading{enc.name, text, rb, records, rerr})
	}
	if len(fits) == 0 {
		return nil, fmt.Errorf("cannot tell the encoding: the file is not UTF-8, and it is not Vietnamese read %s: %s",
			strings.Join(misfits, ", nor "), saveAsUTF8)
	}
	for _, other := range fits[1:] {
		if !bytes.Equal(other.text, fits[0].text) {
			return nil, fmt.Errorf("cannot tell the encoding: the file is not UTF-8, and it reads as Vietnamese both as %s and as %s, differently: %s: %s",
				fits[0].enc, other.enc, firstDifference(fits[0].text, other.text, fits[0].enc, other.enc), saveAsUTF8)
		}
	}
	f := fits[0]
	*b = *f.batch
	b.Warnings = append(b.Warnings, fmt.Sprintf("file is not UTF-8; read as %s (save as \"CSV UTF-8\" to avoid this)", f.enc))
	return f.records, f.err
}

// firstDifference describes the first word in which two readings of a
// file differ, on the line it is on.
func firstDifference(a, b []byte, encA, encB string) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] == lb[i] {
			continue
		}
		notLetter := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) }
		wa, wb := strings.FieldsFunc(la[i], notLetter), strings.FieldsFunc(lb[i], notLetter)
		for j := range min(len(wa), len(wb)) {
			if wa[j] != wb[j] {
				return fmt.Sprintf("line %d reads %q as %s, %q as %s", i+1, wa[j], encA, wb[j], encB)
			}
		}
		return fmt.Sprintf("line %d reads %q as %s, %q as %s", i+1, strings.TrimSpace(la[i]), encA, strings.TrimSpace(lb[i]), encB)
	}
	return "their lengths differ"
}

// byteError says that the byte at data[i] is not in the encoding enc.
func byteError(data []byte, i int, enc string) error {
	return fmt.Errorf("byte 0x%02X on line %d is not %s text", data[i], 1+bytes.Count(data[:i], []byte("\n")), enc)
}

// decodeWindows1258 decodes data as Windows-1258 (golang.org/x/text's
// table), which writes most tones as combining marks after the letter;
// they are composed (NFC). A byte the code page leaves undefined is an
// error.
func decodeWindows1258(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)+len(data)/4)
	for i, c := range data {
		if c < utf8.RuneSelf {
			out = append(out, c)
			continue
		}
		r := charmap.Windows1258.DecodeByte(c)
		if r == utf8.RuneError {
			return nil, byteError(data, i, "Windows-1258")
		}
		out = utf8.AppendRune(out, r)
	}
	return norm.NFC.Bytes(out), nil
}

// windows1252 decodes a byte 0x80-0x9F as the symbols (curly quotes,
// dashes, €) Windows fonts draw there, which TCVN3 and VNI fonts keep; 0
// for a byte Windows-1252 leaves undefined. Source: UniKey's VnConv
// tables, which map these bytes alike for every Vietnamese charset.
func windows1252(c byte) rune {
	if r := charmap.Windows1252.DecodeByte(c); r != utf8.RuneError {
		return r
	}
	return 0
}

// tcvn3High maps the bytes 0xA0-0xFF of TCVN3 to Unicode; 0 marks a byte
// TCVN3 leaves unassigned. TCVN3 is VN3, the third form of TCVN
// 5712:1993 (VSCII-3), the encoding of the ABC fonts (.VnTime): ASCII,
// a no-break space, the 67 small letters of Vietnamese that ASCII lacks
// and 7 capitals without tone (Ă Â Ê Ô Ơ Ư Đ). Sources: TCVN 5712:1993
// (Decision 213/QĐ, 12 May 1993) as tabulated in Wikipedia's "VSCII",
// glibc's localedata/charmaps/TCVN5712-1 (whose VN1 also puts capitals
// with tones at 0x80-0x9F and at the bytes left 0 here) and the TCVN3 table
// of UniKey's VnConv (ukengine/data.cpp in ibus-unikey), which agree on
// every byte below.
//
// TCVN3 cannot write a capital with a tone (Á, Ấ, Ố …): the ABC fonts
// come in pairs, and .VnTimeH draws the small letters as capitals, which a
// CSV file does not record. Such a letter arrives small. decodeTCVN3
// restores the capitals of a word in capitals ("NGUYễN" is "NGUYỄN");
// encodingProblems rejects a name that starts with a small letter.
var tcvn3High = [96]rune{
	'\u00a0', 'Ă', 'Â', 'Ê', 'Ô', 'Ơ', 'Ư', 'Đ', 'ă', 'â', 'ê', 'ô', 'ơ', 'ư', 'đ', 0, // 0xA0
	0, 0, 0, 0, 0, 'à', 'ả', 'ã', 'á', 'ạ', 0, 'ằ', 'ẳ', 'ẵ', 'ắ', 0, // 0xB0
	0, 0, 0, 0, 0, 0, 'ặ', 'ầ', 'ẩ', 'ẫ', 'ấ', 'ậ', 'è', 0, 'ẻ', 'ẽ', // 0xC0
	'é', 'ẹ', 'ề', 'ể', 'ễ', 'ế', 'ệ', 'ì', 'ỉ', 0, 0, 0, 'ĩ', 'í', 'ị', 'ò', // 0xD0
	0, 'ỏ', 'õ', 'ó', 'ọ', 'ồ', 'ổ', 'ỗ', 'ố', 'ộ', 'ờ', 'ở', 'ỡ', 'ớ', 'ợ', 'ù', // 0xE0
	0, 'ủ', 'ũ', 'ú', 'ụ', 'ừ', 'ử', 'ữ', 'ứ', 'ự', 'ỳ', 'ỷ', 'ỹ', 'ý', 'ỵ', 0, // 0xF0
}

// tcvn3Caseless reports a small letter TCVN3 has no capital for: one of
// the 60 with a tone.
func tcvn3Caseless(r rune) bool {
	return unicode.IsLower(r) && vietLetters[r].tone != 0
}

// decodeTCVN3 decodes data as TCVN3 (see tcvn3High), bytes 0x80-0x9F as
// Windows fonts draw them. A byte TCVN3 leaves unassigned is an error.
func decodeTCVN3(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)+len(data)/2)
	for i, c := range data {
		var r rune
		switch {
		case c < 0x80:
			r = rune(c)
		case c < 0xa0:
			r = windows1252(c)
		default:
			r = tcvn3High[c-0xa0]
		}
		if r == 0 {
			return nil, byteError(data, i, "TCVN3")
		}
		out = utf8.AppendRune(out, r)
	}
	return capitalWords(out), nil
}

// capitalWords writes in capitals the caseless letters (tcvn3Caseless) of
// every word written in capitals: two capitals or more and no other small
// letter, as "NGUYễN" or "QUốC". A word with one capital ("Hà", "Đỗ")
// cannot say whether it is in capitals, and is left as it is.
func capitalWords(text []byte) []byte {
	if !bytes.ContainsFunc(text, tcvn3Caseless) {
		return text
	}
	rs := []rune(string(text))
	for i := 0; i < len(rs); {
		if !unicode.IsLetter(rs[i]) {
			i++
			continue
		}
		j := i
		upper, small, caseless := 0, 0, 0
		for ; j < len(rs) && unicode.IsLetter(rs[j]); j++ {
			switch r := rs[j]; {
			case tcvn3Caseless(r):
				caseless++
			case unicode.IsUpper(r):
				upper++
			case unicode.IsLower(r):
				small++
			}
		}
		if upper >= 2 && small == 0 && caseless > 0 {
			for k := i; k < j; k++ {
				rs[k] = unicode.ToUpper(rs[k])
			}
		}
		i = j
	}
	return []byte(string(rs))
}

// VNI-Windows, the encoding of the VNI fonts (VNI-Times), writes a letter
// with marks as its base letter followed by one byte for the marks: "ễ" is
// "e" and 0xE3, "ờ" is "ơ" (0xF4) and 0xF8. đ, ơ, ư and the i's and ỵ are
// single bytes. A capital takes the mark bytes 0x20 below a small letter's:
// "Ễ" is "E" and 0xC3. Source: the VNI-WIN table of UniKey's VnConv
// (Pham Kim Long; ukengine/data.cpp in ibus-unikey and fcitx5-unikey),
// which follows VNI's own charts.
var (
	// vniTones are the mark bytes, after a small letter, of each tone
	// alone (on a e o ơ u ư y), and 0 for none.
	vniTones = map[rune]byte{'\u0301': 0xf9, '\u0300': 0xf8, '\u0309': 0xfb, '\u0303': 0xf5, '\u0323': 0xef}
	// vniCircumflex are those of â ê ô with each tone or none.
	vniCircumflex = map[rune]byte{0: 0xe2, '\u0301': 0xe1, '\u0300': 0xe0, '\u0309': 0xe5, '\u0303': 0xe3, '\u0323': 0xe4}
	// vniBreve are those of ă with each tone or none.
	vniBreve = map[rune]byte{0: 0xea, '\u0301': 0xe9, '\u0300': 0xe8, '\u0309': 0xfa, '\u0303': 0xfc, '\u0323': 0xeb}
	// vniSingle are the letters VNI writes in one byte, small; the capital
	// is 0x20 below.
	vniSingle = map[byte]rune{
		0xf1: 'đ', 0xf4: 'ơ', 0xf6: 'ư',
		0xed: 'í', 0xec: 'ì', 0xe6: 'ỉ', 0xf3: 'ĩ', 0xf2: 'ị', 0xee: 'ỵ',
	}
)

// vniPairs and vniBytes are VNI's letters of a base and a mark byte, and
// its single-byte letters and no-break space, built from the tables above.
var vniPairs, vniBytes = func() (map[[2]byte]rune, map[byte]rune) {
	pairs, single := map[[2]byte]rune{}, map[byte]rune{0xa0: '\u00a0'}
	for c, r := range vniSingle {
		single[c], single[c-0x20] = r, unicode.ToUpper(r)
	}
	add := func(base byte, letter string, marks map[rune]byte, vowelMark string) {
		for tone, m := range marks {
			if tone == 0 && vowelMark == "" {
				continue
			}
			s := letter + vowelMark
			if tone != 0 {
				s += string(tone)
			}
			r, _ := utf8.DecodeRuneInString(norm.NFC.String(s))
			pairs[[2]byte{base, m}] = r
			upperBase := base - 0x20 // 'a'-'A', and ơ 0xF4 - Ơ 0xD4
			pairs[[2]byte{upperBase, m - 0x20}] = unicode.ToUpper(r)
		}
	}
	tonesOnly := func(exclude rune) map[rune]byte {
		m := map[rune]byte{}
		for t, c := range vniTones {
			if t != exclude {
				m[t] = c
			}
		}
		return m
	}
	for _, v := range "aeouy" {
		exclude := rune(-1)
		if v == 'y' {
			exclude = '\u0323' // ỵ is a single byte
		}
		add(byte(v), string(v), tonesOnly(exclude), "")
	}
	add(0xf4, "ơ", vniTones, "")
	add(0xf6, "ư", vniTones, "")
	for _, v := range "aeo" {
		add(byte(v), string(v), vniCircumflex, "\u0302")
	}
	add('a', "a", vniBreve, "\u0306")
	return pairs, single
}()

// decodeVNI decodes data as VNI-Windows, bytes 0x80-0x9F as Windows fonts
// draw them. A mark byte after a letter that does not take it, or a byte
// VNI does not use, is an error.
func decodeVNI(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)+len(data)/2)
	for i := 0; i < len(data); i++ {
		c := data[i]
		if i+1 < len(data) {
			if r, ok := vniPairs[[2]byte{c, data[i+1]}]; ok {
				out = utf8.AppendRune(out, r)
				i++
				continue
			}
		}
		var r rune
		switch {
		case c < 0x80:
			r = rune(c)
		case c < 0xa0:
			r = windows1252(c)
		default:
			r = vniBytes[c]
		}
		if r == 0 {
			return nil, byteError(data, i, "VNI")
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// vietnameseProblem checks that the text of a file decoded from a legacy
// encoding reads as Vietnamese: the header, then every record (records and
// the rows readCSV or readJSONL already rejected), in line order. It
// names the first offending line and field, or returns "".
func (b *Batch) vietnameseProblem(records []Record) string {
	fail := func(line int, field, text, problem string) string {
		at := fmt.Sprintf("line %d", line)
		if field != "" {
			at += ", " + field
		}
		return fmt.Sprintf("%s: %q: %s", at, text, problem)
	}
	for _, h := range b.header {
		if p := textProblem(h); p != "" {
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
				if p := textProblem(v); p != "" {
					return fail(rec.Origin.Line, b.columnName(i), v, p)
				}
			}
			continue
		}
		for _, f := range Fields {
			if p := textProblem(rec.Values[f]); p != "" {
				return fail(rec.Origin.Line, f, rec.Values[f], p)
			}
		}
		// The keys, and values of a line that is not an object or holds
		// unknown fields.
		if p := textProblem(string(rec.JSON)); p != "" {
			return fail(rec.Origin.Line, "", string(rec.JSON), p)
		}
	}
	return ""
}

// linesProblem is vietnameseProblem for a text that could not be read
// as records: it names the line only.
func linesProblem(text []byte) string {
	for i, line := range strings.Split(string(text), "\n") {
		if p := textProblem(line); p != "" {
			return fmt.Sprintf("line %d: %s", i+1, p)
		}
	}
	return ""
}

// columnName names CSV column i for a message.
func (b *Batch) columnName(i int) string {
	if i < len(b.cols) && b.cols[i] != "" {
		return b.cols[i]
	}
	return fmt.Sprintf("column %d", i+1)
}

// encodingProblems are the problems of a record that come from the
// encoding its file was read in: in a TCVN3 file, a word of a name that
// starts with a small letter may have been a capital TCVN3 cannot write
// (see tcvn3High), or a word in the capital font. The name would be
// stored as read, so the record is rejected.
func (b *Batch) encodingProblems(rec Record) []Problem {
	if b.encoding != "TCVN3" {
		return nil
	}
	var probs []Problem
	for _, f := range []string{FieldFullName, FieldFamilyName, FieldMiddleName, FieldGivenName} {
		for _, w := range strings.Fields(clean(rec.Values[f])) {
			if r, _ := utf8.DecodeRuneInString(w); unicode.IsLower(r) {
				probs = append(probs, Problem{Field: f, Msg: fmt.Sprintf("%q starts with a small letter, and this file is TCVN3, "+
					"which cannot write a capital with a tone and does not record a capital font (.VnTimeH): "+
					"save the file as \"CSV UTF-8\" from Excel and resubmit", w)})
				break
			}
		}
	}
	return probs
}

// textProblem returns why s, text decoded from a legacy encoding, is not
// well-formed Vietnamese, or "" when it is (or is plain ASCII). Every
// character must be ASCII, a letter of the Vietnamese alphabet once
// combining tone marks are composed with the letter before them, or a few
// typographic signs Excel writes; each word with a non-ASCII letter must
// be a Vietnamese syllable, or several, see syllableProblem.
func textProblem(s string) string {
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

// typographic reports the non-ASCII signs legacy-encoded text
// legitimately holds: a no-break space, curly quotes, dashes, an ellipsis,
// the đồng sign.
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

// minorityNuclei are vowel sequences Vietnamese does not write but the
// minority names written in its alphabet do, in words of several
// syllables: the éa of the Raglai name Chamaléa. A word of one syllable
// with them is a misreading: VNI's "Thế" is "Theá" in Windows-1258.
var minorityNuclei = map[string]bool{"ea": true}

// codas and onsets are the consonants that end and begin a syllable: of
// Vietnamese, and of the minority and foreign-origin names written in its
// alphabet (k of Đắk, f j w z, clusters such as the br of K'Brông). Between
// the vowels of a word of several syllables (Chamaléa, Pinăng) the
// consonants must be a coda and an onset: "ll" in "Mỹller", a Latin-1
// "Müller" read as TCVN3, is neither.
var codas, onsets = map[string]bool{}, map[string]bool{}

func init() {
	for _, n := range strings.Fields(`a ă â e ê i o ô ơ u ư y
		ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui uô uơ uy ưa ưi ươ ưu yê
		iêu oai oay oao oeo uây uôi uya uyê uyu ươi ươu yêu`) {
		nuclei[n] = true
	}
	for _, c := range strings.Fields("c ch k m n ng nh p t") {
		codas[c] = true
	}
	for _, o := range strings.Fields(`b c ch d đ g gh gi h k kh l m n ng ngh nh p ph q r s t th tr v x f j w z
		bl br cl cr dr gl gr kl kr pl pr vr`) {
		onsets[o] = true
	}
}

// syllableProblem returns why word, a run of letters, is not a Vietnamese
// syllable, or several, or "". A word of ASCII letters only is not
// checked: it reads the same whatever the encoding. The checks are those
// that text in another encoding misread fails, and Vietnamese never does:
// a capital after a small letter (TCVN3's ễ is Windows-1258's Ô), more
// than one tone, vowels that do not make a Vietnamese vowel sequence (VNI
// writes ễ as e and a mark byte that reads as ă in Windows-1258:
// "Nguyeăn"), consonants between two vowels that do not end one syllable
// and begin the next, and a syllable ending in c, ch, p or t with a tone
// other than sắc or nặng (TCVN3's "Quốc" reads "Quèc").
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
	runs := 0 // of vowels: the syllables of the word
	for i := range letters {
		if isVowel(letters[i].base) && (i == 0 || !isVowel(letters[i-1].base)) {
			runs++
		}
	}
	sawVowel := false
	for i := 0; i < len(letters); {
		if !isVowel(letters[i].base) {
			j := i
			var run []rune
			for ; j < len(letters) && !isVowel(letters[j].base); j++ {
				run = append(run, letters[j].base)
			}
			if sawVowel && j < len(letters) && !codaOnset(string(run)) {
				return fmt.Sprintf("%q is not a Vietnamese word (consonants %q between its vowels)", w, string(run))
			}
			i = j
			continue
		}
		sawVowel = true
		j := i
		var seq []rune
		for ; j < len(letters) && isVowel(letters[j].base); j++ {
			seq = append(seq, letters[j].base)
		}
		var before rune
		if i > 0 {
			before = letters[i-1].base
		}
		if !validNucleus(seq, before) && !(runs > 1 && minorityNuclei[string(seq)]) {
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

// codaOnset reports whether the consonants run, between two vowels, end
// one syllable and begin the next.
func codaOnset(run string) bool {
	split := func(i int) bool {
		coda, onset := run[:i], run[i:]
		return (coda == "" || codas[coda]) && (onset == "" || onsets[onset])
	}
	for i := range run {
		if split(i) {
			return true
		}
	}
	return split(len(run))
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
