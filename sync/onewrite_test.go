package sync

import (
	"context"
	"testing"

	"github.com/ldapsync/ldapsync/rules"
)

// Where the directory hashes a password added in clear, a hire is one
// write: the add carries the first password, sealed in its letter first.
// A run cut off by an outage at that add loses nothing: the replay seals a
// new password in the same letter and adds the account with it, once.
func TestEngine_OneWriteHire(t *testing.T) {
	f := newFakeDir()
	f.oneWrite = true
	env := newLifeEnvWith(t, f)
	a := env.hire("NV1", "Lê Văn Tuấn", "sotttt", "Chuyên viên")
	if n := f.calls["AddPersonWithPassword "+a.DN]; n != 1 || f.calls["SetPassword "+a.DN] != 0 || f.calls["AddPerson "+a.DN] != 0 {
		t.Fatalf("calls %v; want one AddPersonWithPassword and no SetPassword", f.calls)
	}
	if !a.MustChange || a.Issued != SourceInbox+"/HNV1" || a.Status != "pending" {
		t.Fatalf("after the hire: %+v", a)
	}
	checkLetters(t, env.cfg, f)

	// The add fails with an outage: the event waits; the replay converges.
	f.failOn["AddPersonWithPassword "+personDN("vannam")] = true
	n, err := rules.ParseFullName("Trần Văn Nam")
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Source: SourceInbox, ID: "HNV2", Type: Hire, EmployeeID: "NV2", Name: n, Unit: "sotttt", Applications: []string{"mail"},
		Effective: rules.DateOf(env.now.In(env.r.Location)), Received: env.now}
	if _, err := env.eng.journal.Add([]Event{ev}, env.now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.eng.Process(context.Background()); err == nil {
		t.Fatal("the outage did not stop the run")
	}
	if _, _, err := env.eng.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.calls["AddPersonWithPassword "+personDN("vannam")]; got != 2 {
		t.Errorf("%d adds of vannam, want 2 (the failed one and the replay)", got)
	}
	checkLetters(t, env.cfg, f)
}
