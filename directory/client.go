// Package directory is everything that speaks LDAP: connecting to OpenLDAP,
// reading the whole directory into a Snapshot for the planner, and the
// idempotent writes that create, move, lock, restore and revoke accounts.
// Nothing outside this package (and its subpackages openldap, the server
// setup, and slapdtest, the test server) imports go-ldap.
//
// Every operation is safe to repeat: a replay after a crash converges on
// the same entry and reports success. Errors start with "directory:", name
// the entry, and wrap ErrUnavailable when the directory could not be
// reached or was too busy for long enough (retry later), and one of the
// other Err values where the caller must tell the case apart; any other
// error is the directory refusing the request itself.
package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrUnavailable marks a failure that says nothing about the request:
	// the directory could not be reached, went away, or was busy, for
	// longer than Config.RetryFor. The request may succeed later unchanged;
	// every other error will fail again the same way.
	ErrUnavailable = rules.ErrUnavailable
	// ErrInvalidCredentials is a bind refused for a wrong DN or password.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrAccountLocked is a bind refused because ppolicy locks the account
	// (pwdAccountLockedTime).
	ErrAccountLocked = errors.New("account locked")
	// ErrConflict is a uid already held by another employee.
	ErrConflict = errors.New("uid belongs to another employee")
	// ErrNotFound is an operation on a person whose entry does not exist.
	ErrNotFound = errors.New("no such person")
	// ErrNotPending is an Activate or AwaitChange the account's state does
	// not allow (locked, revoked, or its password not in the state asked).
	ErrNotPending = errors.New("not in the first-login state asked")
	// ErrClosed is an operation on a closed Client.
	ErrClosed = rules.ErrClosed
	// ErrConnect marks a connection that opened but cannot be used: the
	// service account's bind was refused (its password rotated?) or TLS
	// failed (a certificate that does not verify). It says nothing about
	// the request, and no retry cures it; an administrator must.
	ErrConnect = rules.ErrConnect
)

// Back-off between retries: it starts at retryInitial and doubles up to
// retryMaxWait, each wait jittered by up to a fifth either way so that
// parallel operations do not return in lockstep.
const (
	retryInitial = 100 * time.Millisecond
	retryMaxWait = 5 * time.Second
)

// Client talks to one directory as the service account, over a pool of at
// most Config.Connections connections opened as needed. It is safe for
// concurrent use.
type Client struct {
	cfg Config
	log zerolog.Logger
	pw  secret.Secret
	tls *tls.Config // nil without TLS
	// where tells where a person's entry may be.
	where layout

	// slots holds a token for every connection in use or being opened.
	slots chan struct{}

	mu     sync.Mutex
	idle   []*ldap.Conn        // bound, waiting for an operation
	conns  map[*ldap.Conn]bool // every open connection, idle or in use
	closed bool

	// observe, when set, is told of every operation do runs (see
	// SetObserver).
	observe atomic.Pointer[Observer]
	// record, when set, is given every request do sends (see SetRecorder).
	record atomic.Pointer[Recorder]
	// hashes is what ProbeHashing proved: the server hashes a password
	// added in clear.
	hashes atomic.Bool
}

// Observer is told, after each directory operation, its kind (a fixed
// word such as "add", "modify", "search": never a DN, uid or value), how
// long it took with its retries, and its error (nil on success). It must
// be cheap and safe for concurrent use.
type Observer func(op string, took time.Duration, err error)

// SetObserver makes the client report every operation to o, for metrics;
// nil stops it. It is safe to call at any time.
func (c *Client) SetObserver(o Observer) {
	if o == nil {
		c.observe.Store(nil)
		return
	}
	c.observe.Store(&o)
}

// Dial checks cfg, connects and binds as the service account. log is the
// component's logger; no password ever reaches it. A failure to reach the
// directory wraps ErrUnavailable; Dial itself does not retry.
func Dial(ctx context.Context, cfg Config, log zerolog.Logger) (*Client, error) {
	if err := cfg.Validate("directory").Err(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	pw, err := cfg.BindPassword.Load()
	if err != nil {
		return nil, fmt.Errorf("directory: bind password: %w", err)
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	where, err := cfg.layout()
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	c := &Client{
		cfg: cfg, log: log, pw: pw, tls: tc, where: where,
		slots: make(chan struct{}, cfg.Connections),
		conns: map[*ldap.Conn]bool{},
	}
	conn, err := c.acquire(ctx)
	if err != nil {
		if transient(err) {
			return nil, fmt.Errorf("directory: %w (%w)", err, ErrUnavailable)
		}
		return nil, fmt.Errorf("directory: %w", err)
	}
	c.release(conn, false)
	return c, nil
}

// Close closes every connection; operations under way fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns, c.idle = map[*ldap.Conn]bool{}, nil
	c.mu.Unlock()
	var errs []error
	for conn := range conns {
		errs = append(errs, conn.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("directory: close: %w", err)
	}
	return nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// acquire returns a bound connection for one operation, waiting for a free
// slot, reusing an idle connection or opening a new one. Give it back with
// release.
func (c *Client) acquire(ctx context.Context) (*ldap.Conn, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	for !c.closed && len(c.idle) > 0 {
		conn := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if !conn.IsClosing() {
			c.mu.Unlock()
			return conn, nil
		}
		delete(c.conns, conn) // closed by the server while idle
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		<-c.slots
		return nil, ErrClosed
	}
	conn, err := c.connect(ctx)
	if err != nil {
		<-c.slots
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = conn.Close()
		<-c.slots
		return nil, ErrClosed
	}
	c.conns[conn] = true
	c.mu.Unlock()
	return conn, nil
}

// release gives conn back after an operation; a broken one is closed.
func (c *Client) release(conn *ldap.Conn, broken bool) {
	c.mu.Lock()
	if broken || c.closed || conn.IsClosing() {
		delete(c.conns, conn)
		c.mu.Unlock()
		_ = conn.Close()
	} else {
		c.idle = append(c.idle, conn)
		c.mu.Unlock()
	}
	<-c.slots
}

// handshakeError is a TLS failure, which a retry does not cure: a
// certificate that does not verify, a server without TLS, no common
// protocol version.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string {
	return e.err.Error() + " (check directory.tls.ca_file and directory.tls.server_name)"
}

func (e *handshakeError) Unwrap() []error { return []error{e.err, ErrConnect} }

// connLost is the error of an operation whose connection closed under it:
// go-ldap then reports the read error only as text ("unable to read LDAP
// response packet: EOF"). Whether the server applied the request is
// unknown, which the idempotent operations make harmless to retry.
type connLost struct{ err error }

func (e *connLost) Error() string { return "connection lost: " + e.err.Error() }

func (e *connLost) Unwrap() error { return e.err }

// runOn runs op on conn, bounded by ctx; an error of a connection that
// closed under op is a connLost.
func runOn(ctx context.Context, conn *ldap.Conn, op func() error) error {
	err := withContext(ctx, conn, op)
	if err != nil && ctx.Err() == nil && conn.IsClosing() && !transient(err) {
		var he *handshakeError
		if !errors.As(err, &he) {
			return &connLost{err}
		}
	}
	return err
}

// open opens a connection: TLS from the start for ldaps://, upgraded with
// StartTLS when configured, plain otherwise.
func (c *Client) open(ctx context.Context) (*ldap.Conn, error) {
	addr, ldaps, err := c.cfg.endpoint()
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	d := &net.Dialer{Timeout: c.cfg.Timeout.Std()}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", c.cfg.safeURL(), err)
	}
	if ldaps {
		hctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.Std())
		tc := tls.Client(nc, c.tls)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			// A connection dropped during the handshake may be a server
			// going down, or a port that does not speak TLS: the retries
			// tell one from the other.
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("connect %s: TLS handshake: %w", c.cfg.safeURL(), err)
			}
			return nil, fmt.Errorf("connect %s: TLS handshake: %w", c.cfg.safeURL(), &handshakeError{err})
		}
		nc = tc
	}
	conn := ldap.NewConn(nc, ldaps)
	conn.Start()
	conn.SetTimeout(c.cfg.Timeout.Std())
	if c.cfg.TLS.StartTLS {
		err := runOn(ctx, conn, func() error { return conn.StartTLS(c.tls) })
		if err != nil {
			_ = conn.Close()
			// go-ldap reports a failed handshake as a network error with
			// the cause only as text.
			if !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || strings.Contains(err.Error(), "TLS handshake failed") {
				err = &handshakeError{err}
			}
			return nil, fmt.Errorf("connect %s: start TLS: %w", c.cfg.safeURL(), err)
		}
	}
	return conn, nil
}

// connect opens a connection bound as the service account.
func (c *Client) connect(ctx context.Context) (*ldap.Conn, error) {
	conn, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	err = runOn(ctx, conn, func() error { return conn.Bind(c.cfg.BindDN, c.pw.Reveal()) })
	if err != nil {
		_ = conn.Close()
		if !transient(err) {
			return nil, fmt.Errorf("bind %q: %w: %w", c.cfg.BindDN, ErrConnect, err)
		}
		return nil, fmt.Errorf("bind %q: %w", c.cfg.BindDN, err)
	}
	c.log.Debug().Str("url", c.cfg.safeURL()).Str("dn", c.cfg.BindDN).Msg("connected")
	return conn, nil
}

// do runs one operation as the service account on a pooled connection:
// every read and write goes through here. It retries transient failures
// (see retry) on a new connection, and wraps the error with what and dn,
// such as `directory: add "uid=…": …`.
func (c *Client) do(ctx context.Context, what, dn string, op func(ldap.Client) error) (err error) {
	if o := c.observe.Load(); o != nil {
		// what is always a literal word of the caller's, never a name.
		defer func(start time.Time) { (*o)(what, time.Since(start), err) }(time.Now())
	}
	return c.retry(ctx, what, dn, func() error {
		conn, err := c.acquire(ctx)
		if err != nil {
			return err
		}
		var cl ldap.Client = conn
		if r := c.record.Load(); r != nil {
			cl = recording{Client: conn, rec: *r}
		}
		err = runOn(ctx, conn, func() error { return op(cl) })
		broken := err != nil && (transient(err) || ctx.Err() != nil)
		if broken {
			c.log.Debug().Err(err).Str("dn", dn).Msg("connection dropped")
		}
		c.release(conn, broken)
		return err
	})
}

// retry runs attempt until it succeeds or fails for good. A transient
// failure (the server is down, unreachable, busy or too slow, the
// connection broke) is retried after an exponential back-off until
// Config.RetryFor has passed, and then wraps ErrUnavailable; so does a
// transient failure when ctx ends first. Anything else is returned at once.
// Every error is prefixed `directory: what "dn": `.
func (c *Client) retry(ctx context.Context, what, dn string, attempt func() error) error {
	start := time.Now()
	wait := retryInitial
	for n := 1; ; n++ {
		err := attempt()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrClosed):
			return fmt.Errorf("directory: %s %q: %w", what, dn, ErrClosed)
		case !transient(err):
			return fmt.Errorf("directory: %s %q: %w", what, dn, err)
		case ctx.Err() != nil:
			return fmt.Errorf("directory: %s %q: %w while retrying: %w (%d attempts): %w", what, dn, ctx.Err(), ErrUnavailable, n, err)
		}
		elapsed := time.Since(start)
		left := c.cfg.RetryFor.Std() - elapsed
		if left <= 0 {
			return fmt.Errorf("directory: %s %q: %w (%d attempts in %v): %w", what, dn, ErrUnavailable, n, elapsed.Round(time.Millisecond), err)
		}
		// The last wait is cut short, for one more attempt at the end.
		d := min(time.Duration(float64(wait)*(0.8+0.4*rand.Float64())), left)
		c.log.Debug().Err(err).Str("op", what).Str("dn", dn).Int("attempt", n).Dur("retry_in", d).Msg("directory unavailable, retrying")
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("directory: %s %q: %w while retrying: %w (%d attempts): %w", what, dn, ctx.Err(), ErrUnavailable, n, err)
		case <-t.C:
		}
		wait = min(2*wait, retryMaxWait)
	}
}

// transient reports whether err may pass on a retry: the connection or the
// server failed, not the request.
func transient(err error) bool {
	var he *handshakeError
	var lost *connLost
	switch {
	case err == nil, errors.As(err, &he), errors.Is(err, ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &lost):
		return true
	case ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultConnectError,
		ldap.LDAPResultTimeout, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable):
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsNotFound
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		// go-ldap reports a request it could not write to a connection the
		// server reset with the cause only as text (conn.go, "%s").
		strings.Contains(err.Error(), "unable to send request: ")
}

// withContext runs op on conn, closing conn if ctx ends first: go-ldap
// takes no context, and closing is the one way to abandon a request.
func withContext(ctx context.Context, conn *ldap.Conn, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	err := op()
	if !stop() {
		return ctx.Err()
	}
	return err
}
