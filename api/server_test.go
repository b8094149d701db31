package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// The fake directory: inunit belongs to sotttt, the scoped tokens' unit;
// other to soyt.
var fakeUnits = map[string]string{"inunit": "sotttt", "other": "soyt"}

func (f *fakeEngine) Explain(_ context.Context, uid string) (*sync.Explanation, error) {
	u, ok := fakeUnits[uid]
	if !ok {
		return nil, sync.ErrNoAccount
	}
	return &sync.Explanation{UID: uid, State: &sync.AccountState{Unit: u}}, nil
}

// SubmitEvents accepts every line; with a scope, a line whose unit is
// outside it refuses the whole submission, as the engine does.
func (f *fakeEngine) SubmitEvents(_ context.Context, name string, data []byte, scope func(string) bool) (*sync.SubmitEventsResult, error) {
	f.submitted = string(data)
	res := &sync.SubmitEventsResult{}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]string
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, &sync.FileError{File: name, Err: err}
		}
		r := sync.SubmittedRecord{Line: i + 1, EventID: rec["event_id"], Status: sync.RecordAccepted}
		if scope != nil && !scope(rec["unit"]) {
			r.Status = sync.RecordForbidden
			res.Forbidden++
		}
		res.Records = append(res.Records, r)
	}
	if res.Forbidden > 0 {
		return res, sync.ErrOutOfScope
	}
	res.Accepted = len(res.Records)
	return res, nil
}

func (f *fakeEngine) AuditRecords(from, to rules.Date, unit string) (*sync.AuditSelection, error) {
	return &sync.AuditSelection{Total: 3, Head: "h"}, nil
}

func (f *fakeEngine) PlanPending(context.Context) (*sync.Plan, error) {
	return &sync.Plan{Ops: []sync.Op{{Kind: sync.OpLock, UID: "inunit"}}}, nil
}

// RosterPathAllowed allows the rosters of the test inbox only.
func (f *fakeEngine) RosterPathAllowed(path string) bool { return path == "roster.csv" }

func (f *fakeEngine) RejectedFiles() ([]sync.RejectedFile, error) {
	return []sync.RejectedFile{{Name: "a.csv", Size: 12}}, nil
}

// testTokens are the callers of the tests' servers, by name; their
// secrets are in env variables TOKEN_<name>.
var testTokens = []TokenConfig{
	{Name: "hr", Role: RoleHR},
	{Name: "operator", Role: RoleOperator},
	{Name: "auditor", Role: RoleAuditor},
	{Name: "hr-sotttt", Role: RoleHR, Units: []string{"sotttt"}},
	{Name: "operator-sotttt", Role: RoleOperator, Units: []string{"SOTTTT"}},
}

// tokenOf is the secret of the named test token.
func tokenOf(name string) string { return "s3cr3t-" + name + "-0123456789abcdef" }

func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	dir := t.TempDir()
	for i, tc := range testTokens {
		if i%2 == 0 { // some from files, some from the environment
			path := filepath.Join(dir, tc.Name)
			if err := os.WriteFile(path, []byte(tokenOf(tc.Name)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			tc.Source = secret.Source{File: path}
		} else {
			env := "LDAPSYNC_TEST_TOKEN_" + strings.ReplaceAll(strings.ToUpper(tc.Name), "-", "_")
			t.Setenv(env, tokenOf(tc.Name))
			tc.Source = secret.Source{Env: env}
		}
		cfg.Tokens = append(cfg.Tokens, tc)
	}
	return cfg
}

func newTestServer(t *testing.T, cfg Config, log zerolog.Logger) (*Server, *fakeEngine) {
	t.Helper()
	eng := &fakeEngine{}
	s, err := NewServer(cfg, eng, log,
		WithReady(func(context.Context) error { return nil }),
		WithMetrics(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metric 1\n") })))
	if err != nil {
		t.Fatal(err)
	}
	return s, eng
}

// call is a request that a route answers with success when the caller may
// make it.
type call struct {
	target, body string
}

// calls has one call for each route in Routes, by "METHOD PATTERN".
var calls = map[string]call{
	"GET /v1/holds":               {"/v1/holds?status=pending", ""},
	"POST /v1/holds/{id}/approve": {"/v1/holds/h1/approve", `{"by":"mai"}`},
	"POST /v1/holds/{id}/reject":  {"/v1/holds/h1/reject", `{"by":"mai"}`},
	"POST /v1/letters/done":       {"/v1/letters/done", `{"paths":["/x"],"by":"mai"}`},
	"POST /v1/adopt":              {"/v1/adopt?path=roster.csv&dry_run=1", `{"by":"mai"}`},
	"POST /v1/reconcile":          {"/v1/reconcile?path=roster.csv", ""},
	"POST /v1/actions":            {"/v1/actions", `{"type":"lock","uid":"inunit","reason":"spam","request":"R1"}`},
	"GET /v1/requests":            {"/v1/requests", ""},
	"POST /v1/sweep":              {"/v1/sweep?dry_run=1", ""},
	"GET /v1/explain/{uid}":       {"/v1/explain/inunit", ""},
	"GET /v1/forecast":            {"/v1/forecast?days=30", ""},
	"POST /v1/events":             {"/v1/events", `{"event_id":"E1","type":"hire","unit":"sotttt"}` + "\n"},
	"GET /v1/rejected":            {"/v1/rejected", ""},
	"GET /v1/audit":               {"/v1/audit?from=2026-11-01&to=2026-11-30", ""},
	"GET /v1/plan":                {"/v1/plan", ""},
	"GET /healthz":                {"/healthz", ""},
	"GET /readyz":                 {"/readyz", ""},
	"GET /metrics":                {"/metrics", ""},
}

func do(h http.Handler, method, target, body, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Every route answers 401 without a token, 403 to a role it does not
// serve or to a unit-scoped token when it spans every unit, and succeeds
// otherwise.
func TestServer_RolesOnEveryRoute(t *testing.T) {
	s, _ := newTestServer(t, testConfig(t), zerolog.Nop())
	h := s.Handler()
	callers := append([]string{""}, func() (names []string) {
		for _, tc := range testTokens {
			names = append(names, tc.Name)
		}
		return names
	}()...)
	roleOf := map[string]TokenConfig{}
	for _, tc := range testTokens {
		roleOf[tc.Name] = tc
	}
	for _, rt := range Routes() {
		key := rt.Method + " " + rt.Path
		c, ok := calls[key]
		if !ok {
			t.Errorf("%s: no call in the test table", key)
			continue
		}
		for _, caller := range callers {
			t.Run(key+" as "+cmpOr(caller, "none"), func(t *testing.T) {
				tc := roleOf[caller]
				want := 200
				switch {
				case len(rt.Roles) == 0:
				case caller == "":
					want = http.StatusUnauthorized
				case !slices.Contains(rt.Roles, tc.Role):
					want = http.StatusForbidden
				case len(tc.Units) > 0 && !rt.Scoped:
					want = http.StatusForbidden
				}
				token := ""
				if caller != "" {
					token = tokenOf(caller)
				}
				w := do(h, rt.Method, c.target, c.body, token)
				if w.Code != want {
					t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
				}
				if want == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer: %q", w.Header().Get("WWW-Authenticate"))
				}
			})
		}
	}
	for key := range calls {
		if !slices.ContainsFunc(Routes(), func(r Route) bool { return r.Method+" "+r.Path == key }) {
			t.Errorf("%s: in the test table, not a route", key)
		}
	}
}

// A scoped token reaches only its units' accounts and records.
func TestServer_UnitScope(t *testing.T) {
	s, eng := newTestServer(t, testConfig(t), zerolog.Nop())
	h := s.Handler()
	tests := []struct {
		name, caller, method, target, body string
		want                               int
	}{
		{"lock in unit", "operator-sotttt", "POST", "/v1/actions", `{"type":"lock","uid":"inunit","reason":"spam","request":"R1"}`, 200},
		{"lock in another unit", "operator-sotttt", "POST", "/v1/actions", `{"type":"lock","uid":"other","reason":"spam","request":"R1"}`, 403},
		{"lock of an unknown account", "operator-sotttt", "POST", "/v1/actions", `{"type":"restore","uid":"nobody","request":"R1"}`, 403},
		{"unscoped lock in another unit", "operator", "POST", "/v1/actions", `{"type":"lock","uid":"other","reason":"spam","request":"R1"}`, 200},
		{"explain in unit", "operator-sotttt", "GET", "/v1/explain/inunit", "", 200},
		{"explain in another unit", "operator-sotttt", "GET", "/v1/explain/other", "", 403},
		{"explain of an unknown account, scoped", "operator-sotttt", "GET", "/v1/explain/nobody", "", 403},
		{"explain of an unknown account", "auditor", "GET", "/v1/explain/nobody", "", 404},
		{"events in unit", "hr-sotttt", "POST", "/v1/events", `[{"event_id":"E1","unit":"sotttt"},{"event_id":"E2","unit":"sotttt"}]`, 200},
		{"events with one in another unit", "hr-sotttt", "POST", "/v1/events", `{"event_id":"E1","unit":"sotttt"}` + "\n" + `{"event_id":"E2","unit":"soyt"}`, 403},
		{"unscoped events in any unit", "hr", "POST", "/v1/events", `{"event_id":"E2","unit":"soyt"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.target, tt.body, tokenOf(tt.caller))
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
		})
	}
	// The operator recorded is the token's name.
	do(h, "POST", "/v1/actions", `{"type":"lock","uid":"inunit","reason":"spam","request":"R1","by":"mai"}`, tokenOf("operator"))
	if eng.got.By != "mai (as api:operator)" {
		t.Errorf("operator %q", eng.got.By)
	}
	// A JSON array becomes one record a line.
	do(h, "POST", "/v1/events", `[{"event_id":"E1"}, {"event_id":"E2"}]`, tokenOf("hr"))
	if eng.submitted != "{\"event_id\":\"E1\"}\n{\"event_id\":\"E2\"}\n" {
		t.Errorf("submitted %q", eng.submitted)
	}
	var res sync.SubmitEventsResult
	w := do(h, "POST", "/v1/events", `{"event_id":"E1","unit":"sotttt"}`+"\n"+`{"event_id":"E2","unit":"soyt"}`, tokenOf("hr-sotttt"))
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Forbidden != 1 || res.Records[1].Status != sync.RecordForbidden {
		t.Errorf("a forbidden submission's answer: %s %v", w.Body, err)
	}
}

// Bodies are bounded and strictly decoded.
func TestServer_Bodies(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBody = 100
	s, _ := newTestServer(t, cfg, zerolog.Nop())
	h := s.Handler()
	big := `{"event_id":"` + strings.Repeat("x", 200) + `"}`
	if w := do(h, "POST", "/v1/events", big, tokenOf("hr")); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over max_body: %d %s", w.Code, w.Body)
	}
	// Without a Content-Length: read up to the bound.
	r := httptest.NewRequest("POST", "/v1/events", io.MultiReader(strings.NewReader(big)))
	r.Header.Set("Authorization", "Bearer "+tokenOf("hr"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if r.ContentLength != -1 || w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a streamed body over max_body (length %d): %d %s", r.ContentLength, w.Code, w.Body)
	}
	for _, body := range []string{
		`{"type":"lock","uid":"inunit","reason":"spam","request":"R1","bogus":1}`,
		`{"type":"lock","uid":"inunit","reason":"spam","request":"R1"} {}`,
	} {
		if w := do(h, "POST", "/v1/actions", body, tokenOf("operator")); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, w.Code, w.Body)
		}
	}
	if w := do(h, "POST", "/v1/holds/h1/approve", `{"by":"mai","as":"root"}`, tokenOf("operator")); w.Code != http.StatusBadRequest {
		t.Errorf("an unknown field in a decision: %d", w.Code)
	}
	if w := do(h, "POST", "/v1/events", `[{"event_id":"E1"`, tokenOf("hr")); w.Code != http.StatusBadRequest {
		t.Errorf("a broken array: %d", w.Code)
	}
}

// /readyz says why the daemon is not ready; /metrics is not found when
// nothing serves it.
func TestServer_ReadyAndMetrics(t *testing.T) {
	s, err := NewServer(testConfig(t), &fakeEngine{}, zerolog.Nop(),
		WithReady(func(context.Context) error { return errors.New("directory unreachable") }))
	if err != nil {
		t.Fatal(err)
	}
	w := do(s.Handler(), "GET", "/readyz", "", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "directory unreachable") {
		t.Errorf("readyz: %d %s", w.Code, w.Body)
	}
	if w := do(s.Handler(), "GET", "/metrics", "", tokenOf("auditor")); w.Code != http.StatusNotFound {
		t.Errorf("metrics without a handler: %d", w.Code)
	}
}

// No token reaches the log, whether it is right, wrong or nearly right.
func TestServer_TokensNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf).Level(zerolog.TraceLevel)
	s, _ := newTestServer(t, testConfig(t), log)
	h := s.Handler()
	wrong := tokenOf("operator") + "x"
	for _, tok := range []string{tokenOf("operator"), tokenOf("hr"), wrong, tokenOf("operator-sotttt")} {
		for key, c := range calls {
			method, _, _ := strings.Cut(key, " ")
			w := do(h, method, c.target, c.body, tok)
			if strings.Contains(w.Body.String(), tok) {
				t.Errorf("%s: the answer holds the token", key)
			}
		}
	}
	out := buf.String()
	if !strings.Contains(out, `"token":"operator"`) {
		t.Fatalf("requests are not logged by token name:\n%s", out)
	}
	for _, tc := range testTokens {
		if strings.Contains(out, tokenOf(tc.Name)) {
			t.Errorf("token %s is in the log", tc.Name)
		}
	}
	if strings.Contains(out, wrong) || strings.Contains(out, "s3cr3t") {
		t.Error("a token is in the log")
	}
	// Nor in the errors of a bad config.
	cfg := testConfig(t)
	cfg.Tokens[1].Source = cfg.Tokens[0].Source
	if _, err := NewServer(cfg, &fakeEngine{}, zerolog.Nop()); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("two names for one token: %v", err)
	}
}

// The server speaks TLS 1.2 or later and, with a client CA, takes only
// clients with a certificate it signed.
func TestServer_TLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)

	get := func(addr string, tc *tls.Config) (int, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		req, _ := http.NewRequest("GET", "https://"+addr+"/v1/holds", nil)
		req.Header.Set("Authorization", "Bearer "+tokenOf("auditor"))
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	tests := []struct {
		name     string
		clientCA bool
		tc       *tls.Config
		ok       bool
	}{
		{"server certificate", false, &tls.Config{RootCAs: pool}, true},
		{"TLS 1.1", false, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}, false},
		{"client certificate required, none given", true, &tls.Config{RootCAs: pool}, false},
		{"client certificate required and given", true, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Listen = "127.0.0.1:0"
			cfg.TLS = TLSConfig{CertFile: certFile, KeyFile: keyFile}
			if tt.clientCA {
				cfg.TLS.ClientCAFile = certFile
			}
			s, _ := newTestServer(t, cfg, zerolog.Nop())
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			code, err := get(s.Addr().String(), tt.tc)
			if tt.ok && (err != nil || code != 200) {
				t.Fatalf("%d %v, want 200", code, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("answered %d, want a failed handshake", code)
			}
		})
	}
}

// The server serves plain HTTP on loopback, and stops.
func TestServer_StartClose(t *testing.T) {
	s, _ := newTestServer(t, testConfig(t), zerolog.Nop())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Error("still listening after Close")
	}
}

func TestConfig_Validate(t *testing.T) {
	tok := TokenConfig{Name: "a", Source: secret.Source{Env: "X"}, Role: RoleHR}
	tests := []struct {
		name string
		edit func(*Config)
		want []string // problems, by path prefix; none: valid
	}{
		{"off", func(*Config) {}, nil},
		{"loopback", func(c *Config) { c.Listen, c.Tokens = "127.0.0.1:8443", []TokenConfig{tok} }, nil},
		{"localhost v6", func(c *Config) { c.Listen, c.Tokens = "[::1]:8443", []TokenConfig{tok} }, nil},
		{"all interfaces without TLS", func(c *Config) { c.Listen, c.Tokens = ":8443", []TokenConfig{tok} }, []string{"api.listen"}},
		{"public without TLS", func(c *Config) { c.Listen, c.Tokens = "10.0.0.5:8443", []TokenConfig{tok} }, []string{"api.listen"}},
		{"public with TLS", func(c *Config) {
			c.Listen, c.Tokens, c.TLS = "10.0.0.5:8443", []TokenConfig{tok}, TLSConfig{CertFile: "c", KeyFile: "k"}
		}, nil},
		{"no port", func(c *Config) { c.Listen, c.Tokens = "127.0.0.1", []TokenConfig{tok} }, []string{"api.listen"}},
		{"no tokens", func(c *Config) { c.Listen = "127.0.0.1:8443" }, []string{"api.tokens"}},
		{"key without cert, CA without TLS", func(c *Config) { c.TLS = TLSConfig{KeyFile: "k", ClientCAFile: "ca"} },
			[]string{"api.tls.cert_file", "api.tls.client_ca_file"}},
		{"bad tokens", func(c *Config) {
			c.Tokens = []TokenConfig{
				{Role: RoleHR, Source: secret.Source{Env: "X"}},
				{Name: "b", Role: "admin"},
				{Name: "B", Role: RoleAuditor, Units: []string{"sotttt"}, Source: secret.Source{Env: "X", File: "f"}},
			}
		}, []string{"api.tokens[0].name", "api.tokens[1]", "api.tokens[1].role", "api.tokens[2].name", "api.tokens[2]", "api.tokens[2].units"}},
		{"max_body", func(c *Config) { c.MaxBody = 0 }, []string{"api.max_body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			var got []string
			for _, e := range c.Validate("api") {
				got = append(got, e.Path)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("problems at %v, want %v: %v", got, want, c.Validate("api"))
			}
		})
	}
}

// docs/openapi.yaml describes exactly the routes the server serves, with
// their roles.
func TestRoutes_OpenAPI(t *testing.T) {
	data, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	spec := map[string][]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			var roles []string
			if rs, ok := op.(map[string]any)["x-roles"].([]any); ok {
				for _, r := range rs {
					roles = append(roles, r.(string))
				}
			}
			slices.Sort(roles)
			spec[strings.ToUpper(method)+" "+path] = roles
		}
	}
	served := map[string][]string{}
	for _, r := range Routes() {
		var roles []string
		for _, role := range r.Roles {
			roles = append(roles, string(role))
		}
		slices.Sort(roles)
		served[r.Method+" "+r.Path] = roles
	}
	for k, roles := range served {
		specRoles, ok := spec[k]
		switch {
		case !ok:
			t.Errorf("%s: served, not in docs/openapi.yaml", k)
		case !slices.Equal(roles, specRoles):
			t.Errorf("%s: x-roles %v, the server's %v", k, specRoles, roles)
		}
	}
	for k := range spec {
		if _, ok := served[k]; !ok {
			t.Errorf("%s: in docs/openapi.yaml, not served", k)
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 that is its own CA and
// serves as a client certificate too.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ldapsync test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Over the network a roster is read only from where rosters belong.
func TestServer_RosterPathsOverTheNetwork(t *testing.T) {
	s, _ := newTestServer(t, testConfig(t), zerolog.Nop())
	h := s.Handler()
	for _, target := range []string{"/v1/reconcile?path=/etc/shadow", "/v1/adopt?path=/etc/shadow&dry_run=1"} {
		body := ""
		if strings.HasPrefix(target, "/v1/adopt") {
			body = `{"by":"mai"}`
		}
		if rec := do(h, http.MethodPost, target, body, tokenOf("operator")); rec.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s", target, rec.Code, rec.Body)
		}
	}
}
