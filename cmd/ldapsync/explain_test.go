package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/sync"
)

// explain after a hire, a lock and a restore, against a real slapd: with
// no daemon, then through a daemon's control socket.
func TestExplain(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	if _, errOut, code := ldapsync(t, nil, "apply", "--config", cfg, "../../examples/personnel.csv"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	env := map[string]string{"USER": "ops1"}

	out, errOut, code := ldapsync(t, nil, "explain", "quoctrang", "--config", cfg)
	if code != exitOK {
		t.Fatalf("explain: exit %d\n%s", code, errOut)
	}
	first := strings.SplitN(out, "\n", 2)[0]
	if !strings.HasPrefix(first, "quoctrang cannot log in to applications yet: pending until the password ldapsync issued (for inbox/HR-2026-0101") {
		t.Errorf("answer after the hire: %s", first)
	}
	for _, want := range []string{"employee  ", "NT-001245", "unit ", "sotttt", "groups ", "create", "letter", "inbox/HR-2026-0101", "next deadline"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}

	if out, errOut, code := ldapsync(t, env, "lock", "quoctrang", "--config", cfg, "--reason", "compromised",
		"--note", "password seen on a phishing page", "--request", "SOC-2026-17"); code != exitOK {
		t.Fatalf("lock: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = ldapsync(t, nil, "explain", "quoctrang", "--config", cfg)
	if code != exitOK {
		t.Fatalf("explain: exit %d\n%s", code, errOut)
	}
	first = strings.SplitN(out, "\n", 2)[0]
	for _, want := range []string{"quoctrang cannot log in: locked since ", "because: compromised: password seen on a phishing page", "requested by ops1", "event operator/"} {
		if !strings.Contains(first, want) {
			t.Errorf("answer after the lock lacks %q: %s", want, first)
		}
	}

	if out, errOut, code := ldapsync(t, env, "restore", "quoctrang", "--config", cfg, "--request", "REQ-9"); code != exitOK {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}

	// Through a daemon: the same engine method behind GET /v1/explain.
	l, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), l.Cfg.Directory, zerolog.Nop(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eng, err := sync.Open(sync.Options{Config: l.Cfg.Sync, Rules: l.Rules, Directory: c, Layout: layout(l.Cfg.Directory), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctl, err := api.Listen(api.SocketPath(state), api.Handler(eng, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()

	out, errOut, code = ldapsync(t, nil, "explain", "quoctrang", "--config", cfg)
	if code != exitOK {
		t.Fatalf("explain through the socket: exit %d\n%s", code, errOut)
	}
	first = strings.SplitN(out, "\n", 2)[0]
	if !strings.HasPrefix(first, "quoctrang cannot log in to applications yet: pending until the password ldapsync issued (for operator/") {
		t.Errorf("answer after the restore: %s", first)
	}
	for _, want := range []string{" lock ", " restore ", "compromised", "ops1", "locked  ", "no\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = ldapsync(t, nil, "explain", "quoctrang", "--config", cfg, "--output", "json")
	if code != exitOK {
		t.Fatalf("explain --output json: exit %d\n%s", code, errOut)
	}
	var x sync.Explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	actions := map[string]bool{}
	for _, r := range x.History {
		actions[r.Action] = true
		if r.UID != "" && r.UID != "quoctrang" {
			t.Errorf("a record about %s: %+v", r.UID, r)
		}
	}
	// The first password is in the create (the harness's slapd hashes
	// cleartext: one write).
	for _, a := range []string{"create", "groups", "lock", "restore", sync.ActionIntent} {
		if !actions[a] {
			t.Errorf("history lacks %s: %v", a, actions)
		}
	}
	if x.State == nil || x.State.Locked || !x.State.MustChange || x.State.Unit != "sotttt" || x.State.EmployeeID != "NT-001245" || x.State.Status != "pending" || x.CanLogIn {
		t.Errorf("state: %+v", x.State)
	}
	if strings.Contains(strings.ToLower(out), "userpassword") {
		t.Errorf("a password attribute in the explanation:\n%s", out)
	}

	for _, viaSocket := range []bool{true, false} {
		if !viaSocket {
			ctl.Close()
			eng.Close()
		}
		_, errOut, code = ldapsync(t, nil, "explain", "nobody", "--config", cfg)
		if code != exitFailure || !strings.Contains(errOut, `"nobody": no such account`) {
			t.Errorf("unknown uid (socket %v): exit %d\n%s", viaSocket, code, errOut)
		}
	}
}
