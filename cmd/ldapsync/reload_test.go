package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// SIGHUP reloads the config: an invalid file changes nothing, a valid one's
// rules take effect at once, new application group included.
func TestRun_ReloadOnSIGHUP(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	good, _ := os.ReadFile(cfg)
	var logs syncbuf.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &logs, stderr: &logs, getenv: func(string) string { return "" }, hup: make(chan os.Signal)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- a.main(ctx, []string{"run", "--config", cfg}) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the daemon", func() bool { return strings.Contains(logs.String(), "watching inbox") })

	os.WriteFile(cfg, append(good, []byte("bogus: 1\n")...), 0o600)
	a.hup <- syscall.SIGHUP
	waitFor(t, "the failed reload", func() bool {
		return strings.Contains(logs.String(), "config reload failed; the running config stays") && strings.Contains(logs.String(), `unknown key \"bogus\"`)
	})

	withApp, err := yamlpatch.Patch(good, map[string]any{
		"rules.applications": []map[string]string{{"name": "mail"}, {"name": "zalo", "description": "Zalo OA"}},
		"sync.inbox.poll":    "1s",
	})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, withApp, 0o600)
	a.hup <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool {
		return strings.Contains(logs.String(), "config reloaded") || strings.Count(logs.String(), "reload failed") > 1
	})
	if strings.Count(logs.String(), "reload failed") > 1 {
		t.Fatalf("the valid config was refused:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"restart_needed":["sync"]`) {
		t.Errorf("the changed poll interval is not reported as needing a restart:\n%s", logs.String())
	}
	hire := `{"event_id":"Z1","type":"hire","effective":"2026-11-02","employee_id":"NV1","full_name":"Nguyễn Quốc Trạng","unit":"sotttt","title":"Chuyên viên","phone":"0259 1","applications":["zalo"],"reply_name":"Mai","reply_unit":"VP","reply_mail":"vp@ninhthuan.gov.vn","reply_phone":"0259 2","requested_by":"GĐ"}` + "\n"
	inbox := filepath.Join(state, "inbox")
	os.WriteFile(filepath.Join(inbox, ".z.jsonl"), []byte(hire), 0o600)
	os.Rename(filepath.Join(inbox, ".z.jsonl"), filepath.Join(inbox, "z.jsonl"))
	zalo := func() string {
		for _, block := range strings.Split(dump(t, srv), "\n\n") {
			if strings.HasPrefix(block, "dn: cn=zalo,ou=groups,") {
				return block
			}
		}
		return ""
	}
	waitFor(t, "the hire in the new application's group", func() bool {
		return strings.Contains(zalo(), "member: uid=quoctrang,ou=people,dc=ninhthuan,dc=gov,dc=vn")
	})
}
