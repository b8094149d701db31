package slapdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/openldap"
)

// alive reports whether a process with pid, or one in the group pgid when
// group is set, exists.
func alive(id int, group bool) bool {
	if group {
		id = -id
	}
	return !errors.Is(syscall.Kill(id, 0), syscall.ESRCH)
}

func TestServer_Stop(t *testing.T) {
	begin := time.Now()
	s := New(t, Options{})
	t.Logf("harness started in %v", time.Since(begin))

	pid := s.proc.cmd.Process.Pid
	if !alive(pid, true) {
		t.Fatalf("slapd (pid %d) is not running after New", pid)
	}
	out, err := exec.Command("ldapwhoami", "-x", "-H", s.URL, "-D", s.ServiceDN, "-y", s.ServicePasswordFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), s.ServiceDN) {
		t.Fatalf("ldapwhoami as the service account: %v\n%s", err, out)
	}
	fi, err := os.Stat(s.ServicePasswordFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("service password file: %v, mode %v; want mode 0600", err, fi.Mode())
	}
	if len(strings.TrimPrefix(s.LDAPI, "ldapi://")) > 100 {
		t.Errorf("ldapi socket path %q is too long for sun_path", s.LDAPI)
	}

	s.Stop()
	if s.Running() {
		t.Error("Running after Stop")
	}
	if alive(pid, true) {
		t.Errorf("process group %d still has a process after Stop", pid)
	}
	s.Stop() // a second Stop, as t.Cleanup will do, is harmless
}

func TestStart_ownDir(t *testing.T) {
	if Available() != nil {
		New(t, Options{}) // skips, or fails under CI=true
	}
	s, err := Start(context.Background(), Options{BaseDN: "o=test"})
	if err != nil {
		t.Fatal(err)
	}
	dir, sock := s.Dir, s.sockDir
	if _, err := os.Stat(filepath.Join(dir, "slapd.d")); err != nil {
		t.Fatalf("no configuration in %s: %v", dir, err)
	}
	s.Stop()
	for _, d := range []string{dir, sock} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after Stop (err %v)", d, err)
		}
	}
}

func TestServer_Restart(t *testing.T) {
	s := New(t, Options{})
	whoami := func() error {
		return exec.Command("ldapwhoami", "-x", "-H", s.URL, "-D", s.ServiceDN, "-y", s.ServicePasswordFile).Run()
	}
	tests := []struct {
		name string
		down func()
		up   func(context.Context) error
	}{
		{"restart", func() {}, s.Restart},
		{"kill and start again", s.Kill, s.StartAgain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := s.proc.cmd.Process.Pid
			tt.down()
			begin := time.Now()
			if err := tt.up(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("back up in %v", time.Since(begin))
			if alive(old, true) {
				t.Errorf("old slapd (pid %d) still running", old)
			}
			if err := whoami(); err != nil {
				t.Errorf("service account cannot bind after %s: %v", tt.name, err)
			}
		})
	}
}

func TestServer_Kill(t *testing.T) {
	s := New(t, Options{})
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	err := exec.Command("ldapwhoami", "-x", "-H", s.URL, "-D", s.ServiceDN, "-y", s.ServicePasswordFile).Run()
	if err == nil {
		t.Fatal("a bind succeeded while slapd was killed")
	}
}

// recorder is a testing.TB that records Fatalf and Skipf.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestRequireInstalled(t *testing.T) {
	missing := errors.New("slapdtest: OpenLDAP is not installed")
	tests := []struct {
		name       string
		ci         string
		err        error
		fail, skip bool
	}{
		{"missing under CI", "true", missing, true, false},
		{"missing elsewhere", "", missing, false, true},
		{"missing, CI=false", "false", missing, false, true},
		{"installed under CI", "true", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			requireInstalled(r, tt.err)
			if (r.fatal != "") != tt.fail || (r.skip != "") != tt.skip {
				t.Fatalf("fatal %q, skip %q; want fail %v, skip %v", r.fatal, r.skip, tt.fail, tt.skip)
			}
			if msg := r.fatal + r.skip; tt.err != nil && !strings.Contains(msg, "not installed") {
				t.Errorf("message %q does not say what is missing", msg)
			}
		})
	}
}

func TestStart_logFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "slapd.log")
	s := New(t, Options{LogFile: log})
	if err := exec.Command("ldapwhoami", "-x", "-H", s.URL, "-D", s.ServiceDN, "-y", s.ServicePasswordFile).Run(); err != nil {
		t.Fatal(err)
	}
	s.Stop() // flushes the log
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `BIND dn="`+s.ServiceDN+`"`) {
		t.Errorf("log lacks the service account's bind:\n%.2000s", b)
	}
	if err := s.Restart(context.Background()); err == nil {
		t.Error("Restart after Stop succeeded")
	}
}

// TestStart_TLS checks with the OpenLDAP client tools (GnuTLS on Debian)
// that the throwaway certificate works for ldaps:// and StartTLS, and that
// the client refuses it without the CA.
func TestStart_TLS(t *testing.T) {
	s := New(t, Options{TLS: true})
	if !strings.HasPrefix(s.LDAPSURL, "ldaps://127.0.0.1:") || s.CAFile == "" {
		t.Fatalf("LDAPSURL %q, CAFile %q", s.LDAPSURL, s.CAFile)
	}
	tests := []struct {
		name string
		ca   string
		args []string
		ok   bool
	}{
		{"ldaps", s.CAFile, []string{"-H", s.LDAPSURL}, true},
		{"StartTLS", s.CAFile, []string{"-H", s.URL, "-ZZ"}, true},
		{"ldaps without the CA", "/dev/null", []string{"-H", s.LDAPSURL}, false},
		{"StartTLS without the CA", "/dev/null", []string{"-H", s.URL, "-ZZ"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("ldapwhoami", append(tt.args, "-x", "-D", s.ServiceDN, "-y", s.ServicePasswordFile)...)
			cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+tt.ca, "LDAPTLS_REQCERT=demand")
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Fatalf("ldapwhoami: %v, want success %v\n%s", err, tt.ok, out)
			}
		})
	}
}

func TestStart_durable(t *testing.T) {
	for _, durable := range []bool{false, true} {
		s := New(t, Options{Durable: durable})
		out, err := exec.Command("ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", s.LDAPI,
			"-b", "olcDatabase={1}mdb,cn=config", "-s", "base", "olcDbNoSync").CombinedOutput()
		if err != nil {
			t.Fatalf("ldapsearch: %v\n%s", err, out)
		}
		if noSync := strings.Contains(string(out), "olcDbNoSync: TRUE"); noSync == durable {
			t.Errorf("Durable %v: cn=config says\n%s", durable, out)
		}
	}
}

// debianInit is where Debian's slapd package keeps the configuration its
// postinst loads into a new server.
const debianInit = "/usr/share/slapd/slapd.init.ldif"

// debianDatabaseAccess returns the olcAccess values of the mdb database in
// Debian's slapd.init.ldif, unfolded, with runs of spaces made one.
func debianDatabaseAccess(ldif string) []string {
	var rules []string
	inDB := false
	lines := strings.Split(strings.ReplaceAll(ldif, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
			i++
			l += lines[i][1:]
		}
		switch {
		case strings.HasPrefix(l, "dn: "):
			inDB = strings.HasPrefix(l, "dn: olcDatabase=mdb,")
		case inDB && strings.HasPrefix(l, "olcAccess:"):
			rules = append(rules, strings.Join(strings.Fields(strings.TrimPrefix(l, "olcAccess:")), " "))
		}
	}
	return rules
}

// The harness database has what a Debian 12 server has once part 50 is
// applied: ldapsync's rules first, then Debian's, exactly as Debian ships
// them.
func TestStart_accessRules(t *testing.T) {
	if data, err := os.ReadFile(debianInit); err == nil {
		want := debianDatabaseAccess(string(data))
		var got []string
		for _, r := range DebianAccess {
			_, rule, _ := strings.Cut(r, "}")
			got = append(got, rule)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("DebianAccess is\n%s\nbut %s has\n%s", strings.Join(got, "\n"), debianInit, strings.Join(want, "\n"))
		}
	} else {
		t.Logf("%v: DebianAccess not compared with Debian's file", err)
	}

	s := New(t, Options{})
	out, err := exec.Command("ldapsearch", "-Q", "-LLL", "-o", "ldif_wrap=no", "-Y", "EXTERNAL", "-H", s.LDAPI,
		"-b", databaseDN, "-s", "base", "olcAccess").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "olcAccess: "); ok {
			got = append(got, v)
		}
	}
	files, err := openldap.Render(s.Config().SetupParams(databaseDN))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		for _, l := range strings.Split(string(f.Data), "\n") {
			if v, ok := strings.CutPrefix(l, "olcAccess: "); ok {
				want = append(want, v)
			}
		}
	}
	n := len(want)
	if n == 0 {
		t.Fatal("the setup files have no access rules")
	}
	for i, r := range DebianAccess {
		_, rule, _ := strings.Cut(r, "}")
		want = append(want, fmt.Sprintf("{%d}%s", n+i, rule))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the database's access rules are\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An application's account binds with the password in its file, which
// only its owner reads.
func TestServer_AddApplication(t *testing.T) {
	s := New(t, Options{})
	file := filepath.Join(t.TempDir(), "app.password")
	dn, err := s.AddApplication(context.Background(), "demo-app", file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "cn=demo-app,ou=services," + s.BaseDN; dn != want {
		t.Errorf("DN %q, want %q", dn, want)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v; want mode 0600", err, fi)
	}
	out, err := exec.Command("ldapwhoami", "-x", "-H", s.URL, "-D", dn, "-y", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dn:"+dn) {
		t.Fatalf("ldapwhoami as the application: %v\n%s", err, out)
	}
	if _, err := s.AddApplication(context.Background(), "demo-app", filepath.Join(t.TempDir(), "again")); err == nil {
		t.Error("a second account of the same name was added")
	}
}
