package main

import (
	"fmt"
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

// personBlock returns the entry of uid as the root DN reads it with the
// real ldapsearch, operational attributes included.
func personBlock(t *testing.T, srv *slapdtest.Server, uid string) string {
	t.Helper()
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", srv.URL, "-D", srv.RootDN, "-y", srv.RootPasswordFile,
		"-b", srv.BaseDN, "(uid="+uid+")", "*", "+").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(out)
}

// whoami binds as dn with the password in a sealed letter, with OpenLDAP's
// own client.
func whoami(t *testing.T, srv *slapdtest.Server, dn, letter string) error {
	t.Helper()
	_, pw, err := sync.ReadLetter(letter)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte(pw.Reveal()), 0o600)
	out, err := exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", dn, "-y", f).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// lock and restore reach the running daemon through its control socket
// and answer synchronously; a retirement dropped into its inbox locks the
// account at once and a return gives the same username back.
func TestDaemon_OperatorCommandsThroughTheSocket(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	fast(t, cfg)
	bin := buildBinary(t)
	start := testclock.T0()
	daemon := exec.Command(bin, "run", "--config", cfg, "--now", start.Format(time.RFC3339))
	var logs strings.Builder
	daemon.Stdout, daemon.Stderr = &logs, &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	waitFor(t, "the control socket", func() bool {
		_, err := api.Dial(api.SocketPath(state))
		return err == nil
	})
	if out, errOut, code := ldapsync(t, nil, "healthcheck", "--config", cfg); code != exitOK || !strings.Contains(out, "healthy") {
		t.Errorf("healthcheck of a running daemon: exit %d %s%s", code, out, errOut)
	}

	day := start.In(mustLoc(t)).Format(time.DateOnly)
	hdr := "event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n"
	dropFile(t, state, "hires.csv", hdr+
		"H1,hire,"+day+",NV1,Nguyễn Quốc Trạng,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n"+
		"H2,hire,"+day+",NV2,Lê Văn Tuấn,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n")
	letter := func(uid, event string) string {
		return filepath.Join(state, "letters", "sotttt", uid+"_"+event+".txt")
	}
	waitFor(t, "two accounts", func() bool {
		_, e1 := os.Stat(letter("quoctrang", "H1"))
		_, e2 := os.Stat(letter("vantuan", "H2"))
		return e1 == nil && e2 == nil && strings.Contains(personBlock(t, srv, "vantuan"), "memberOf:")
	})
	dn := "uid=quoctrang,ou=people," + srv.BaseDN

	out, errOut, code := ldapsync(t, map[string]string{"USER": "ops1"}, "lock", "quoctrang", "--config", cfg,
		"--reason", "compromised", "--note", "password seen on a phishing page", "--request", "SOC-2026-17")
	if code != exitOK || !strings.Contains(out, "lock quoctrang: done") {
		t.Fatalf("lock: exit %d\n%s\n%s", code, out, errOut)
	}
	block := personBlock(t, srv, "quoctrang")
	if attr(block, "ldapsyncStatus") != "locked" || !strings.HasPrefix(attr(block, "ldapsyncLockReason"), "compromised: password seen") || attr(block, "pwdAccountLockedTime") == "" {
		t.Fatalf("after lock:\n%s", block)
	}
	if err := whoami(t, srv, dn, letter("quoctrang", "H1")); err == nil {
		t.Fatalf("a locked account can bind")
	}
	// The daemon's clock is not the command's to move.
	if _, _, code := ldapsync(t, nil, "lock", "vantuan", "--config", cfg, "--reason", "spam", "--request", "x", "--now", "2030-01-01"); code != exitUsage {
		t.Errorf("--now against a running daemon: exit %d", code)
	}

	received := start.Add(-5 * time.Minute).Format(time.RFC3339)
	out, errOut, code = ldapsync(t, map[string]string{"USER": "ops1"}, "restore", "quoctrang", "--config", cfg, "--request", "REQ-9", "--received", received)
	if code != exitOK || !strings.Contains(out, "restore quoctrang: done") || !strings.Contains(out, "new password sealed in") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, out, errOut)
	}
	var restored string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "new password sealed in "); ok {
			restored = p
		}
	}
	if err := whoami(t, srv, dn, restored); err != nil {
		t.Errorf("bind with the restore's letter: %v", err)
	}
	if block := personBlock(t, srv, "quoctrang"); attr(block, "pwdReset") != "TRUE" || attr(block, "ldapsyncStatus") != "pending" {
		t.Errorf("after restore:\n%s", block)
	}
	if out, _, code := ldapsync(t, nil, "requests", "--config", cfg); code != exitOK || !strings.Contains(out, "no open requests") {
		t.Errorf("requests: exit %d\n%s", code, out)
	}

	// A retirement through the inbox, then a return: the same username.
	dropFile(t, state, "retire.csv", "event_id,type,effective,employee_id\nR1,retire,"+day+",NV2\n")
	waitFor(t, "the retirement's lock", func() bool { return attr(personBlock(t, srv, "vantuan"), "ldapsyncStatus") == "locked" })
	block = personBlock(t, srv, "vantuan")
	if attr(block, "ldapsyncDepartureKind") != "retire" || attr(block, "ldapsyncRevokeAt") == "" || !strings.HasPrefix(attr(block, "ldapsyncLockReason"), "retire") {
		t.Errorf("after retirement:\n%s", block)
	}
	dropFile(t, state, "return.csv", "event_id,type,effective,employee_id,applications\nB1,return,"+day+",NV2,mail;eoffice\n")
	waitFor(t, "the return", func() bool { _, err := os.Stat(letter("vantuan", "B1")); return err == nil })
	waitFor(t, "the account back, pending its new password's change", func() bool { return attr(personBlock(t, srv, "vantuan"), "ldapsyncStatus") == "pending" })
	if err := whoami(t, srv, "uid=vantuan,ou=people,"+srv.BaseDN, letter("vantuan", "B1")); err != nil {
		t.Errorf("bind after the return: %v", err)
	}
	if n := strings.Count(dump(t, srv), "employeeNumber: NV2\n"); n != 1 {
		t.Errorf("%d entries hold NV2, want the one account", n)
	}
	if _, _, code := ldapsync(t, nil, "audit", "verify", "--config", cfg); code != 0 {
		t.Error("audit chain broken")
	}
	audit, _ := os.ReadFile(filepath.Join(state, "audit.jsonl"))
	if !strings.Contains(string(audit), `"requested_by":"ops1`) {
		t.Errorf("the audit does not name the operator")
	}
}

func mustLoc(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// fast makes the daemon of the config at path poll its inbox often, and
// sweep never.
func fast(t *testing.T, path string) {
	t.Helper()
	data, _ := os.ReadFile(path)
	// No sweeps: the daemon's clock starts at the test clock while slapd
	// stamps real time, so a sweep would find new accounts idle for years
	// whenever the date guard moves the test clock ahead.
	data, err := yamlpatch.Patch(data, map[string]any{"sync.inbox.poll": "200ms", "sync.inbox.settle": "0", "sync.schedule.sweep": ""})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dropFile writes a file into the inbox under a dot-name and renames it.
func dropFile(t *testing.T, state, name, data string) {
	t.Helper()
	tmp := filepath.Join(state, "inbox", "."+name)
	if err := os.WriteFile(tmp, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(state, "inbox", name)); err != nil {
		t.Fatal(err)
	}
}
