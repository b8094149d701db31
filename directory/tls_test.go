package directory_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/rules"
)

// TestDial_TLS connects to a slapd with a certificate from a throwaway CA,
// over ldaps:// and with StartTLS.
func TestDial_TLS(t *testing.T) {
	t.Parallel()
	srv := slapdtest.New(t, slapdtest.Options{TLS: true})
	other, err := slapdtest.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCA, other.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := srv.ServicePassword()
	if err != nil {
		t.Fatal(err)
	}
	ldaps := func(c *directory.Config) { c.URL, c.TLS.CAFile = srv.LDAPSURL, srv.CAFile }
	startTLS := func(c *directory.Config) { c.TLS.StartTLS, c.TLS.CAFile = true, srv.CAFile }
	tests := []struct {
		name      string
		edit      func(*directory.Config)
		wantErr   string // "" for success
		transient bool   // the error wraps ErrUnavailable
	}{
		{"ldaps", ldaps, "", false},
		{"StartTLS", startTLS, "", false},
		{"ldaps with a server name from the certificate", func(c *directory.Config) { ldaps(c); c.TLS.ServerName = "localhost" }, "", false},
		{"ldaps, another CA", func(c *directory.Config) { ldaps(c); c.TLS.CAFile = otherCA }, "certificate signed by unknown authority (check directory.tls.ca_file", false},
		{"ldaps, the system's CAs", func(c *directory.Config) { ldaps(c); c.TLS.CAFile = "" }, "certificate signed by unknown authority", false},
		{"ldaps, a name not in the certificate", func(c *directory.Config) { ldaps(c); c.TLS.ServerName = "ldap.ninhthuan.gov.vn" }, "not ldap.ninhthuan.gov.vn", false},
		{"StartTLS, another CA", func(c *directory.Config) { startTLS(c); c.TLS.CAFile = otherCA }, "certificate signed by unknown authority", false},
		// slapd hangs up, as a server going down would.
		{"ldaps to the plain port", func(c *directory.Config) { ldaps(c); c.URL = strings.Replace(srv.URL, "ldap:", "ldaps:", 1) }, "TLS handshake: EOF", true},
		{"plain LDAP to a host that is not loopback", func(c *directory.Config) { c.URL = "ldap://192.0.2.1:389" }, "directory.url", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncbuf.Buffer
			cfg := srv.Config()
			tt.edit(&cfg)
			begin := time.Now()
			c, err := directory.Dial(ctx(t), cfg, zerolog.New(&log).Level(zerolog.DebugLevel))
			if err == nil {
				defer c.Close()
			}
			if strings.Contains(log.String(), svc.Reveal()) || err != nil && strings.Contains(err.Error(), svc.Reveal()) {
				t.Fatal("the bind password appears in the log or the error")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial: %v, want an error containing %q", err, tt.wantErr)
				}
				t.Log(err)
				if errors.Is(err, rules.ErrUnavailable) != tt.transient || time.Since(begin) > 5*time.Second {
					t.Errorf("a configuration error is reported as transient, or after %v: %v", time.Since(begin), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Writes and user binds take the same way.
			if _, err := c.EnsureTree(ctx(t), testRules(t)); err != nil {
				t.Fatal(err)
			}
			if err := c.CreatePerson(ctx(t), person("tls", "NV-1")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Bind(ctx(t), srv.ServiceDN, svc); err != nil {
				t.Errorf("bind over TLS: %v", err)
			}
		})
	}
}
