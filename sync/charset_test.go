package sync

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// The files in testdata are personnel files as legacy Vietnamese systems
// export them: semicolons, CRLF, day-first dates, no byte-order mark.
// tcvn3.csv was written by glibc's iconv -t TCVN5712-1 (TCVN3, the ABC
// fonts: a precomposed letter is one byte in 0x80-0xFF), windows1258.csv by
// iconv -t CP1258 (a base letter and a combining tone byte, as Windows
// writes it), vni.csv by the VNI-Windows table (a base letter and modifier
// bytes: "Nguyễn" is "Nguye\xe3n"; iconv has no VNI). tcvn3_alphabet.txt is
// every letter TCVN3 can write, by iconv -t TCVN5712-1, from the UTF-8 text
// of tcvn3Alphabet. The UTF-8 text the others hold is in the comments of
// the test cases.

// alphabet lists every letter of Vietnamese that ASCII lacks or that takes
// marks, small and capital: the twelve vowels with no tone and each of the
// five, and đ.
func alphabet() []string {
	var out []string
	for _, v := range "aăâeêioôơuưy" {
		for _, tone := range []string{"", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"} {
			small := norm.NFC.String(string(v) + tone)
			out = append(out, small, strings.ToUpper(small))
		}
	}
	return append(out, "đ", "Đ")
}

// encodeLegacy writes s, UTF-8, in enc with the tables the decoders use,
// inverted: Windows-1258 as Windows writes it (see toneSeparated), TCVN3
// and VNI letter by letter. It fails on a letter enc cannot write.
func encodeLegacy(enc, s string) ([]byte, error) {
	if enc == "Windows-1258" {
		return charmap.Windows1258.NewEncoder().Bytes([]byte(toneSeparated(s)))
	}
	table := map[rune][]byte{}
	for c := byte(0x80); c < 0xa0; c++ {
		if r := windows1252(c); r != 0 {
			table[r] = []byte{c}
		}
	}
	switch enc {
	case "TCVN3":
		for i, r := range tcvn3High {
			if r != 0 {
				table[r] = []byte{byte(0xa0 + i)}
			}
		}
	case "VNI":
		for c, r := range vniBytes {
			table[r] = []byte{c}
		}
		for p, r := range vniPairs {
			table[r] = []byte{p[0], p[1]}
		}
	}
	var out []byte
	for _, r := range norm.NFC.String(s) {
		if r < utf8.RuneSelf {
			out = append(out, byte(r))
			continue
		}
		b, ok := table[r]
		if !ok {
			return nil, fmt.Errorf("%s cannot write %q", enc, r)
		}
		out = append(out, b...)
	}
	return out, nil
}

// encode is encodeLegacy for fixtures.
func encode(t *testing.T, enc, s string) []byte {
	t.Helper()
	data, err := encodeLegacy(enc, s)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return data
}

func decoder(enc string) func([]byte) ([]byte, error) {
	for _, e := range legacyEncodings {
		if e.name == enc {
			return e.decode
		}
	}
	panic(enc)
}

// Every letter round-trips through each table, alone and run together
// (so a VNI mark byte is never taken by the letter before it). TCVN3
// writes every letter but the 60 capitals with a tone.
func TestCharset_EveryLetter(t *testing.T) {
	letters := alphabet()
	if len(letters) != 146 {
		t.Fatalf("alphabet has %d letters", len(letters))
	}
	for _, enc := range []string{"Windows-1258", "TCVN3", "VNI"} {
		t.Run(enc, func(t *testing.T) {
			decode := decoder(enc)
			var writable []string
			for _, l := range letters {
				r, _ := utf8.DecodeRuneInString(l)
				data, err := encodeLegacy(enc, l)
				wantWritable := enc != "TCVN3" || !unicode.IsUpper(r) || vietLetters[r].tone == 0
				if (err == nil) != wantWritable {
					t.Errorf("%q: encode error %v, want writable %t", l, err, wantWritable)
					continue
				}
				if err != nil {
					continue
				}
				writable = append(writable, l)
				if len(data) > 2 {
					t.Errorf("%q is %d bytes: % X", l, len(data), data)
				}
				if got, err := decode(data); err != nil || string(got) != l {
					t.Errorf("%q: encoded % X, decoded %q, %v", l, data, got, err)
				}
			}
			for _, sep := range []string{" ", ""} {
				text := strings.Join(writable, sep)
				if got, err := decode(encode(t, enc, text)); err != nil || string(got) != text {
					t.Errorf("joined by %q: decoded\n  %q, %v\nwant\n  %q", sep, got, err, text)
				}
			}
			if want := map[string]int{"Windows-1258": 146, "TCVN3": 86, "VNI": 146}[enc]; len(writable) != want {
				t.Errorf("%d letters writable, want %d", len(writable), want)
			}
		})
	}
	assigned := 0
	for _, r := range tcvn3High {
		if r != 0 {
			assigned++
		}
	}
	if assigned != 75 { // TCVN 5712:1993 VN3: 67 small, 7 capitals, no-break space
		t.Errorf("TCVN3 assigns %d bytes above 0x9F, want 75", assigned)
	}
}

// tcvn3Alphabet is the UTF-8 text of testdata/tcvn3_alphabet.txt.
const tcvn3Alphabet = "a à á ã ả ạ ă ằ ắ ẵ ẳ ặ â ầ ấ ẫ ẩ ậ e è é ẽ ẻ ẹ ê ề ế ễ ể ệ i ì í ĩ ỉ ị o ò ó õ ỏ ọ ô ồ ố ỗ ổ ộ ơ ờ ớ ỡ ở ợ u ù ú ũ ủ ụ ư ừ ứ ữ ử ự y ỳ ý ỹ ỷ ỵ đ\n" +
	"A Ă Â E Ê I O Ô Ơ U Ư Y Đ\n"

// The tables agree with sources other than themselves: glibc's iconv for
// TCVN3, and the familiar look of TCVN3 and VNI text in a Latin-1 font
// ("ViÖt Nam", "Vieät Nam"), written here as Latin-1.
func TestCharset_PublishedForms(t *testing.T) {
	if got, err := decodeTCVN3(readTestdata(t, "tcvn3_alphabet.txt")); err != nil || string(got) != tcvn3Alphabet {
		t.Errorf("tcvn3_alphabet.txt: %v\n  %q\nwant\n  %q", err, got, tcvn3Alphabet)
	}
	tests := []struct{ enc, latin1, want string }{
		{"TCVN3", "ViÖt Nam", "Việt Nam"},
		{"TCVN3", "TiÕng ViÖt", "Tiếng Việt"},
		{"TCVN3", "§µ N½ng", "Đà Nẵng"},
		{"TCVN3", "Thµnh phè Hå ChÝ Minh", "Thành phố Hồ Chí Minh"},
		{"TCVN3", "Ninh ThuËn", "Ninh Thuận"},
		{"TCVN3", "Kü s­", "Kỹ sư"},
		{"VNI", "Vieät Nam", "Việt Nam"},
		{"VNI", "Tieáng Vieät", "Tiếng Việt"},
		{"VNI", "Ñaø Naüng", "Đà Nẵng"},
		{"VNI", "Thaønh phoá Hoà Chí Minh", "Thành phố Hồ Chí Minh"},
		{"VNI", "Bình Döông, Caàn Thô, Quaûng Trò", "Bình Dương, Cần Thơ, Quảng Trị"},
		{"VNI", "Nöôùc, Kyõ sö, Ninh Thuaän", "Nước, Kỹ sư, Ninh Thuận"},
		{"VNI", "NGUYEÃN, ÑAØ NAÜNG, HÖÔÙNG, THUÛY, YÙ, HOØA", "NGUYỄN, ĐÀ NẴNG, HƯỚNG, THỦY, Ý, HÒA"},
		{"VNI", "Ò Ó Æ Ì Í Î", "Ị Ĩ Ỉ Ì Í Ỵ"},
	}
	for _, tt := range tests {
		t.Run(tt.enc+" "+tt.want, func(t *testing.T) {
			data, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(tt.latin1))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := decoder(tt.enc)(data); err != nil || string(got) != tt.want {
				t.Errorf("decoded %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TCVN3 has no capitals with a tone: a word otherwise in capitals takes
// them; a word with one capital cannot tell, and stays as written.
func TestCharset_TCVN3Capitals(t *testing.T) {
	tests := []struct{ in, want string }{
		{"NGUYễN QUốC TRạNG", "NGUYỄN QUỐC TRẠNG"},
		{"ĐặNG VĂN Hà", "ĐẶNG VĂN Hà"},
		{"Đỗ Thị Hà, ánh", "Đỗ Thị Hà, ánh"},
		{"Lê HĐND", "Lê HĐND"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got, err := decodeTCVN3(encode(t, "TCVN3", tt.in)); err != nil || string(got) != tt.want {
				t.Errorf("decoded %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// asciiRow is a valid hire in ASCII but for the name and title; the ASCII
// part reads the same in every encoding.
func asciiRow(name, title string) string {
	return strings.Join([]string{"E1", "hire", effectiveISO, "NV1", name, "sotttt", title, "0259 3824 101",
		"mail;eoffice", "Tran Thi Mai", "Van phong So", "vanphong@ninhthuan.gov.vn", "0259 3824 100", "Giam doc So"}, ",") + "\n"
}

// latin1 writes s in ISO 8859-1.
func latin1(t *testing.T, s string) []byte {
	t.Helper()
	data, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// westernNames is a personnel file of French and German names, as a
// Western European system would export it in Latin-1.
var westernNames = header + asciiRow("Hélène Dubois", "Ingénieur") +
	strings.Replace(asciiRow("Jürgen Müller", "Straße"), "E1", "E2", 1) +
	strings.Replace(asciiRow("François Lefèvre", "Kysu"), "E1", "E3", 1)

func TestParse_LegacyEncodings(t *testing.T) {
	r := exampleRules(t)
	jsonl := `{"event_id":"E1","type":"hire","effective":"` + effectiveISO + `","employee_id":"NV1","full_name":"%s","unit":"sotttt","title":"Kỹ sư","phone":"0259 3824 101","applications":["mail"],"reply_name":"Trần Thị Mai","reply_unit":"VP","reply_mail":"vp@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc"}` + "\n"
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	highRandom := make([]byte, 0, 4096)
	for len(highRandom) < 4096 {
		if c := byte(rng.Uint32()); c >= 0x20 {
			highRandom = append(highRandom, c)
		}
	}
	tests := []struct {
		name string
		file string
		data []byte
		// want are substrings of the FileError; none means the file is
		// applied, with names (family|middle|given) in order, read in enc.
		want     []string
		names    []string
		enc      string
		rejected []string // each rejection's Error(), in order
	}{
		{
			// Nguyễn Quốc An, Kỹ sư; Lê Tiến Anh; Hoàng Minh Trí; Phạm Kiều
			// Anh; Đỗ Thế Vinh: once quecan, tionanh, minhtru, kiuanh, thovinh.
			name:  "TCVN3 export",
			file:  "tcvn3.csv",
			enc:   "TCVN3",
			names: []string{"Nguyễn|Quốc|An", "Lê|Tiến|Anh", "Hoàng|Minh|Trí", "Phạm|Kiều|Anh", "Đỗ|Thế|Vinh"},
		},
		{
			// Nguyễn Văn Tuấn, Chuyên viên; Dương Thị Hoa; Đinh Quốc Bảo.
			name:  "VNI-Windows export",
			file:  "vni.csv",
			enc:   "VNI",
			names: []string{"Nguyễn|Văn|Tuấn", "Dương|Thị|Hoa", "Đinh|Quốc|Bảo"},
		},
		{
			name:  "Windows-1258 export",
			file:  "windows1258.csv",
			enc:   "Windows-1258",
			names: []string{"Nguyễn|Quốc|Trạng", "Phạm|Thị Thu|Hường", "Đặng|Văn|Khoa", "Trương|Thị|Thuỷ", "Huỳnh|Ngọc|Quyết", "Giáp|Văn|Dũng"},
		},
		{
			name:  "TCVN3 title, ASCII names",
			data:  encode(t, "TCVN3", header+asciiRow("Nguyen Van An", "Kỹ sư")),
			enc:   "TCVN3",
			names: []string{"Nguyen|Van|An"},
		},
		{
			name:  "TCVN3 names in capitals",
			data:  encode(t, "TCVN3", header+asciiRow("NGUYễN QUốC TRạNG", "Kysu")),
			enc:   "TCVN3",
			names: []string{"NGUYỄN|QUỐC|TRẠNG"},
		},
		{
			// .VnTime cannot write Á: the file says "ánh", and the
			// .VnTimeH font that showed it as a capital is not in it.
			name:     "TCVN3 name starting with a small letter",
			data:     encode(t, "TCVN3", header+asciiRow("Nguyễn Thị ánh", "Kysu")+strings.Replace(asciiRow("Lê Thị Mai", "Kysu"), "E1", "E2", 1)),
			enc:      "TCVN3",
			names:    []string{"Lê|Thị|Mai"},
			rejected: []string{`in.csv:2: full_name: "ánh" starts with a small letter, and this file is TCVN3, which cannot write a capital with a tone`},
		},
		{
			name:  "TCVN3 in a header column",
			data:  encode(t, "TCVN3", strings.TrimSuffix(header, "\n")+",Ghi chú Đỗ\n"+strings.TrimSuffix(asciiRow("Nguyen Van An", "Kysu"), "\n")+",\n"),
			enc:   "TCVN3",
			names: []string{"Nguyen|Van|An"},
		},
		{
			name: "TCVN3 JSON Lines",
			file: "x.jsonl",
			data: encode(t, "TCVN3", strings.Replace(strings.Replace(strings.Replace(strings.Replace(jsonl, "%s", "Đỗ Thế Vinh", 1),
				"Trần Thị", "Tran Thi", 1), "Giám đốc", "Giam doc", 1), "Kỹ sư", "Ky su", 1)),
			enc:   "TCVN3",
			names: []string{"Đỗ|Thế|Vinh"},
		},
		{
			name:  "VNI JSON Lines",
			file:  "x.jsonl",
			data:  encode(t, "VNI", strings.Replace(jsonl, "%s", "Nguyễn Quốc Trạng", 1)),
			enc:   "VNI",
			names: []string{"Nguyễn|Quốc|Trạng"},
		},
		{
			name:  "Windows-1258 JSON Lines",
			file:  "x.jsonl",
			data:  encode(t, "Windows-1258", strings.Replace(jsonl, "%s", "Nguyễn Quốc Trạng", 1)),
			enc:   "Windows-1258",
			names: []string{"Nguyễn|Quốc|Trạng"},
		},
		{
			// No byte in it says which: every reading is the same.
			name:  "only a no-break space",
			data:  []byte(header + asciiRow("Nguyen\xa0Van An", "Kysu")),
			enc:   "Windows-1258",
			names: []string{"Nguyen|Van|An"},
		},
		{
			name: "Latin-1 export",
			data: latin1(t, westernNames),
			want: []string{
				"in.csv: cannot tell the encoding: the file is not UTF-8, and it is not Vietnamese read as Windows-1258 (line 2, full_name: \"Hélène Dubois\": \"Hélène\" has 2 tone marks (éè), a Vietnamese syllable one), nor as TCVN3 (",
				"nor as VNI (byte 0xE9 on line 2 is not VNI text)",
				`save it as "CSV UTF-8" from Excel and resubmit`,
			},
		},
		{
			// Müller is Mỹller in TCVN3, Jürgen Jỹrgen.
			name: "Latin-1 German names",
			data: latin1(t, header+strings.Replace(asciiRow("Jürgen Müller", "Kysu"), "E1", "E2", 1)),
			want: []string{"cannot tell the encoding", `as TCVN3 (line 2, full_name: "Jỹrgen Mỹller": "Jỹrgen" is not a Vietnamese word (consonants "rg" between its vowels))`},
		},
		{
			// VNI's "Sơn" is "Sôn" in Windows-1258 and "Sụn" in TCVN3, all
			// Vietnamese.
			name: "ambiguous",
			data: encode(t, "VNI", header+asciiRow("Nguyen Van Sơn", "Kysu")),
			want: []string{`cannot tell the encoding: the file is not UTF-8, and it reads as Vietnamese both as Windows-1258 and as TCVN3, differently: line 2 reads "Sôn" as Windows-1258, "Sụn" as TCVN3: save it as "CSV UTF-8"`},
		},
		{
			name: "random bytes",
			data: random,
			want: []string{"not a text file: it holds NUL bytes"},
		},
		{
			name: "random bytes, no control character",
			data: highRandom,
			want: []string{"cannot tell the encoding: the file is not UTF-8, and it is not Vietnamese read as Windows-1258 ("},
		},
		{
			name: "UTF-16",
			data: append([]byte{0xff, 0xfe}, []byte(strings.Join(strings.Split(header, ""), "\x00"))...),
			want: []string{`the file is UTF-16 (Excel's "Unicode Text"), not CSV`},
		},
		{
			name:  "UTF-8 with a byte-order mark",
			data:  []byte("\ufeff" + header + row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")),
			names: []string{"Nguyễn|Quốc|Trạng"},
		},
		{
			name:  "ASCII",
			data:  []byte(header + asciiRow("Nguyen Quoc Trang", "Chuyen vien")),
			names: []string{"Nguyen|Quoc|Trang"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data := tt.file, tt.data
			if name == "" {
				name = "in.csv"
			}
			if data == nil {
				data = readTestdata(t, tt.file)
			}
			b, err := Parse(name, data, SourceInbox, r, t0)
			if len(tt.want) > 0 {
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a FileError (batch: %+v)", err, b)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err =\n  %v\nwant it to contain\n  %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rejected) != len(tt.rejected) || len(b.Events) != len(tt.names) {
				t.Fatalf("events %d, want %d; rejected %v", len(b.Events), len(tt.names), b.Rejected)
			}
			for i, want := range tt.rejected {
				if got := b.Rejected[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("rejection %d =\n  %s\nwant prefix\n  %s", i, got, want)
				}
			}
			for i, ev := range b.Events {
				if got := ev.Name.Family + "|" + ev.Name.Middle + "|" + ev.Name.Given; got != tt.names[i] {
					t.Errorf("event %d: name %q, want %q", i, got, tt.names[i])
				}
			}
			var warned []string
			for _, w := range b.Warnings {
				if strings.HasPrefix(w, "file is not UTF-8") {
					warned = append(warned, w)
				}
			}
			switch {
			case tt.enc == "" && len(warned) > 0:
				t.Errorf("warnings = %v, want none of an encoding", b.Warnings)
			case tt.enc != "" && (len(warned) != 1 || !strings.Contains(warned[0], "read as "+tt.enc+" ")):
				t.Errorf("warnings = %v, want it read as %s", b.Warnings, tt.enc)
			}
		})
	}
}

// The people of examples/personnel.csv, in UTF-8 and in each legacy
// encoding, make the same events.
func TestParse_SameEventsInEveryEncoding(t *testing.T) {
	r := exampleRules(t)
	text, err := os.ReadFile("../examples/personnel.csv")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse("personnel.csv", text, SourceInbox, r, t0)
	if err != nil || len(want.Rejected) > 0 || len(want.Events) < 10 {
		t.Fatalf("UTF-8: %v, rejected %v", err, want.Rejected)
	}
	// TCVN3 cannot write the Á of Bác Ái; a .VnTime file writes á, in
	// the capital font, and says "Bác ái" (in free text, which is kept).
	tcvn3Text := strings.ReplaceAll(string(text), "Bác Ái", "Bác ái")
	tcvn3Want, err := Parse("personnel.csv", []byte(tcvn3Text), SourceInbox, r, t0)
	if err != nil || len(tcvn3Want.Rejected) > 0 || len(tcvn3Want.Events) != len(want.Events) {
		t.Fatalf("UTF-8 as TCVN3 writes it: %v, rejected %v", err, tcvn3Want.Rejected)
	}
	for _, enc := range []string{"Windows-1258", "TCVN3", "VNI"} {
		t.Run(enc, func(t *testing.T) {
			text, want := string(text), want
			if enc == "TCVN3" {
				text, want = tcvn3Text, tcvn3Want
			}
			data := encode(t, enc, text)
			if utf8.Valid(data) {
				t.Fatal("the fixture is valid UTF-8")
			}
			got, err := Parse("personnel.csv", data, SourceInbox, r, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rejected) > 0 {
				t.Fatalf("rejected %v", got.Rejected)
			}
			if !reflect.DeepEqual(got.Events, want.Events) {
				for i := range min(len(got.Events), len(want.Events)) {
					if !reflect.DeepEqual(got.Events[i], want.Events[i]) {
						t.Errorf("event %d:\n  %+v\nwant\n  %+v", i, got.Events[i], want.Events[i])
					}
				}
				t.Fatalf("%d events, want %d", len(got.Events), len(want.Events))
			}
			if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "read as "+enc) {
				t.Errorf("warnings = %v", got.Warnings)
			}
		})
	}
}

// The Windows-1258 export's titles and reply fields arrive composed (NFC)
// too, the en dash included.
func TestParse_Windows1258Export(t *testing.T) {
	b, err := Parse("in.csv", readTestdata(t, "windows1258.csv"), SourceInbox, exampleRules(t), t0)
	if err != nil || len(b.Events) != 6 {
		t.Fatalf("%v %v", err, b.Rejected)
	}
	ev := b.Events[5]
	if ev.Title != "Văn thư – Lưu trữ" || ev.Reply.Name != "Trần Thị Mai" || ev.RequestedBy != "Giám đốc Sở" || ev.Reply.Unit != "Văn phòng Sở" {
		t.Errorf("event = %+v", ev)
	}
}

func TestCharset_TextProblem(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Nguyễn Quốc Trạng", ""},
		{"NGUYỄN QUỐC TRẠNG", ""},
		{"Người giữ giường khuya, Quyết Khuỷu Hoà Hòa Thuỷ", ""},
		{"K'Brông Pinăng, Văn thư – Lưu trữ “số 1”", ""},
		{"Chamaléa Bốn, Đắk Lắk, HĐND", ""},
		{"eOffice: ASCII words are not checked", ""},
		{"NguyÔn", `capital 'Ô' inside the word "NguyÔn"`},
		{"Quèc", `"Quèc" is not a Vietnamese syllable (tone of 'è' before final "c")`},
		{"Nguyeăn", `"Nguyeăn" is not a Vietnamese syllable (vowels "uyeă")`},
		{"Quoác", `"Quoác" is not a Vietnamese syllable (vowels "uoa")`},
		{"Mỹller", `"Mỹller" is not a Vietnamese word (consonants "ll" between its vowels)`},
		{"Theá", `"Theá" is not a Vietnamese syllable (vowels "ea")`},
		{"Döông", `'ö' (U+00F6) is not a letter of Vietnamese`},
		{"Hélène", `"Hélène" has 2 tone marks (éè), a Vietnamese syllable one`},
		{"Th\u0303 Mai", "mark U+0303 after 'h', where Vietnamese writes none"},
		{"Kü s\u00ad", `'ü' (U+00FC) is not a letter of Vietnamese`},
		{"An \ufffd", `'�' (U+FFFD) is not a letter of Vietnamese`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := textProblem(tt.text); got != tt.want {
				t.Errorf("textProblem(%q) =\n  %s\nwant\n  %s", tt.text, got, tt.want)
			}
		})
	}
}

// A file in no encoding that can be told dropped into the inbox creates
// nothing: it is set aside whole, bytes untouched, with the reason beside
// it.
func TestEngine_RejectsUnreadableEncoding(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	data := latin1(t, westernNames)
	drop(t, cfg, "nhansu.csv", string(data))
	if e.scanInbox(settled()) {
		t.Error("events journaled from a Latin-1 file")
	}
	if n := len(e.Journal().Pending()); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
	moved, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "rejected", "*_nhansu.csv"))
	if len(moved) != 1 {
		t.Fatalf("rejected/ holds %v, want the file", moved)
	}
	if got, err := os.ReadFile(moved[0]); err != nil || !bytes.Equal(got, data) {
		t.Errorf("%s: %v, bytes equal to the original: %t", moved[0], err, bytes.Equal(got, data))
	}
	reason, err := os.ReadFile(moved[0] + ".error.txt")
	if err != nil || !strings.Contains(string(reason), "cannot tell the encoding") || !strings.Contains(string(reason), saveAsUTF8) {
		t.Errorf(".error.txt: %v\n%s", err, reason)
	}
}

// A TCVN3 file in the inbox is journaled like any other.
func TestEngine_ReadsTCVN3File(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	drop(t, cfg, "nhansu.csv", string(readTestdata(t, "tcvn3.csv")))
	if !e.scanInbox(settled()) {
		t.Error("no events journaled from a TCVN3 file")
	}
	if n := len(e.Journal().Pending()); n != 5 {
		t.Errorf("pending = %d, want 5", n)
	}
}
