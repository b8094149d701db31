package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
)

// failoverConfig writes the config of one of two instances sharing inbox:
// its own state directory, its own lease holder name, short lease times.
func failoverConfig(t *testing.T, srv *slapdtest.Server, holder, inbox string) (path, state string) {
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
		"sync.inbox.dir":          inbox,
		"sync.inbox.poll":         "200ms",
		"sync.inbox.settle":       "0s",
		"sync.schedule.sweep":     "",
		"sync.lease.ttl":          "3s",
		"sync.lease.renew":        "1s",
		"sync.lease.holder":       holder,
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

// daemon is a running "ldapsync run" and its log.
type daemon struct {
	cmd   *exec.Cmd
	log   *syncbuf.Buffer
	state string
}

func startDaemon(t *testing.T, bin, cfg, state, now string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(bin, "run", "--config", cfg, "--now", now), log: &syncbuf.Buffer{}, state: state}
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
		if t.Failed() {
			t.Logf("log of %s:\n%s", cfg, d.log.String())
		}
	})
	return d
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hires returns a CSV of n hires, event ids and employee ids starting with
// prefix.
func hires(prefix string, n int) string {
	var b strings.Builder
	b.WriteString("event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n")
	given := []string{"Tuấn", "Lan", "Hoa", "Minh", "Dũng", "Hương", "Nam", "Thảo", "Phúc", "Vy"}
	for i := range n {
		fmt.Fprintf(&b, "%s%d,hire,%s,%s%d,Nguyễn Văn %s %s,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n",
			prefix, i, testclock.ISO(2026, 11, 2), prefix, i, string(rune('A'+i)), given[i%len(given)])
	}
	return b.String()
}

// dropInto writes a file into inbox as HR is asked to: under a dot-name,
// then renamed.
func dropInto(t *testing.T, inbox, name, data string) {
	t.Helper()
	tmp := filepath.Join(inbox, "."+name)
	if err := os.WriteFile(tmp, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(inbox, name)); err != nil {
		t.Fatal(err)
	}
}

// Two real daemons against one slapd, one shared inbox: only the lease
// holder applies, so every hire is created once; after a kill -9 of the
// leader the standby takes over within the lease's ttl and applies the
// next file, again once.
func TestRun_Failover(t *testing.T) {
	bin := buildBinary(t)
	srv := slapdtest.New(t, slapdtest.Options{})
	inbox := t.TempDir()
	now := testclock.T0().Format(time.RFC3339)
	cfgA, stateA := failoverConfig(t, srv, "instance-a", inbox)
	cfgB, stateB := failoverConfig(t, srv, "instance-b", inbox)

	a := startDaemon(t, bin, cfgA, stateA, now)
	waitUntil(t, 30*time.Second, "instance-a to take the lease", func() bool { return strings.Contains(a.log.String(), "leader: holding the lease") })
	b := startDaemon(t, bin, cfgB, stateB, now)
	waitUntil(t, 30*time.Second, "instance-b to stand by", func() bool { return strings.Contains(b.log.String(), "standby: another instance holds the lease") })

	people := func() map[string]int {
		uids := map[string]int{}
		for _, block := range strings.Split(dump(t, srv), "\n\n") {
			if strings.Contains(block, "dn: uid=") && strings.Contains(block, ",ou=people,") {
				uids[attr(block, "uid")]++
			}
		}
		return uids
	}
	creates := func() map[string]int {
		n := map[string]int{}
		for _, st := range []string{stateA, stateB} {
			if fi, err := os.Stat(filepath.Join(st, "audit.jsonl")); err != nil || fi.Size() == 0 {
				continue
			}
			for _, r := range readAudit(t, filepath.Join(st, "audit.jsonl")) {
				if r.Action == "create" {
					n[r.UID]++
				}
			}
		}
		return n
	}
	check := func(want int) {
		t.Helper()
		p, c := people(), creates()
		if len(p) != want || len(c) != want {
			t.Errorf("%d people in the directory, %d created in the audit logs; want %d", len(p), len(c), want)
		}
		for uid, n := range c {
			if n != 1 || p[uid] != 1 {
				t.Errorf("%s: %d create records, %d entries; want 1 of each", uid, n, p[uid])
			}
		}
	}

	const first, second = 8, 5
	dropInto(t, inbox, "first.csv", hires("A", first))
	waitUntil(t, 60*time.Second, "the first file's hires", func() bool {
		done, _ := filepath.Glob(filepath.Join(inbox, "done", "*first.csv"))
		return len(people()) == first && len(creates()) == first && len(done) == 1
	})
	time.Sleep(2 * time.Second) // let the standby have its chances to err
	check(first)
	if strings.Contains(b.log.String(), "batch processed") {
		t.Error("the standby processed a batch")
	}

	// kill -9 the leader: its lease runs out, and the standby takes over.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	dropInto(t, inbox, "second.csv", hires("B", second))
	waitUntil(t, 3*time.Second+10*time.Second, "instance-b to take over", func() bool {
		return strings.Contains(b.log.String(), "leader: holding the lease")
	})
	t.Logf("instance-b took over %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	waitUntil(t, 60*time.Second, "the second file's hires", func() bool {
		return len(people()) == first+second && len(creates()) == first+second
	})
	time.Sleep(time.Second)
	check(first + second)
}
