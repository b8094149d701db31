package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// exampleRules compiles the rules section of config.example.yaml, so the
// tests run on the province's real unit tree.
func exampleRules(t testing.TB) *rules.Rules {
	t.Helper()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := struct {
		Rules rules.Config `yaml:"rules"`
	}{Rules: rules.DefaultConfig()}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	r, errs := rules.New(doc.Rules, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

// layout is the directory layout the unit tests plan for.
var layout = layoutOf(directory.DefaultConfig())

// layoutOf is the layout of a directory config, as cmd wires it.
func layoutOf(c directory.Config) Layout {
	return Layout{PersonDN: c.PersonDN, ActiveGroup: c.ActiveGroup}
}

func personDN(uid string) string { return layout.PersonDN(uid) }

// fakeDir is an in-memory directory for planning and applying tests. The
// real one is tested against slapd in the directory package and in
// integration_test.go.
type fakeDir struct {
	mu        gosync.Mutex
	people    map[string]*rules.Account // by DN
	unadopted map[string]*rules.Account // hand-made entries, by DN
	passwords map[string]string
	accounts  []string
	// failOn, when set, makes the named method fail once per listed DN;
	// failWith says with what (default errOutage).
	failOn   map[string]bool
	failWith map[string]error
	calls    map[string]int
	// oneWrite makes the fake a directory proven to hash a password added
	// in clear (see Planner.OneWrite).
	oneWrite bool
}

func newFakeDir() *fakeDir {
	return &fakeDir{people: map[string]*rules.Account{}, unadopted: map[string]*rules.Account{}, passwords: map[string]string{}, calls: map[string]int{},
		failOn: map[string]bool{}, failWith: map[string]error{}}
}

var errOutage = fmt.Errorf("fake: directory down: %w", rules.ErrUnavailable)

func (f *fakeDir) fail(method, dn string) error {
	f.calls[method+" "+dn]++
	if f.failOn[method+" "+dn] {
		delete(f.failOn, method+" "+dn)
		if err := f.failWith[method+" "+dn]; err != nil {
			return err
		}
		return errOutage
	}
	return nil
}

func (f *fakeDir) People(ctx context.Context) ([]rules.Account, error) {
	snap, err := f.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	for i := range snap.People {
		snap.People[i].Groups, snap.People[i].Active = nil, false
	}
	return snap.People, nil
}

func (f *fakeDir) Snapshot(context.Context) (*rules.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &rules.Snapshot{Accounts: f.accounts}
	for _, p := range f.people {
		s.People = append(s.People, *p)
	}
	for _, p := range f.unadopted {
		s.Unadopted = append(s.Unadopted, *p)
	}
	return s, nil
}

func (f *fakeDir) AddPerson(_ context.Context, p rules.Account) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn := personDN(p.UID)
	if err := f.fail("AddPerson", dn); err != nil {
		return err
	}
	if old, ok := f.people[dn]; ok {
		if old.EmployeeID != p.EmployeeID {
			return fmt.Errorf("fake: uid taken by another employee: %w", directory.ErrConflict)
		}
		return nil
	}
	p.DN, p.Active, p.Groups, p.Status = dn, false, nil, rules.StatusPending
	f.people[dn] = &p
	return nil
}

func (f *fakeDir) HashesCleartext() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.oneWrite
}

func (f *fakeDir) AddPersonWithPassword(_ context.Context, p rules.Account, pw secret.Secret, issuedFor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn := personDN(p.UID)
	if err := f.fail("AddPersonWithPassword", dn); err != nil {
		return err
	}
	if !f.oneWrite {
		return errors.New("fake: not proven to hash cleartext")
	}
	if old, ok := f.people[dn]; ok {
		if old.EmployeeID != p.EmployeeID || old.Issued != issuedFor {
			return fmt.Errorf("fake: exists with another employee or issue: %w", directory.ErrConflict)
		}
		return nil
	}
	p.DN, p.Active, p.Groups, p.Status = dn, false, nil, rules.StatusPending
	p.MustChange, p.Issued = true, issuedFor
	f.people[dn] = &p
	f.passwords[dn] = pw.Reveal()
	return nil
}

func (f *fakeDir) SetPassword(_ context.Context, dn string, pw secret.Secret, issuedFor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("SetPassword", dn); err != nil {
		return err
	}
	p, ok := f.people[dn]
	if !ok {
		return errors.New("fake: no such object")
	}
	f.passwords[dn] = pw.Reveal()
	p.PasswordChanged, p.MustChange = t0, false
	// The real SetPassword is two writes; "SetPassword/flag" fails between
	// them, as a crash or an outage can.
	if err := f.fail("SetPassword/flag", dn); err != nil {
		return err
	}
	p.MustChange, p.Issued = true, issuedFor
	return nil
}

// ChangeGroups applies changes; it fails for the groups in failGroup.
func (f *fakeDir) ChangeGroups(_ context.Context, changes []rules.GroupChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ChangeGroups"]++
	for _, c := range changes {
		if err := f.fail("ChangeGroups", c.Group); err != nil {
			return err
		}
	}
	for _, c := range changes {
		for _, dn := range slices.Concat(c.Add, c.Remove) {
			p, ok := f.people[dn]
			if !ok {
				continue // a dangling member: slapd allows it, so does the fake
			}
			join := slices.Contains(c.Add, dn)
			if c.Group == "active" {
				p.Active = join
				continue
			}
			p.Groups = slices.DeleteFunc(p.Groups, func(g string) bool { return g == c.Group })
			if join {
				p.Groups = append(p.Groups, c.Group)
				slices.Sort(p.Groups)
			}
		}
	}
	return nil
}

func (f *fakeDir) DeleteTombstone(_ context.Context, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for dn, p := range f.people {
		if p.UID == uid && p.Revoked {
			delete(f.people, dn)
		}
	}
	return nil
}

// newEngine opens an engine on a temporary state directory.
func newEngine(t *testing.T, dir Directory, now time.Time) (*Engine, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Settle = 0
	e, err := Open(Options{
		Config: cfg, Rules: exampleRules(t), Directory: dir, Layout: layout,
		Now: func() time.Time { return now }, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, cfg
}

// count returns the number of people in the fake directory.
func (f *fakeDir) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.people)
}
