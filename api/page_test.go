package api

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// The password page is served at GET and POST /password with no token,
// through the request log, and is not a route of the JSON API.
func TestServer_PasswordPage(t *testing.T) {
	var log bytes.Buffer
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("the page was handed an Authorization header it does not need")
		}
		_, _ = io.WriteString(w, "page "+r.Method)
	})
	s, err := NewServer(testConfig(t), &fakeEngine{}, zerolog.New(&log).Level(zerolog.DebugLevel), WithPasswordPage(page))
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		rec := do(h, m, "/password", "", "")
		if rec.Code != http.StatusOK || rec.Body.String() != "page "+m {
			t.Errorf("%s /password without a token: %d %q", m, rec.Code, rec.Body)
		}
	}
	if rec := do(h, http.MethodDelete, "/password", "", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /password: %d", rec.Code)
	}
	if !strings.Contains(log.String(), `"path":"/password"`) {
		t.Errorf("the page's requests are not in the request log:\n%s", log.String())
	}
	// The JSON API is unchanged: still behind its tokens.
	if rec := do(h, http.MethodGet, "/v1/holds", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /v1/holds without a token: %d", rec.Code)
	}
	if slices.ContainsFunc(Routes(), func(r Route) bool { return r.Path == PasswordPagePath }) {
		t.Error("the page is in the route table, which docs/openapi.yaml describes")
	}

	// Without the option there is no page.
	s, err = NewServer(testConfig(t), &fakeEngine{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if rec := do(s.Handler(), http.MethodGet, "/password", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET /password without the page: %d", rec.Code)
	}
}

func TestPasswordPageConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*PasswordPageConfig)
		want []string // problems, by path; none: valid
	}{
		{"defaults", func(*PasswordPageConfig) {}, nil},
		{"enabled", func(c *PasswordPageConfig) {
			c.Enabled, c.URL = true, "https://ldapsync.example.gov.vn/password"
		}, nil},
		{"loopback http url", func(c *PasswordPageConfig) { c.URL = "http://127.0.0.1:8443/password" }, nil},
		{"plain http url", func(c *PasswordPageConfig) { c.URL = "http://ldapsync.example.gov.vn/password" }, []string{"api.password_page.url"}},
		{"no host", func(c *PasswordPageConfig) { c.URL = "https:///password" }, []string{"api.password_page.url"}},
		{"bad limits", func(c *PasswordPageConfig) {
			c.MaxFailures, c.FailureWindow, c.PerSourceRequestsPerMinute, c.PerSourceBurst = 0, 0, 0, -1
		}, []string{"api.password_page.failure_window", "api.password_page.max_failures",
			"api.password_page.per_source_burst", "api.password_page.per_source_requests_per_minute"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Listen = "127.0.0.1:8443"
			c.Tokens = []TokenConfig{{Name: "a", Source: secret.Source{Env: "X"}, Role: RoleHR}}
			tt.edit(&c.PasswordPage)
			var got []string
			for _, e := range c.Validate("api") {
				got = append(got, e.Path)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems at %v, want %v: %v", got, tt.want, c.Validate("api"))
			}
		})
	}
	// The page is served on api.listen.
	c := DefaultConfig()
	c.PasswordPage.Enabled = true
	if errs := c.Validate("api"); len(errs) != 1 || errs[0].Path != "api.password_page.enabled" {
		t.Errorf("enabled without listen: %v", errs)
	}
	d := DefaultConfig().PasswordPage
	if d.Enabled || d.URL != "" || d.MaxFailures != 5 || d.FailureWindow != rules.Duration(15*time.Minute) ||
		d.PerSourceRequestsPerMinute != 10 || d.PerSourceBurst != 10 || d.TrustProxy {
		t.Errorf("defaults %+v", d)
	}
}
