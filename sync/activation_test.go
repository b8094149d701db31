package sync

import (
	"context"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// userChanges does to the fake what a user's own Password Modify does to
// slapd: a new password, pwdReset cleared, pwdChangedTime stamped.
func (env *lifeEnv) userChanges(employee string) {
	env.t.Helper()
	a := env.person(employee)
	env.dir.mu.Lock()
	defer env.dir.mu.Unlock()
	p := env.dir.people[a.DN]
	p.MustChange, p.PasswordChanged = false, env.now
	env.dir.passwords[a.DN] = "changed by the user"
}

func (env *lifeEnv) activations() int {
	env.t.Helper()
	n, err := env.eng.Activations(context.Background())
	if err != nil {
		env.t.Fatal(err)
	}
	return n
}

// BTC 4, NT 6.3.c: an account is let into applications (the active group)
// only once the password ldapsync issued has been changed; a restore puts
// it back in that state; an active account whose password must be changed
// (reset by hand) leaves the group until it is. Each move is one event,
// applied and audited once.
func TestEngine_FirstLoginGate(t *testing.T) {
	env := newLifeEnv(t)
	a := env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
	if a.Status != rules.StatusPending || a.Active || !a.MustChange || len(a.Groups) == 0 {
		t.Fatalf("a new account: %s active %v must change %v groups %v; want pending, out of the active group, in its applications", a.Status, a.Active, a.MustChange, a.Groups)
	}
	if n := env.activations(); n != 0 {
		t.Fatalf("%d activations before the user changed the password", n)
	}

	env.now = env.now.Add(time.Hour)
	env.userChanges("NV1")
	if n := env.activations(); n != 1 {
		t.Fatalf("%d activations after the change, want 1", n)
	}
	if a := env.person("NV1"); a.Status != rules.StatusActive || !a.Active {
		t.Fatalf("after the change: %s active %v", a.Status, a.Active)
	}
	if n := env.activations(); n != 0 {
		t.Fatalf("activated again: %d", n)
	}
	checkAuditArticles(t, env, "NV1", map[string]string{string(OpActivate): activationArticle})

	// A lock, then a restore: pending again with the new password, and
	// the sweep does not let it in before the change either.
	env.submit(Event{Source: SourceOperator, Type: Lock, UID: a.UID, Note: "compromised"})
	env.now = env.now.Add(time.Hour)
	env.submit(Event{Source: SourceOperator, Type: Restore, UID: a.UID})
	if a := env.person("NV1"); a.Status != rules.StatusPending || a.Active || !a.MustChange || a.Locked {
		t.Fatalf("after a restore: %s active %v must change %v locked %v", a.Status, a.Active, a.MustChange, a.Locked)
	}
	env.sweep()
	if a := env.person("NV1"); a.Status != rules.StatusPending || a.Active {
		t.Fatalf("the sweep activated a restored account before the change: %s", a.Status)
	}
	env.now = env.now.Add(time.Hour)
	env.userChanges("NV1")
	env.sweep() // the sweep activates too, without the daemon's check
	if a := env.person("NV1"); a.Status != rules.StatusActive || !a.Active {
		t.Fatalf("the sweep did not activate the changed password: %s active %v", a.Status, a.Active)
	}

	// An administrator resets the password by hand (pwdReset): out of the
	// active group until the user changes it again.
	env.dir.mu.Lock()
	env.dir.people[a.DN].MustChange = true
	env.dir.mu.Unlock()
	env.now = env.now.Add(time.Hour)
	env.sweep()
	if a := env.person("NV1"); a.Status != rules.StatusPending || a.Active {
		t.Fatalf("a reset account stays active: %s", a.Status)
	}
	checkAuditArticles(t, env, "NV1", map[string]string{string(OpAwaitChange): activationArticle})
	env.now = env.now.Add(time.Hour)
	env.userChanges("NV1")
	if n := env.activations(); n != 1 {
		t.Fatalf("%d activations after the second change, want 1", n)
	}
	if a := env.person("NV1"); a.Status != rules.StatusActive || !a.Active {
		t.Fatalf("after the second change: %s", a.Status)
	}
}

// A locked account is never activated, even with its password changed,
// and a pending account the check sees while its password is being set
// (no record of an issue yet) is left alone.
func TestActivation_Rules(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    rules.Account
		want string
	}{
		{"pending, changed", rules.Account{Status: rules.StatusPending, Issued: "inbox/E1"}, rules.StatusActive},
		{"pending, not changed", rules.Account{Status: rules.StatusPending, Issued: "inbox/E1", MustChange: true}, ""},
		{"pending, password being set", rules.Account{Status: rules.StatusPending}, ""},
		{"pending, locked", rules.Account{Status: rules.StatusPending, Issued: "inbox/E1", Locked: true}, ""},
		{"active, reset by hand", rules.Account{Status: rules.StatusActive, Issued: "inbox/E1", MustChange: true}, rules.StatusPending},
		{"active, in use", rules.Account{Status: rules.StatusActive, Issued: "inbox/E1"}, ""},
		{"adopted, reset by its old administrator", rules.Account{Status: rules.StatusActive, MustChange: true}, ""},
		{"revoked", rules.Account{Status: rules.StatusRevoked, Issued: "inbox/E1", Revoked: true}, ""},
		{"locked, reset", rules.Account{Status: rules.StatusLocked, Issued: "inbox/E1", MustChange: true, Locked: true}, ""},
	} {
		if got := rules.Activation(&tt.a); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
