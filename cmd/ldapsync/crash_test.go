package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/sync"
)

// buildBinary builds ldapsync once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ldapsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A kill -9 of a real ldapsync process in the window between a directory
// write and its audit record loses no record: after a restart, every entry,
// password and membership in the directory has its audit record naming the
// operation, no intent is left without an outcome, every letter's password
// binds, and "ldapsync audit verify" passes. The process is stopped by
// LDAPSYNC_TEST_PAUSE_AFTER_WRITES exactly after the directory accepted its
// n-th operation, and killed there with SIGKILL.
func TestApply_KillNineBetweenWriteAndAudit(t *testing.T) {
	bin := buildBinary(t)
	now := testclock.T0().Format(time.RFC3339)
	effective := testclock.ISO(2026, 11, 2)
	var csv strings.Builder
	csv.WriteString("event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n")
	for i, name := range []string{"Nguyễn Quốc Trạng", "Lê Văn Tuấn", "Trần Thị Lan"} {
		fmt.Fprintf(&csv, "K%d,hire,%s,NV%d,%s,sotttt,Chuyên viên,0259 1,mail;eoffice,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n", i, effective, i, name)
	}
	// Three hires are six operations: three creates, each carrying its
	// first password (the harness's slapd hashes cleartext: one write),
	// then the three group changes in one batch.
	for _, n := range []int{1, 2, 3, 4, 6} {
		t.Run(fmt.Sprintf("killed after write %d", n), func(t *testing.T) {
			srv := slapdtest.New(t, slapdtest.Options{})
			cfg, state := harnessConfig(t, srv)
			in := filepath.Join(t.TempDir(), "hires.csv")
			if err := os.WriteFile(in, []byte(csv.String()), 0o600); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(bin, "apply", "--config", cfg, "--now", now, in)
			cmd.Env = append(os.Environ(), EnvPauseAfterWrites+"="+fmt.Sprint(n))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			paused := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if strings.Contains(sc.Text(), "paused after directory write") {
						paused <- sc.Text()
						break
					}
				}
				io.Copy(io.Discard, stderr)
				close(paused)
			}()
			select {
			case line, ok := <-paused:
				if !ok {
					t.Fatal("ldapsync ended without reaching the write")
				}
				t.Log(line)
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("ldapsync never paused")
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()

			out, err := exec.Command(bin, "apply", "--config", cfg, "--now", now, in).CombinedOutput()
			if err != nil {
				t.Fatalf("apply after the crash: %v\n%s", err, out)
			}
			if out, err := exec.Command(bin, "audit", "verify", "--config", cfg).CombinedOutput(); err != nil {
				t.Fatalf("audit verify: %v\n%s", err, out)
			}

			records := readAudit(t, filepath.Join(state, "audit.jsonl"))
			has := func(action, uid string) bool {
				for _, r := range records {
					if r.Action == action && r.UID == uid {
						return true
					}
				}
				return false
			}
			outcome := map[uint64]bool{}
			for _, r := range records {
				if r.Intent != 0 {
					outcome[r.Intent] = true
				}
			}
			for _, r := range records {
				if r.Action == sync.ActionIntent && !outcome[r.Seq] {
					t.Errorf("intent %d (%s %s) has no outcome", r.Seq, r.Op, r.UID)
				}
			}
			people := 0
			for _, block := range strings.Split(dump(t, srv), "\n\n") {
				uid := attr(block, "uid")
				if !strings.Contains(block, "dn: uid=") || !strings.Contains(block, ",ou=people,") {
					continue
				}
				people++
				if !has("create", uid) {
					t.Errorf("%s is in the directory without a create record", uid)
				}
				issued := false
				for _, r := range records {
					issued = issued || r.UID == uid && r.IssuedPassword()
				}
				if !issued {
					t.Errorf("%s has a password without a record of its issue", uid)
				}
				letters, _ := filepath.Glob(filepath.Join(state, "letters", "sotttt", uid+"_*.txt"))
				if len(letters) != 1 {
					t.Errorf("%s: %d letters, want 1", uid, len(letters))
					continue
				}
				_, pw, err := sync.ReadLetter(letters[0])
				if err != nil {
					t.Fatal(err)
				}
				dn := "uid=" + uid + ",ou=people," + srv.BaseDN
				if out, err := exec.Command("ldapwhoami", "-x", "-H", srv.URL, "-D", dn, "-w", pw.Reveal(), "-e", "ppolicy").CombinedOutput(); err != nil {
					t.Errorf("%s: the letter's password does not bind: %v\n%s", uid, err, out)
				}
			}
			for _, group := range []string{"mail", "eoffice", "active"} {
				for _, block := range strings.Split(dump(t, srv), "\n\n") {
					if !strings.HasPrefix(block, "dn: cn="+group+",ou=groups,") {
						continue
					}
					for _, line := range strings.Split(block, "\n") {
						if m, ok := strings.CutPrefix(line, "member: uid="); ok {
							uid, _, _ := strings.Cut(m, ",")
							if !has("groups", uid) {
								t.Errorf("%s is a member of %s without a groups record", uid, group)
							}
						}
					}
				}
			}
			if people != 3 {
				t.Errorf("%d people in the directory, want 3", people)
			}
		})
	}
}

// attr returns the first value of name in an LDIF block.
func attr(block, name string) string {
	for _, line := range strings.Split(block, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return v
		}
	}
	return ""
}

func readAudit(t *testing.T, path string) []sync.AuditRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []sync.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r sync.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}
