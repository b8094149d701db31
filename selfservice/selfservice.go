// Package selfservice is the self-service password page: a small HTML form
// where a person changes their own password, for those whose applications
// bind without the ppolicy control (Dovecot, Keycloak's federation) and so
// never make them change the first password of their letter.
//
// The page checks the new password against the active password profile's
// rules that slapd cannot check (character classes, no part of the account
// name: NT Art. 7, BTC 5), then has the directory change it as the user
// (Changer; directory.Client.ChangeOwnPassword), so slapd applies
// everything else (length, history, lock). It takes no JavaScript and no
// asset from elsewhere, protects its form against cross-site requests,
// limits requests by source address and wrong current passwords by
// username, and never logs, returns or echoes a password.
package selfservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Changer changes a password as its user; *directory.Client has it. Its
// errors are directory's: ErrInvalidCredentials, ErrAccountLocked,
// ErrPasswordExpired, *PasswordRefusedError, ErrUnavailable.
type Changer interface {
	ChangeOwnPassword(ctx context.Context, uid string, current, next secret.Secret) error
}

// Defaults of Config.
const (
	DefaultMaxFailures    = 5
	DefaultFailureWindow  = 15 * time.Minute
	DefaultPerSourceRate  = 10 // requests a minute
	DefaultPerSourceBurst = 10
	DefaultMaxTracked     = 10000
)

// Bounds on what a request may hold.
const (
	maxBody     = 8 << 10
	maxUsername = 64
	maxPassword = 256
)

// Config configures the page. Zero fields take their defaults.
type Config struct {
	// MaxFailures is how many wrong current passwords a username may have
	// within FailureWindow; after that the page refuses the username, without
	// asking the directory, until the oldest of them is FailureWindow old,
	// as slapd counts pwdMaxFailure within pwdFailureCountInterval.
	// Default 5.
	MaxFailures int
	// FailureWindow: see MaxFailures. Default 15 minutes.
	FailureWindow time.Duration
	// PerSourceRate is how many requests a minute one source address may
	// make, on average (a token bucket). Default 10.
	PerSourceRate float64
	// PerSourceBurst is how many requests a source may make at once.
	// Default 10.
	PerSourceBurst int
	// TrustProxy takes the source address from the last X-Forwarded-For
	// value, and TLS from X-Forwarded-Proto, on requests that come from a
	// loopback address: for a TLS proxy on the same machine. Default false.
	TrustProxy bool
	// MaxTracked bounds how many source addresses and how many usernames
	// the limits remember (each); the least recent go first. Default
	// 10000.
	MaxTracked int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = DefaultFailureWindow
	}
	if c.PerSourceRate <= 0 {
		c.PerSourceRate = DefaultPerSourceRate
	}
	if c.PerSourceBurst <= 0 {
		c.PerSourceBurst = DefaultPerSourceBurst
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = DefaultMaxTracked
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

var (
	//go:embed templates/page.html
	pageHTML string
	//go:embed templates/style.css
	styleCSS string

	pageTmpl = template.Must(template.New("page").Parse(pageHTML))
	// csp allows the one inline style sheet, by its hash, and nothing else.
	csp = func() string {
		sum := sha256.Sum256([]byte(styleCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	}()
)

// handler serves the page.
type handler struct {
	cfg     Config
	changer Changer
	profile func() rules.PasswordProfile
	log     zerolog.Logger
	csrf    *csrf
	sources *buckets
	fails   *failures
}

// New returns the page's handler: GET shows the form, POST changes the
// password. profile returns the password profile in force (it may change
// on a reload). log receives one line per POST with the username, the
// remote address and the outcome; nothing else of the request.
func New(cfg Config, changer Changer, profile func() rules.PasswordProfile, log zerolog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	return &handler{
		cfg: cfg, changer: changer, profile: profile, log: log,
		csrf:    newCSRF(),
		sources: newBuckets(cfg.PerSourceRate, cfg.PerSourceBurst, cfg.MaxTracked),
		fails:   newFailures(cfg.MaxFailures, cfg.FailureWindow, cfg.MaxTracked),
	}
}

// page is what the template shows.
type page struct {
	CSS                      template.CSS
	Token                    string
	Username                 string
	Errors                   []text
	Notice                   *text
	Done                     bool
	Rules                    []text
	MaxUsername, MaxPassword int
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure := h.secure(r)
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	if secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if ok, wait := h.sources.take(h.source(r), h.cfg.Now()); !ok {
			h.render(w, r, secure, http.StatusTooManyRequests, "", []text{sourceLimited(wait)})
			return
		}
		h.render(w, r, secure, http.StatusOK, "", nil)
	case http.MethodPost:
		h.post(w, r, secure)
	default:
		hd.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// post handles a submitted form.
func (h *handler) post(w http.ResponseWriter, r *http.Request, secure bool) {
	now := h.cfg.Now()
	src := h.source(r)
	username := ""
	outcome := ""
	defer func() {
		h.log.Info().Str("uid", username).Str("remote", src).Str("outcome", outcome).Msg("password page")
	}()
	fail := func(code int, o string, msgs ...text) {
		outcome = o
		h.render(w, r, secure, code, username, msgs)
	}
	if ok, wait := h.sources.take(src, now); !ok {
		fail(http.StatusTooManyRequests, outcomeSourceLimit, sourceLimited(wait))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(http.StatusRequestEntityTooLarge, outcomeTooLarge, messages[outcomeTooLarge])
			return
		}
		fail(http.StatusBadRequest, outcomeBadRequest, messages[outcomeBadRequest])
		return
	}
	if !h.csrf.valid(nonceOf(r, secure), r.PostForm.Get("csrf")) {
		fail(http.StatusForbidden, outcomeCSRF, messages[outcomeCSRF])
		return
	}
	username = cleanUsername(r.PostForm.Get("username"))
	current := secret.New(r.PostForm.Get("current"))
	next := secret.New(r.PostForm.Get("new"))
	confirm := secret.New(r.PostForm.Get("confirm"))
	if username == "" || current.IsZero() || next.IsZero() || confirm.IsZero() {
		fail(http.StatusBadRequest, outcomeMissing, messages[outcomeMissing])
		return
	}
	if !utf8.ValidString(current.Reveal()) || !utf8.ValidString(next.Reveal()) ||
		len(current.Reveal()) > maxPassword || len(next.Reveal()) > maxPassword {
		fail(http.StatusBadRequest, outcomeBadRequest, messages[outcomeBadRequest])
		return
	}
	key := strings.ToLower(username)
	if blocked, until := h.fails.blocked(key, now); blocked {
		fail(http.StatusTooManyRequests, outcomeUserLimit, userLimited(until.Sub(now)))
		return
	}
	if next.Reveal() != confirm.Reveal() {
		fail(http.StatusUnprocessableEntity, outcomeMismatch, messages[outcomeMismatch])
		return
	}
	if next.Reveal() == current.Reveal() {
		fail(http.StatusUnprocessableEntity, outcomeSame, messages[outcomeSame])
		return
	}
	profile := h.profile()
	if problems := profile.Problems(next.Reveal(), username); len(problems) > 0 {
		msgs := make([]text, len(problems))
		codes := make([]string, len(problems))
		for i, p := range problems {
			msgs[i], codes[i] = problemText(p), p.Code
		}
		fail(http.StatusUnprocessableEntity, outcomeRules+":"+strings.Join(codes, ","), msgs...)
		return
	}

	err := h.changer.ChangeOwnPassword(r.Context(), username, current, next)
	var refused *directory.PasswordRefusedError
	switch {
	case err == nil:
		h.fails.reset(key)
		outcome = outcomeChanged
		setNonce(w, secure) // a new form for a new change
		h.write(w, http.StatusOK, page{CSS: template.CSS(styleCSS), Done: true, Notice: ptr(messages[outcomeChanged])})
	case errors.Is(err, directory.ErrInvalidCredentials), errors.Is(err, directory.ErrAccountLocked):
		// Counted alike, and answered alike: see messages[outcomeInvalid].
		h.fails.add(key, now)
		o := outcomeInvalid
		if errors.Is(err, directory.ErrAccountLocked) {
			o = outcomeLocked
		}
		msgs := []text{messages[outcomeInvalid]}
		if blocked, until := h.fails.blocked(key, now); blocked {
			msgs = append(msgs, userLimited(until.Sub(now)))
		}
		fail(http.StatusUnprocessableEntity, o, msgs...)
	case errors.Is(err, directory.ErrPasswordExpired):
		fail(http.StatusUnprocessableEntity, outcomeExpired, messages[outcomeExpired])
	case errors.As(err, &refused):
		m, ok := refusals[refused.Reason]
		switch {
		case refused.Reason == directory.RefusedTooShort:
			m = problemText(rules.PasswordProblem{Code: rules.ProblemTooShort, MinLength: profile.MinLength})
		case !ok:
			m = refusals[directory.RefusedOther]
		}
		fail(http.StatusUnprocessableEntity, outcomeRefused+":"+refused.Reason, m)
	default:
		h.log.Error().Err(err).Str("uid", username).Msg("password page: the directory failed")
		o := outcomeError
		if errors.Is(err, rules.ErrUnavailable) {
			o = outcomeUnavailable
		}
		fail(http.StatusServiceUnavailable, o, messages[outcomeUnavailable])
	}
}

func ptr[T any](v T) *T { return &v }

// render shows the form with username filled in (never a password) and
// msgs as errors, under a CSRF token for the request's nonce (a new one
// when it has none).
func (h *handler) render(w http.ResponseWriter, r *http.Request, secure bool, code int, username string, msgs []text) {
	nonce := nonceOf(r, secure)
	if nonce == "" {
		nonce = setNonce(w, secure)
	}
	h.write(w, code, page{
		CSS:         template.CSS(styleCSS),
		Token:       h.csrf.token(nonce),
		Username:    username,
		Errors:      msgs,
		Rules:       profileRules(h.profile()),
		MaxUsername: maxUsername,
		MaxPassword: maxPassword,
	})
}

// write renders p whole before sending it, so that a template failure is
// a clean 500.
func (h *handler) write(w http.ResponseWriter, code int, p page) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		h.log.Error().Err(err).Msg("password page: template")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// cleanUsername trims the username and refuses ("") one too long or with
// control characters: it reaches a log line and an LDAP filter.
func cleanUsername(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxUsername || !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ""
		}
	}
	return s
}

// fromProxy reports whether r came through the trusted local proxy.
func (h *handler) fromProxy(r *http.Request) bool {
	if !h.cfg.TrustProxy {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// source returns the request's source address, without the port.
func (h *handler) source(r *http.Request) string {
	if h.fromProxy(r) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether the browser reached the page over TLS.
func (h *handler) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return h.fromProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
