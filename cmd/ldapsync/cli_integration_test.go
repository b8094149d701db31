package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
)

// harnessConfig writes a config for a throwaway slapd, derived from the
// example like make dev's.
func harnessConfig(t *testing.T, srv *slapdtest.Server) (path, state string) {
	t.Helper()
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	state = t.TempDir()
	data, err := yamlpatch.Patch(example, map[string]any{
		"log.format":              "json",
		"directory.url":           srv.URL,
		"directory.bind_dn":       srv.ServiceDN,
		"directory.bind_password": map[string]string{"file": srv.ServicePasswordFile},
		"sync.state_dir":          state,
		"sync.letters_dir":        filepath.Join(state, "letters"),
		"sync.inbox.dir":          filepath.Join(state, "inbox"),
	})
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, state
}

// dump returns every entry's user attributes, read as the root DN with the
// real ldapsearch, so a test sees any write.
func dump(t *testing.T, srv *slapdtest.Server) string {
	t.Helper()
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile,
		"-b", srv.BaseDN, "(objectClass=*)", "*").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(out)
}

func TestPlan_ChangesNothing(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	before := dump(t, srv)

	out, errOut, code := ldapsync(t, nil, "plan", "--config", cfg, "../../examples/personnel.csv")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"quoctrang", "vantuan", "tuanlv", "tuanlv.nh", "tuanlv2.nh", "issue_credentials", "Nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if after := dump(t, srv); after != before {
		t.Errorf("plan wrote to the directory:\nbefore\n%s\nafter\n%s", before, after)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("plan wrote to the state directory: %v", entries)
	}

	out, _, code = ldapsync(t, nil, "plan", "../../examples/personnel.csv", "--config", cfg, "--output", "json")
	if code != 0 || strings.Count(out, `{"op":"create"`) != 10 || strings.Count(out, "\n") != 30 {
		t.Errorf("plan --output json: exit %d\n%s", code, out)
	}
}

func TestApply_RejectsBadRowsAppliesTheRest(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	in := filepath.Join(t.TempDir(), "batch.csv")
	os.WriteFile(in, []byte("event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n"+
		"B1,hire,2026-11-02,NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n"+
		"B2,hire,2026-11-02,,Lê Văn Tuấn,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n"+
		"B3,hire,2026-11-02,NV3,Lê Văn Tuấn,sotttx,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n"+
		"B4,hire,2026-11-02,NV4,Trần Thị Lan,vhtt_ns,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n"), 0o600)

	out, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "--now", "2026-11-23", in)
	if code != exitFailure {
		t.Errorf("apply with rejected rows: exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{in + ":3: employee_id: required", in + `:4: unit: "sotttx" is not a unit of the config`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "2 new, 0 already received, 2 rejected") || !strings.Contains(out, "4 operations applied") {
		t.Errorf("stdout:\n%s", out)
	}
	d := dump(t, srv)
	for _, uid := range []string{"quoctrang", "thilan"} {
		if !strings.Contains(d, "uid: "+uid+"\n") {
			t.Errorf("%s not created", uid)
		}
	}
	if strings.Contains(d, "vantuan") {
		t.Error("a rejected row was applied")
	}
	rejected, _ := filepath.Glob(filepath.Join(state, "inbox", "rejected", "*batch.csv"))
	if len(rejected) != 1 {
		t.Fatalf("rejected rows not set aside: %v", rejected)
	}

	// Applying the same file again changes nothing.
	out, _, _ = ldapsync(t, nil, "apply", "--config", cfg, in)
	if !strings.Contains(out, "0 new, 2 already received") || !strings.Contains(out, "0 operations applied") {
		t.Errorf("second apply:\n%s", out)
	}
	if _, _, code := ldapsync(t, nil, "audit", "verify", "--config", cfg); code != 0 {
		t.Error("audit chain broken after apply")
	}

	// An event the directory's state refuses fails the run too.
	refused := filepath.Join(t.TempDir(), "access.jsonl")
	os.WriteFile(refused, []byte(`{"event_id":"R1","type":"applications","effective":"2026-11-02","employee_id":"NV404","applications":"+mail"}`+"\n"), 0o600)
	out, errOut, code = ldapsync(t, nil, "apply", "--config", cfg, refused)
	if code != exitFailure || !strings.Contains(errOut, "event R1 refused: employee NV404 has no account") || !strings.Contains(out, "refused events, with reasons, in") {
		t.Errorf("apply of a refused event: exit %d\n%s\n%s", code, out, errOut)
	}
}

// plan on a roster shows the events it derives and changes nothing.
func TestPlan_Roster(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "../../examples/personnel.csv"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	before := dump(t, srv)
	roster := filepath.Join(t.TempDir(), "roster-2026.csv")
	// Everyone of the example but NT-004501, Nguyễn Quốc Trạng moved, and
	// a newcomer.
	data, _ := os.ReadFile("../../examples/personnel.csv")
	lines := []string{"employee_id,full_name,unit"}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, ",")
		switch {
		case f[3] == "NT-004501":
			continue
		case f[3] == "NT-001245":
			f[8] = "sonv_vp"
		}
		name := f[4]
		if name == "" { // given in parts
			name = strings.Join(strings.Fields(f[5]+" "+f[6]+" "+f[7]), " ")
		}
		lines = append(lines, f[3]+","+name+","+f[8])
	}
	lines = append(lines, "NT-009999,Hoàng Minh An,sotttt")
	os.WriteFile(roster, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	out, errOut, code := ldapsync(t, nil, "plan", "--config", cfg, roster)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"transfer", "move", "hire", "Nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "employee NT-004501 is no longer listed") || strings.Count(errOut, "no longer listed") != 1 {
		t.Errorf("stderr does not list the one departure:\n%s", errOut)
	}
	// A truncated roster: refused.
	short := filepath.Join(t.TempDir(), "roster-short.csv")
	os.WriteFile(short, []byte("employee_id,full_name,unit\nNT-001245,Nguyễn Quốc Trạng,sotttt\n"), 0o600)
	if _, errOut, code := ldapsync(t, nil, "plan", "--config", cfg, short); code != exitFailure || !strings.Contains(errOut, "min_roster_ratio") {
		t.Errorf("truncated roster: exit %d\n%s", code, errOut)
	}
	if dump(t, srv) != before {
		t.Errorf("plan wrote to the directory")
	}
	_ = state
}

// plan on another directory's LDIF export (two provinces merging) lists
// every username and mail collision with a ladder name for the incoming
// person, and changes nothing.
func TestPlan_MergerCollisions(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, _ := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "../../examples/personnel.csv"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	before := dump(t, srv)
	other := filepath.Join(t.TempDir(), "khanhhoa.ldif")
	os.WriteFile(other, []byte(`dn: uid=quoctrang,ou=people,dc=khanhhoa,dc=gov,dc=vn
objectClass: inetOrgPerson
uid: quoctrang
cn:: `+base64.StdEncoding.EncodeToString([]byte("Trần Quốc Trạng"))+`
sn:: `+base64.StdEncoding.EncodeToString([]byte("Trần"))+`
mail: quoctrang@khanhhoa.gov.vn

dn: uid=minhan,ou=people,dc=khanhhoa,dc=gov,dc=vn
objectClass: inetOrgPerson
uid: minhan
cn:: `+base64.StdEncoding.EncodeToString([]byte("Hoàng Minh An"))+`
sn:: `+base64.StdEncoding.EncodeToString([]byte("Hoàng"))+`
mail: minhan@khanhhoa.gov.vn
`), 0o600)
	out, errOut, code := ldapsync(t, nil, "plan", "--config", cfg, other)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"2 people incoming, 1 collide", "username quoctrang", "uid=quoctrang,ou=people,dc=ninhthuan", "trangtq", "quoctrang@khanhhoa.gov.vn"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "minhan") {
		t.Errorf("a person without collision is listed:\n%s", out)
	}
	if dump(t, srv) != before {
		t.Errorf("plan wrote to the directory")
	}
}

// healthcheck without a daemon fails, saying why.
func TestHealthcheck_NoDaemon(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, _ := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "healthcheck", "--config", cfg); code != exitFailure || !strings.Contains(errOut, "unhealthy") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// audit verify on a real audit log: an edited, deleted, inserted or
// reordered record breaks the chain; a log whose tail was cut still chains,
// and is caught through the head anchored in the directory.
func TestAuditVerify_TamperingAndTheAnchor(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "../../examples/personnel.csv"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	out, errOut, code := ldapsync(t, nil, "audit", "verify", "--config", cfg)
	if code != 0 || !strings.Contains(out, "matches the directory's") {
		t.Fatalf("verify of the real log: exit %d\n%s%s", code, out, errOut)
	}
	data, err := os.ReadFile(filepath.Join(state, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	lines[len(lines)-1] += "\n"
	if len(lines) < 10 {
		t.Fatalf("only %d records", len(lines))
	}
	tamper := map[string]func([]string) []string{
		"edited": func(l []string) []string {
			l[5] = strings.Replace(l[5], `"seq":6`, `"seq":6,"x":1`, 1)
			return l
		},
		"value changed": func(l []string) []string {
			l[7] = strings.Replace(l[7], `"action":"`, `"action":"x`, 1)
			return l
		},
		"deleted":   func(l []string) []string { return append(l[:5], l[6:]...) },
		"inserted":  func(l []string) []string { return append(l[:6], append([]string{l[5]}, l[6:]...)...) },
		"reordered": func(l []string) []string { l[5], l[6] = l[6], l[5]; return l },
		"tail cut":  func(l []string) []string { return l[:len(l)-3] },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			os.WriteFile(path, []byte(strings.Join(f(slices.Clone(lines)), "")), 0o600)
			out, errOut, code := ldapsync(t, nil, "audit", "verify", "--config", cfg, path)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
			}
			if name == "tail cut" && !strings.Contains(errOut, "tail was cut") {
				t.Errorf("the cut tail is not named:\n%s", errOut)
			}
		})
	}
}
