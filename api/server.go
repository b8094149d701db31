package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// The network server's timeouts. WriteTimeout bounds a whole answer: a
// sweep or a reconcile of a large roster answers when it is applied.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	writeTimeout      = 10 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 30 * time.Second
)

// principal is an authenticated caller of the network API.
type principal struct {
	name  string
	role  Role
	units map[string]bool // nil: every unit
	hash  [sha256.Size]byte
}

func (p *principal) scoped() bool { return p.units != nil }

// allows reports whether the caller may act on unit.
func (p *principal) allows(unit string) bool {
	return p.units == nil || p.units[strings.ToLower(strings.TrimSpace(unit))]
}

type principalKey struct{}

// principalOf returns the network caller, nil on the control socket.
func principalOf(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// Option adds what the network server serves besides the engine's routes.
type Option func(*options)

// options are what the Options set: the routes' dependencies, and the
// pages served beside the routes.
type options struct {
	*deps
	passwordPage http.Handler
}

// WithReady makes /readyz answer 503 with the error's text while ready
// returns an error, 200 otherwise. Without it, /readyz answers as /healthz.
func WithReady(ready func(context.Context) error) Option {
	return func(o *options) { o.ready = ready }
}

// WithMetrics serves h (e.g. promhttp.Handler()) at /metrics, to operators
// and auditors. Without it, /metrics answers 404.
func WithMetrics(h http.Handler) Option {
	return func(o *options) { o.metrics = h }
}

// WithPasswordPage serves h, the self-service password page (package
// selfservice), at GET and POST /password, to anyone: it needs no token,
// and is logged as every request is. It is HTML for people, not part of
// the JSON API, and so not in Routes or docs/openapi.yaml. Without it,
// /password answers 404.
func WithPasswordPage(h http.Handler) Option {
	return func(o *options) { o.passwordPage = h }
}

// PasswordPagePath is where WithPasswordPage serves the page.
const PasswordPagePath = "/password"

// Server is the network API: the control socket's routes and HR's
// submissions, each behind a bearer token with a role.
type Server struct {
	cfg    Config
	log    zerolog.Logger
	tokens []*principal
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
}

// NewServer reads the tokens and the TLS files of cfg and builds the
// network API on e. It does not listen yet: see Start.
func NewServer(cfg Config, e Engine, log zerolog.Logger, opts ...Option) (*Server, error) {
	if errs := cfg.Validate("api"); len(errs) > 0 {
		return nil, fmt.Errorf("api: %w", errs)
	}
	s := &Server{cfg: cfg, log: log}
	for i, t := range cfg.Tokens {
		sec, err := t.Source.Load()
		if err != nil {
			return nil, fmt.Errorf("api: token %q: %w", t.Name, err)
		}
		p := &principal{name: t.Name, role: t.Role, hash: sha256.Sum256([]byte(sec.Reveal()))}
		if len(t.Units) > 0 {
			p.units = map[string]bool{}
			for _, u := range t.Units {
				p.units[strings.ToLower(strings.TrimSpace(u))] = true
			}
		}
		for _, q := range s.tokens {
			if q.hash == p.hash {
				return nil, fmt.Errorf("api: tokens %q and %q are the same token (api.tokens[%d])", q.name, p.name, i)
			}
		}
		s.tokens = append(s.tokens, p)
	}
	d := &deps{e: e, log: log, maxBody: cfg.MaxBody}
	o := &options{deps: d}
	for _, opt := range opts {
		opt(o)
	}
	mux := http.NewServeMux()
	for _, rt := range routes(d) {
		mux.Handle(rt.Method+" "+rt.Path, s.authorize(rt.Route, rt.h))
	}
	if o.passwordPage != nil {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			mux.Handle(m+" "+PasswordPagePath, s.authorize(Route{Method: m, Path: PasswordPagePath}, o.passwordPage))
		}
	}
	var tc *tls.Config
	if cfg.TLS.Enabled() {
		var err error
		if tc, err = serverTLS(cfg.TLS); err != nil {
			return nil, err
		}
	}
	s.srv = &http.Server{
		Addr:              cfg.Listen,
		Handler:           s.limit(mux),
		TLSConfig:         tc,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(log.With().Str("source", "net/http").Logger(), "", 0),
	}
	return s, nil
}

// serverTLS is the server's TLS config: TLS 1.2 or later and, with a
// client CA file, a verified client certificate on every connection.
func serverTLS(c TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("api: tls: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("api: tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api: tls: %s holds no PEM certificate", c.ClientCAFile)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Handler returns the server's routes with authentication, for tests and
// for a caller that serves them itself.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Start listens on api.listen and serves until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	s.ln, s.done = ln, make(chan struct{})
	// Serve writes the TLS config (HTTP/2): read it before.
	useTLS := s.srv.TLSConfig != nil
	go func() {
		defer close(s.done)
		var err error
		if useTLS {
			err = s.srv.ServeTLS(ln, "", "")
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("network API stopped")
		}
	}()
	s.log.Info().Str("listen", ln.Addr().String()).Bool("tls", useTLS).
		Bool("client_certs", s.cfg.TLS.ClientCAFile != "").Int("tokens", len(s.tokens)).Msg("network API listening")
	return nil
}

// Addr returns the address the server listens on, nil before Start.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops listening and lets running requests end (at most 30s).
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// limit bounds every request body to api.max_body.
func (s *Server) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBody {
			reply(w, http.StatusRequestEntityTooLarge, problem{fmt.Sprintf("request body over %d bytes", s.cfg.MaxBody)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		h.ServeHTTP(w, r)
	})
}

// authenticate returns the token's caller, nil for none or an unknown one.
// Every configured token is compared, in constant time, whatever matches:
// neither the time taken nor an early return tells how much of a guess was
// right.
func (s *Server) authenticate(r *http.Request) *principal {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil
	}
	h := sha256.Sum256([]byte(tok))
	var found *principal
	for _, p := range s.tokens {
		if subtle.ConstantTimeCompare(h[:], p.hash[:]) == 1 {
			found = p
		}
	}
	return found
}

// authorize lets through to h only a caller whose token has one of rt's
// roles and, when scoped to units, only to a route that checks units; it
// logs the request by the token's name, never the token.
func (s *Server) authorize(rt Route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		var p *principal
		defer func() {
			ev := s.log.Debug()
			if sw.code == http.StatusUnauthorized || sw.code == http.StatusForbidden {
				ev = s.log.Warn()
			}
			if p != nil {
				ev = ev.Str("token", p.name).Str("role", string(p.role))
			}
			ev.Str("method", r.Method).Str("path", r.URL.Path).Str("remote", r.RemoteAddr).Int("status", sw.code).
				Dur("took", time.Since(start)).Msg("api request")
		}()
		if len(rt.Roles) == 0 {
			h.ServeHTTP(sw, r)
			return
		}
		if p = s.authenticate(r); p == nil {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="ldapsync"`)
			reply(sw, http.StatusUnauthorized, problem{"unauthorized: a valid bearer token is required"})
			return
		}
		switch {
		case !slices.Contains(rt.Roles, p.role):
			reply(sw, http.StatusForbidden, problem{fmt.Sprintf("forbidden: the %s role may not %s %s", p.role, rt.Method, rt.Path)})
			return
		case p.scoped() && !rt.Scoped:
			reply(sw, http.StatusForbidden, problem{fmt.Sprintf("forbidden: %s %s spans every unit, and the token is limited to some", rt.Method, rt.Path)})
			return
		}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// statusWriter remembers the status of an answer, for the request log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
