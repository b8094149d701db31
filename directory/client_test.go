package directory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
)

func TestDial(t *testing.T) {
	t.Parallel()
	srv := slapdtest.New(t, slapdtest.Options{})
	const wrong = "Wr0ng#ServicePassword"
	wrongFile := filepath.Join(t.TempDir(), "wrong.pw")
	if err := os.WriteFile(wrongFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*directory.Config)
		wantErr string // "" for success
	}{
		{"service account", func(*directory.Config) {}, ""},
		{"wrong password", func(c *directory.Config) { c.BindPassword = secret.Source{File: wrongFile} }, `directory: bind "cn=ldapsync,ou=services,`},
		{"missing password variable", func(c *directory.Config) { c.BindPassword = secret.Source{Env: "LDAPSYNC_TEST_UNSET"} }, "LDAPSYNC_TEST_UNSET is not set"},
		{"invalid config", func(c *directory.Config) { c.URL = "" }, "directory.url: required"},
		{"nothing listening", func(c *directory.Config) { c.URL = "ldap://127.0.0.1:1" }, "directory: connect ldap://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Config()
			tt.edit(&cfg)
			c, err := directory.Dial(context.Background(), cfg, zerolog.Nop())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), wrong) {
				t.Fatalf("error %q: want it to contain %q and no password", err, tt.wantErr)
			}
		})
	}
}

// TestClient_reconnect checks that the client opens a new connection after
// slapd restarted under it; retrying the failed operation itself is the
// caller's business for now.
func TestClient_reconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	if err := e.srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 2 { // the first may still meet the old connection
		if _, err = e.c.Snapshot(ctx(t)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no snapshot after a restart: %v", err)
	}
}

func TestClient_Close(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Snapshot(ctx(t)); !errors.Is(err, directory.ErrClosed) {
		t.Fatalf("snapshot after Close: %v, want ErrClosed", err)
	}
}

func TestClient_Snapshot_canceled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.c.Snapshot(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("snapshot with a canceled context: %v, want context.Canceled", err)
	}
	if _, err := e.c.Snapshot(ctx(t)); err != nil {
		t.Fatalf("snapshot after a canceled one: %v", err)
	}
}
