package selfservice

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/rules"
)

// fakeChanger knows each account's password; an unknown uid and a wrong
// password are ErrInvalidCredentials, as in the directory. err, when set,
// is returned instead.
type fakeChanger struct {
	mu        sync.Mutex
	passwords map[string]string
	err       error
	calls     int
}

func (f *fakeChanger) ChangeOwnPassword(_ context.Context, uid string, current, next secret.Secret) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return f.err
	}
	if pw, ok := f.passwords[uid]; !ok || pw != current.Reveal() {
		return fmt.Errorf("directory: change password of %q: %w", uid, directory.ErrInvalidCredentials)
	}
	f.passwords[uid] = next.Reveal()
	return nil
}

func (f *fakeChanger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The passwords of the tests; none may appear in a log or an answer.
const (
	firstPW = "Xk7#mPq2@vRt9w"
	goodPW  = "Nw4$hTr8#pLq2z"
)

// harness is a page on a fake directory, with its log and clock.
type harness struct {
	h       http.Handler
	changer *fakeChanger
	clock   *clock
	log     *bytes.Buffer
	profile rules.PasswordProfile
	// seen collects every answer body, checked for passwords at cleanup.
	seen      *bytes.Buffer
	passwords []string
}

func newHarness(t *testing.T, profile string, edit func(*Config)) *harness {
	t.Helper()
	hs := &harness{
		changer: &fakeChanger{passwords: map[string]string{"quoctrang": firstPW}},
		clock:   &clock{t: testclock.T0()},
		log:     &bytes.Buffer{},
		seen:    &bytes.Buffer{},
		profile: rules.DefaultPasswordConfig().Profiles[profile],
	}
	cfg := Config{Now: hs.clock.now, PerSourceRate: 1000, PerSourceBurst: 1000}
	if edit != nil {
		edit(&cfg)
	}
	hs.h = New(cfg, hs.changer, func() rules.PasswordProfile { return hs.profile }, zerolog.New(hs.log))
	hs.passwords = []string{firstPW, goodPW}
	t.Cleanup(func() {
		for _, pw := range hs.passwords {
			if pw == "" {
				continue
			}
			if strings.Contains(hs.log.String(), pw) {
				t.Errorf("a password is in the log:\n%s", hs.log)
			}
			if strings.Contains(hs.seen.String(), pw) || strings.Contains(hs.seen.String(), html.EscapeString(pw)) {
				t.Errorf("a password is in an answer")
			}
		}
	})
	return hs
}

// get fetches the form from src and returns the answer.
func (hs *harness) get(src string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/password", nil)
	r.RemoteAddr = src + ":40000"
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	hs.seen.Write(w.Body.Bytes())
	return w
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// session is a browser's cookie and form token.
type session struct {
	cookie *http.Cookie
	token  string
}

func (hs *harness) session(t *testing.T) session {
	t.Helper()
	w := hs.get("192.0.2.1")
	m := tokenRE.FindStringSubmatch(w.Body.String())
	cookies := w.Result().Cookies()
	if m == nil || len(cookies) != 1 {
		t.Fatalf("the form has no token or no cookie: %v\n%s", cookies, w.Body)
	}
	return session{cookie: cookies[0], token: m[1]}
}

// post submits form values with s's cookie and token from src.
func (hs *harness) post(s session, src string, v url.Values) *httptest.ResponseRecorder {
	if s.token != "" && !v.Has("csrf") {
		v.Set("csrf", s.token)
	}
	r := httptest.NewRequest(http.MethodPost, "/password", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = src + ":40000"
	if s.cookie != nil {
		r.AddCookie(s.cookie)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	hs.seen.Write(w.Body.Bytes())
	return w
}

func form(user, current, next, confirm string) url.Values {
	return url.Values{"username": {user}, "current": {current}, "new": {next}, "confirm": {confirm}}
}

// has reports whether the page's text holds s (HTML entities decoded).
func has(w *httptest.ResponseRecorder, s string) bool {
	return strings.Contains(html.UnescapeString(w.Body.String()), s)
}

func TestHandler_Get(t *testing.T) {
	hs := newHarness(t, "nt7", nil)
	w := hs.get("192.0.2.1")
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d", w.Code)
	}
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"Content-Type":           "text/html; charset=utf-8",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	if hsts := w.Header().Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("HSTS %q without TLS", hsts)
	}
	for _, s := range []string{
		`autocomplete="username"`, `autocomplete="current-password"`, `autocomplete="new-password"`,
		`<html lang="vi">`, `lang="en"`, "Tên đăng nhập", "Username", "Mật khẩu mới", "New password",
		"Dài ít nhất 8 ký tự.", "At least 8 characters long.", "! @ # % $ * &",
	} {
		if !has(w, s) {
			t.Errorf("the form lacks %q", s)
		}
	}
	if strings.Contains(w.Body.String(), "<script") || strings.Contains(w.Body.String(), "http://") || strings.Contains(w.Body.String(), "https://") {
		t.Error("the page has a script or an external reference")
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != cookieName || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Secure {
		t.Errorf("cookie %+v, want %s HttpOnly SameSite=Strict, not Secure without TLS", c, cookieName)
	}

	// Over TLS: a Secure __Host- cookie, and HSTS.
	r := httptest.NewRequest(http.MethodGet, "/password", nil)
	r.TLS = &tls.ConnectionState{}
	w = httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != secureCookieName || !c[0].Secure {
		t.Errorf("cookie over TLS %+v, want a Secure %s", c, secureCookieName)
	}
	if w.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}

	r = httptest.NewRequest(http.MethodPut, "/password", nil)
	w = httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", w.Code)
	}
}

func TestHandler_CSRF(t *testing.T) {
	hs := newHarness(t, "nt7", nil)
	s := hs.session(t)
	other := newHarness(t, "nt7", nil).session(t) // another process's key
	good := form("quoctrang", firstPW, goodPW, goodPW)
	tests := []struct {
		name string
		s    session
		csrf string // "-" for none
	}{
		{"no cookie", session{token: s.token}, ""},
		{"no token", session{cookie: s.cookie}, "-"},
		{"wrong token", s, s.token[:len(s.token)-2] + "xx"},
		{"token of another cookie", session{cookie: s.cookie, token: other.token}, ""},
		{"another process's cookie and token", other, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range good {
				v[k] = vs
			}
			switch tt.csrf {
			case "-":
				v.Set("csrf", "")
			case "":
			default:
				v.Set("csrf", tt.csrf)
			}
			w := hs.post(tt.s, "192.0.2.1", v)
			if w.Code != http.StatusForbidden || !has(w, messages[outcomeCSRF].Vi) || !has(w, messages[outcomeCSRF].En) {
				t.Errorf("%d, want 403 with the CSRF message:\n%s", w.Code, w.Body)
			}
		})
	}
	if n := hs.changer.count(); n != 0 {
		t.Errorf("the directory was asked %d times", n)
	}
	if w := hs.post(s, "192.0.2.1", good); w.Code != http.StatusOK {
		t.Errorf("with the right cookie and token: %d\n%s", w.Code, w.Body)
	}
}

// Each rule is checked before the directory is asked, and named in both
// languages.
func TestHandler_Rules(t *testing.T) {
	tests := []struct {
		name, profile, user, next, confirm string
		code                               int
		want                               []string // texts of the page
	}{
		{"missing fields", "nt7", "quoctrang", "", "", http.StatusBadRequest, []string{messages[outcomeMissing].Vi, messages[outcomeMissing].En}},
		{"mismatch", "nt7", "quoctrang", goodPW, goodPW + "x", http.StatusUnprocessableEntity, []string{messages[outcomeMismatch].Vi, messages[outcomeMismatch].En}},
		{"same as current", "nt7", "quoctrang", firstPW, firstPW, http.StatusUnprocessableEntity, []string{messages[outcomeSame].Vi, messages[outcomeSame].En}},
		{"nt7 too short", "nt7", "quoctrang", "Ab3#efg", "", http.StatusUnprocessableEntity, []string{"ít nhất 8 ký tự", "at least 8 characters long"}},
		{"nt7 password1", "nt7", "quoctrang", "password1", "", http.StatusUnprocessableEntity, []string{
			"còn thiếu: chữ in hoa, ký tự đặc biệt", "it lacks an upper-case letter, a special character"}},
		{"nt7 missing a digit", "nt7", "quoctrang", "Abcdefg#", "", http.StatusUnprocessableEntity, []string{"còn thiếu: chữ số", "it lacks a digit"}},
		{"btc5 too short", "btc5", "quoctrang", "Ab3efg", "", http.StatusUnprocessableEntity, []string{"ít nhất 8 ký tự", "at least 8 characters long"}},
		{"btc5 password1", "btc5", "quoctrang", "password1", "", http.StatusUnprocessableEntity, []string{
			"ít nhất 3 trong 4 loại", "hiện chỉ có 2 loại", "at least 3 of the 4 kinds", "it has 2"}},
		{"btc5 part of the account name", "btc5", "quoctrang", "Trang#2026x", "", http.StatusUnprocessableEntity, []string{
			"không được chứa 3 ký tự liên tiếp nào của tên đăng nhập", "must not contain 3 or more consecutive characters of the username"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.profile, nil)
			hs.passwords = append(hs.passwords, tt.next)
			confirm := tt.confirm
			if confirm == "" {
				confirm = tt.next
			}
			w := hs.post(hs.session(t), "192.0.2.1", form(tt.user, firstPW, tt.next, confirm))
			if w.Code != tt.code {
				t.Errorf("status %d, want %d", w.Code, tt.code)
			}
			for _, s := range tt.want {
				if !has(w, s) {
					t.Errorf("the page lacks %q:\n%s", s, w.Body)
				}
			}
			if n := hs.changer.count(); n != 0 {
				t.Errorf("the directory was asked %d times", n)
			}
			// The username is filled in again; no password field is.
			if !has(w, `value="quoctrang"`) {
				t.Error("the username is not filled in again")
			}
			if regexp.MustCompile(`type="password"[^>]*value=`).MatchString(w.Body.String()) {
				t.Error("a password field is filled in")
			}
		})
	}
	// The same passwords pass where they break no rule: the tests above
	// can fail.
	hs := newHarness(t, "btc5", nil)
	if w := hs.post(hs.session(t), "192.0.2.1", form("tuan", "x", "password1X", "password1X")); has(w, "hiện chỉ có") {
		t.Errorf("password1X refused under btc5:\n%s", w.Body)
	}
}

func TestHandler_Change(t *testing.T) {
	tests := []struct {
		name     string
		err      error // the directory's; nil: the fake's own check
		current  string
		code     int
		want     text
		outcome  string
		changed  bool
		countsAs bool // counts as a failed current password
	}{
		{name: "good change", current: firstPW, code: http.StatusOK, want: messages[outcomeChanged], outcome: outcomeChanged, changed: true},
		{name: "wrong current password", current: "Wrong#Pass-123", code: http.StatusUnprocessableEntity, want: messages[outcomeInvalid], outcome: outcomeInvalid, countsAs: true},
		{name: "locked", err: fmt.Errorf("x: %w", directory.ErrAccountLocked), current: firstPW, code: http.StatusUnprocessableEntity, want: messages[outcomeInvalid], outcome: outcomeLocked, countsAs: true},
		{name: "expired", err: fmt.Errorf("x: %w", directory.ErrPasswordExpired), current: firstPW, code: http.StatusUnprocessableEntity, want: messages[outcomeExpired], outcome: outcomeExpired},
		{name: "history", err: &directory.PasswordRefusedError{Reason: directory.RefusedInHistory}, current: firstPW, code: http.StatusUnprocessableEntity,
			want: refusals[directory.RefusedInHistory], outcome: "refused:in_history"},
		{name: "too short for slapd", err: &directory.PasswordRefusedError{Reason: directory.RefusedTooShort}, current: firstPW, code: http.StatusUnprocessableEntity,
			want: text{"Mật khẩu mới phải dài ít nhất 8 ký tự.", "The new password must be at least 8 characters long."}, outcome: "refused:too_short"},
		{name: "unknown refusal", err: &directory.PasswordRefusedError{Reason: "x"}, current: firstPW, code: http.StatusUnprocessableEntity,
			want: refusals[directory.RefusedOther], outcome: "refused:x"},
		{name: "unavailable", err: fmt.Errorf("x: %w", rules.ErrUnavailable), current: firstPW, code: http.StatusServiceUnavailable,
			want: messages[outcomeUnavailable], outcome: outcomeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, "nt7", nil)
			hs.passwords = append(hs.passwords, tt.current)
			hs.changer.err = tt.err
			w := hs.post(hs.session(t), "198.51.100.7", form("quoctrang", tt.current, goodPW, goodPW))
			if w.Code != tt.code || !has(w, tt.want.Vi) || !has(w, tt.want.En) {
				t.Fatalf("%d, want %d with %q:\n%s", w.Code, tt.code, tt.want, w.Body)
			}
			if got := hs.changer.passwords["quoctrang"] == goodPW; got != tt.changed {
				t.Errorf("changed %v, want %v", got, tt.changed)
			}
			line := hs.log.String()
			for _, s := range []string{`"uid":"quoctrang"`, `"remote":"198.51.100.7"`, `"outcome":"` + tt.outcome + `"`} {
				if !strings.Contains(line, s) {
					t.Errorf("the log lacks %s:\n%s", s, line)
				}
			}
			if blocked, _ := hs.h.(*handler).fails.blocked("quoctrang", hs.clock.now().Add(-time.Hour)); blocked {
				t.Fatal("blocked before any failure")
			}
			if n := len(hs.h.(*handler).fails.m["quoctrang"]); (n == 1) != tt.countsAs {
				t.Errorf("%d failures counted", n)
			}
		})
	}
}

// After max_failures wrong current passwords in failure_window, a username
// is refused without asking the directory until the window passes; an
// unknown username is treated the same.
func TestHandler_UsernameLimit(t *testing.T) {
	for _, user := range []string{"quoctrang", "nobody"} {
		t.Run(user, func(t *testing.T) {
			hs := newHarness(t, "nt7", func(c *Config) { c.MaxFailures, c.FailureWindow = 3, 10*time.Minute })
			s := hs.session(t)
			wrong := "Wrong#Pass-123"
			hs.passwords = append(hs.passwords, wrong)
			for i := range 3 {
				w := hs.post(s, "192.0.2.1", form(user, wrong, goodPW, goodPW))
				if w.Code != http.StatusUnprocessableEntity || !has(w, messages[outcomeInvalid].En) {
					t.Fatalf("attempt %d: %d\n%s", i+1, w.Code, w.Body)
				}
				hs.clock.add(time.Minute)
			}
			// Now 3 failures at T0, +1m, +2m; the clock is at +3m.
			w := hs.post(s, "192.0.2.1", form(user, firstPW, goodPW, goodPW))
			if w.Code != http.StatusTooManyRequests || !has(w, "thử lại sau 7 phút") || !has(w, "try again in 7 minutes") {
				t.Fatalf("after 3 failures: %d\n%s", w.Code, w.Body)
			}
			if n := hs.changer.count(); n != 3 {
				t.Errorf("the directory was asked %d times, want 3", n)
			}
			if !strings.Contains(hs.log.String(), `"outcome":"username_limited"`) {
				t.Errorf("log:\n%s", hs.log)
			}
			// Another username is not affected.
			if w := hs.post(s, "192.0.2.1", form("other", wrong, goodPW, goodPW)); w.Code == http.StatusTooManyRequests {
				t.Error("another username is limited")
			}
			// When the first failure leaves the window, one attempt more.
			hs.clock.add(7 * time.Minute)
			w = hs.post(s, "192.0.2.1", form(user, firstPW, goodPW, goodPW))
			if w.Code == http.StatusTooManyRequests {
				t.Fatalf("still limited after the window: %s", w.Body)
			}
			if user == "quoctrang" && w.Code != http.StatusOK {
				t.Fatalf("the good change after the window: %d\n%s", w.Code, w.Body)
			}
		})
	}
}

func TestHandler_SourceLimit(t *testing.T) {
	hs := newHarness(t, "nt7", func(c *Config) { c.PerSourceRate, c.PerSourceBurst = 6, 3 }) // one every 10s
	for i := range 3 {
		if w := hs.get("192.0.2.1"); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	w := hs.get("192.0.2.1")
	if w.Code != http.StatusTooManyRequests || !has(w, "Có quá nhiều yêu cầu từ địa chỉ của bạn") || !has(w, "Too many requests from your address") {
		t.Fatalf("4th request: %d\n%s", w.Code, w.Body)
	}
	if w := hs.get("192.0.2.2"); w.Code != http.StatusOK {
		t.Errorf("another source: %d", w.Code)
	}
	hs.clock.add(10 * time.Second)
	if w := hs.get("192.0.2.1"); w.Code != http.StatusOK {
		t.Errorf("after 10s: %d", w.Code)
	}
	if w := hs.get("192.0.2.1"); w.Code != http.StatusTooManyRequests {
		t.Errorf("again at once: %d", w.Code)
	}
}

func TestHandler_TrustProxy(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(fmt.Sprint(trust), func(t *testing.T) {
			hs := newHarness(t, "nt7", func(c *Config) { c.PerSourceRate, c.PerSourceBurst, c.TrustProxy = 1, 1, trust })
			get := func(xff string) int {
				r := httptest.NewRequest(http.MethodGet, "/password", nil)
				r.RemoteAddr = "127.0.0.1:5000"
				r.Header.Set("X-Forwarded-For", xff)
				r.Header.Set("X-Forwarded-Proto", "https")
				w := httptest.NewRecorder()
				hs.h.ServeHTTP(w, r)
				if (w.Header().Get("Strict-Transport-Security") != "") != trust {
					t.Errorf("HSTS %q", w.Header().Get("Strict-Transport-Security"))
				}
				return w.Code
			}
			get("203.0.113.9, 192.0.2.1")
			// A second client behind the proxy has a bucket of its own only
			// when the proxy is trusted.
			if code := get("192.0.2.2"); (code == http.StatusOK) != trust {
				t.Errorf("second client: %d", code)
			}
		})
	}
}

func TestHandler_Body(t *testing.T) {
	hs := newHarness(t, "nt7", nil)
	s := hs.session(t)
	v := form("quoctrang", firstPW, goodPW, goodPW)
	v.Set("pad", strings.Repeat("a", maxBody))
	if w := hs.post(s, "192.0.2.1", v); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a large body: %d", w.Code)
	}
	if w := hs.post(s, "192.0.2.1", form(strings.Repeat("a", maxUsername+1), firstPW, goodPW, goodPW)); w.Code != http.StatusBadRequest {
		t.Errorf("a long username: %d", w.Code)
	}
	if n := hs.changer.count(); n != 0 {
		t.Errorf("the directory was asked %d times", n)
	}
}
