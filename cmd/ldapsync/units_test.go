package main

import (
	"strings"
	"testing"
)

func TestUnits(t *testing.T) {
	out, errOut, code := ldapsync(t, nil, "units", "--config", exampleConfig)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "ACCOUNT") {
		t.Errorf("no header: %q", lines[0])
	}
	// Each regulation example, at its depth, with kind, abbreviation and
	// name in that order.
	for _, want := range [][]string{
		{"sotttt", "department", "sotttt", "Sở Thông tin và Truyền thông"},
		{"  ttcntttt", "department_unit", "ttcntttt", "Trung tâm Công nghệ thông tin và Truyền thông"},
		{"  sonv_vp", "department_office", "vp", "Văn phòng Sở Nội vụ"},
		{"ubnd_prtc", "district", "prtc", "Ủy ban nhân dân thành phố Phan Rang - Tháp Chàm"},
		{"  ubnd_phuochai", "commune", "-", "Xã Phước Hải"},
		{"  vhtt_ns", "district_office", "vhtt", "Phòng Văn hóa và Thông tin"},
	} {
		found := false
		for _, l := range lines {
			if fields := strings.Fields(l); strings.HasPrefix(l, want[0]+" ") && len(fields) > 3 &&
				fields[1] == want[1] && fields[2] == want[2] && strings.Join(fields[3:], " ") == want[3] {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q in:\n%s", strings.Join(want, " "), out)
		}
	}
	if _, _, code := ldapsync(t, nil, "units", "--config", exampleConfig, "extra"); code != exitUsage {
		t.Errorf("units with an argument: exit %d; want %d", code, exitUsage)
	}
}
