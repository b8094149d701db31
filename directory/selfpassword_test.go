package directory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
)

// A user changes their first password as the self-service page does: as
// themselves, so slapd applies its policy, and pwdReset goes.
func TestClient_ChangeOwnPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	dn, first := e.user(t, person("tuanlv", "NV-0100"), "Xk7#mPq2@vRt9w")
	lockedDN, lockedPW := e.user(t, person("khoadv", "NV-0101"), "Lk7#mPq2@vRt9w")
	if err := e.c.Lock(ctx(t), lockedDN, "test"); err != nil {
		t.Fatal(err)
	}
	next := e.pw("Nw4$hTr8#pLq2z")

	tests := []struct {
		name          string
		uid           string
		current, next secret.Secret
		wantErr       error  // errors.Is target
		wantRefused   string // PasswordRefusedError.Reason
	}{
		{name: "wrong current password", uid: "tuanlv", current: e.pw("Wrong#Pass-123"), next: next, wantErr: directory.ErrInvalidCredentials},
		{name: "unknown uid", uid: "nobody", current: first, next: next, wantErr: directory.ErrInvalidCredentials},
		{name: "empty current password", uid: "tuanlv", current: secret.Secret{}, next: next, wantErr: directory.ErrInvalidCredentials},
		{name: "new equals current (history)", uid: "tuanlv", current: first, next: first, wantRefused: directory.RefusedInHistory},
		{name: "too short for pwdMinLength", uid: "tuanlv", current: first, next: e.pw("Ab1#x"), wantRefused: directory.RefusedTooShort},
		{name: "locked account", uid: "khoadv", current: lockedPW, next: next, wantErr: directory.ErrAccountLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.ChangeOwnPassword(ctx(t), tt.uid, tt.current, tt.next)
			if err == nil {
				t.Fatal("the change succeeded")
			}
			for _, s := range e.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error quotes a password: %v", err)
				}
			}
			if tt.wantRefused != "" {
				var refused *directory.PasswordRefusedError
				if !errors.As(err, &refused) || refused.Reason != tt.wantRefused {
					t.Fatalf("error %v (%T), want a refusal for %s", err, err, tt.wantRefused)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, directory.ErrUnavailable) {
				t.Errorf("error %v wraps ErrUnavailable", err)
			}
		})
	}
	// Nothing above changed the password: the first one still binds, and
	// must still be changed.
	if res, err := e.c.Bind(ctx(t), dn, first); err != nil || !res.MustChange {
		t.Fatalf("bind with the first password after the refusals: %+v %v", res, err)
	}

	if err := e.c.ChangeOwnPassword(ctx(t), "tuanlv", first, next); err != nil {
		t.Fatalf("a good change: %v", err)
	}
	if reset := get(t, e.root(t), dn, "pwdReset").GetAttributeValue("pwdReset"); reset != "" {
		t.Errorf("pwdReset is %q after the user's own change", reset)
	}
	res, err := e.c.Bind(ctx(t), dn, next)
	if err != nil || res.MustChange {
		t.Errorf("bind with the new password: %+v %v; want success without MustChange", res, err)
	}
	if _, err := e.c.Bind(ctx(t), dn, first); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("bind with the first password after the change: %v", err)
	}
	if p := e.snapshotPerson(t, "tuanlv"); p.MustChange {
		t.Error("the snapshot still says the password must be changed")
	}
}

// An account adopted where it was made by hand, outside People, changes
// its password too; a hand-made entry ldapsync has not adopted is no
// account of its.
func TestClient_ChangeOwnPassword_adopted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	h := adopted(t, e)
	next := e.pw("Nw4$hTr8#pLq2z")
	if err := e.c.ChangeOwnPassword(ctx(t), h.tuan.UID, secret.New(h.tuanPW), next); err != nil {
		t.Fatalf("change of the adopted account's password: %v", err)
	}
	if _, err := e.c.Bind(ctx(t), h.tuan.DN, next); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
	if err := e.c.ChangeOwnPassword(ctx(t), h.lan.UID, next, e.pw("Other#Pass-42x")); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("change on an unadopted entry: %v, want ErrInvalidCredentials", err)
	}
}
