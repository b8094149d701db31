package directory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/rules"
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
		is      error  // the sentinel the error wraps, if any
	}{
		{"service account", func(*directory.Config) {}, "", nil},
		{"wrong password", func(c *directory.Config) { c.BindPassword = secret.Source{File: wrongFile} }, `directory: bind "cn=ldapsync,ou=services,`, rules.ErrConnect},
		{"missing password variable", func(c *directory.Config) { c.BindPassword = secret.Source{Env: "LDAPSYNC_TEST_UNSET"} }, "LDAPSYNC_TEST_UNSET is not set", nil},
		{"invalid config", func(c *directory.Config) { c.URL = "" }, "directory.url: required", nil},
		{"nothing listening", func(c *directory.Config) { c.URL = "ldap://127.0.0.1:1" }, "directory: connect ldap://127.0.0.1:1", rules.ErrUnavailable},
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
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
		})
	}
}

// TestClient_reconnect checks that an operation after slapd restarted
// under the client's connections succeeds: the dead connection is dropped
// and the operation retried on a new one.
func TestClient_reconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	if err := e.srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Snapshot(ctx(t)); err != nil {
		t.Fatalf("no snapshot after a restart: %v", err)
	}
}

// TestClient_retry checks which failures are retried, for how long, and
// what the caller is told.
func TestClient_retry(t *testing.T) {
	t.Parallel()
	srv := slapdtest.New(t, slapdtest.Options{})
	dial := func(t *testing.T, retryFor time.Duration) *directory.Client {
		cfg := srv.Config()
		cfg.RetryFor = rules.Duration(retryFor)
		c, err := directory.Dial(ctx(t), cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	setup := dial(t, 0)
	if _, err := setup.EnsureTree(ctx(t), testRules(t)); err != nil {
		t.Fatal(err)
	}
	if err := setup.CreatePerson(ctx(t), person("retry", "NV-1")); err != nil {
		t.Fatal(err)
	}
	dn := srv.Config().PersonDN("retry")

	// A refusal is not retried: it would end as ErrUnavailable after
	// RetryFor.
	c := dial(t, 2*time.Second)
	begin := time.Now()
	err := c.SetPassword(ctx(t), dn, secret.New("Ab1!"), "")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) || errors.Is(err, rules.ErrUnavailable) || time.Since(begin) > time.Second {
		t.Errorf("a password too short: %v after %v; want a constraint violation at once", err, time.Since(begin))
	}

	// Down: the clients are dialled first, while slapd is up.
	clients := map[time.Duration]*directory.Client{0: dial(t, 0), 700 * time.Millisecond: dial(t, 700*time.Millisecond), time.Minute: dial(t, time.Minute)}
	srv.Kill()
	tests := []struct {
		name     string
		retryFor time.Duration
		timeout  time.Duration // of the context; 0 for none
		min, max time.Duration // time taken
		wantCtx  bool          // the error also wraps context.DeadlineExceeded
	}{
		{"no retrying", 0, 0, 0, 500 * time.Millisecond, false},
		{"retrying for a while", 700 * time.Millisecond, 0, 700 * time.Millisecond, 2 * time.Second, false},
		{"the context ends first", time.Minute, 500 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ctx(t)
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(c, tt.timeout)
				defer cancel()
			}
			begin := time.Now()
			err := clients[tt.retryFor].Lock(c, dn, "x")
			took := time.Since(begin)
			if !errors.Is(err, rules.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) != tt.wantCtx {
				t.Fatalf("Lock with slapd down: %v; want ErrUnavailable (and the context's error: %v)", err, tt.wantCtx)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("took %v, want between %v and %v", took, tt.min, tt.max)
			}
			if !strings.Contains(err.Error(), dn) || !strings.Contains(err.Error(), "attempts") {
				t.Errorf("error %q should name the DN and the attempts", err)
			}
		})
	}

	// Back up while an operation is being retried: it succeeds.
	done := make(chan error, 1)
	go func() { done <- clients[time.Minute].Lock(ctx(t), dn, "x") }()
	time.Sleep(300 * time.Millisecond)
	if err := srv.StartAgain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Lock across the outage: %v", err)
	}
}

// TestClient_pool checks that operations run in parallel on at most
// Connections connections.
func TestClient_pool(t *testing.T) {
	t.Parallel()
	srv := slapdtest.New(t, slapdtest.Options{})
	for _, tt := range []struct {
		name        string
		connections int
	}{{"one", 1}, {"three", 3}} {
		t.Run(tt.name, func(t *testing.T) {
			var log syncbuf.Buffer
			cfg := srv.Config()
			cfg.Connections = tt.connections
			c, err := directory.Dial(ctx(t), cfg, zerolog.New(&log).Level(zerolog.DebugLevel))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 30)
			for range 30 {
				wg.Go(func() {
					_, err := c.Snapshot(ctx(t))
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			opened := strings.Count(log.String(), `"message":"connected"`)
			if opened > tt.connections || tt.connections > 1 && opened < 2 {
				t.Errorf("%d connections opened for 30 parallel snapshots, want at most %d (and more than one when allowed)", opened, tt.connections)
			}
		})
	}
}

// TestClient_outage kills slapd during a batch of creations and brings it
// back a second later: every call completes, and the directory holds each
// person once, with a password that works.
func TestClient_outage(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, true, slapdtest.Options{}, func(c *directory.Config) { c.RetryFor = rules.Duration(time.Minute) })
	const n, workers = 200, 8
	pw := func(i int) secret.Secret { return secret.New(fmt.Sprintf("Outage#%03dPassw0rd", i)) }
	jobs := make(chan int)
	var done atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				p := person(fmt.Sprintf("out%03d", i), fmt.Sprintf("NV-%04d", i))
				err := e.c.CreatePerson(ctx(t), p)
				if err == nil {
					err = e.c.SetPassword(ctx(t), e.cfg.PersonDN(p.UID), pw(i), "")
				}
				if err != nil {
					errs <- fmt.Errorf("person %d: %w", i, err)
				}
				done.Add(1)
			}
		})
	}
	outage := make(chan time.Duration)
	go func() {
		for done.Load() < n/4 {
			time.Sleep(5 * time.Millisecond)
		}
		e.srv.Kill()
		killedAt := done.Load()
		time.Sleep(time.Second)
		if err := e.srv.StartAgain(context.Background()); err != nil {
			t.Error(err)
		}
		t.Logf("slapd killed after %d people and back a second later", killedAt)
		outage <- 0
	}()
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	<-outage
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	snap, err := e.c.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.People) != n {
		t.Fatalf("%d people after the batch, want %d", len(snap.People), n)
	}
	for i, p := range snap.People {
		if want := fmt.Sprintf("out%03d", i); p.UID != want || !p.Active || p.PasswordChanged.IsZero() || !p.MustChange {
			t.Errorf("person %d: %+v; want %s, active, with a password to change", i, p, want)
		}
	}
	// Every password works: a few dozen binds, spread over the batch.
	for i := 0; i < n; i += 7 {
		if _, err := e.c.Bind(ctx(t), e.cfg.PersonDN(fmt.Sprintf("out%03d", i)), pw(i)); err != nil {
			t.Errorf("bind as person %d: %v", i, err)
		}
	}
}

func TestClient_Close(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Snapshot(ctx(t)); !errors.Is(err, rules.ErrClosed) {
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
