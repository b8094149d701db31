// Command ldapsync-dev is what `make dev` runs: it starts a throwaway slapd
// on loopback with the project's schema and password policy (the same
// harness the tests use), writes a config for it derived from
// config.example.yaml, drops the example personnel file into the inbox, and
// runs the ldapsync daemon in the foreground. When the daemon dies (a
// rehearsed kill -9, a crash) slapd stays up and the command that restarts
// the daemon alone is printed. Ctrl-C stops the daemon and slapd and leaves
// nothing running.
//
// With -no-daemon (`make dev-slapd`) it starts slapd and writes the config
// as above, but drops nothing into the inbox and runs no daemon: it writes
// a retirement file and prints the commands that rehearse a departure, an
// operator's lock and a restore by hand, then waits for Ctrl-C.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
	"github.com/ldapsync/ldapsync/rules"
)

func main() { os.Exit(run()) }

func run() int {
	o := options{Stdout: os.Stdout, Stderr: os.Stderr}
	flag.StringVar(&o.Bin, "ldapsync", "bin/ldapsync", "the ldapsync binary to run")
	flag.StringVar(&o.Dir, "dir", ".dev", "working directory, emptied at start: slapd's data, the daemon's state, inbox and letters")
	flag.StringVar(&o.Example, "config", "config.example.yaml", "config to derive the dev config from")
	flag.StringVar(&o.Personnel, "personnel", "examples/personnel.csv", "personnel file dropped into the inbox (with -no-daemon, the one the printed apply line names)")
	flag.BoolVar(&o.NoDaemon, "no-daemon", false, "start slapd and write the config only: no personnel file in the inbox, no daemon; print the commands that rehearse a departure, a lock and a restore by hand")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dev(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ldapsync-dev:", err)
		return 1
	}
	return 0
}

// options are ldapsync-dev's flags, and where its output goes.
type options struct {
	Bin, Dir, Example, Personnel string
	// NoDaemon leaves slapd and the config up without the daemon, for
	// rehearsing the one-shot commands by hand (make dev-slapd).
	NoDaemon bool
	// Stdout receives the banner and ldapsync-dev's messages; the daemon
	// writes to Stdout and Stderr too.
	Stdout, Stderr io.Writer
}

// newPassword is the password the printed ldappasswd line chooses: it
// passes every default password profile for quoctrang (a test checks).
const newPassword = "Hoa#Sen2026"

func dev(ctx context.Context, o options) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if err := slapdtest.Available(); err != nil {
		return fmt.Errorf("%w (make dev installs it: run it with make)", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "slapd"), 0o700); err != nil {
		return err
	}
	srv, err := slapdtest.Start(ctx, slapdtest.Options{Dir: filepath.Join(dir, "slapd"), LogFile: filepath.Join(dir, "slapd.log")})
	if err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	defer srv.Stop()

	cfgPath := filepath.Join(dir, "config.yaml")
	inbox, letters, state := filepath.Join(dir, "inbox"), filepath.Join(dir, "letters"), filepath.Join(dir, "state")
	// The HTTP API on loopback, with an operator's token in a file, and
	// the self-service password page the letters link to.
	listen, err := freeLoopback()
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "operator.token")
	if err := writeToken(tokenFile); err != nil {
		return err
	}
	page := "http://" + listen + "/password"
	if err := writeDevConfig(o.Example, cfgPath, map[string]any{
		"api.listen":                      listen,
		"api.tokens":                      []map[string]string{{"name": "dev-operator", "file": tokenFile, "role": "operator"}},
		"api.password_page.enabled":       true,
		"api.password_page.url":           page,
		"sync.activation.poll":            "1s",
		"log.format":                      "console",
		"directory.url":                   srv.URL,
		"directory.base_dn":               srv.BaseDN,
		"directory.bind_dn":               srv.ServiceDN,
		"directory.bind_password":         map[string]string{"file": srv.ServicePasswordFile},
		"sync.state_dir":                  state,
		"sync.letters_dir":                letters,
		"sync.inbox.dir":                  inbox,
		"sync.inbox.poll":                 "1s",
		"sync.inbox.settle":               "0s",
		"sync.retry_min":                  "1s",
		"sync.retry_max":                  "10s",
		"rules.password.generated_length": 14,
	}); err != nil {
		return err
	}
	if err := os.MkdirAll(inbox, 0o750); err != nil {
		return err
	}
	if o.NoDaemon {
		return rehearse(ctx, o, srv, dir, cfgPath)
	}
	// An application's account, as README's "Setting up OpenLDAP" tells an
	// administrator to make one, for wiring an application to this
	// directory; its password is in a file of this run's directory.
	appFile := filepath.Join(dir, demoApp+".password")
	appDN, err := srv.AddApplication(ctx, demoApp, appFile)
	if err != nil {
		return fmt.Errorf("add the %s account: %w", demoApp, err)
	}
	if err := copyFile(o.Personnel, filepath.Join(inbox, filepath.Base(o.Personnel))); err != nil {
		return err
	}
	restart := shellQuote(rel(o.Bin)) + " run --config " + shellQuote(rel(cfgPath))
	banner(o.Stdout, srv, application{DN: appDN, PasswordFile: appFile}, dir, cfgPath, letters)
	fmt.Fprintf(o.Stdout, `  # or change it in a browser, as the letter says: the self-service page
  #   %s
  # HTTP API: http://%s (operator token in %s)

`, page, listen, rel(tokenFile))

	cmd := exec.Command(o.Bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	// Its own process group: Ctrl-C reaches it through us, once, and we
	// then wait for it before stopping slapd; a kill -9 of it leaves us
	// and slapd running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (make dev builds it)", o.Bin, err)
	}
	pid := cmd.Process.Pid
	fmt.Fprintf(o.Stdout, `ldapsync daemon  pid %d   (%s)
To rehearse a crash: kill -9 %d; slapd stays up and the command that
restarts the daemon alone is printed. Ctrl-C stops the daemon and slapd.

`, pid, restart, pid)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		fmt.Fprintf(o.Stdout, `
ldapsync-dev: the ldapsync daemon (pid %d) exited: %s.
slapd is still up at %s. To restart the daemon alone, run in
%s (another terminal is fine):
  %s
It replays its journal and carries on. Ctrl-C here stops slapd, and that
daemon too.

`, pid, cmd.ProcessState, srv.URL, mustGetwd(), restart)
		<-ctx.Done()
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	stopRestarted(o.Stdout, filepath.Join(state, "lock"))
	srv.Stop()
	fmt.Fprintln(o.Stdout, "\nldapsync and slapd stopped. The state of this run stays in", dir, "until the next make dev.")
	return nil
}

// The rehearsal's accounts, from examples/personnel.csv: the retiree is
// staff (Công chức, not a leader of NT 5.2.c), so the departure locks at
// once; the operator's lock and the restore go to another person, since
// an account locked for a departure is not restored (a return event
// brings it back). A test checks both against the example file.
const (
	retireEmployee = "NT-004501" // Đàng Năng Thọ, Công chức Văn phòng - Thống kê
	retireUID      = "nangtho"
	lockUID        = "quoctrang"
	lockUnit       = "sotttt"
)

// rehearse is -no-daemon: slapd is up and the config written; it writes the
// retirement file, prints the rehearsal, and waits for Ctrl-C.
func rehearse(ctx context.Context, o options, srv *slapdtest.Server, dir, cfgPath string) error {
	// Today where effective dates are reckoned: a departure effective
	// today locks at once under the staff rule. The real clock: this is an
	// interactive rehearsal, and the commands run on the real clock too.
	loc, err := configTimezone(cfgPath)
	if err != nil {
		return err
	}
	retire := filepath.Join(dir, "retire.csv")
	csv := "event_id,type,effective,employee_id\nRET-1,retire," + time.Now().In(loc).Format(time.DateOnly) + "," + retireEmployee + "\n"
	if err := os.WriteFile(retire, []byte(csv), 0o640); err != nil {
		return err
	}
	rehearsalBanner(o.Stdout, srv, o, dir, cfgPath, retire)
	<-ctx.Done()
	// A daemon the user started by hand against this config goes too.
	stopRestarted(o.Stdout, filepath.Join(dir, "state", "lock"))
	srv.Stop()
	fmt.Fprintln(o.Stdout, "\nslapd stopped. The state of this rehearsal stays in", dir, "until the next make dev or make dev-slapd.")
	return nil
}

// configTimezone returns the location of the config's rules.timezone, or of
// its default when the config sets none.
func configTimezone(cfgPath string) (*time.Location, error) {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var c struct {
		Rules struct {
			Timezone string `yaml:"timezone"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	tz := c.Rules.Timezone
	if tz == "" {
		tz = rules.DefaultConfig().Timezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%s: rules.timezone: %w", cfgPath, err)
	}
	return loc, nil
}

// lifecycleAttrs are the lifecycle facts the rehearsal's ldapsearch lines
// ask for; pwdAccountLockedTime is operational, so it must be named.
const lifecycleAttrs = "uid ldapsyncStatus ldapsyncLockReason ldapsyncDepartureKind ldapsyncDepartureDate ldapsyncLockAt ldapsyncRevokeAt ldapsyncRevokedTime pwdAccountLockedTime"

// rehearsalBanner prints what -no-daemon leaves up and the commands that
// rehearse a departure, a lock and a restore, each complete, to paste in
// the working directory. It computes no deadline: the user copies the one
// forecast prints, so the banner cannot disagree with the rules.
func rehearsalBanner(w io.Writer, srv *slapdtest.Server, o options, dir, cfgPath, retire string) {
	q := shellQuote
	cmd := func(sub string) string { return q(rel(o.Bin)) + " " + sub + " --config " + q(cfgPath) }
	// From the base, not ou=people: a revoked entry moves to ou=revoked.
	// Unwrapped, so that a long lock reason reads on one line.
	search := func(uid string) string {
		return fmt.Sprintf("ldapsearch -x -LLL -o ldif_wrap=no -H %s -D %s -y %s -b %s %s \\\n    %s",
			srv.URL, q(srv.RootDN), q(rel(srv.RootPasswordFile)), q(srv.BaseDN), q("(uid="+uid+")"), lifecycleAttrs)
	}
	letters := filepath.Join(dir, "letters")
	fmt.Fprintf(w, `
ldapsync rehearsal: slapd and its config, no daemon
===================================================
LDAP URL        %s
admin DN        %s   (password in %s)
service DN      %s   (ldapsync binds as this)
config          %s
letters         %s   (sealed passwords, one directory per unit)
slapd log       %s

No daemon runs and the inbox stays empty: rehearse by hand, in another
terminal, in %s. Every command takes the config the same way,
no export needed ("COMMAND --help" for its flags):
  %s

  # 1. the hires of %s: accounts, groups, sealed first passwords
  %s %s

  # 2. %s (%s, staff) retires today (%s, written for you):
  #    locked at once, revocation scheduled (NT 5.2.c)
  %s %s
  %s

  # 3. when the revocation falls due: the AT of the "revoke %s" line
  %s --days 200

  # 4. rehearse that day. DATE is that AT pasted whole (RFC 3339, in
  #    rules.timezone), or YYYY-MM-DD of that day or any later one; an
  #    earlier day revokes nothing (try it with --dry-run). The accounts
  #    still unused by then are due an inactivity lock (NT 6.2.a): with the
  #    revocation, more accounts than sync.guard lets one run change, so
  #    the sweep holds them all for an operator and says so (exit status 1)
  %s --now DATE
  #    what is held, with its ID; approve it (on the same day): the
  #    revocation is done and the entry moves to ou=revoked
  %s
  %s ID --by "$USER" --now DATE
  %s

  # 5. an operator's lock (NT 6.2.b): %s's password is compromised
  %s %s --reason compromised --request SOC-1 --note 'password typed into a phishing page'
  %s
  #    the restore that lifts it (NT 6.3): the new password goes into a
  #    sealed letter under %s/ (restore prints which), never to the screen;
  #    the account is pending, outside cn=active, until that password is
  #    changed (a running daemon then makes it active within seconds)
  %s %s --request REQ-1
  %s

  # the open requests and when each is due (BTC 4, NT 6.3.b)
  %s

Ctrl-C here stops slapd and leaves nothing running.

`, srv.URL, srv.RootDN, rel(srv.RootPasswordFile), srv.ServiceDN, cfgPath, rel(letters), rel(filepath.Join(dir, "slapd.log")),
		mustGetwd(), cmd("COMMAND"),
		rel(o.Personnel), cmd("apply"), q(rel(o.Personnel)),
		retireUID, retireEmployee, rel(retire), cmd("apply"), q(rel(retire)), search(retireUID),
		retireUID, cmd("forecast"),
		cmd("sweep"), cmd("pending"), cmd("approve"), search(retireUID),
		lockUID, cmd("lock"), lockUID, search(lockUID),
		rel(filepath.Join(letters, lockUnit)), cmd("restore"), lockUID, search(lockUID),
		cmd("requests"))
}

// stopRestarted stops an ldapsync that still holds the state directory's
// lock, one the user restarted by hand after a crash: slapd is about to
// go, and a daemon left behind would retry against it forever.
func stopRestarted(w io.Writer, lockFile string) {
	pid, err := lockHolder(lockFile)
	if err != nil {
		fmt.Fprintf(w, "ldapsync-dev: cannot tell whether an ldapsync still runs against %s: %v\n", filepath.Dir(lockFile), err)
		return
	}
	if pid == 0 {
		return
	}
	fmt.Fprintf(w, "ldapsync-dev: stopping the ldapsync still running against %s (pid %d)\n", filepath.Dir(lockFile), pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	// The lock goes with the process, zombie or not.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if holder, err := lockHolder(lockFile); err != nil || holder != pid {
			return
		}
	}
	fmt.Fprintf(w, "ldapsync-dev: pid %d did not stop within 10 s: sent it SIGKILL\n", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// lockHolder returns the pid of the process holding an flock on file
// (sync.Open takes one on the state directory's lock), from /proc/locks;
// 0 when none does or the file does not exist.
func lockHolder(file string) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(file, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return 0, nil
		}
		return 0, err
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// "1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234567 0 EOF"; waiters carry
	// "->" after the number and hold nothing.
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		id := strings.Split(fields[5], ":")
		if len(id) != 3 || id[2] != strconv.FormatUint(st.Ino, 10) {
			continue
		}
		major, err1 := strconv.ParseUint(id[0], 16, 32)
		minor, err2 := strconv.ParseUint(id[1], 16, 32)
		if err1 != nil || err2 != nil || major != uint64(devMajor(st.Dev)) || minor != uint64(devMinor(st.Dev)) {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid != os.Getpid() {
			return pid, nil
		}
	}
	return 0, sc.Err()
}

// devMajor and devMinor split a Linux dev_t as the kernel's
// new_encode_dev does (the format /proc/locks prints).
func devMajor(dev uint64) uint32 { return uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff) }
func devMinor(dev uint64) uint32 { return uint32(dev&0xff) | uint32((dev>>12)&^0xff) }

// demoApp is the cn of the application account make dev creates under
// ou=services.
const demoApp = "demo-app"

// application is an application's account: its DN and the file holding
// its password.
type application struct {
	DN, PasswordFile string
}

func banner(w io.Writer, srv *slapdtest.Server, app application, dir, cfgPath, letters string) {
	cfg := srv.Config() // config.example.yaml's containers and groups are the defaults
	people := cfg.People + "," + srv.BaseDN
	user := cfg.PersonDN("quoctrang")
	// What an application asks, as a mail server does: its login (passdb)
	// filter admits the active group only; its mail (userdb) lookup does
	// not ask for it, so mail reaches every account.
	active := cfg.GroupDN(cfg.ActiveGroup)
	appSearch := func(filter string) string {
		return fmt.Sprintf("ldapsearch -x -LLL -H %s -D %s -y %s \\\n    -b %s %s uid mail ldapsyncStatus",
			srv.URL, shellQuote(app.DN), shellQuote(rel(app.PasswordFile)), shellQuote(people), shellQuote(filter))
	}
	login := appSearch("(&(uid=quoctrang)(memberOf=" + active + "))")
	lookup := appSearch("(uid=quoctrang)")
	// The first password, read from the sealed letter where the daemon
	// writes it ("  Mật khẩu lần đầu: …", sync/letter.go).
	first := `"$(sed -n 's/^ *Mật khẩu lần đầu: *//p' ` + shellQuote(rel(letters)) + `/sotttt/quoctrang_*.txt)"`
	q := shellQuote
	fmt.Fprintf(w, `
ldapsync development environment
================================
LDAP URL        %s
admin DN        %s   (password in %s)
service DN      %s   (ldapsync binds as this)
application DN  %s   (password in %s)
config          %s
inbox           %s   (drop more .csv / .jsonl files here)
letters         %s   (sealed first passwords, one directory per unit)
slapd log       %s

Once the daemon below logs "batch processed", in another terminal:

  # the accounts, as the admin sees them
  ldapsearch -x -LLL -H %s -D %s -y %s -b %s uid cn mail departmentNumber ldapsyncStatus pwdReset

  # Nguyễn Quốc Trạng logs in to an application that, like a mail server
  # (Dovecot's auth_bind), binds as him without the ppolicy control: slapd
  # says only "Success" (his DN), though his first password must be changed
  ldapwhoami -x -H %s -D %s \
    -w %s
  # so the application also asks, as its own account, for the user in the
  # active group: nothing yet, he is pending until he changes his password
  %s
  # its mail lookup (a mail server's userdb) asks for no group: mail
  # reaches him all along
  %s

  # bind as him with the ppolicy control (→ his DN and "Password must be changed")
  ldapwhoami -x -H %s -e ppolicy -D %s \
    -w %s
  # change it: the first password with -a, a new one with -s
  ldappasswd -x -H %s -D %s \
    -w %s \
    -a %s -s %s
  # bind with the new password: no "Password must be changed" any more
  ldapwhoami -x -H %s -e ppolicy -D %s -w %s
  # within seconds the daemon sees the change and makes him active (and
  # audits it): the application's login filter finds him now
  %s

`, srv.URL, srv.RootDN, rel(srv.RootPasswordFile), srv.ServiceDN, app.DN, rel(app.PasswordFile), rel(cfgPath), rel(filepath.Join(dir, "inbox")),
		rel(letters), rel(filepath.Join(dir, "slapd.log")),
		srv.URL, q(srv.RootDN), q(rel(srv.RootPasswordFile)), q(people),
		srv.URL, q(user), first,
		login, lookup,
		srv.URL, q(user), first,
		srv.URL, q(user), first, first, q(newPassword),
		srv.URL, q(user), q(newPassword),
		login)
}

// rel returns p relative to the working directory when it lies below it,
// else p.
func rel(p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	if r, err := filepath.Rel(mustGetwd(), p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// shellQuote quotes s for a POSIX shell: as is when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

// freeLoopback returns a free TCP address on 127.0.0.1.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeToken writes a random API token to path, mode 0600.
func writeToken(path string) error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600)
}

// writeDevConfig copies the example config with the given keys replaced,
// keeping its comments, so the dev config reads like the example.
func writeDevConfig(example, out string, set map[string]any) error {
	data, err := os.ReadFile(example)
	if err != nil {
		return err
	}
	b, err := yamlpatch.Patch(data, set)
	if err != nil {
		return fmt.Errorf("%s: %w", example, err)
	}
	header := "# Written by make dev from " + example + "; rewritten at every make dev.\n"
	return os.WriteFile(out, append([]byte(header), b...), 0o600)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	// Written under a dot-name and renamed, as the README asks of HR.
	tmp := filepath.Join(filepath.Dir(to), "."+filepath.Base(to))
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}
