package directory

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// One write per new account. An Add that carries the first password in
// clear with pwdReset: TRUE is stored hashed by a slapd whose ppolicy
// overlay has ppolicy_hash_cleartext (setup part 40), and is then one
// write instead of three (the add, Password Modify, the pwdReset flag) and
// a read. Without that option slapd would store the password as sent, so
// ldapsync sends it only to a server it has seen hash one: ProbeHashing
// adds a probe entry with a random password in clear under Policies (where
// the service account may read userPassword, as it may nowhere else), reads
// the stored value back, and deletes the probe. A value that is the
// password itself, or does not start with a {SCHEME}, fails the proof;
// until a proof succeeds, AddPersonWithPassword is refused and callers use
// AddPerson and SetPassword.

// probeCN is the probe entry's cn, under Policies.
const probeCN = "cleartext-hashing-probe"

// ProbeHashing proves, or disproves, that the server hashes a password
// added in clear, and remembers the answer for HashesCleartext. It is run
// by EnsureTreeAt; an error leaves the answer at false.
func (c *Client) ProbeHashing(ctx context.Context) (bool, error) {
	c.hashes.Store(false)
	dn := c.cfg.PolicyDN(probeCN)
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return false, err
	}
	// Every class, whatever the policy's length and quality checks ask.
	pw := secret.New(fmt.Sprintf("Pr0be#%x", b))
	del := ldap.NewDelRequest(dn, nil)
	drop := func() error {
		err := c.do(ctx, "delete", dn, func(conn ldap.Client) error { return conn.Del(del) })
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		return err
	}
	if err := drop(); err != nil { // one a crash left
		return false, err
	}
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"device", "simpleSecurityObject"})
	add.Attribute("cn", []string{probeCN})
	add.Attribute("description", []string{"ldapsync: proves at start-up that slapd hashes a password added in clear; deleted at once"})
	add.Attribute("userPassword", []string{pw.Reveal()})
	if err := c.do(ctx, "add", dn, func(conn ldap.Client) error { return conn.Add(add) }); err != nil {
		return false, err
	}
	e, err := c.read(ctx, dn, []string{"userPassword"})
	if derr := drop(); err == nil {
		err = derr
	}
	if err != nil {
		return false, err
	}
	if e == nil {
		return false, fmt.Errorf("directory: probe %q: the entry cannot be read back", dn)
	}
	v := e.GetEqualFoldAttributeValue("userPassword")
	hashed := v != "" && v != pw.Reveal() && strings.HasPrefix(v, "{") && strings.Contains(v, "}")
	c.hashes.Store(hashed)
	return hashed, nil
}

// HashesCleartext reports whether ProbeHashing proved that the server
// hashes a password added in clear.
func (c *Client) HashesCleartext() bool { return c.hashes.Load() }

// AddPersonWithPassword adds the entry of p as AddPerson does, with its
// first password pw and, in the same request, pwdReset: TRUE (the user
// must change it at the first login) and ldapsyncIssuedFor issuedFor: one
// write. It is refused unless HashesCleartext. An entry that exists
// already with the same EmployeeID is success only if its password was
// issued for issuedFor (this add happened, and its answer was lost);
// otherwise it is an ErrConflict, so that no letter ever holds a password
// the account does not have.
func (c *Client) AddPersonWithPassword(ctx context.Context, p rules.Account, pw secret.Secret, issuedFor string) error {
	dn := c.cfg.PersonDN(p.UID)
	switch {
	case !c.HashesCleartext():
		return fmt.Errorf("directory: add %q: the server was not proven to hash a password added in clear; set it with Password Modify", dn)
	case pw.IsZero() || issuedFor == "":
		return fmt.Errorf("directory: add %q: the password and the event it is issued for are required", dn)
	}
	req, err := c.addRequest(p)
	if err != nil {
		return err
	}
	req.Attribute("userPassword", []string{pw.Reveal()})
	req.Attribute("pwdReset", []string{"TRUE"})
	req.Attribute("ldapsyncIssuedFor", []string{issuedFor})
	err = c.do(ctx, "add", dn, func(conn ldap.Client) error { return conn.Add(req) })
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return err
	}
	e, rerr := c.read(ctx, dn, []string{"employeeNumber", "ldapsyncIssuedFor"})
	switch {
	case rerr != nil:
		return rerr
	case e == nil:
		return fmt.Errorf("directory: add %q: the entry exists but cannot be read", dn)
	case e.GetEqualFoldAttributeValue("employeeNumber") != p.EmployeeID:
		return fmt.Errorf("directory: add %q: the entry's employeeNumber is %q, not %q: %w", dn, e.GetEqualFoldAttributeValue("employeeNumber"), p.EmployeeID, ErrConflict)
	case e.GetEqualFoldAttributeValue("ldapsyncIssuedFor") != issuedFor:
		return fmt.Errorf("directory: add %q: the entry exists with a password issued for %q, not %q: %w", dn, e.GetEqualFoldAttributeValue("ldapsyncIssuedFor"), issuedFor, ErrConflict)
	}
	c.log.Debug().Str("dn", dn).Msg("person exists with this password")
	return nil
}
