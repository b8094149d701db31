package sync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// rulesWithRecipients compiles the example's rules with the given age
// recipients set on units, by account name.
func rulesWithRecipients(t testing.TB, recipients map[string][]string) *rules.Rules {
	t.Helper()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := struct {
		Rules rules.Config `yaml:"rules"`
	}{Rules: rules.DefaultConfig()}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	tree, errs := rules.BuildUnitTree(doc.Rules.Units, "rules.units")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for account, keys := range recipients {
		u, ok := tree.Lookup(account)
		if !ok {
			t.Fatalf("no unit %s in the example", account)
		}
		u.AgeRecipients = keys
	}
	r, errs := rules.New(doc.Rules, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sshIdentity returns a new Ed25519 SSH key as an age identity and its
// authorized_keys line.
func sshIdentity(t testing.TB) (age.Identity, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := agessh.NewEd25519Identity(priv)
	if err != nil {
		t.Fatal(err)
	}
	var wire []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), pub} {
		wire = binary.BigEndian.AppendUint32(wire, uint32(len(part)))
		wire = append(wire, part...)
	}
	return id, "ssh-ed25519 " + base64.StdEncoding.EncodeToString(wire) + " letters@sonv"
}

// letterFor is a letter for uid in unit, issued for event id.
func letterFor(t testing.TB, r *rules.Rules, unit, uid, id, pw string) Letter {
	t.Helper()
	u, ok := r.Units.Lookup(unit)
	if !ok {
		t.Fatalf("no unit %s", unit)
	}
	return Letter{
		Issued: t0, Event: &Event{ID: id, EmployeeID: "NV1", Reply: Reply{Name: "Trần Thị Mai"}},
		UID: uid, FullName: "Lê Văn Tuấn", Unit: u, Password: secret.New(pw), Profile: r.Password,
	}
}

// filesIn returns the names of every file under dir.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return err
	})
	return names
}

// checkSealed checks a letter's and its directory's modes.
func checkSealed(t *testing.T, path string) {
	t.Helper()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", path, err, st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v, mode %v; want 0700", filepath.Dir(path), err, st.Mode().Perm())
	}
}

func TestLetters_Write(t *testing.T) {
	dept, office := newIdentity(t), newIdentity(t)
	sshID, sshKey := sshIdentity(t)
	r := rulesWithRecipients(t, map[string][]string{
		"sonv":    {dept.Recipient().String(), sshKey},
		"ubnd_ns": {dept.Recipient().String()},
		"vhtt_ns": {office.Recipient().String()},
	})
	const pw = "Q$u0c#T&r'1n*g"
	tests := []struct {
		name, unit string
		ids        []age.Identity // each must open the letter; nil: a plain letter
		wrong      age.Identity   // must not open it
	}{
		{"the unit's own recipient", "sonv", []age.Identity{dept, sshID}, office},
		{"inherited from the department", "sonv_vp", []age.Identity{dept, sshID}, office},
		{"its own rather than its district's", "vhtt_ns", []age.Identity{office}, dept},
		{"no recipient: a plain letter", "sotttt", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Letters{Dir: filepath.Join(t.TempDir(), "letters")}
			lt := letterFor(t, r, tt.unit, "tuanlv", "HR/2026:7", pw)
			path, err := l.Write(lt)
			if err != nil {
				t.Fatal(err)
			}
			ext := ".txt"
			if tt.ids != nil {
				ext = ".txt.age"
			}
			want := filepath.Join(l.Dir, tt.unit, "tuanlv_HR_2026_7"+ext)
			if path != want || l.Path(tt.unit, "tuanlv", lt.Event) != want || l.PathFor(lt.Unit, "tuanlv", lt.Event) != want {
				t.Errorf("Write %s, Path %s, PathFor %s; want %s", path, l.Path(tt.unit, "tuanlv", lt.Event), l.PathFor(lt.Unit, "tuanlv", lt.Event), want)
			}
			checkSealed(t, path)
			// One file in the unit's directory: no plaintext beside the
			// encrypted letter, no temporary file left.
			if got := filesIn(t, l.Dir); !slices.Equal(got, []string{filepath.Join(tt.unit, filepath.Base(want))}) {
				t.Errorf("files in the letters directory: %v", got)
			}
			data, _ := os.ReadFile(path)
			if tt.ids == nil {
				uid, got, err := ReadLetter(path)
				if err != nil || uid != "tuanlv" || got.Reveal() != pw {
					t.Errorf("ReadLetter: %s %v %v", uid, got.Reveal() == pw, err)
				}
				return
			}
			if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) || bytes.Contains(data, []byte(pw)) || bytes.Contains(data, []byte("tuanlv")) {
				t.Errorf("the file is not an age file or holds the letter in clear:\n%q", data)
			}
			for _, id := range tt.ids {
				uid, got, err := ReadLetterWith(path, id)
				if err != nil || uid != "tuanlv" || got.Reveal() != pw {
					t.Errorf("ReadLetterWith %T: %s, password read %v, %v", id, uid, got.Reveal() == pw, err)
				}
			}
			if _, _, err := ReadLetterWith(path, tt.wrong); err == nil {
				t.Error("another unit's identity opened the letter")
			}
			if _, _, err := ReadLetter(path); err == nil || !strings.Contains(err.Error(), "encrypted with age") {
				t.Errorf("ReadLetter of an encrypted letter: %v", err)
			}
		})
	}
}

// A replay rewrites the same letter even when the unit's recipients changed
// in between (a reload): the unit keeps one letter, the last one written.
func TestLetters_WriteReplaysOverTheOtherForm(t *testing.T) {
	id := newIdentity(t)
	plain := rulesWithRecipients(t, nil)
	sealed := rulesWithRecipients(t, map[string][]string{"sotttt": {id.Recipient().String()}})
	l := &Letters{Dir: filepath.Join(t.TempDir(), "letters")}
	for i, step := range []struct {
		r    *rules.Rules
		pw   string
		want string
	}{
		{plain, "Mk-lan-1!", "sotttt/quoctrang_E1.txt"},
		{sealed, "Mk-lan-2!", "sotttt/quoctrang_E1.txt.age"},
		{sealed, "Mk-lan-3!", "sotttt/quoctrang_E1.txt.age"},
		{plain, "Mk-lan-4!", "sotttt/quoctrang_E1.txt"},
	} {
		path, err := l.Write(letterFor(t, step.r, "sotttt", "quoctrang", "E1", step.pw))
		if err != nil {
			t.Fatal(err)
		}
		if got := filesIn(t, l.Dir); !slices.Equal(got, []string{step.want}) {
			t.Fatalf("write %d: files %v; want %s", i+1, got, step.want)
		}
		_, pw, err := ReadLetterWith(path, id)
		if err != nil || pw.Reveal() != step.pw {
			t.Errorf("write %d: the letter holds another password (%v)", i+1, err)
		}
	}
}

// Through the engine: a hire in a unit whose department has a recipient
// gets an encrypted letter with the password the directory holds, and no
// file under the letters directory holds that password in clear.
func TestEngine_EncryptedLetter(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	id := newIdentity(t)
	e.SetRules(rulesWithRecipients(t, map[string][]string{"sonv": {id.Recipient().String()}}))
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "sonv_vp")+row("E2", "NV2", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)
	if _, rep, err := e.Process(context.Background()); err != nil || rep.Done != 2 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	got := filesIn(t, cfg.Letters())
	if want := []string{"sonv_vp/vantuan_E1.txt.age", "sotttt/quoctrang_E2.txt"}; !slices.Equal(got, want) {
		t.Fatalf("letters %v; want %v", got, want)
	}
	sealed := filepath.Join(cfg.Letters(), "sonv_vp", "vantuan_E1.txt.age")
	checkSealed(t, sealed)
	uid, pw, err := ReadLetterWith(sealed, id)
	if err != nil || uid != "vantuan" || pw.Reveal() != f.passwords[personDN("vantuan")] {
		t.Fatalf("letter: %s, password matches %v, %v", uid, pw.Reveal() == f.passwords[personDN("vantuan")], err)
	}
	data, _ := os.ReadFile(sealed)
	if bytes.Contains(data, []byte(pw.Reveal())) {
		t.Error("the encrypted letter holds the password in clear")
	}
	if p := e.applier.Letters.Path("sonv_vp", "vantuan", &Event{ID: "E1"}); p != sealed {
		t.Errorf("Path %s; want %s", p, sealed)
	}
	audit, _ := os.ReadFile(AuditPath(cfg))
	if !strings.Contains(string(audit), `"letter":"`+sealed+`"`) || strings.Contains(string(audit), pw.Reveal()) {
		t.Errorf("audit log:\n%s", audit)
	}
}

func TestListLetters(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	id := newIdentity(t)
	e.SetRules(rulesWithRecipients(t, map[string][]string{"sotttt": {id.Recipient().String()}}))
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "sonv_vp")+row("HR:2", "NV2", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)
	if _, _, err := e.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A letter the audit log does not know, of an account with "_" in its
	// name: the file name is split at the first "_".
	stray := filepath.Join(cfg.Letters(), "sonv_vp", "a_b_E9.txt")
	if err := os.WriteFile(stray, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Written after the letter beside it, by the file system's clock.
	st, err := os.Stat(filepath.Join(cfg.Letters(), "sonv_vp", "vantuan_E1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(stray, st.ModTime(), st.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Not letters: a temporary file, a stray file.
	os.WriteFile(filepath.Join(cfg.Letters(), "sonv_vp", ".vantuan_E1.txt.123"), nil, 0o600)
	os.WriteFile(filepath.Join(cfg.Letters(), "README"), nil, 0o600)

	got, err := ListLetters(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		file, unit, uid, source, event string
		encrypted                      bool
	}
	var rows []row
	for _, lf := range got {
		rows = append(rows, row{lf.File, lf.Unit, lf.UID, lf.Source, lf.EventID, lf.Encrypted})
		if lf.Written.IsZero() {
			t.Errorf("%s: no time written", lf.File)
		}
	}
	want := []row{
		{filepath.Join(cfg.Letters(), "sonv_vp", "vantuan_E1.txt"), "sonv_vp", "vantuan", SourceInbox, "E1", false},
		{filepath.Join(cfg.Letters(), "sonv_vp", "a_b_E9.txt"), "sonv_vp", "a", "", "b_E9", false},
		{filepath.Join(cfg.Letters(), "sotttt", "quoctrang_HR_2.txt.age"), "sotttt", "quoctrang", SourceInbox, "HR:2", true},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("ListLetters:\n%+v\nwant\n%+v", rows, want)
	}
	if got, err := ListLetters(Config{StateDir: t.TempDir()}); err != nil || len(got) != 0 {
		t.Errorf("no letters directory: %v %v", got, err)
	}
}

func TestEngine_LettersDone(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	id := newIdentity(t)
	e.SetRules(rulesWithRecipients(t, map[string][]string{"sotttt": {id.Recipient().String()}}))
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "sonv_vp")+row("E2", "NV2", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)
	if _, _, err := e.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(cfg.Letters(), "sonv_vp", "vantuan_E1.txt")
	sealed := filepath.Join(cfg.Letters(), "sotttt", "quoctrang_E2.txt.age")
	outside := filepath.Join(t.TempDir(), "x_E1.txt")
	os.WriteFile(outside, nil, 0o600)
	link := filepath.Join(cfg.Letters(), "sotttt", "link_E3.txt")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(cfg.Letters(), "sotttt", "deeper"), 0o700)
	deeper := filepath.Join(cfg.Letters(), "sotttt", "deeper", "x_E4.txt")
	os.WriteFile(deeper, nil, 0o600)
	top := filepath.Join(cfg.Letters(), "x_E5.txt")
	os.WriteFile(top, nil, 0o600)
	before, _ := os.ReadFile(AuditPath(cfg))

	refused := []struct {
		name, path, msg string
	}{
		{"outside the letters directory", outside, "is not in a unit's directory of the letters directory"},
		{"the audit log", AuditPath(cfg), "is not in a unit's directory"},
		{"climbing out", filepath.Join(cfg.Letters(), "sotttt", "..", "..", "audit.jsonl"), "is not in a unit's directory"},
		{"right under the letters directory", top, "is not in a unit's directory"},
		{"below a unit's directory", deeper, "is not in a unit's directory"},
		{"not a letter's name", filepath.Join(cfg.Letters(), "sotttt", ".quoctrang_E2.txt.age.1"), "is not a letter"},
		{"a symbolic link", link, "is not a regular file"},
		{"no such letter", filepath.Join(cfg.Letters(), "sotttt", "nobody_E9.txt"), "no such letter"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := e.LettersDone([]string{plain, tt.path}, "mai")
			if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "no letter was removed") {
				t.Errorf("LettersDone %s: %v; want %q", tt.path, err, tt.msg)
			}
		})
	}
	if err := e.LettersDone([]string{plain}, ""); err == nil {
		t.Error("LettersDone without an operator")
	}
	for _, p := range []string{plain, outside, deeper, top} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
	if after, _ := os.ReadFile(AuditPath(cfg)); !bytes.Equal(before, after) {
		t.Errorf("refusals were audited:\n%s", after[len(before):])
	}

	// Relative paths and a path given twice are fine.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.LettersDone([]string{plain, rel, sealed}, "mai"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{plain, sealed} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	recs := readAuditRecords(t, AuditPath(cfg))
	var delivered []AuditRecord
	for _, r := range recs {
		if r.Action == ActionLetterDelivered {
			delivered = append(delivered, r)
		}
	}
	if len(delivered) != 2 {
		t.Fatalf("%d letter_delivered records; want 2", len(delivered))
	}
	for i, want := range []struct{ letter, uid, event string }{{plain, "vantuan", "E1"}, {sealed, "quoctrang", "E2"}} {
		r := delivered[i]
		if r.Detail["letter"] != want.letter || r.UID != want.uid || r.EventID != want.event || r.Source != SourceInbox ||
			r.RequestedBy != "mai" || !r.Time.Equal(t0) {
			t.Errorf("record %d: %+v; want %+v by mai", i, r, want)
		}
	}
	af, _ := os.Open(AuditPath(cfg))
	defer af.Close()
	if _, _, err := VerifyAudit(af); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	if err := e.LettersDone([]string{plain}, "mai"); err == nil || !strings.Contains(err.Error(), "delivered already?") {
		t.Errorf("delivered twice: %v", err)
	}
}

// readAuditRecords reads every record of the audit log at path.
func readAuditRecords(t *testing.T, path string) []AuditRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []AuditRecord
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var r AuditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// With the password page's address, a letter says where to change the
// first password, in Vietnamese with the English beneath, and that the
// account works everywhere only after that; ReadLetter reads it as before.
func TestLetters_WritePageURL(t *testing.T) {
	r := rulesWithRecipients(t, nil)
	const pw = "Q$u0c#T&r'1n*g"
	const url = "https://ldapsync.example.gov.vn/password"
	for _, page := range []string{url, ""} {
		t.Run(cmpOrNone(page), func(t *testing.T) {
			l := &Letters{Dir: filepath.Join(t.TempDir(), "letters"), PageURL: page}
			path, err := l.Write(letterFor(t, r, "sotttt", "tuanlv", "HR/2026:7", pw))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			lines := []string{
				"Nếu ứng dụng không yêu cầu đổi mật khẩu, đổi mật khẩu tại: " + url + "\n" +
					"(If your application does not ask you to change it, change it at: " + url + ")\n",
				"Tài khoản chỉ dùng được với tất cả các ứng dụng sau khi đã đổi mật khẩu lần đầu.",
				"(The account is enabled for all applications only after this first change.)",
			}
			for _, line := range lines {
				if strings.Contains(text, line) != (page != "") {
					t.Errorf("with page %q, the letter has %q: %v\n%s", page, line, !(page != ""), text)
				}
			}
			if !strings.Contains(text, "\nKhông cho người khác biết mật khẩu") {
				t.Errorf("the letter lost its closing lines:\n%s", text)
			}
			uid, got, err := ReadLetter(path)
			if err != nil || uid != "tuanlv" || got.Reveal() != pw {
				t.Errorf("ReadLetter: %s, password read %v, %v", uid, got.Reveal() == pw, err)
			}
		})
	}
}

func cmpOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return "url"
}
