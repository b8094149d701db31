package directory_test

import (
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The recorder sees each request as sent, and nothing once removed.
func TestClient_SetRecorder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	var mu sync.Mutex
	var seen []any
	e.c.SetRecorder(func(req any) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, req)
	})
	p := person("rec", "NV-5000")
	e.user(t, p, "Rec-first#2026")
	e.c.SetRecorder(nil)
	if err := e.c.Lock(ctx(t), e.cfg.PersonDN(p.UID), "compromised"); err != nil {
		t.Fatal(err)
	}
	var adds, pwmods, mods int
	for _, r := range seen {
		switch r := r.(type) {
		case *ldap.AddRequest:
			if r.DN == e.cfg.PersonDN(p.UID) {
				adds++
			}
		case *ldap.PasswordModifyRequest:
			pwmods++
		case *ldap.ModifyRequest:
			mods++
		}
	}
	if adds != 1 || pwmods != 1 || mods < 2 {
		t.Errorf("recorded %d adds, %d password modifies, %d modifies of %d requests; want 1, 1, and the groups and pwdReset", adds, pwmods, mods, len(seen))
	}
	for _, r := range seen {
		if m, ok := r.(*ldap.ModifyRequest); ok {
			for _, c := range m.Changes {
				if c.Modification.Type == "pwdAccountLockedTime" {
					t.Errorf("a request after SetRecorder(nil) was recorded")
				}
			}
		}
	}
}
