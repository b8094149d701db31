package rules

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// vietnameseLower is every precomposed lower-case letter of Vietnamese
// writing, typed out by hand as an oracle independent of Fold: the twelve
// vowels with each of the five tones or with their vowel mark alone, and đ.
const vietnameseLower = "" +
	"àáảãạ ăằắẳẵặ âầấẩẫậ èéẻẽẹ êềếểễệ ìíỉĩị " +
	"òóỏõọ ôồốổỗộ ơờớởỡợ ùúủũụ ưừứửữự ỳýỷỹỵ đ"

// vietnameseLetter reports whether r may stand in a name by the oracle: an
// ASCII letter or one of the precomposed Vietnamese letters, either case.
func vietnameseLetter(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' ||
		strings.ContainsRune(vietnameseLower, r) || strings.ContainsRune(strings.ToUpper(vietnameseLower), r)
}

func TestFold(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"regulation example", "Nguyễn Quốc Trạng", "nguyen quoc trang"},
		{"ladder example", "Lê Văn Tuấn", "le van tuan"},
		{"NFD", norm.NFD.String("Nguyễn Quốc Trạng"), "nguyen quoc trang"},
		{"NFC and NFD mixed in one word", "Nguy" + "e\u0302\u0303" + "n Tr" + "ạ" + "ng", "nguyen trang"},
		{"Windows-1258 base letter and combining tone", "Ho\u0300a Thu\u031b\u0301", "hoa thu"},
		{"composed vowel mark and combining tone", "Tr\u00e2\u0300n", "tran"},
		{"deprecated tone marks U+0340 U+0341", "Ho\u0340a Tu\u0341", "hoa tu"},
		{"old tone placement", "hoà thuý khoẻ Thuỵ", "hoa thuy khoe thuy"},
		{"new tone placement", "hòa thúy khỏe Thụy", "hoa thuy khoe thuy"},
		{"upper case", "ĐẶNG THỊ ÁNH", "dang thi anh"},
		{"lower-case đ", "đàng đức", "dang duc"},
		{"non-breaking and other spaces", "Trần\u00a0Thị\tMai\u3000Anh\u2003Thư\u202fHà\n", "tran thi mai anh thu ha"},
		{"zero-width characters", "Ng\u200buyễn\u200d Văn\ufeff\u2060 An\u200c", "nguyen van an"},
		{"stray spaces", "  Lê   Văn  Tuấn ", "le van tuan"},
		{"Cham names", "Pinăng Chamaléa Katơr", "pinang chamalea kator"},
		{"Cham and Raglai family names", "Đàng Thập Quảng Châu Thiên Báo Mấu Tà Lộ", "dang thap quang chau thien bao mau ta lo"},
		{"f j w z of minority names", "Kơ Sor Jăn Wừu Zơ Fi", "ko sor jan wuu zo fi"},
		{"apostrophe joins", "K'Brông", "kbrong"},
		{"typographic apostrophes join", "K\u2019Brông H\u02bcHen", "kbrong hhen"},
		{"hyphens join", "Jean-Pierre Minh\u2010Châu Hoa\u2011Lan", "jeanpierre minhchau hoalan"},
		{"soft hyphen joins", "Ngu\u00adyễn", "nguyen"},
		{"hyphen alone folds to nothing", "Y-", "y"},
		{"empty", "", ""},
		{"only spaces", " \u00a0\t", ""},
		{"already folded", "quoc trang", "quoc trang"},
		{"ASCII upper case", "Quoc  TRANG", "quoc trang"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fold(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Fold(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFold_errors(t *testing.T) {
	tests := []struct {
		name, in string
		char     rune
	}{
		{"digit", "Lê Văn 7", '7'},
		{"at sign", "an@ninhthuan", '@'},
		{"period", "Thanh.", '.'},
		{"emoji", "Lan 🌸", '🌸'},
		{"Cyrillic", "Иван", 'И'},
		{"Cyrillic with breve is named whole", "Tuấn й", 'й'},
		{"CJK", "阮文", '阮'},
		{"fullwidth Latin", "Ｎguyễn", 'Ｎ'},
		{"VNI read as Latin-1: Dương", "Döông", 'ö'},
		{"VNI read as Latin-1: Đinh", "Ñinh", 'Ñ'},
		{"UTF-8 read as Windows-1250: Hồng", "Háťng", 'ť'},
		{"eth is not Đ", "\u00d0inh", 'Ð'},
		{"letter Vietnamese does not write", "Bjørn", 'ø'},
		{"sharp s", "Weiß", 'ß'},
		{"tone on a consonant", "n\u0300", 'ǹ'},
		{"breve on e", "e\u0306m", 'ĕ'},
		{"second tone", "a\u0301\u0300", '\u0300'},
		{"tone with no letter", "\u0301Lan", '\u0301'},
		{"tone after a space", "Ho \u0300a", '\u0300'},
		{"spacing accent", "Thă´ng", '´'},
		{"left-to-right mark", "An\u200e", '\u200e'},
		{"invalid UTF-8", "Lan\xff", utf8.RuneError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fold(tt.in)
			var ce *CharError
			if !errors.As(err, &ce) {
				t.Fatalf("Fold(%q) = %q, %v; want a *CharError", tt.in, got, err)
			}
			if ce.Char != tt.char || ce.Text != tt.in {
				t.Errorf("Fold(%q): CharError{%q, %q}; want {%q, %q}", tt.in, ce.Text, ce.Char, tt.in, tt.char)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		_, err := Fold("Lê Văn 7")
		want := `rules: name "Lê Văn 7": character '7' (U+0037) is not a letter of a Vietnamese name`
		if err == nil || err.Error() != want {
			t.Errorf("Fold error = %v; want %s", err, want)
		}
	})
}

// TestFold_everyLetter folds all 134 precomposed Vietnamese letters, lower
// and upper case, in NFC, in NFD and with a precomposed vowel mark followed
// by a combining tone. The letters are built from base vowels and marks
// and checked against the hand-typed vietnameseLower, so that neither list
// can miss a letter unnoticed.
func TestFold_everyLetter(t *testing.T) {
	type letter struct {
		nfc   string
		mixed string // vowel mark composed, tone combining
		base  string
	}
	tones := []string{"", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}
	vowels := []struct{ base, mark string }{
		{"a", ""}, {"a", "\u0306"}, {"a", "\u0302"}, {"e", ""}, {"e", "\u0302"}, {"i", ""},
		{"o", ""}, {"o", "\u0302"}, {"o", "\u031b"}, {"u", ""}, {"u", "\u031b"}, {"y", ""},
	}
	var built []letter
	for _, v := range vowels {
		for _, tone := range tones {
			nfc := norm.NFC.String(v.base + v.mark + tone)
			if nfc == v.base {
				continue // plain ASCII, not a precomposed letter
			}
			built = append(built, letter{nfc, norm.NFC.String(v.base+v.mark) + tone, v.base})
		}
	}
	built = append(built, letter{"đ", "đ", "d"})

	byNFC := map[string]letter{}
	for _, l := range built {
		byNFC[l.nfc] = l
	}
	var lower []letter
	for _, r := range strings.ReplaceAll(vietnameseLower, " ", "") {
		l, ok := byNFC[string(r)]
		if !ok {
			t.Fatalf("typed letter %q (%U) is not among the built ones", r, r)
		}
		lower = append(lower, l)
	}
	if len(lower) != 67 || len(built) != 67 {
		t.Fatalf("%d typed and %d built lower-case letters; want 67 of each", len(lower), len(built))
	}
	all := lower
	for _, l := range lower {
		up := letter{strings.ToUpper(l.nfc), strings.ToUpper(l.mixed), l.base}
		if up.nfc == l.nfc || utf8.RuneCountInString(up.nfc) != 1 {
			t.Fatalf("upper case of %q is %q", l.nfc, up.nfc)
		}
		all = append(all, up)
	}
	seen := map[string]bool{}
	for _, l := range all {
		seen[l.nfc] = true
	}
	if len(seen) != 134 {
		t.Fatalf("%d distinct precomposed letters; want 134", len(seen))
	}
	for _, l := range all {
		t.Run(l.nfc, func(t *testing.T) {
			if utf8.RuneCountInString(l.nfc) != 1 || norm.NFC.String(l.nfc) != l.nfc {
				t.Fatalf("%q is not one precomposed character", l.nfc)
			}
			for form, in := range map[string]string{"NFC": l.nfc, "NFD": norm.NFD.String(l.nfc), "mixed": l.mixed} {
				word := "x" + in + "y"
				if got, err := Fold(word); err != nil || got != "x"+l.base+"y" {
					t.Errorf("%s: Fold(%q) = %q, %v; want %q", form, word, got, err, "x"+l.base+"y")
				}
			}
		})
	}
}

// TestFold_namesData folds every name of the frequency data, which holds
// names mangled by legacy encodings ("Döông", "Háťng") as real HR exports
// do, and checks Fold against the typed oracle: a name folds exactly when
// each of its characters is a Vietnamese letter, an apostrophe or a hyphen.
func TestFold_namesData(t *testing.T) {
	rejected := 0
	for _, file := range []string{"family.tsv", "middle.tsv", "given.tsv"} {
		for _, e := range readTSV(t, file) {
			ok := true
			for _, r := range norm.NFC.String(e.name) {
				ok = ok && (vietnameseLetter(r) || isJoiner(r))
			}
			got, err := Fold(e.name)
			var ce *CharError
			switch {
			case ok && err != nil:
				t.Errorf("%s: Fold(%q) = %v; want it folded", file, e.name, err)
			case !ok && !errors.As(err, &ce):
				t.Errorf("%s: Fold(%q) = %q, %v; want a *CharError", file, e.name, got, err)
			case !ok && vietnameseLetter(ce.Char):
				t.Errorf("%s: Fold(%q) blames %q, a Vietnamese letter", file, e.name, ce.Char)
			case !ok:
				rejected++
			}
		}
	}
	if rejected == 0 {
		t.Error("no name of the data was rejected; the mangled ones should be")
	}
	t.Logf("%d mangled names rejected", rejected)
}

var foldedRE = regexp.MustCompile(`^([a-z]+( [a-z]+)*)?$`)

func FuzzFold(f *testing.F) {
	for _, s := range []string{
		"Nguyễn Quốc Trạng", norm.NFD.String("Lê Văn Tuấn"), "Ho\u0300a", "hoà", "ĐẶNG",
		"Lê Văn 7", "Döông", "Ñinh", "K'Brông", "a\u00a0\u200bb", "\u0301", "\xff", "Иван",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Fold(s)
		if err != nil {
			var ce *CharError
			if !errors.As(err, &ce) || ce.Text != s {
				t.Fatalf("Fold(%q) error %v is not a *CharError about the input", s, err)
			}
		} else {
			if !foldedRE.MatchString(got) {
				t.Fatalf("Fold(%q) = %q, not lower-case ASCII words", s, got)
			}
			if again, err := Fold(got); err != nil || again != got {
				t.Fatalf("Fold(%q) = %q, but Fold(%q) = %q, %v", s, got, got, again, err)
			}
		}
		// The normalisation form of the input must not matter.
		nfc, errC := Fold(norm.NFC.String(s))
		nfd, errD := Fold(norm.NFD.String(s))
		if nfc != nfd || (errC == nil) != (errD == nil) {
			t.Fatalf("Fold(NFC(%q)) = %q, %v but Fold(NFD) = %q, %v", s, nfc, errC, nfd, errD)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	people := population(b, 1000, 1)
	for _, form := range []struct {
		name string
		f    func(string) string
	}{
		{"NFC", norm.NFC.String},
		{"NFD", norm.NFD.String},
		{"folded", func(s string) string { f, _ := Fold(s); return f }},
	} {
		names := make([]string, len(people))
		for i, p := range people {
			names[i] = form.f(p.name.Full())
		}
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = Fold(names[i%len(names)])
				i++
			}
		})
	}
}
