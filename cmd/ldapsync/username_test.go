package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleConfig = "../../config.example.yaml"

func TestUsername(t *testing.T) {
	taken := filepath.Join(t.TempDir(), "taken")
	if err := os.WriteFile(taken, []byte("VanTuan\n\n  tuanlv \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		want     string // stdout
		code     int
		inStderr string
	}{
		{name: "regulation ladder in Ninh Hải",
			args: []string{"--unit", "ubnd_nh", "Lê Văn Tuấn", "Lê Văn Tuấn", "Lê Văn Tuấn", "Lê Văn Tuấn"},
			want: "vantuan\ntuanlv\ntuanlv.nh\ntuanlv2.nh\n"},
		{name: "office of a district gets the district's abbreviation",
			args: []string{"--unit", "vhtt_ns", "--taken", taken, "Lê Văn Tuấn"},
			want: "tuanlv.ns\n"},
		{name: "rule 1 of the regulation", args: []string{"Nguyễn Quốc Trạng"}, want: "quoctrang\n"},
		{name: "parts, compound family name", args: []string{"Tôn Nữ|Thị|Hà", "Tôn Nữ|Thị|Hà"}, want: "thiha\nhatnt\n"},
		{name: "organisational accounts are taken", args: []string{"Nguyễn Thanh Tra"}, want: "trant\n"},
		{name: "bad names: every one reported, nothing allocated",
			args: []string{"Nguyễn Quốc Trạng", "Lê Văn 7", "Döông Văn An", "a|b"},
			code: exitFailure, inStderr: `rules: name "Lê Văn 7": character '7' (U+0037) is not a letter of a Vietnamese name
ldapsync: rules: name "Döông Văn An": character 'ö' (U+00F6) is not a letter of a Vietnamese name
ldapsync: name "a|b": want a full name or family|middle|given`},
		{name: "rules 3 and 4 need a unit", args: []string{"--taken", taken, "Lê Văn Tuấn"},
			code: exitFailure, inStderr: "rules 3 and 4 need the unit's abbreviation"},
		{name: "unknown unit", args: []string{"--unit", "nh", "Lê Văn Tuấn"},
			code: exitUsage, inStderr: `--unit "nh" is not the account name of a unit`},
		{name: "missing taken file", args: []string{"--taken", taken + ".none", "Lê Văn Tuấn"},
			code: exitUsage, inStderr: "--taken: open"},
		{name: "no name", args: nil, code: exitUsage, inStderr: "Usage: ldapsync username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ldapsync(t, nil, append([]string{"username", "--config", exampleConfig}, tt.args...)...)
			if code != tt.code || out != tt.want || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr containing:\n%s", code, out, errOut, tt.code, tt.want, tt.inStderr)
			}
		})
	}
}
