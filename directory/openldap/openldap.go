// Package openldap owns the OpenLDAP server setup that ldapsync needs: the
// cn=config LDIF files that load the overlays, add the ldapsync schema,
// configure ppolicy, memberof, refint, last-bind tracking, indexes and the
// access rules of the service account, users and anonymous clients.
//
// The files are the one source of truth: an administrator renders them for
// an existing production slapd and applies them in order with
//
//	ldapmodify -Y EXTERNAL -H ldapi:/// -f FILE
//
// and the test harness (package slapdtest) applies the very same files the
// same way.
package openldap

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	"github.com/go-ldap/ldap/v3"
)

//go:embed setup/*.ldif
var setupFS embed.FS

// Argon2File is the name of the file that switches password hashing to
// Argon2; Render leaves it out unless Params.Argon2 is set.
const Argon2File = "20-argon2.ldif"

// Params are the values the setup files are rendered with. Every DN is a
// full DN.
type Params struct {
	// Suffix is the suffix of the database ldapsync writes to.
	Suffix string
	// Database is the DN of that database in cn=config, such as
	// "olcDatabase={1}mdb,cn=config".
	Database string
	// ServiceDN is the account ldapsync binds as.
	ServiceDN string
	// People, Units, Groups, Policies and Revoked are the DNs of ldapsync's
	// containers.
	People, Units, Groups, Policies, Revoked string
	// DefaultPolicy is the DN of the ppolicy entry that applies to every
	// account without a pwdPolicySubentry.
	DefaultPolicy string
	// ServicePolicy is the DN of the service account's ppolicy entry (no
	// expiry, no lockout), which the administrator names in the service
	// account's pwdPolicySubentry.
	ServicePolicy string
	// Argon2 includes Argon2File: set it where slapd's argon2 module is
	// installed.
	Argon2 bool
	// LastBindPrecision, when above 0, is written as olcLastBindPrecision
	// (seconds). Only slapd 2.6 and later know the setting; leave it 0 for
	// 2.5, whose slaptest rejects it.
	LastBindPrecision int
}

// File is one rendered setup file.
type File struct {
	// Name orders the files: apply them sorted by name.
	Name string
	// Data is the LDIF, comment header included.
	Data []byte
}

// Render fills the setup files in with p and returns them in the order they
// must be applied.
func Render(p Params) ([]File, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	names, err := fs.Glob(setupFS, "setup/*.ldif")
	if err != nil {
		return nil, fmt.Errorf("openldap: %w", err)
	}
	var files []File
	for _, name := range names { // fs.Glob returns them sorted
		base := path.Base(name)
		if base == Argon2File && !p.Argon2 {
			continue
		}
		tmpl, err := template.New(base).Option("missingkey=error").ParseFS(setupFS, name)
		if err != nil {
			return nil, fmt.Errorf("openldap: %s: %w", base, err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, p); err != nil {
			return nil, fmt.Errorf("openldap: %s: %w", base, err)
		}
		files = append(files, File{Name: base, Data: b.Bytes()})
	}
	return files, nil
}

// validate checks that every DN parses and can be written, unquoted or in
// double quotes, into an LDIF line and an olcAccess rule.
func (p Params) validate() error {
	var errs []error
	for _, f := range []struct{ name, dn string }{
		{"suffix", p.Suffix},
		{"database", p.Database},
		{"service DN", p.ServiceDN},
		{"people", p.People},
		{"units", p.Units},
		{"groups", p.Groups},
		{"policies", p.Policies},
		{"revoked", p.Revoked},
		{"default policy", p.DefaultPolicy},
		{"service policy", p.ServicePolicy},
	} {
		switch {
		case f.dn == "":
			errs = append(errs, fmt.Errorf("openldap: %s: required", f.name))
		case strings.ContainsAny(f.dn, "\"\r\n"):
			errs = append(errs, fmt.Errorf("openldap: %s %q: quotes and line breaks are not supported", f.name, f.dn))
		default:
			if _, err := ldap.ParseDN(f.dn); err != nil {
				errs = append(errs, fmt.Errorf("openldap: %s %q: %w", f.name, f.dn, err))
			}
		}
	}
	if !strings.HasPrefix(p.Database, "olcDatabase=") || !strings.HasSuffix(p.Database, ",cn=config") {
		errs = append(errs, fmt.Errorf("openldap: database %q: want olcDatabase={N}TYPE,cn=config", p.Database))
	}
	if p.LastBindPrecision < 0 {
		errs = append(errs, fmt.Errorf("openldap: last bind precision %d: must not be negative", p.LastBindPrecision))
	}
	return errors.Join(errs...)
}
