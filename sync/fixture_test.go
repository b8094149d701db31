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

func personDN(uid string) string { return "uid=" + uid + ",ou=people,dc=ninhthuan,dc=gov,dc=vn" }

// fakeDir is an in-memory directory for planning and applying tests. The
// real one is tested against slapd in the directory package and in
// integration_test.go.
type fakeDir struct {
	mu        gosync.Mutex
	people    map[string]*directory.Person // by DN
	passwords map[string]string
	accounts  []string
	// failOn, when set, makes the named method fail once per listed DN;
	// failWith says with what (default errOutage).
	failOn   map[string]bool
	failWith map[string]error
	calls    map[string]int
}

func newFakeDir() *fakeDir {
	return &fakeDir{people: map[string]*directory.Person{}, passwords: map[string]string{}, calls: map[string]int{},
		failOn: map[string]bool{}, failWith: map[string]error{}}
}

var errOutage = fmt.Errorf("fake: directory down: %w", directory.ErrUnavailable)

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

func (f *fakeDir) Snapshot(context.Context) (*directory.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &directory.Snapshot{Accounts: f.accounts}
	for _, p := range f.people {
		s.People = append(s.People, *p)
	}
	return s, nil
}

func (f *fakeDir) CreatePerson(_ context.Context, p directory.Person) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn := personDN(p.UID)
	if err := f.fail("CreatePerson", dn); err != nil {
		return err
	}
	if old, ok := f.people[dn]; ok {
		if old.EmployeeID != p.EmployeeID {
			return errors.New("fake: uid taken by another employee")
		}
		return nil
	}
	p.DN, p.Active = dn, true
	f.people[dn] = &p
	return nil
}

func (f *fakeDir) SetPassword(_ context.Context, dn string, pw secret.Secret) error {
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
	p.MustChange = true
	return nil
}

func (f *fakeDir) SetGroups(_ context.Context, dn string, apps []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("SetGroups", dn); err != nil {
		return err
	}
	p, ok := f.people[dn]
	if !ok {
		return errors.New("fake: no such object")
	}
	p.Groups = slices.Sorted(slices.Values(apps))
	return nil
}

// newEngine opens an engine on a temporary state directory.
func newEngine(t *testing.T, dir Directory, now time.Time) (*Engine, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Settle = 0
	e, err := Open(Options{
		Config: cfg, Rules: exampleRules(t), Directory: dir, PersonDN: personDN,
		Now: func() time.Time { return now }, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, cfg
}
