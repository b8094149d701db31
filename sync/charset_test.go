package sync

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// The files in testdata are personnel files as legacy Vietnamese systems
// export them: semicolons, CRLF, day-first dates, no byte-order mark.
// tcvn3.csv was written by glibc's iconv -t TCVN5712-1 (TCVN3, the ABC
// fonts: a precomposed letter is one byte in 0x80-0xFF), windows1258.csv by
// iconv -t CP1258 (a base letter and a combining tone byte, as Windows
// writes it), vni.csv by the VNI-Windows table (a base letter and modifier
// bytes: "Nguyễn" is "Nguye\xe3n"; iconv has no VNI). The UTF-8 text they
// hold is in the comments of the test cases.

// tcvn3 holds the TCVN3 (TCVN 5712:1993 VN3) byte of the letters the tests
// use; the rest of the table is in testdata/tcvn3.csv.
var tcvn3 = map[rune]byte{
	'Đ': 0xa7, 'ư': 0xad, 'ầ': 0xc7, 'ễ': 0xd4, 'ế': 0xd5, 'ị': 0xde, 'ỗ': 0xe7, 'ố': 0xe8, 'ú': 0xf3, 'ỹ': 0xfc,
}

// encodeTCVN3 writes s, UTF-8 text of ASCII and the letters of tcvn3, in
// TCVN3.
func encodeTCVN3(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for _, r := range s {
		switch b, ok := tcvn3[r]; {
		case r < 0x80:
			out = append(out, byte(r))
		case ok:
			out = append(out, b)
		default:
			t.Fatalf("no TCVN3 byte for %q in the test's table", r)
		}
	}
	return out
}

// encodeWindows1258 writes s as Windows-1258 does (see toneSeparated).
func encodeWindows1258(t *testing.T, s string) []byte {
	t.Helper()
	data, err := charmap.Windows1258.NewEncoder().Bytes([]byte(toneSeparated(s)))
	if err != nil {
		t.Fatalf("fixture not encodable: %v", err)
	}
	return data
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// asciiRow is a valid hire in ASCII but for the title; the ASCII part reads
// the same in every encoding.
func asciiRow(name, title string) string {
	return strings.Join([]string{"E1", "hire", effectiveISO, "NV1", name, "sotttt", title, "0259 3824 101",
		"mail;eoffice", "Tran Thi Mai", "Van phong So", "vanphong@ninhthuan.gov.vn", "0259 3824 100", "Giam doc So"}, ",") + "\n"
}

func TestParse_LegacyEncodings(t *testing.T) {
	r := exampleRules(t)
	jsonl := `{"event_id":"E1","type":"hire","effective":"` + effectiveISO + `","employee_id":"NV1","full_name":"%s","unit":"sotttt","title":"Kỹ sư","phone":"0259 3824 101","applications":["mail"],"reply_name":"Trần Thị Mai","reply_unit":"VP","reply_mail":"vp@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc"}` + "\n"
	tests := []struct {
		name string
		file string
		data []byte
		// want are substrings of the FileError; none means the file is
		// applied, with names (family|middle|given) in order.
		want  []string
		names []string
	}{
		{
			// Nguyễn Quốc An, Kỹ sư; Lê Tiến Anh; Hoàng Minh Trí; Phạm Kiều
			// Anh; Đỗ Thế Vinh: once quecan, tionanh, minhtru, kiuanh, thovinh.
			name: "TCVN3 export",
			file: "tcvn3.csv",
			want: []string{
				"tcvn3.csv: " + notWindows1258,
				`line 2, full_name: read as Windows-1258 it is "NguyÔn Quèc An": capital 'Ô' inside the word "NguyÔn"`,
			},
		},
		{
			// Nguyễn Văn Tuấn, Chuyên viên; Dương Thị Hoa; Đinh Quốc Bảo.
			name: "VNI-Windows export",
			file: "vni.csv",
			want: []string{notWindows1258, `line 2, full_name: read as Windows-1258 it is "Nguyeăn Vaên Tuaán": "Nguyeăn" is not a Vietnamese syllable (vowels "uyeă")`},
		},
		{
			name: "TCVN3 title, ASCII names",
			data: encodeTCVN3(t, header+asciiRow("Nguyen Van An", "Kỹ sư")),
			want: []string{notWindows1258, `line 2, title: read as Windows-1258 it is "Kü s\u00ad": 'ü' (U+00FC) is not a letter of Vietnamese`},
		},
		{
			name: "TCVN3 letter that reads as a combining mark after a consonant",
			data: encodeTCVN3(t, header+asciiRow("Nguyen Van An", "Kysu")+strings.Replace(asciiRow("Le Thị Mai", "Kysu"), "E1", "E2", 1)),
			want: []string{"line 3, full_name: read as Windows-1258 it is \"Le Th\u0303 Mai\": mark U+0303 after 'h', where Vietnamese writes none"},
		},
		{
			name: "TCVN3 letters that read as well-formed letters",
			data: encodeTCVN3(t, header+asciiRow("Le Quốc An", "Kysu")),
			want: []string{`line 2, full_name: read as Windows-1258 it is "Le Quèc An": "Quèc" is not a Vietnamese syllable (tone of 'è' before final "c")`},
		},
		{
			name: "TCVN3 in a header column",
			data: encodeTCVN3(t, strings.TrimSuffix(header, "\n")+",Ghi chú Đỗ\n"+strings.TrimSuffix(asciiRow("Nguyen Van An", "Kysu"), "\n")+",\n"),
			want: []string{`line 1, header: read as Windows-1258 it is "Ghi chó §ç": '§' (U+00A7) is not a letter of Vietnamese`},
		},
		{
			name: "TCVN3 JSON Lines",
			file: "x.jsonl",
			data: encodeTCVN3(t, strings.Replace(strings.Replace(strings.Replace(strings.Replace(jsonl, "%s", "Đỗ Thế Vinh", 1),
				"Trần Thị", "Tran Thi", 1), "Giám đốc", "Giam doc", 1), "Kỹ sư", "Ky su", 1)),
			want: []string{notWindows1258, `line 1, full_name: read as Windows-1258 it is "§ç ThƠ Vinh": '§' (U+00A7) is not a letter of Vietnamese`},
		},
		{
			name:  "Windows-1258 export",
			file:  "windows1258.csv",
			names: []string{"Nguyễn|Quốc|Trạng", "Phạm|Thị Thu|Hường", "Đặng|Văn|Khoa", "Trương|Thị|Thuỷ", "Huỳnh|Ngọc|Quyết", "Giáp|Văn|Dũng"},
		},
		{
			name:  "Windows-1258 JSON Lines",
			file:  "x.jsonl",
			data:  encodeWindows1258(t, strings.Replace(jsonl, "%s", "Nguyễn Quốc Trạng", 1)),
			names: []string{"Nguyễn|Quốc|Trạng"},
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
			if len(b.Rejected) > 0 || len(b.Events) != len(tt.names) {
				t.Fatalf("events %d, want %d; rejected %v", len(b.Events), len(tt.names), b.Rejected)
			}
			for i, ev := range b.Events {
				if got := ev.Name.Family + "|" + ev.Name.Middle + "|" + ev.Name.Given; got != tt.names[i] {
					t.Errorf("event %d: name %q, want %q", i, got, tt.names[i])
				}
			}
			legacy := !utf8.Valid(data)
			if warned := len(b.Warnings) == 1 && strings.Contains(b.Warnings[0], "Windows-1258"); warned != legacy {
				t.Errorf("warnings = %v", b.Warnings)
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

func TestCharset_Windows1258Problem(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Nguyễn Quốc Trạng", ""},
		{"NGUYỄN QUỐC TRẠNG", ""},
		{"Người giữ giường khuya, Quyết Khuỷu Hoà Hòa Thuỷ", ""},
		{"K'Brông Pinăng, Văn thư – Lưu trữ “số 1”", ""},
		{"eOffice: ASCII words are not checked", ""},
		{"NguyÔn", `capital 'Ô' inside the word "NguyÔn"`},
		{"Quèc", `"Quèc" is not a Vietnamese syllable (tone of 'è' before final "c")`},
		{"Nguyeăn", `"Nguyeăn" is not a Vietnamese syllable (vowels "uyeă")`},
		{"Quoác", `"Quoác" is not a Vietnamese syllable (vowels "uoa")`},
		{"Döông", `'ö' (U+00F6) is not a letter of Vietnamese`},
		{"Hélène", `"Hélène" has 2 tone marks (éè), a Vietnamese syllable one`},
		{"Th\u0303 Mai", "mark U+0303 after 'h', where Vietnamese writes none"},
		{"Kü s\u00ad", `'ü' (U+00FC) is not a letter of Vietnamese`},
		{"An \ufffd", `'�' (U+FFFD) is not a letter of Vietnamese`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := windows1258Problem(tt.text); got != tt.want {
				t.Errorf("windows1258Problem(%q) =\n  %s\nwant\n  %s", tt.text, got, tt.want)
			}
		})
	}
}

// A TCVN3 file dropped into the inbox creates nothing: it is set aside
// whole, bytes untouched, with the reason beside it.
func TestEngine_RejectsLegacyEncodedFile(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	data := readTestdata(t, "tcvn3.csv")
	drop(t, cfg, "nhansu.csv", string(data))
	if e.scanInbox(settled()) {
		t.Error("events journaled from a TCVN3 file")
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
	if err != nil || !strings.Contains(string(reason), notWindows1258+": line 2, full_name") {
		t.Errorf(".error.txt: %v\n%s", err, reason)
	}
}
