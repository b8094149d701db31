package directory

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/internal/secret"
)

func validConfig() Config {
	c := DefaultConfig()
	c.URL = "ldap://127.0.0.1:389"
	c.BindDN = "cn=ldapsync,ou=services,dc=ninhthuan,dc=gov,dc=vn"
	c.BindPassword = secret.Source{File: "/run/secrets/ldap"}
	return c
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string // every problem, in order
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "ldaps with port", edit: func(c *Config) { c.URL = "ldaps://ldap.ninhthuan.gov.vn:1636" }},
		{name: "defaults only", edit: func(c *Config) { *c = DefaultConfig() }, want: []string{
			"directory.url: required",
			"directory.bind_dn: required",
			"directory.bind_password: required: {file: PATH} or {env: VAR}",
		}},
		{name: "bad values", edit: func(c *Config) {
			c.URL = "http://x"
			c.BaseDN = "not a dn"
			c.BindPassword = secret.Source{File: "f", Env: "E"}
			c.Units = "cn=units"
			c.Groups = "ou=people"
			c.Revoked = "ou=a,ou=b"
			c.ActiveGroup = ""
			c.Timeout = 0
		}, want: []string{
			`directory.url: "http://x": scheme must be ldap or ldaps`,
			`directory.base_dn: "not a dn" is not a DN`,
			"directory.bind_password: set either file or env, not both",
			`directory.units: "cn=units" must be one RDN of the form ou=NAME`,
			`directory.groups: "ou=people" is also people`,
			`directory.revoked: "ou=a,ou=b" must be one RDN of the form ou=NAME`,
			"directory.active_group: required",
			"directory.timeout: must be above 0",
		}},
		{name: "a password in the URL is not repeated", edit: func(c *Config) { c.URL = "ldaps://admin:S3cretPw@ldap.ninhthuan.gov.vn" }, want: []string{
			`directory.url: "ldaps://admin:xxxxx@ldap.ninhthuan.gov.vn": want scheme://host[:port] only`,
		}},
		{name: "plain ldap to localhost", edit: func(c *Config) { c.URL = "ldap://localhost" }},
		{name: "plain ldap to ::1", edit: func(c *Config) { c.URL = "ldap://[::1]:389" }},
		{name: "plain ldap to another host", edit: func(c *Config) { c.URL = "ldap://ldap.ninhthuan.gov.vn" }, want: []string{
			`directory.url: "ldap://ldap.ninhthuan.gov.vn" is plain LDAP to a host that is not loopback`,
		}},
		{name: "StartTLS to another host", edit: func(c *Config) { c.URL, c.TLS.StartTLS = "ldap://ldap.ninhthuan.gov.vn", true }},
		{name: "plaintext allowed", edit: func(c *Config) { c.URL, c.TLS.AllowPlaintext = "ldap://10.0.0.5", true }},
		{name: "ldaps and StartTLS", edit: func(c *Config) { c.URL, c.TLS.StartTLS = "ldaps://ldap.ninhthuan.gov.vn", true }, want: []string{
			"directory.tls.start_tls: not with ldaps://",
		}},
		{name: "CA file missing or not PEM", edit: func(c *Config) { c.URL, c.TLS.CAFile = "ldaps://ldap.ninhthuan.gov.vn", "config_test.go" }, want: []string{
			"directory.tls.ca_file: config_test.go holds no PEM certificate",
		}},
		{name: "pool and revoke", edit: func(c *Config) { c.Connections, c.Revoke, c.RetryFor = 0, "archive", 0 }, want: []string{
			"directory.connections: must be at least 1",
			`directory.revoke: "archive" must be tombstone or delete`,
		}},
		{name: "url with a path", edit: func(c *Config) { c.URL = "ldap://h/dc=x" }, want: []string{
			`directory.url: "ldap://h/dc=x": want scheme://host[:port] only`,
		}},
		{name: "url without host", edit: func(c *Config) { c.URL = "ldap://:389" }, want: []string{
			`directory.url: "ldap://:389": host is missing`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			errs := c.Validate("directory")
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("problem %d = %q, want it to start with %q", i, e.Error(), tt.want[i])
				}
			}
		})
	}
}

func TestConfig_PersonDN(t *testing.T) {
	c := validConfig()
	tests := []struct {
		uid, want string
	}{
		{"quoctrang", "uid=quoctrang,ou=people,dc=ninhthuan,dc=gov,dc=vn"},
		{"tuanlv2.nh", "uid=tuanlv2.nh,ou=people,dc=ninhthuan,dc=gov,dc=vn"},
		{`a,b+c"d\e<f>g;h`, `uid=a\,b\+c\"d\\e\<f\>g\;h,ou=people,dc=ninhthuan,dc=gov,dc=vn`},
		{" #lead", `uid=\ #lead,ou=people,dc=ninhthuan,dc=gov,dc=vn`},
		{"#hash", `uid=\#hash,ou=people,dc=ninhthuan,dc=gov,dc=vn`},
		{"trail ", `uid=trail\ ,ou=people,dc=ninhthuan,dc=gov,dc=vn`},
	}
	for _, tt := range tests {
		t.Run(tt.uid, func(t *testing.T) {
			got := c.PersonDN(tt.uid)
			if got != tt.want {
				t.Errorf("PersonDN(%q) = %q, want %q", tt.uid, got, tt.want)
			}
		})
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "20261123011200Z", want: time.Date(2026, 11, 23, 1, 12, 0, 0, time.UTC)},
		{in: "20261123011147.816077Z", want: time.Date(2026, 11, 23, 1, 11, 47, 816077000, time.UTC)},
		{in: "20261123081200+0700", want: time.Date(2026, 11, 23, 1, 12, 0, 0, time.UTC)},
		{in: "000001010000Z", want: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2026112301Z", want: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)},
		{in: "yesterday", bad: true},
		{in: "20261323011200Z", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseGeneralizedTime(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted as %v", got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDNKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"uid=a\\2Cb,ou=People,dc=x", "UID=A\\,B,ou=people,DC=X", true},
		{"uid=a, ou=people,dc=x", "uid=a,ou=people,dc=x", true},
		{"", "", true},
		{"uid=a,ou=people,dc=x", "uid=b,ou=people,dc=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if got := dnKey(tt.a) == dnKey(tt.b); got != tt.same {
				t.Errorf("dnKey(%q) == dnKey(%q) is %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
}

func TestConfig_tlsConfig(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Config)
		want       bool   // a TLS config at all
		serverName string // when want
	}{
		{"plain", func(*Config) {}, false, ""},
		{"ldaps", func(c *Config) { c.URL = "ldaps://ldap.ninhthuan.gov.vn:636" }, true, "ldap.ninhthuan.gov.vn"},
		{"StartTLS", func(c *Config) { c.URL, c.TLS.StartTLS = "ldap://ldap.ninhthuan.gov.vn", true }, true, "ldap.ninhthuan.gov.vn"},
		{"server name", func(c *Config) { c.URL, c.TLS.ServerName = "ldaps://10.0.0.5", "ldap.ninhthuan.gov.vn" }, true, "ldap.ninhthuan.gov.vn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			tc, err := c.tlsConfig()
			if err != nil {
				t.Fatal(err)
			}
			if (tc != nil) != tt.want {
				t.Fatalf("TLS config %v, want one: %v", tc, tt.want)
			}
			if tc != nil && (tc.ServerName != tt.serverName || tc.MinVersion != tls.VersionTLS12 || tc.InsecureSkipVerify) {
				t.Errorf("server name %q, min version %x, skip verify %v; want %q, TLS 1.2, verification", tc.ServerName, tc.MinVersion, tc.InsecureSkipVerify, tt.serverName)
			}
		})
	}
}
