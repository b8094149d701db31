package rules

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestParseFullName(t *testing.T) {
	tests := []struct {
		name, in string
		want     Name
		wantErr  string
	}{
		{name: "regulation example", in: "Nguyễn Quốc Trạng", want: Name{"Nguyễn", "Quốc", "Trạng"}},
		{name: "no middle name", in: "Lê Tuấn", want: Name{"Lê", "", "Tuấn"}},
		{name: "two middle names", in: "Trần Thị Minh Khai", want: Name{"Trần", "Thị Minh", "Khai"}},
		{name: "stray, non-breaking and zero-width spaces", in: "  Nguyễn\u00a0Thị \u200b Lan\t", want: Name{"Nguyễn", "Thị", "Lan"}},
		{name: "NFD input is stored NFC", in: norm.NFD.String("Đàng Năng Thọ"), want: Name{"Đàng", "Năng", "Thọ"}},
		{name: "Raglai name", in: "Chamaléa Thị Thu", want: Name{"Chamaléa", "Thị", "Thu"}},
		{name: "one word", in: "Tuấn", wantErr: "want at least a family name and a given name"},
		{name: "empty", in: " ", wantErr: "want at least a family name and a given name"},
		{name: "bad character", in: "Lê Văn 7", wantErr: "character '7' (U+0037)"},
		{name: "given name of punctuation only", in: "Lê -", wantErr: "no given name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFullName(tt.in)
			checkName(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestNameFromParts(t *testing.T) {
	tests := []struct {
		name                  string
		family, middle, given string
		want                  Name
		wantErr               string
	}{
		{name: "regulation example", family: "Nguyễn", middle: "Quốc", given: "Trạng", want: Name{"Nguyễn", "Quốc", "Trạng"}},
		{name: "compound family name", family: "Tôn  Nữ", middle: "Thị", given: "Hà", want: Name{"Tôn Nữ", "Thị", "Hà"}},
		{name: "compound family name, no middle", family: "Công Tôn", given: "Minh", want: Name{"Công Tôn", "", "Minh"}},
		{name: "Cham name", family: "Pinăng", middle: "Văn", given: "Bình", want: Name{"Pinăng", "Văn", "Bình"}},
		{name: "two-word given name", family: "Lê", middle: "Thị", given: "Thu Hà", want: Name{"Lê", "Thị", "Thu Hà"}},
		{name: "no family name", given: "Tuấn", wantErr: "no family name"},
		{name: "no given name", family: "Lê", middle: "Văn", wantErr: "no given name"},
		{name: "bad character in the middle name", family: "Lê", middle: "V@n", given: "Tuấn", wantErr: "character '@' (U+0040)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NameFromParts(tt.family, tt.middle, tt.given)
			checkName(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkName(t *testing.T, got Name, err error, want Name, wantErr string) {
	t.Helper()
	switch {
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Errorf("got %+v, %v; want an error containing %q", got, err, wantErr)
	case wantErr == "" && (err != nil || got != want):
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

func TestName_Full(t *testing.T) {
	tests := []struct {
		name string
		in   Name
		want string
	}{
		{"three parts", Name{"Nguyễn", "Quốc", "Trạng"}, "Nguyễn Quốc Trạng"},
		{"no middle name", Name{"Lê", "", "Tuấn"}, "Lê Tuấn"},
		{"compound family name", Name{"Tôn Nữ", "Thị", "Hà"}, "Tôn Nữ Thị Hà"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Full(); got != tt.want {
				t.Errorf("Full() = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestParseFullName_charError checks that the character error survives
// parsing, so the CLI can show which character HR must fix.
func TestParseFullName_charError(t *testing.T) {
	_, err := ParseFullName("Döông Văn An")
	var ce *CharError
	if !errors.As(err, &ce) || ce.Char != 'ö' {
		t.Errorf("ParseFullName error = %v; want a *CharError for 'ö'", err)
	}
}
