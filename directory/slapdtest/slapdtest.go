// Package slapdtest starts throwaway OpenLDAP servers, as net/http/httptest
// starts HTTP servers: a real slapd on a free loopback port, configured in
// a temporary directory with the same setup files (package openldap) an
// administrator applies to production, on a database that starts as
// Debian's slapd package makes it (its schemas and its access rules,
// DebianAccess, which end up after ldapsync's). Every test in the project
// that touches a directory uses it, and so does `make dev`.
//
// A Server holds the database suffix, a harness-only root account for
// bootstrapping and peeking, and the ldapsync service account with its
// password in a file. The containers under the suffix (people, units,
// groups, policies, revoked) are left to directory.Client.EnsureTree, which
// creates them as the service account and so proves the access rules.
package slapdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/openldap"
	"github.com/ldapsync/ldapsync/internal/secret"
)

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// BaseDN is the database suffix. Default dc=ninhthuan,dc=gov,dc=vn, the
	// default of directory.Config.
	BaseDN string
	// Dir holds slapd's configuration, its database and the files the
	// harness writes; it must not hold a configuration already. Default: a
	// new temporary directory, removed by Stop. A Dir given here is kept.
	Dir string
	// LogFile, when set, receives slapd's log at the "stats" level (every
	// connection and operation), appended across restarts. Default: slapd
	// logs only errors, which start-up failures quote.
	LogFile string
	// TLS gives slapd a certificate for 127.0.0.1 and localhost from a
	// throwaway CA (Server.CAFile): it then also listens on LDAPSURL and
	// accepts StartTLS on URL. Default: no TLS.
	TLS bool
	// Durable makes slapd fsync every commit, as a production slapd does.
	// Default: it does not (olcDbNoSync), which is far faster for tests but
	// would flatter a benchmark of writes.
	Durable bool
}

// Server is a running slapd. Its fields are set by Start and read-only.
type Server struct {
	// URL is the loopback LDAP URL, ldap://127.0.0.1:PORT.
	URL string
	// LDAPI is the URL of slapd's unix socket, where the current user is
	// cn=config's administrator through SASL EXTERNAL.
	LDAPI string
	// BaseDN is the database suffix.
	BaseDN string
	// RootDN and RootPassword are the database's root account. Harness only:
	// for bootstrapping, and for tests that must look past the access rules.
	RootDN       string
	RootPassword string
	// RootPasswordFile holds RootPassword (mode 0600), for ldap tools' -y.
	RootPasswordFile string
	// ServiceDN is ldapsync's service account.
	ServiceDN string
	// ServicePasswordFile holds the service account's password (mode 0600).
	ServicePasswordFile string
	// Dir is the server's directory.
	Dir string
	// Argon2 reports that slapd hashes passwords with {ARGON2}.
	Argon2 bool
	// LDAPSURL is the loopback LDAP-over-TLS URL, ldaps://127.0.0.1:PORT,
	// with Options.TLS; "" otherwise.
	LDAPSURL string
	// CAFile holds the PEM certificate of the CA that signed slapd's
	// certificate, with Options.TLS.
	CAFile string

	tls     bool
	durable bool
	port    int
	tlsPort int
	sockDir string // short, for the ldapi socket path limit
	ownDir  bool
	logFile string
	env     *environment

	mu      sync.Mutex
	proc    *process // nil while slapd is down
	stopped bool
}

// databaseDN is the harness database's DN in cn=config.
const databaseDN = "olcDatabase={1}mdb,cn=config"

// New starts a Server for t and stops it when t ends. When slapd is not
// installed it skips t, or fails it when the environment variable CI is
// "true", so that CI never passes by skipping.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	requireInstalled(t, Available())
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// requireInstalled skips t when err says OpenLDAP is missing, or fails it
// under CI=true.
func requireInstalled(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true, so this is a failure)", err)
		return
	}
	t.Skipf("%v; skipping", err)
}

// Available reports whether slapd and the OpenLDAP tools the harness runs
// are installed.
func Available() error {
	_, err := env()
	return err
}

// Start builds a new slapd configuration, starts slapd, applies the
// openldap setup files with ldapmodify as an administrator would, and adds
// the suffix entry and the service account. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	cfg := directory.DefaultConfig()
	if opts.BaseDN != "" {
		cfg.BaseDN = opts.BaseDN
	}
	s := &Server{
		BaseDN:    cfg.BaseDN,
		RootDN:    "cn=admin," + cfg.BaseDN,
		ServiceDN: "cn=ldapsync,ou=services," + cfg.BaseDN,
		Dir:       opts.Dir,
		Argon2:    e.argon2,
		logFile:   opts.LogFile,
		tls:       opts.TLS,
		durable:   opts.Durable,
		env:       e,
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "slapdtest-"); err != nil {
			return nil, fmt.Errorf("slapdtest: %w", err)
		}
		s.ownDir = true
	}
	if err := s.init(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.Dir, "slapd.d")); err == nil {
		return fmt.Errorf("slapdtest: %s already holds a slapd configuration", s.Dir)
	}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "slapd.d"), filepath.Join(s.Dir, "data"), filepath.Join(s.Dir, "setup")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("slapdtest: %w", err)
		}
	}
	// The socket path must fit in sun_path (108 bytes); Dir may be long.
	sockDir, err := os.MkdirTemp(shortTempDir(), "sl")
	if err != nil {
		return fmt.Errorf("slapdtest: %w", err)
	}
	s.sockDir = sockDir
	sock := filepath.Join(sockDir, "ldapi")
	s.LDAPI = "ldapi://" + url.PathEscape(sock)

	s.RootPassword = randomPassword()
	s.RootPasswordFile = filepath.Join(s.Dir, "root.pw")
	s.ServicePasswordFile = filepath.Join(s.Dir, "service.pw")
	servicePassword := randomPassword()
	for file, pw := range map[string]string{s.RootPasswordFile: s.RootPassword, s.ServicePasswordFile: servicePassword} {
		if err := os.WriteFile(file, []byte(pw), 0o600); err != nil {
			return fmt.Errorf("slapdtest: %w", err)
		}
	}

	if s.tls {
		if err := s.writeCertificates(); err != nil {
			return err
		}
	}
	if err := s.bootstrap(ctx); err != nil {
		return err
	}
	if err := s.startFreePort(ctx); err != nil {
		return err
	}
	if err := s.applySetup(ctx); err != nil {
		return err
	}
	return s.addBase(ctx, servicePassword)
}

var bootstrapTmpl = template.Must(template.New("bootstrap").Parse(`dn: cn=config
objectClass: olcGlobal
cn: config
{{- if .TLS}}
olcTLSCACertificateFile: {{.Dir}}/ca.pem
olcTLSCertificateFile: {{.Dir}}/server.pem
olcTLSCertificateKeyFile: {{.Dir}}/server.key
{{- end}}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: {{.ModuleDir}}
olcModuleLoad: {0}back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{{.SchemaDir}}/core.ldif

include: file://{{.SchemaDir}}/cosine.ldif

include: file://{{.SchemaDir}}/nis.ldif

include: file://{{.SchemaDir}}/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber={{.GID}}+uidNumber={{.UID}},cn=peercred,cn=external,cn=auth manage by * break

dn: {{.Database}}
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: {{.DataDir}}
olcSuffix: {{.BaseDN}}
olcRootDN: {{.RootDN}}
olcRootPW: {{.RootPassword}}
olcDbIndex: objectClass eq
olcDbMaxSize: 1073741824
{{- if not .Durable}}
olcDbNoSync: TRUE
{{- end}}
{{- range .Access}}
olcAccess: {{.}}
{{- end}}
`))

// DebianAccess are the access rules Debian 12's slapd package gives the
// database it creates (/usr/share/slapd/slapd.init.ldif, numbered as
// slapd numbers them), which setup part 50 finds on a real server and puts
// its own rules before. The harness database starts with them, so that a
// test sees what a request ldapsync's rules leave alone (break, or no rule
// at all) meets in production: an application account's bind, and
// everyone's read of the rest of the tree. The shadowLastChange rule is why
// the harness loads the nis schema, as Debian does.
var DebianAccess = []string{
	"{0}to attrs=userPassword by self write by anonymous auth by * none",
	"{1}to attrs=shadowLastChange by self write by * read",
	"{2}to * by * read",
}

// bootstrap writes the minimal cn=config of a fresh Debian slapd (modules,
// Debian's standard schemas, frontend, config database administered by the
// current user over ldapi, an empty mdb database with Debian's 1 GiB map
// size, mdb's own default, 10 MiB, filling up at about 12,000 members in one
// group, and Debian's access rules, DebianAccess) with slapadd. olcDbNoSync
// is the harness's only departure, unless Durable: throwaway data need not
// survive a power cut.
func (s *Server) bootstrap(ctx context.Context) error {
	var b bytes.Buffer
	err := bootstrapTmpl.Execute(&b, map[string]any{
		"ModuleDir":    s.env.moduleDir,
		"SchemaDir":    s.env.schemaDir,
		"UID":          os.Getuid(),
		"GID":          os.Getgid(),
		"Database":     databaseDN,
		"DataDir":      filepath.Join(s.Dir, "data"),
		"BaseDN":       s.BaseDN,
		"RootDN":       s.RootDN,
		"RootPassword": s.RootPassword,
		"TLS":          s.tls,
		"Durable":      s.durable,
		"Dir":          s.Dir,
		"Access":       DebianAccess,
	})
	if err != nil {
		return fmt.Errorf("slapdtest: bootstrap: %w", err)
	}
	file := filepath.Join(s.Dir, "bootstrap.ldif")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("slapdtest: %w", err)
	}
	return run(ctx, nil, s.env.slapadd, "-n0", "-F", filepath.Join(s.Dir, "slapd.d"), "-l", file)
}

// applySetup renders the openldap setup files and applies each with
// ldapmodify -Y EXTERNAL over ldapi, as the files' headers tell an
// administrator to.
func (s *Server) applySetup(ctx context.Context) error {
	p := s.Config().SetupParams(databaseDN)
	p.Argon2 = s.Argon2
	files, err := openldap.Render(p)
	if err != nil {
		return fmt.Errorf("slapdtest: %w", err)
	}
	for _, f := range files {
		path := filepath.Join(s.Dir, "setup", f.Name)
		if err := os.WriteFile(path, f.Data, 0o600); err != nil {
			return fmt.Errorf("slapdtest: %w", err)
		}
		if err := run(ctx, nil, s.env.ldapmodify, "-Y", "EXTERNAL", "-Q", "-H", s.LDAPI, "-f", path); err != nil {
			return fmt.Errorf("slapdtest: apply %s: %w", f.Name, err)
		}
	}
	return nil
}

// writeCertificates makes a CA and a server certificate for 127.0.0.1 and
// localhost, and writes them where the bootstrap configuration points.
func (s *Server) writeCertificates() error {
	ca, err := NewCA("slapdtest CA")
	if err != nil {
		return err
	}
	cert, key, err := ca.Issue("127.0.0.1", "localhost")
	if err != nil {
		return err
	}
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	for file, data := range map[string][]byte{s.CAFile: ca.PEM, filepath.Join(s.Dir, "server.pem"): cert, filepath.Join(s.Dir, "server.key"): key} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return fmt.Errorf("slapdtest: %w", err)
		}
	}
	return nil
}

// addBase adds the suffix entry, ou=services and the service account as
// the root account, the way an administrator would before running
// ldapsync. The service account's pwdPolicySubentry names its own policy,
// which EnsureTree creates: until then slapd applies none to it.
func (s *Server) addBase(ctx context.Context, servicePassword string) error {
	base, err := baseEntry(s.BaseDN)
	if err != nil {
		return err
	}
	ldif := base + fmt.Sprintf(`
dn: ou=services,%s
objectClass: organizationalUnit
ou: services

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: ldapsync
description: ldapsync service account
pwdPolicySubentry: %s
userPassword: %s
`, s.BaseDN, s.ServiceDN, s.Config().ServicePolicyDN(), servicePassword)
	return run(ctx, strings.NewReader(ldif), s.env.ldapmodify, "-a", "-x", "-H", s.LDAPI, "-D", s.RootDN, "-y", s.RootPasswordFile)
}

// AddApplication adds the account of an application under ou=services,
// cn=<name>, as README's "Setting up OpenLDAP" tells an administrator to
// (as the service account, and with its password policy: no expiry, no
// lockout, no forced change), with a random password written to
// passwordFile (mode 0600, no newline, for ldap tools' -y). It returns the
// account's DN. To ldapsync's access rules it is a user: it reads people,
// units and groups; Debian's rules after them let it bind.
func (s *Server) AddApplication(ctx context.Context, name, passwordFile string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\r\n") {
		return "", fmt.Errorf("slapdtest: application name %q: want one line", name)
	}
	dn := "cn=" + ldap.EscapeDN(name) + ",ou=services," + s.BaseDN
	pw := randomPassword()
	if err := os.WriteFile(passwordFile, []byte(pw), 0o600); err != nil {
		return "", fmt.Errorf("slapdtest: %w", err)
	}
	ldif := fmt.Sprintf(`dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: %s
description: application account
pwdPolicySubentry: %s
userPassword: %s
`, dn, name, s.Config().ServicePolicyDN(), pw)
	if err := run(ctx, strings.NewReader(ldif), s.env.ldapmodify, "-a", "-x", "-H", s.LDAPI, "-D", s.RootDN, "-y", s.RootPasswordFile); err != nil {
		return "", err
	}
	return dn, nil
}

// baseEntry returns the LDIF of the suffix entry, whose object classes
// follow from the attribute of its RDN.
func baseEntry(suffix string) (string, error) {
	d, err := ldap.ParseDN(suffix)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) != 1 {
		return "", fmt.Errorf("slapdtest: base DN %q: want a DN with a single-valued first RDN", suffix)
	}
	a := d.RDNs[0].Attributes[0]
	switch strings.ToLower(a.Type) {
	case "dc":
		return fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n", suffix, a.Value, a.Value), nil
	case "o":
		return fmt.Sprintf("dn: %s\nobjectClass: organization\no: %s\n", suffix, a.Value), nil
	case "ou":
		return fmt.Sprintf("dn: %s\nobjectClass: organizationalUnit\nou: %s\n", suffix, a.Value), nil
	}
	return "", fmt.Errorf("slapdtest: base DN %q: first RDN must be dc=, o= or ou=", suffix)
}

// Config returns a directory configuration for this server, binding as the
// service account.
func (s *Server) Config() directory.Config {
	c := directory.DefaultConfig()
	c.URL = s.URL
	c.BaseDN = s.BaseDN
	c.BindDN = s.ServiceDN
	c.BindPassword = secret.Source{File: s.ServicePasswordFile}
	return c
}

// ServicePassword returns the service account's password.
func (s *Server) ServicePassword() (secret.Secret, error) {
	return secret.Source{File: s.ServicePasswordFile}.Load()
}

// Stop stops slapd, waits for it to exit and removes what the harness
// created (Dir too, unless it was given in Options). It may be called more
// than once, and after Kill; the server cannot start again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.halt(syscall.SIGTERM)
	s.stopped = true
	if s.sockDir != "" {
		_ = os.RemoveAll(s.sockDir)
		s.sockDir = ""
	}
	if s.ownDir {
		_ = os.RemoveAll(s.Dir)
		s.ownDir = false
	}
}

// Restart stops slapd and starts it again on the same port with the same
// configuration and data, as after a restart of the service.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errStopped
	}
	s.halt(syscall.SIGTERM)
	return s.start(ctx)
}

// Kill stops slapd at once with SIGKILL, as in a crash, and waits for it to
// exit. StartAgain brings it back.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.halt(syscall.SIGKILL)
}

// StartAgain starts slapd after Kill, on the same port with the same data.
// It does nothing while slapd runs.
func (s *Server) StartAgain(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errStopped
	case s.proc != nil:
		return nil
	}
	return s.start(ctx)
}

// Running reports whether slapd is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// shortTempDir returns a directory for the ldapi socket whose path leaves
// room within the unix socket path limit.
func shortTempDir() string {
	if d := os.TempDir(); len(d) < 64 {
		return d
	}
	return "/tmp"
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// run runs a tool to completion; its error quotes the tool's output.
func run(ctx context.Context, stdin io.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapdtest: %s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// freePort returns a loopback TCP port that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("slapdtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errStopped is a start after Stop, which removed the server's files.
var errStopped = errors.New("slapdtest: server stopped")

// errPortTaken reports that slapd could not listen on its port.
var errPortTaken = errors.New("port taken")

// startFreePort starts slapd on a free port, trying another when the port
// was taken between freePort and slapd's bind.
func (s *Server) startFreePort(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			return err
		}
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(s.port)
		if s.tls {
			if s.tlsPort, err = freePort(); err != nil {
				return err
			}
			s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(s.tlsPort)
		}
		if err = s.start(ctx); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}
