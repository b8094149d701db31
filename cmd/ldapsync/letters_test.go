package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// lettersConfig writes the example config with its state in a temporary
// directory and recipients (the literal YAML value) on sotttt, and
// returns its path, its state directory and the line of the recipients.
func lettersConfig(t *testing.T, recipients string) (path, state string, line int) {
	t.Helper()
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	state = t.TempDir()
	data, err := yamlpatch.Patch(example, map[string]any{
		"sync.state_dir":   state,
		"sync.letters_dir": filepath.Join(state, "letters"),
		"sync.inbox.dir":   filepath.Join(state, "inbox"),
	})
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if recipients != "" {
		m := regexp.MustCompile(`\n( +)abbr: sotttt\b.*\n`).FindStringSubmatchIndex(text)
		if m == nil {
			t.Fatal("no sotttt in the example")
		}
		i, indent := m[1], text[m[2]:m[3]]
		line = strings.Count(text[:i], "\n") + 1
		text = text[:i] + indent + "age_recipients: " + recipients + "\n" + text[i:]
	}
	path = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, state, line
}

// writeLetter writes a letter as the engine does, for uid in unit.
func writeLetter(t *testing.T, cfgPath, unit, uid, eventID, pw string) string {
	t.Helper()
	l, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := l.Rules.Units.Lookup(unit)
	if !ok {
		t.Fatalf("no unit %s", unit)
	}
	path, err := (&sync.Letters{Dir: l.Cfg.Sync.Letters()}).Write(sync.Letter{
		Issued: time.Now(), Event: &sync.Event{ID: eventID, EmployeeID: "NV1", Reply: sync.Reply{Name: "Trần Thị Mai"}},
		UID: uid, FullName: "Lê Văn Tuấn", Unit: u, Password: secret.New(pw), Profile: l.Rules.Password,
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLetters_List(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg, state, _ := lettersConfig(t, "["+id.Recipient().String()+"]")
	out, errOut, code := ldapsync(t, nil, "letters", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "no letters waiting for delivery") {
		t.Fatalf("empty: exit %d\n%s%s", code, out, errOut)
	}
	passwords := []string{"Mk-sotttt-1!", "Mk-ttcn-2!", "Mk-sonv-3!"}
	letters := []string{
		writeLetter(t, cfg, "sotttt", "quoctrang", "E1", passwords[0]),
		writeLetter(t, cfg, "ttcntttt", "thiha", "E2", passwords[1]), // inherits sotttt's recipient
		writeLetter(t, cfg, "sonv_vp", "vantuan", "E3", passwords[2]),
	}
	if want := filepath.Join(state, "letters", "ttcntttt", "thiha_E2.txt.age"); letters[1] != want {
		t.Errorf("letter %s; want %s", letters[1], want)
	}

	out, errOut, code = ldapsync(t, nil, "letters", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range [][]string{
		{"sonv_vp", "vantuan", "E3", "no", letters[2]},
		{"sotttt", "quoctrang", "E1", "age", letters[0]},
		{"ttcntttt", "thiha", "E2", "age", letters[1]},
	} {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 6 && slices.Equal(f[1:], want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %v in:\n%s", want, out)
		}
	}
	// Nothing of any letter's content, encrypted or not.
	for _, s := range append(passwords, "Mật khẩu", "Kính gửi", "Trần Thị Mai") {
		if strings.Contains(out+errOut, s) {
			t.Errorf("the list shows %q:\n%s", s, out)
		}
	}

	out, _, code = ldapsync(t, nil, "letters", "--config", cfg, "--output", "json")
	var got []sync.LetterFile
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if len(got) != 3 || got[0].UID != "vantuan" || got[0].Encrypted || got[0].File != letters[2] ||
		got[1].Unit != "sotttt" || !got[1].Encrypted || got[2].EventID != "E2" || got[2].Written.IsZero() {
		t.Errorf("json: %+v", got)
	}
	for _, s := range passwords {
		if strings.Contains(out, s) {
			t.Errorf("the JSON list shows a password:\n%s", out)
		}
	}
	if _, _, code := ldapsync(t, nil, "letters", "--config", cfg, "--output", "yaml"); code != exitUsage {
		t.Errorf("--output yaml: exit %d", code)
	}
}

func TestLetters_Done(t *testing.T) {
	cfg, state, _ := lettersConfig(t, "")
	a := writeLetter(t, cfg, "sotttt", "quoctrang", "E1", "Mk-1!")
	b := writeLetter(t, cfg, "sonv_vp", "vantuan", "E3", "Mk-2!")
	c := writeLetter(t, cfg, "vhtt_ns", "thiha", "E4", "Mk-3!")
	outside := filepath.Join(t.TempDir(), "x_E1.txt")
	os.WriteFile(outside, []byte("not a letter"), 0o600)

	tests := []struct {
		name    string
		args    []string
		code    int
		errHas  string
		removed []string
	}{
		{"no file", []string{"done"}, exitUsage, "Usage: ldapsync letters", nil},
		{"not a subcommand", []string{"sent", a}, exitUsage, "Usage: ldapsync letters", nil},
		{"a file outside the letters directory, with a letter", []string{"done", a, outside}, exitFailure,
			outside + " is not in a unit's directory of the letters directory", nil},
		{"the audit log", []string{"done", sync.AuditPath(sync.Config{StateDir: state})}, exitFailure, "is not in a unit's directory", nil},
		{"two letters", []string{"done", "--by", "mai", a, b}, exitOK, "", []string{a, b}},
		{"operator from sudo", []string{"done", c}, exitOK, "", []string{c}},
		{"delivered already", []string{"done", a}, exitFailure, "no such letter", nil},
	}
	env := map[string]string{"SUDO_USER": "hoa", "USER": "root"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ldapsync(t, env, append([]string{"letters", "--config", cfg}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.errHas) {
				t.Fatalf("exit %d; want %d with %q\n%s%s", code, tt.code, tt.errHas, out, errOut)
			}
			for _, p := range tt.removed {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s still there", p)
				}
				if !strings.Contains(out, p) {
					t.Errorf("output does not name %s:\n%s", p, out)
				}
			}
		})
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the file outside was removed: %v", err)
	}
	out, errOut, code := ldapsync(t, nil, "audit", "verify", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	recs := readAudit(t, sync.AuditPath(sync.Config{StateDir: state}))
	var got []string
	for _, r := range recs {
		if r.Action == sync.ActionLetterDelivered {
			got = append(got, fmt.Sprintf("%s %s %s by %s", r.Detail["letter"], r.UID, r.EventID, r.RequestedBy))
		}
	}
	want := []string{a + " quoctrang E1 by mai", b + " vantuan E3 by mai", c + " thiha E4 by hoa"}
	if !slices.Equal(got, want) {
		t.Errorf("audit records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With a daemon running, "letters done" goes through its control socket:
// the daemon, which holds the audit log, records and removes.
func TestLetters_DoneWithADaemon(t *testing.T) {
	cfg, state, _ := lettersConfig(t, "")
	a := writeLetter(t, cfg, "sotttt", "quoctrang", "E1", "Mk-1!")
	l, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sync.Open(sync.Options{Config: l.Cfg.Sync, Rules: l.Rules, Layout: layout(l.Cfg.Directory), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	srv, err := api.Listen(api.SocketPath(state), api.Handler(eng, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out, errOut, code := ldapsync(t, nil, "letters", "--config", cfg, "done", "--by", "mai", a)
	if code != exitOK || !strings.Contains(out, "delivered and removed") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("letter still there: %v", err)
	}
	audit, _ := os.ReadFile(filepath.Join(state, "audit.jsonl"))
	if !strings.Contains(string(audit), `"action":"letter_delivered"`) || !strings.Contains(string(audit), `"requested_by":"mai (as `) {
		t.Errorf("audit:\n%s", audit)
	}
}

func TestLetters_BadRecipient(t *testing.T) {
	secretKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, line := lettersConfig(t, "[age1notakey, "+secretKey.String()+"]")
	example, err := loadConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(example.Rules.Units.Roots, func(u *rules.Unit) bool { return u.Account() == "sotttt" })
	_, errOut, code := ldapsync(t, nil, "letters", "--config", cfg)
	if code != exitUsage {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("rules.units[%d].age_recipients[0]: malformed recipient %q", i, "age1notakey"),
		fmt.Sprintf("rules.units[%d].age_recipients[1]: this is a secret key, not a recipient: put its public key here (age-keygen -y) and keep the secret key off this host (line %d)", i, line),
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, secretKey.String()) {
		t.Errorf("the secret key is in the error:\n%s", errOut)
	}
}
