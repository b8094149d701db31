package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
	"github.com/ldapsync/ldapsync/sync"
)

// The first login as an application that does not speak ppolicy sees it:
// OpenLDAP's own clients without the ppolicy control, as a mail server
// with Dovecot's auth_bind binds, and an application account's searches
// with the filters README's "What an application sees" gives (the login
// filter asks for the active group, the mail lookup does not). slapd lets
// a bind with a first password that must be changed through as a plain
// success, so the active group is the gate: a new account is pending and
// outside it until its user changes the password, then the daemon
// activates it within seconds, audited. A lock then refuses the bind and
// the login, and mail still finds the account.
func TestDaemon_FirstLoginAsAnApplicationSeesIt(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{}) // fails under CI=true without slapd
	cfg, state := harnessConfig(t, srv)
	fast(t, cfg)
	// The first-login gate's poll (sync.activation.poll, default 5s).
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if data, err = yamlpatch.Patch(data, map[string]any{"sync.activation": map[string]any{"poll": "1s"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(t.TempDir(), "demo-app.password")
	app, err := srv.AddApplication(context.Background(), "demo-app", appFile)
	if err != nil {
		t.Fatal(err)
	}

	bin := buildBinary(t)
	start := testclock.T0()
	daemon := exec.Command(bin, "run", "--config", cfg, "--now", start.Format(time.RFC3339))
	var logs strings.Builder
	daemon.Stdout, daemon.Stderr = &logs, &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		_ = daemon.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, "the control socket", func() bool {
		_, err := api.Dial(api.SocketPath(state))
		return err == nil
	})

	day := start.In(mustLoc(t)).Format(time.DateOnly)
	dropFile(t, state, "hires.csv", "event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n"+
		"H1,hire,"+day+",NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n")
	letter := filepath.Join(state, "letters", "sotttt", "quoctrang_H1.txt")
	const uid = "quoctrang"
	dn := "uid=" + uid + ",ou=people," + srv.BaseDN
	waitFor(t, "the hire", func() bool {
		_, err := os.Stat(letter)
		return err == nil && strings.Contains(personBlock(t, srv, uid), "memberOf: cn=mail,")
	})
	_, first, err := sync.ReadLetter(letter)
	if err != nil {
		t.Fatal(err)
	}

	// What a mail server does, with OpenLDAP's clients.
	bind := func(pw string) (string, int) {
		out, err := exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", dn, "-w", pw).CombinedOutput()
		return string(out), exitStatus(t, err)
	}
	appSearch := func(filter string) string {
		t.Helper()
		out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", srv.URL, "-D", app, "-y", appFile,
			"-b", "ou=people,"+srv.BaseDN, filter, "uid", "mail", "ldapsyncStatus").CombinedOutput()
		if err != nil {
			t.Fatalf("ldapsearch as the application %s: %v\n%s", filter, err, out)
		}
		return string(out)
	}
	login := "(&(uid=" + uid + ")(memberOf=cn=active,ou=groups," + srv.BaseDN + "))"
	lookup := "(uid=" + uid + ")"
	found := func(out string) bool { return strings.Contains(out, "dn: "+dn+"\n") }

	// The problem: without the control, slapd says nothing of the forced
	// change.
	if out, code := bind(first.Reveal()); code != 0 || !strings.Contains(out, "dn:"+dn) || strings.Contains(out, "must be changed") {
		t.Fatalf("ldapwhoami with the first password, no ppolicy control: exit %d\n%s", code, out)
	}
	// The gate: pending, outside the active group, so the login filter
	// finds nothing; the mail lookup finds the account.
	if block := personBlock(t, srv, uid); attr(block, "ldapsyncStatus") != "pending" || strings.Contains(block, "memberOf: cn=active,") {
		t.Errorf("a new account, before its first password is changed: want ldapsyncStatus pending, not in cn=active:\n%s", block)
	}
	if out := appSearch(login); found(out) {
		t.Errorf("the application's login filter finds a new account before its first password is changed:\n%s", out)
	}
	if out := appSearch(lookup); !found(out) || !strings.Contains(out, "mail: "+uid+"@") {
		t.Errorf("the application's mail lookup does not find the new account with its mail:\n%s", out)
	}

	// The user changes the first password with ldappasswd (NT 7: 8 or
	// more characters, upper and lower case, a digit, a special one).
	const chosen = "Hoa#Sen-2026x"
	if out, err := exec.Command("ldappasswd", "-x", "-H", srv.URL, "-D", dn, "-w", first.Reveal(), "-s", chosen).CombinedOutput(); err != nil {
		t.Fatalf("ldappasswd: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !found(appSearch(login)) {
		if time.Now().After(deadline) {
			t.Fatalf("the login filter does not find the account 15 s after its first password was changed:\n%s", personBlock(t, srv, uid))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := appSearch(login); !strings.Contains(out, "ldapsyncStatus: active\n") {
		t.Errorf("after the change, the application reads:\n%s\nwant ldapsyncStatus: active", out)
	}
	if out, code := bind(chosen); code != 0 || !strings.Contains(out, "dn:"+dn) {
		t.Errorf("ldapwhoami with the new password: exit %d\n%s", code, out)
	}
	// The activation is audited, under the first login's articles.
	waitFor(t, "the activation's audit record", func() bool {
		for _, r := range readAudit(t, filepath.Join(state, "audit.jsonl")) {
			if r.Action == string(sync.OpActivate) && r.UID == uid && r.Article == "BTC 4; NT 6.3.c" {
				return true
			}
		}
		return false
	})
	if _, _, code := ldapsync(t, nil, "audit", "verify", "--config", cfg); code != 0 {
		t.Error("audit chain broken")
	}

	// An operator's lock, through the daemon's control socket.
	out, errOut, code := ldapsync(t, map[string]string{"USER": "ops1"}, "lock", uid, "--config", cfg,
		"--reason", "compromised", "--note", "password seen on a phishing page", "--request", "SOC-2026-18")
	if code != exitOK || !strings.Contains(out, "lock "+uid+": done") {
		t.Fatalf("lock: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, code := bind(chosen); code != 49 {
		t.Errorf("ldapwhoami of a locked account: exit %d, want 49 (invalid credentials)\n%s", code, out)
	}
	if out := appSearch(login); found(out) {
		t.Errorf("the login filter finds a locked account:\n%s", out)
	}
	if out := appSearch(lookup); !found(out) || !strings.Contains(out, "mail: "+uid+"@") {
		t.Errorf("the mail lookup does not find the locked account with its mail (NT 6.1: mail still arrives):\n%s", out)
	}
}

// exitStatus returns a command's exit status: 0 when err is nil.
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}
