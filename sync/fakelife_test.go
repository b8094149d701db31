package sync

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// The fake's lifecycle operations follow directory.Client's: a lock keeps
// the entry and its groups and leaves the active group; a revocation moves
// the entry to a tombstone (the same RDN under ou=revoked) without groups.

// tomb returns the tombstone DN of the person at dn.
func tomb(dn string) string { return strings.Replace(dn, ",ou=people,", ",ou=revoked,", 1) }

func (f *fakeDir) person(method, dn string) (*rules.Account, error) {
	if err := f.fail(method, dn); err != nil {
		return nil, err
	}
	p, ok := f.people[dn]
	if !ok {
		return nil, errors.New("fake: no such object")
	}
	return p, nil
}

func (f *fakeDir) Move(_ context.Context, dn, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("Move", dn)
	if err != nil {
		return err
	}
	p.Unit = unit
	return nil
}

func (f *fakeDir) UpdatePerson(_ context.Context, dn string, u rules.PersonUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("UpdatePerson", dn)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		v   *string
		dst *string
	}{{u.CN, &p.CN}, {u.SN, &p.SN}, {u.GivenName, &p.GivenName}, {u.DisplayName, &p.DisplayName}, {u.Title, &p.Title}, {u.Phone, &p.Phone}} {
		if x.v != nil {
			*x.dst = *x.v
		}
	}
	return nil
}

func (f *fakeDir) SetLifecycle(_ context.Context, dn string, l rules.Lifecycle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("SetLifecycle", dn)
	if err != nil {
		return err
	}
	p.Lifecycle = l
	return nil
}

func (f *fakeDir) Lock(_ context.Context, dn, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("Lock", dn)
	if err != nil {
		return err
	}
	p.Locked, p.LockReason, p.Status, p.Active = true, reason, rules.StatusLocked, false
	return nil
}

func (f *fakeDir) LiftLock(_ context.Context, dn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("LiftLock", dn)
	if err != nil {
		return err
	}
	if p.Status == rules.StatusRevoked {
		return errors.New("fake: revoked")
	}
	p.Locked, p.LockReason, p.Status, p.Active = false, "", rules.StatusActive, true
	if p.MustChange && p.Issued != "" {
		p.Status, p.Active = rules.StatusPending, false
	}
	return nil
}

func (f *fakeDir) Unlock(_ context.Context, dn string, pw secret.Secret, issuedFor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("Unlock", dn)
	if err != nil {
		return err
	}
	if p.Status == rules.StatusRevoked {
		return errors.New("fake: revoked")
	}
	f.passwords[dn] = pw.Reveal()
	p.Locked, p.LockReason, p.Status, p.Active = false, "", rules.StatusPending, false
	p.MustChange, p.Issued, p.PasswordChanged = true, issuedFor, t0
	return nil
}

func (f *fakeDir) Reinstate(_ context.Context, dn string, pw secret.Secret, issuedFor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("Reinstate", dn); err != nil {
		return err
	}
	p, ok := f.people[tomb(dn)]
	if !ok {
		if _, live := f.people[dn]; live {
			return nil
		}
		return errors.New("fake: no tombstone")
	}
	delete(f.people, tomb(dn))
	p.DN, p.Revoked, p.RevokedAt = dn, false, time.Time{}
	f.people[dn] = p
	f.passwords[dn] = pw.Reveal()
	p.Locked, p.LockReason, p.Status, p.Active = false, "", rules.StatusPending, false
	p.MustChange, p.Issued, p.PasswordChanged = true, issuedFor, t0
	return nil
}

func (f *fakeDir) Pending(context.Context) ([]rules.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []rules.Account
	for _, p := range f.people {
		if p.Status == rules.StatusPending && !p.Revoked {
			c := *p
			c.Groups, c.Active = nil, false
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeDir) Activate(_ context.Context, dn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("Activate", dn)
	if err != nil {
		return err
	}
	if p.Locked || p.MustChange || p.Status != rules.StatusPending && p.Status != rules.StatusActive {
		return errors.New("fake: not pending")
	}
	p.Status, p.Active = rules.StatusActive, true
	return nil
}

func (f *fakeDir) AwaitChange(_ context.Context, dn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("AwaitChange", dn)
	if err != nil {
		return err
	}
	if p.Locked || !p.MustChange && p.Status != rules.StatusPending {
		return errors.New("fake: not awaiting a change")
	}
	p.Status, p.Active = rules.StatusPending, false
	return nil
}

func (f *fakeDir) Revoke(_ context.Context, dn string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.person("Revoke", dn)
	if err != nil {
		if _, gone := f.people[tomb(dn)]; gone {
			return nil
		}
		return err
	}
	delete(f.people, dn)
	delete(f.passwords, dn)
	p.DN = tomb(dn)
	p.Revoked, p.RevokedAt, p.Status, p.Locked, p.Active, p.Groups = true, at, rules.StatusRevoked, true, false, nil
	f.people[tomb(dn)] = p
	return nil
}

// Adopt makes a hand-made entry (kept in unadopted) an account where it is.
func (f *fakeDir) Adopt(_ context.Context, dn, employeeID, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("Adopt", dn); err != nil {
		return err
	}
	if p, ok := f.people[dn]; ok {
		if p.EmployeeID != employeeID {
			return errors.New("fake: adopted for another employee")
		}
		return nil
	}
	p, ok := f.unadopted[dn]
	if !ok {
		return errors.New("fake: no such object")
	}
	delete(f.unadopted, dn)
	p.EmployeeID, p.Unit, p.Status = employeeID, unit, rules.StatusActive
	if p.Locked {
		p.Status = rules.StatusLocked
	}
	f.people[dn] = p
	return nil
}
