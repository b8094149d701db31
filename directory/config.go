package directory

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory/openldap"
	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Config is the "directory" section of the config file.
type Config struct {
	// URL of the server: ldap://host:port or ldaps://host:port. Required.
	URL string `yaml:"url"`
	// BaseDN is the suffix everything lives under. Default
	// "dc=ninhthuan,dc=gov,dc=vn".
	BaseDN string `yaml:"base_dn"`
	// BindDN is the service account ldapsync binds as. Required.
	BindDN string `yaml:"bind_dn"`
	// BindPassword says where the service account's password is read from:
	// {file: PATH} or {env: VAR}. Never inline. Required.
	BindPassword secret.Source `yaml:"bind_password"`
	// People, Units, Groups, Policies, Revoked are the RDNs, under BaseDN, of
	// the containers. Defaults ou=people, ou=units, ou=groups, ou=policies,
	// ou=revoked.
	People   string `yaml:"people"`
	Units    string `yaml:"units"`
	Groups   string `yaml:"groups"`
	Policies string `yaml:"policies"`
	Revoked  string `yaml:"revoked"`
	// ActiveGroup is the cn of the group every unlocked account belongs to,
	// for applications that ignore ppolicy. Default "active".
	ActiveGroup string `yaml:"active_group"`
	// Timeout bounds each LDAP operation. Default 10s.
	Timeout rules.Duration `yaml:"timeout"`
	// Connections is how many connections the client keeps open at most,
	// so that a large batch can run that many operations in parallel.
	// Default 4.
	Connections int `yaml:"connections"`
	// RetryFor is how long one operation keeps being retried, with
	// exponential back-off and a new connection, while the directory is
	// unreachable or busy; after that it fails with ErrUnavailable. An
	// attempt under way is not cut short (Timeout bounds it). 0 turns
	// retrying off. Default 1m.
	RetryFor rules.Duration `yaml:"retry_for"`
	// Revoke is what Revoke does with an account: "tombstone" moves it under
	// Revoked, where its uid stays taken for good; "delete" deletes it.
	// Default "tombstone".
	Revoke string `yaml:"revoke"`
	// TLS secures the connection.
	TLS TLSConfig `yaml:"tls"`
}

// TLSConfig is the "directory.tls" section. Certificates are always
// verified.
type TLSConfig struct {
	// StartTLS upgrades an ldap:// connection with the StartTLS operation
	// before binding. Default false; not allowed with ldaps://.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of the certificate authorities that may sign the
	// server's certificate. Default: the system's.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name the server's certificate must carry. Default:
	// the host of the URL.
	ServerName string `yaml:"server_name"`
	// AllowPlaintext allows an ldap:// URL without StartTLS to a host that
	// is not a loopback address: the bind password and every password
	// ldapsync sets then cross the network in clear. Default false.
	AllowPlaintext bool `yaml:"allow_plaintext"`
}

// Values of Config.Revoke.
const (
	RevokeTombstone = "tombstone"
	RevokeDelete    = "delete"
)

// Names of the password policy entries under Policies besides one per
// profile (cn=<profile>, from rules.password.profiles).
const (
	// DefaultPolicyCN names the policy slapd applies to every account
	// without a pwdPolicySubentry (olcPPolicyDefault): EnsureTree keeps it
	// equal to the profile rules.password.profile chooses.
	DefaultPolicyCN = "default"
	// ServicePolicyCN names the service account's policy: no expiry, no
	// lockout, no forced change. EnsureTree creates and keeps it; the
	// administrator points the service account's pwdPolicySubentry at it.
	ServicePolicyCN = "service"
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		BaseDN:      "dc=ninhthuan,dc=gov,dc=vn",
		People:      "ou=people",
		Units:       "ou=units",
		Groups:      "ou=groups",
		Policies:    "ou=policies",
		Revoked:     "ou=revoked",
		ActiveGroup: "active",
		Timeout:     rules.Duration(10 * time.Second),
		Connections: 4,
		RetryFor:    rules.Duration(time.Minute),
		Revoke:      RevokeTombstone,
	}
}

// Validate reports every problem, each named under path.
func (c Config) Validate(path string) field.List {
	var errs field.List
	if c.URL == "" {
		errs.Add(field.Join(path, "url"), "required")
	} else if _, _, err := c.endpoint(); err != nil {
		errs.Add(field.Join(path, "url"), "%v", err)
	} else {
		errs.Append(c.validateTLS(path))
	}
	checkDN := func(key, dn string) {
		if dn == "" {
			errs.Add(field.Join(path, key), "required")
		} else if _, err := ldap.ParseDN(dn); err != nil {
			errs.Add(field.Join(path, key), "%q is not a DN: %v", dn, err)
		}
	}
	checkDN("base_dn", c.BaseDN)
	checkDN("bind_dn", c.BindDN)
	switch {
	case c.BindPassword.IsZero():
		errs.Add(field.Join(path, "bind_password"), "required: {file: PATH} or {env: VAR}")
	case c.BindPassword.File != "" && c.BindPassword.Env != "":
		errs.Add(field.Join(path, "bind_password"), "set either file or env, not both")
	}
	seen := map[string]string{}
	for _, ct := range c.containers() {
		p := field.Join(path, ct.key)
		d, err := ldap.ParseDN(ct.rdn)
		switch {
		case ct.rdn == "":
			errs.Add(p, "required")
		case err != nil || len(d.RDNs) != 1 || len(d.RDNs[0].Attributes) != 1 || !strings.EqualFold(d.RDNs[0].Attributes[0].Type, "ou"):
			errs.Add(p, "%q must be one RDN of the form ou=NAME", ct.rdn)
		default:
			k := strings.ToLower(d.RDNs[0].Attributes[0].Value)
			if other, dup := seen[k]; dup {
				errs.Add(p, "%q is also %s", ct.rdn, other)
			}
			seen[k] = ct.key
		}
	}
	if c.ActiveGroup == "" {
		errs.Add(field.Join(path, "active_group"), "required")
	}
	if c.Timeout <= 0 {
		errs.Add(field.Join(path, "timeout"), "must be above 0")
	}
	if c.Connections < 1 {
		errs.Add(field.Join(path, "connections"), "must be at least 1")
	}
	switch c.Revoke {
	case RevokeTombstone, RevokeDelete:
	default:
		errs.Add(field.Join(path, "revoke"), "%q must be %s or %s", c.Revoke, RevokeTombstone, RevokeDelete)
	}
	return errs
}

// validateTLS checks the tls section against the URL, which must be valid.
func (c Config) validateTLS(path string) field.List {
	var errs field.List
	p := field.Join(path, "tls")
	_, ldaps, _ := c.endpoint()
	u, _ := url.Parse(c.URL)
	switch {
	case ldaps && c.TLS.StartTLS:
		errs.Add(field.Join(p, "start_tls"), "not with ldaps://, which is TLS from the start")
	case !ldaps && !c.TLS.StartTLS && !c.TLS.AllowPlaintext && !isLoopback(u.Hostname()):
		errs.Add(field.Join(path, "url"), "%q is plain LDAP to a host that is not loopback: passwords would cross the network in clear; "+
			"use ldaps://, or set tls.start_tls: true, or (on a network you trust) tls.allow_plaintext: true", c.safeURL())
	}
	if c.TLS.CAFile != "" {
		if _, err := loadCAFile(c.TLS.CAFile); err != nil {
			errs.Add(field.Join(p, "ca_file"), "%v", err)
		}
	}
	return errs
}

// isLoopback reports whether host is "localhost" or a loopback address;
// no name is resolved.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadCAFile reads a PEM file of CA certificates.
func loadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// tlsConfig returns the TLS settings of every connection, nil when the
// connections are plain.
func (c Config) tlsConfig() (*tls.Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ldaps" && !c.TLS.StartTLS {
		return nil, nil
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if c.TLS.ServerName != "" {
		tc.ServerName = c.TLS.ServerName
	}
	if c.TLS.CAFile != "" {
		if tc.RootCAs, err = loadCAFile(c.TLS.CAFile); err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
	}
	return tc, nil
}

type container struct{ key, rdn string }

// containers lists the containers in the order EnsureTree creates them.
func (c Config) containers() []container {
	return []container{
		{"people", c.People},
		{"units", c.Units},
		{"groups", c.Groups},
		{"policies", c.Policies},
		{"revoked", c.Revoked},
	}
}

// safeURL is URL as errors and logs may show it: a password written into
// it (ldap://user:pass@host) is masked, and a URL that does not parse is
// not repeated at all.
func (c Config) safeURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}

// endpoint returns the address to dial and whether the connection starts
// with TLS.
func (c Config) endpoint() (addr string, tls bool, err error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", false, fmt.Errorf("%q is not a URL", c.safeURL())
	}
	port := "389"
	switch u.Scheme {
	case "ldap":
	case "ldaps":
		port, tls = "636", true
	default:
		return "", false, fmt.Errorf("%q: scheme must be ldap or ldaps", c.safeURL())
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("%q: host is missing", c.safeURL())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("%q: want scheme://host[:port] only (no user or password in it: see bind_dn and bind_password)", c.safeURL())
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), tls, nil
}

// under returns the DN of rdn under BaseDN.
func (c Config) under(rdn string) string { return rdn + "," + c.BaseDN }

// rdn builds one RDN with value escaped as RFC 4514 requires. Every DN this
// package builds from a value passes through here.
func rdn(attr, value string) string { return attr + "=" + ldap.EscapeDN(value) }

// PersonDN returns the DN of a personal account: uid=<uid>,<People>,<BaseDN>,
// properly escaped. It never changes for the life of the account.
func (c Config) PersonDN(uid string) string {
	return rdn("uid", uid) + "," + c.under(c.People)
}

// GroupDN returns the DN of the group called cn (an application's name or
// ActiveGroup): cn=<cn>,<Groups>,<BaseDN>.
func (c Config) GroupDN(cn string) string {
	return rdn("cn", cn) + "," + c.under(c.Groups)
}

// UnitDN returns the DN of u's entry: ou=<account> under its parent's entry,
// the top units directly under Units.
func (c Config) UnitDN(u *rules.Unit) string {
	parent := c.under(c.Units)
	if p := u.Parent(); p != nil {
		parent = c.UnitDN(p)
	}
	return rdn("ou", u.Account()) + "," + parent
}

// PolicyDN returns the DN of the password policy entry called cn:
// cn=<cn>,<Policies>,<BaseDN>.
func (c Config) PolicyDN(cn string) string {
	return rdn("cn", cn) + "," + c.under(c.Policies)
}

// DefaultPolicyDN returns the DN of the password policy entry slapd applies
// by default: cn=default,<Policies>,<BaseDN>.
func (c Config) DefaultPolicyDN() string { return c.PolicyDN(DefaultPolicyCN) }

// ServicePolicyDN returns the DN of the service account's password policy:
// cn=service,<Policies>,<BaseDN>.
func (c Config) ServicePolicyDN() string { return c.PolicyDN(ServicePolicyCN) }

// SetupParams returns the parameters to render the OpenLDAP setup files
// (package openldap) for this configuration, for the database whose DN in
// cn=config is database, such as "olcDatabase={1}mdb,cn=config".
func (c Config) SetupParams(database string) openldap.Params {
	return openldap.Params{
		Suffix:        c.BaseDN,
		Database:      database,
		ServiceDN:     c.BindDN,
		People:        c.under(c.People),
		Units:         c.under(c.Units),
		Groups:        c.under(c.Groups),
		Policies:      c.under(c.Policies),
		Revoked:       c.under(c.Revoked),
		DefaultPolicy: c.DefaultPolicyDN(),
		ServicePolicy: c.ServicePolicyDN(),
	}
}
