package api

import (
	"net"
	"slices"
	"strings"

	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/internal/secret"
)

// Role is what a token may do on the network API.
type Role string

// The roles of the network API (NT 3.2: every caller is authenticated and
// authorised).
const (
	// RoleHR submits personnel changes (POST /v1/events).
	RoleHR Role = "hr"
	// RoleOperator takes the operator's actions and reads everything.
	RoleOperator Role = "operator"
	// RoleAuditor reads: holds, requests, forecast, explain, rejected
	// files, metrics.
	RoleAuditor Role = "auditor"
)

// Roles lists the roles, for messages.
var Roles = []Role{RoleHR, RoleOperator, RoleAuditor}

// DefaultMaxBody is the default bound on a request body: 1 MiB.
const DefaultMaxBody = 1 << 20

// Config is the "api" section: the network API. The control socket needs
// no config.
type Config struct {
	// Listen is the address the API listens on, e.g. "127.0.0.1:8443".
	// Default "": no network API.
	Listen string `yaml:"listen"`
	// TLS serves the API over TLS; required unless Listen is a loopback
	// address.
	TLS TLSConfig `yaml:"tls"`
	// Tokens are the API's callers. Default none.
	Tokens []TokenConfig `yaml:"tokens"`
	// MaxBody bounds a request body, in bytes. Default 1 MiB.
	MaxBody int64 `yaml:"max_body"`
}

// TLSConfig is the API's server certificate and, optionally, the CAs its
// clients' certificates must chain to.
type TLSConfig struct {
	// CertFile and KeyFile are the PEM server certificate (chain) and key.
	// Default "": plain HTTP, allowed on a loopback address only.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, makes every client present a certificate
	// signed by one of its CAs, besides its token. Default "".
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the API serves TLS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" }

// TokenConfig is one caller of the API: a bearer token, read from a file or
// an environment variable (never written in the config), its role, and the
// units it may act on.
type TokenConfig struct {
	// Name names the caller in logs, in the audit log (as the operator)
	// and in errors; the token itself never appears anywhere.
	Name string `yaml:"name"`
	// File or Env holds the token.
	secret.Source `yaml:",inline"`
	// Role is hr, operator or auditor.
	Role Role `yaml:"role"`
	// Units, when set, limits the token to these units (their account
	// names, e.g. sotttt). Default none: every unit.
	Units []string `yaml:"units"`
}

// DefaultConfig returns the API's defaults: off.
func DefaultConfig() Config { return Config{MaxBody: DefaultMaxBody} }

// Enabled reports whether the network API is to be served.
func (c Config) Enabled() bool { return c.Listen != "" }

// Validate checks c and returns every problem, each named by its path
// under path ("api").
func (c Config) Validate(path string) field.List {
	var errs field.List
	if c.MaxBody <= 0 {
		errs.Add(field.Join(path, "max_body"), "must be a positive number of bytes")
	}
	tlsPath := field.Join(path, "tls")
	switch {
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		errs.Add(field.Join(tlsPath, "key_file"), "required with cert_file")
	case c.TLS.CertFile == "" && c.TLS.KeyFile != "":
		errs.Add(field.Join(tlsPath, "cert_file"), "required with key_file")
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		errs.Add(field.Join(tlsPath, "client_ca_file"), "client certificates need TLS: set cert_file and key_file")
	}
	if c.Listen != "" {
		host, _, err := net.SplitHostPort(c.Listen)
		switch {
		case err != nil:
			errs.Add(field.Join(path, "listen"), "%q is not host:port: %v", c.Listen, err)
		case !c.TLS.Enabled() && !isLoopback(host):
			errs.Add(field.Join(path, "listen"), "%q is not a loopback address: serve it over TLS (api.tls.cert_file and key_file), or listen on 127.0.0.1 or [::1] behind a TLS proxy", c.Listen)
		}
		if len(c.Tokens) == 0 {
			errs.Add(field.Join(path, "tokens"), "required: with no token every route but /healthz and /readyz answers 401")
		}
	}
	names := map[string]bool{}
	for i, t := range c.Tokens {
		p := field.Index(field.Join(path, "tokens"), i)
		switch {
		case t.Name == "":
			errs.Add(field.Join(p, "name"), "required")
		case names[strings.ToLower(t.Name)]:
			errs.Add(field.Join(p, "name"), "%q names another token too", t.Name)
		}
		names[strings.ToLower(t.Name)] = true
		switch {
		case t.Source.IsZero():
			errs.Add(p, "file or env is required: the token is never written in the config")
		case t.File != "" && t.Env != "":
			errs.Add(p, "set either file or env, not both")
		}
		if !slices.Contains(Roles, t.Role) {
			errs.Add(field.Join(p, "role"), "%q must be hr, operator or auditor", t.Role)
		}
		if t.Role == RoleAuditor && len(t.Units) > 0 {
			// Its reads are whole lists that are not cut by unit.
			errs.Add(field.Join(p, "units"), "an auditor reads every unit; units apply to hr and operator tokens")
		}
		for j, u := range t.Units {
			if strings.TrimSpace(u) == "" {
				errs.Add(field.Index(field.Join(p, "units"), j), "empty unit")
			}
		}
	}
	return errs
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
