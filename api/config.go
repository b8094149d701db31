package api

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
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
	// PasswordPage is the self-service password page, served on Listen.
	PasswordPage PasswordPageConfig `yaml:"password_page"`
}

// PasswordPageConfig is the "api.password_page" section: the page where
// people change their own password (package selfservice), at /password on
// the API's listener, with no token.
type PasswordPageConfig struct {
	// Enabled serves the page. Default false. It needs Listen.
	Enabled bool `yaml:"enabled"`
	// URL is the page's address as people reach it (through a proxy, say),
	// printed in every credential letter. Default "": letters name no
	// page.
	URL string `yaml:"url"`
	// MaxFailures is how many wrong current passwords a username may have
	// within FailureWindow before the page refuses it, without asking the
	// directory, until the window has passed (as slapd's pwdMaxFailure
	// within pwdFailureCountInterval). Default 5.
	MaxFailures int `yaml:"max_failures"`
	// FailureWindow: see MaxFailures. Default 15m.
	FailureWindow rules.Duration `yaml:"failure_window"`
	// PerSourceRequestsPerMinute is how many requests one source address
	// may make a minute, on average. Default 10.
	PerSourceRequestsPerMinute int `yaml:"per_source_requests_per_minute"`
	// PerSourceBurst is how many requests a source may make at once before
	// the average applies. Default 10.
	PerSourceBurst int `yaml:"per_source_burst"`
	// TrustProxy takes the source address from X-Forwarded-For, and TLS
	// from X-Forwarded-Proto, on requests from a loopback address: set it
	// when a TLS proxy on the same machine serves the page. Default false.
	TrustProxy bool `yaml:"trust_proxy"`
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
func DefaultConfig() Config {
	return Config{MaxBody: DefaultMaxBody, PasswordPage: PasswordPageConfig{
		MaxFailures:                5,
		FailureWindow:              rules.Duration(15 * time.Minute),
		PerSourceRequestsPerMinute: 10,
		PerSourceBurst:             10,
	}}
}

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
	errs.Append(c.PasswordPage.validate(field.Join(path, "password_page"), c.Listen))
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

// validate checks the page's section; listen is the API's address.
func (c PasswordPageConfig) validate(path, listen string) field.List {
	var errs field.List
	if c.Enabled && listen == "" {
		errs.Add(field.Join(path, "enabled"), "the page is served on api.listen: set it")
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			errs.Add(field.Join(path, "url"), "%q is not a URL: %v", c.URL, err)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			errs.Add(field.Join(path, "url"), "%q: want an https:// address (people type their passwords there)", c.URL)
		case u.Host == "":
			errs.Add(field.Join(path, "url"), "%q has no host", c.URL)
		}
	}
	if c.MaxFailures < 1 {
		errs.Add(field.Join(path, "max_failures"), "must be at least 1")
	}
	if c.FailureWindow <= 0 {
		errs.Add(field.Join(path, "failure_window"), "must be a positive duration such as 15m")
	}
	if c.PerSourceRequestsPerMinute < 1 {
		errs.Add(field.Join(path, "per_source_requests_per_minute"), "must be at least 1")
	}
	if c.PerSourceBurst < 1 {
		errs.Add(field.Join(path, "per_source_burst"), "must be at least 1")
	}
	return errs
}
