package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ldapsync runs the command line in-process and returns what it printed.
func ldapsync(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code = a.main(context.Background(), args)
	return out.String(), errb.String(), code
}

func TestExampleConfigParses(t *testing.T) {
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, r, errs := parseConfig(data)
	if len(errs) > 0 {
		t.Fatalf("config.example.yaml:\n%v", errs)
	}
	for _, account := range []string{"sotttt", "ubnd_prtc", "ubnd_phuochai", "sonv_vp", "ttcntttt", "vhtt_ns"} {
		if _, ok := r.Units.Lookup(account); !ok {
			t.Errorf("unit %s missing from the example", account)
		}
	}
	if cfg.Directory.BaseDN != "dc=ninhthuan,dc=gov,dc=vn" || r.Password.MinLength != 8 || cfg.Sync.Inbox.Poll.String() != "5s" {
		t.Errorf("example values: %+v %+v", cfg.Directory, r.Password)
	}
	// The example writes every default out; it must agree with the code.
	// Only what every site sets itself differs.
	def := defaultConfig()
	got := cfg
	got.Directory.URL, got.Directory.BindDN, got.Directory.BindPassword = def.Directory.URL, def.Directory.BindDN, def.Directory.BindPassword
	got.Rules.Units = def.Rules.Units
	// Holidays are data the example ships, with no default in code.
	got.Rules.Calendar.Holidays, got.Rules.Calendar.WorkingDays = def.Rules.Calendar.Holidays, def.Rules.Calendar.WorkingDays
	if got.Sync.LettersDir != got.Sync.Letters() || got.Sync.Inbox.Dir != got.Sync.InboxDir() {
		t.Errorf("the example's letters_dir and inbox.dir are not the defaults they document")
	}
	got.Sync.LettersDir, got.Sync.Inbox.Dir = "", ""
	if !reflect.DeepEqual(got, def) {
		t.Errorf("config.example.yaml and the defaults disagree:\nexample  %+v\ndefaults %+v", got, def)
	}
}

func TestParseConfig_ReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty", "", []string{"empty config"}},
		{"syntax", "directory: [\n", []string{"line 1: did not find expected node content"}},
		{"unknown keys, each with path and line",
			"directory:\n  url: ldap://x\n  bind_pasword: {file: x}\nrules:\n  colour: 1\n",
			[]string{`directory.bind_pasword: unknown key "bind_pasword" (line 3)`, `rules.colour: unknown key "colour" (line 5)`}},
		{"bad values together",
			"log:\n  level: loud\nsync:\n  inbox:\n    poll: 5x\nrules:\n  password:\n    profile: nt8\n  units:\n    - name: Sở X\n      kind: nope\n      abbr: Q!\n",
			[]string{
				`sync.inbox.poll: invalid duration "5x": want 90d, 36h or 30m (line 5)`,
				// …and the problems around it, in the same report:
				`log.level: "loud" must be trace, debug, info, warn or error (line 2)`,
				`rules.password.profile: "nt8" is not one of the profiles`,
				`rules.units[0].kind: "nope" is not a unit kind`,
			}},
		{"an application that is the active group, and no units",
			"rules:\n  applications:\n    - name: mail\n    - name: active\n",
			[]string{
				`rules.applications[1].name: "active" is the active accounts group (directory.active_group) (line 4)`,
				`rules.units: required: the unit tree`,
			}},
		{"validation after decoding",
			"log:\n  level: loud\nrules:\n  password:\n    profile: nt8\n  units:\n    - name: Sở X\n      kind: nope\n      abbr: Q!\n",
			[]string{
				`log.level: "loud" must be trace, debug, info, warn or error (line 2)`,
				`directory.url: required`,
				`rules.password.profile: "nt8" is not one of the profiles (btc5, nt7) (line 5)`,
				`rules.units[0].kind: "nope" is not a unit kind`,
				`(line 8)`,
				`rules.units[0].abbr: "Q!" must be lower-case`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, errs := parseConfig([]byte(tt.yaml))
			if r != nil || len(errs) == 0 {
				t.Fatal("no problem reported")
			}
			text := errs.Error()
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems:\n%s\nlack %q", text, w)
				}
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret-bind\n"), 0o600)
	example, _ := os.ReadFile("../../config.example.yaml")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, bytes.Replace(example, []byte("/etc/ldapsync/bind-password"), []byte(pw), 1), 0o600)

	out, errOut, code := ldapsync(t, nil, "config", "check", "--config", good)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check of the example: %d %s %s", code, out, errOut)
	}
	// The config path may come from the environment.
	if _, _, code := ldapsync(t, map[string]string{"LDAPSYNC_CONFIG": good}, "config", "check"); code != 0 {
		t.Errorf("LDAPSYNC_CONFIG not honoured: %d", code)
	}
	os.Remove(pw)
	_, errOut, code = ldapsync(t, nil, "config", "check", "--config", good)
	if code != exitFailure || !strings.Contains(errOut, "directory.bind_password") || strings.Contains(errOut, "s3cret") {
		t.Errorf("missing password file: %d %s", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	out, _, code := ldapsync(t, nil, "--help")
	if code != 0 {
		t.Fatal(code)
	}
	for _, c := range commands {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("ldapsync --help does not list %s", c.name)
		}
		cout, _, code := ldapsync(t, nil, c.name, "--help")
		if code != 0 || !strings.HasPrefix(cout, "Usage: ldapsync "+c.name) {
			t.Errorf("ldapsync %s --help: %d\n%s", c.name, code, cout)
		}
	}
	if _, errOut, code := ldapsync(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %s", code, errOut)
	}
	if _, _, code := ldapsync(t, nil, "plan", "--no-such-flag"); code != exitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := ldapsync(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "ldapsync ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestParseClock(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	clock, err := parseClock("2027-05-01", loc, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := clock().In(loc).Format("2006-01-02 15:04"); got != "2027-05-01 00:00" {
		t.Errorf("clock = %s", got)
	}
	if _, err := parseClock("01/05/2027", loc, time.Now); err == nil {
		t.Error("day-first --now accepted: ambiguous on a command line")
	}
}
