// Package directory is everything that speaks LDAP: connecting to OpenLDAP,
// reading the whole directory into a Snapshot for the planner, and the
// idempotent writes that create, move, lock, restore and revoke accounts.
// Nothing outside this package (and its subpackages openldap, the server
// setup, and slapdtest, the test server) imports go-ldap.
package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/secret"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrInvalidCredentials is a bind refused for a wrong DN or password.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrAccountLocked is a bind refused because ppolicy locks the account
	// (pwdAccountLockedTime).
	ErrAccountLocked = errors.New("account locked")
	// ErrConflict is a uid already held by another employee.
	ErrConflict = errors.New("uid belongs to another employee")
	// ErrClosed is an operation on a closed Client.
	ErrClosed = errors.New("client closed")
)

// Client talks to one directory as the service account. It keeps one
// connection, opened again when it breaks, and runs one operation at a
// time; it is safe for concurrent use.
type Client struct {
	cfg Config
	log zerolog.Logger
	pw  secret.Secret

	mu     sync.Mutex
	conn   *ldap.Conn // nil until connected, and after it broke
	closed bool
}

// Dial connects and binds as the service account. log is the component's
// logger; no password ever reaches it.
func Dial(ctx context.Context, cfg Config, log zerolog.Logger) (*Client, error) {
	if err := cfg.Validate("directory").Err(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	pw, err := cfg.BindPassword.Load()
	if err != nil {
		return nil, fmt.Errorf("directory: bind password: %w", err)
	}
	c := &Client{cfg: cfg, log: log, pw: pw}
	if c.conn, err = c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	if err != nil {
		return fmt.Errorf("directory: close: %w", err)
	}
	return nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// open opens a connection, TLS from the start for ldaps://, with
// certificate verification.
func (c *Client) open(ctx context.Context) (*ldap.Conn, error) {
	addr, useTLS, err := c.cfg.endpoint()
	if err != nil {
		return nil, fmt.Errorf("directory: url: %w", err)
	}
	d := &net.Dialer{Timeout: c.cfg.Timeout.Std()}
	var nc net.Conn
	if useTLS {
		host, _, _ := net.SplitHostPort(addr)
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("directory: connect %s: %w", c.cfg.URL, err)
	}
	conn := ldap.NewConn(nc, useTLS)
	conn.Start()
	conn.SetTimeout(c.cfg.Timeout.Std())
	return conn, nil
}

// connect opens a connection bound as the service account.
func (c *Client) connect(ctx context.Context) (*ldap.Conn, error) {
	conn, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	err = withContext(ctx, conn, func() error { return conn.Bind(c.cfg.BindDN, c.pw.Reveal()) })
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("directory: bind %q: %w", c.cfg.BindDN, err)
	}
	c.log.Debug().Str("url", c.cfg.URL).Str("dn", c.cfg.BindDN).Msg("connected")
	return conn, nil
}

// do runs one operation as the service account: every read and write goes
// through here. It connects first when there is no connection or the last
// one broke, and wraps the operation's error with what and dn, such as
// `directory: add "uid=…": …`.
func (c *Client) do(ctx context.Context, what, dn string, op func(*ldap.Conn) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("directory: %s %q: %w", what, dn, ErrClosed)
	}
	if c.conn == nil || c.conn.IsClosing() {
		conn, err := c.connect(ctx)
		if err != nil {
			return err
		}
		c.conn = conn
	}
	conn := c.conn
	if err := withContext(ctx, conn, func() error { return op(conn) }); err != nil {
		if conn.IsClosing() {
			c.conn = nil
			c.log.Debug().Err(err).Str("dn", dn).Msg("connection lost")
		}
		return fmt.Errorf("directory: %s %q: %w", what, dn, err)
	}
	return nil
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
