package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// TestMain makes the test binary, run as "BIN run --config FILE", a
// stand-in for the ldapsync daemon: it takes the state directory's lock as
// the daemon does and runs until SIGINT or SIGTERM.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Exit(fakeDaemon(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func fakeDaemon(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	config := fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat(*config); err != nil {
		fmt.Fprintln(os.Stderr, "fake ldapsync:", err)
		return 1
	}
	state := filepath.Join(filepath.Dir(*config), "state")
	if err := os.MkdirAll(state, 0o750); err != nil {
		fmt.Fprintln(os.Stderr, "fake ldapsync:", err)
		return 1
	}
	lock, err := os.OpenFile(filepath.Join(state, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake ldapsync: state lock:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	fmt.Printf("fake ldapsync %d: running\n", os.Getpid())
	<-sig
	return 0
}

// waitFor waits until re matches the output and returns the submatches.
func waitFor(t *testing.T, out *syncbuf.Buffer, re *regexp.Regexp) []string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
	}
	t.Fatalf("no %q in the output:\n%s", re, out.String())
	return nil
}

// TestDev_daemonKilled rehearses a crash as the README tells a newcomer
// to: kill -9 the daemon, see slapd stay up, restart the daemon with the
// printed command; Ctrl-C then stops both.
func TestDev_daemonKilled(t *testing.T) {
	if err := slapdtest.Available(); err != nil {
		slapdtest.New(t, slapdtest.Options{}) // skips, or fails under CI=true
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- dev(ctx, options{Bin: exe, Dir: filepath.Join(t.TempDir(), "dev"), Example: "../../config.example.yaml",
			Personnel: "../../examples/personnel.csv", Stdout: out, Stderr: out})
	}()
	url := waitFor(t, out, regexp.MustCompile(`LDAP URL +(\S+)`))[1]
	pid, _ := strconv.Atoi(waitFor(t, out, regexp.MustCompile(`ldapsync daemon +pid (\d+)`))[1])
	waitFor(t, out, regexp.MustCompile(`fake ldapsync `+strconv.Itoa(pid)+`: running`))
	slapdUp := func() error {
		b, err := exec.Command("ldapwhoami", "-x", "-H", url).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, b)
		}
		return nil
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, regexp.MustCompile(`daemon \(pid `+strconv.Itoa(pid)+`\) exited: signal: killed`))
	restart := waitFor(t, out, regexp.MustCompile(`(?m)^  (\S+ run --config \S+)$`))[1]
	select {
	case err := <-errc:
		t.Fatalf("ldapsync-dev returned when the daemon died: %v\n%s", err, out)
	default:
	}
	if err := slapdUp(); err != nil {
		t.Fatalf("slapd is down after the daemon's kill -9: %v", err)
	}

	// The printed command restarts the daemon alone, against the same
	// config: it takes the same state lock.
	again := exec.Command("sh", "-c", restart)
	again.Stdout, again.Stderr = out, out
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	againDone := make(chan error, 1)
	go func() { againDone <- again.Wait() }()
	waitFor(t, out, regexp.MustCompile(`fake ldapsync (\d+): running(?s:.*)fake ldapsync (\d+): running`))

	cancel() // Ctrl-C
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ldapsync-dev: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ldapsync-dev did not return after Ctrl-C:\n%s", out)
	}
	select {
	case <-againDone:
	case <-time.After(10 * time.Second):
		_ = again.Process.Kill()
		t.Fatalf("the restarted daemon still runs after Ctrl-C:\n%s", out)
	}
	if !strings.Contains(out.String(), "stopping the ldapsync still running") {
		t.Errorf("no word of stopping the restarted daemon:\n%s", out)
	}
	if err := slapdUp(); err == nil {
		t.Errorf("slapd still answers on %s after Ctrl-C", url)
	}
}

// TestBanner_linesRun runs the lines the banner prints, with a shell, as a
// newcomer pastes them: against a harness slapd with quoctrang's account
// and his sealed letter written as the daemon writes it.
func TestBanner_linesRun(t *testing.T) {
	for name, p := range rules.DefaultPasswordConfig().Profiles {
		if err := p.Check(newPassword, "quoctrang"); err != nil {
			t.Errorf("the new password fails profile %s: %v", name, err)
		}
	}
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg := srv.Config()
	ctx := context.Background()
	c, err := directory.Dial(ctx, cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rc := rules.DefaultConfig()
	rc.Units = []*rules.Unit{{Name: "Sở Thông tin và Truyền thông", Kind: rules.KindDepartment, Abbr: "sotttt"}}
	r, errs := rules.New(rc, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := c.EnsureTree(ctx, r); err != nil {
		t.Fatal(err)
	}
	unit, ok := r.Units.Lookup("sotttt")
	if !ok {
		t.Fatal("no unit sotttt")
	}
	// A generated password with the characters a shell cares most about.
	first := "Q$u0c#T&r'1n*g"
	if err := c.CreatePerson(ctx, rules.Account{UID: "quoctrang", EmployeeID: "NT-001245", CN: "Nguyễn Quốc Trạng", SN: "Nguyễn", Unit: "sotttt",
		Mail: "quoctrang@ninhthuan.gov.vn", Groups: []string{"mail"}}); err != nil {
		t.Fatal(err)
	}
	// A new account is pending, outside the active group, until its first
	// password is changed.
	dn := cfg.PersonDN("quoctrang")
	if err := c.ChangeGroups(ctx, []rules.GroupChange{{Group: cfg.ActiveGroup, Remove: []string{dn}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPassword(ctx, cfg.PersonDN("quoctrang"), secret.New(first), ""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	letters := filepath.Join(dir, "letters")
	if _, err := (&sync.Letters{Dir: letters}).Write(sync.Letter{
		Issued:   time.Now(),
		Event:    &sync.Event{ID: "HR-2026-0101", EmployeeID: "NT-001245", Reply: sync.Reply{Name: "Trần Thị Mai"}},
		UID:      "quoctrang",
		FullName: "Nguyễn Quốc Trạng",
		Unit:     unit,
		Password: secret.New(first),
		Profile:  r.Password,
	}); err != nil {
		t.Fatal(err)
	}

	appFile := filepath.Join(dir, demoApp+".password")
	appDN, err := srv.AddApplication(ctx, demoApp, appFile)
	if err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	banner(&b, srv, application{DN: appDN, PasswordFile: appFile}, dir, filepath.Join(dir, "config.yaml"), letters)
	text := b.String()
	for _, placeholder := range []string{"PORT", "…", "FIRST", "USER"} {
		if strings.Contains(text, placeholder) {
			t.Errorf("the banner holds the placeholder %q:\n%s", placeholder, text)
		}
	}
	// The commands: lines starting with "  ldap", with their continuations.
	var cmds []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "  ldap") {
			continue
		}
		cmd := lines[i]
		for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i]
		}
		cmds = append(cmds, cmd)
	}
	whoami, entry := "dn:"+dn, "dn: "+dn
	loginFilter := shellQuote("(&(uid=quoctrang)(memberOf=" + cfg.GroupDN(cfg.ActiveGroup) + "))")
	want := []struct {
		tool      string
		has, lack []string
	}{
		{"ldapsearch", []string{"uid: quoctrang", "pwdReset: TRUE"}, nil},
		// A client without the ppolicy control is not told.
		{"ldapwhoami", []string{whoami}, []string{"must be changed"}},
		// The application's login filter, as its own account: not yet.
		{"ldapsearch", nil, []string{entry}},
		// Its mail lookup finds him.
		{"ldapsearch", []string{entry, "mail: quoctrang@"}, nil},
		{"ldapwhoami", []string{whoami, "Password must be changed"}, nil},
		{"ldappasswd", nil, nil},
		{"ldapwhoami", []string{whoami}, []string{"must be changed"}},
		// The login filter again, once the daemon has made him active.
		{"ldapsearch", []string{entry, "mail: quoctrang@"}, nil},
	}
	if len(cmds) != len(want) {
		t.Fatalf("%d commands in the banner, want %d:\n%s", len(cmds), len(want), text)
	}
	for i, w := range want {
		if !strings.HasPrefix(cmds[i], "  "+w.tool+" ") {
			t.Fatalf("command %d is not %s:\n%s", i, w.tool, cmds[i])
		}
		switch i {
		case 1:
			if strings.Contains(cmds[i], "ppolicy") {
				t.Errorf("the application's bind sends the ppolicy control:\n%s", cmds[i])
			}
		case 2, 3, 7:
			// As the application, with its password file.
			if !strings.Contains(cmds[i], "-D "+shellQuote(appDN)) || !strings.Contains(cmds[i], "-y "+shellQuote(rel(appFile))) {
				t.Errorf("command %d does not bind as the application with its password file:\n%s", i, cmds[i])
			}
			if login := i != 3; login != strings.Contains(cmds[i], loginFilter) {
				t.Errorf("command %d asks for the active group: %v, want %v:\n%s", i, !login, login, cmds[i])
			}
		}
		if i == 7 {
			// What the daemon does once it sees the change.
			if err := c.ChangeGroups(ctx, []rules.GroupChange{{Group: cfg.ActiveGroup, Add: []string{dn}}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := exec.Command("sh", "-c", cmds[i]).CombinedOutput()
		if err != nil {
			t.Fatalf("%s\n%v\n%s", cmds[i], err, got)
		}
		t.Logf("%s\n%s", cmds[i], got)
		for _, s := range w.has {
			if !strings.Contains(string(got), s) {
				t.Errorf("%s: output lacks %q:\n%s", w.tool, s, got)
			}
		}
		for _, s := range w.lack {
			if strings.Contains(string(got), s) {
				t.Errorf("%s: output has %q:\n%s", w.tool, s, got)
			}
		}
	}
	if !strings.Contains(cmds[5], `-a "$(sed`) || !strings.Contains(cmds[5], "-s "+shellQuote(newPassword)) {
		t.Errorf("ldappasswd does not change the letter's password with -a and -s:\n%s", cmds[5])
	}
}

// buildLdapsync builds the real ldapsync for the rehearsal's commands.
func buildLdapsync(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ldapsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../ldapsync").CombinedOutput(); err != nil {
		t.Fatalf("go build ../ldapsync: %v\n%s", err, out)
	}
	return bin
}

// bannerCommands returns the command lines of a banner, as a newcomer
// pastes them: lines indented two spaces that are not comments, with
// their continuations.
func bannerCommands(text string) []string {
	var cmds []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") || strings.HasPrefix(l, "  #") {
			continue
		}
		cmd := l
		for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i]
		}
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	return cmds
}

// TestDev_noDaemon is make dev-slapd as the README tells a newcomer to
// rehearse a departure: slapd and the config up, nothing in the inbox and
// no daemon; the printed lines, pasted in order, hire, retire, forecast,
// revoke on the forecast's date, lock and restore with the real ldapsync;
// Ctrl-C stops slapd. The rehearsal runs on the real clock (the retirement
// is effective today), so this test does too: every date in it is today's,
// or one the binary prints.
func TestDev_noDaemon(t *testing.T) {
	if err := slapdtest.Available(); err != nil {
		slapdtest.New(t, slapdtest.Options{}) // skips, or fails under CI=true
	}
	bin := buildLdapsync(t)
	dir := filepath.Join(t.TempDir(), "dev")
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh") // rules.timezone in config.example.yaml
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().In(loc).Format(time.DateOnly)
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- dev(ctx, options{Bin: bin, Dir: dir, Example: "../../config.example.yaml",
			Personnel: "../../examples/personnel.csv", NoDaemon: true, Stdout: out, Stderr: out})
	}()
	url := waitFor(t, out, regexp.MustCompile(`LDAP URL +(\S+)`))[1]
	waitFor(t, out, regexp.MustCompile(`Ctrl-C here stops slapd`))
	after := time.Now().In(loc).Format(time.DateOnly)
	text := out.String()
	t.Logf("banner:\n%s", text)
	slapdUp := func() error {
		b, err := exec.Command("ldapwhoami", "-x", "-H", url).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, b)
		}
		return nil
	}
	if err := slapdUp(); err != nil {
		t.Fatalf("slapd is not up: %v", err)
	}

	// The config, by its absolute path, in the banner and in every command.
	cfg := waitFor(t, out, regexp.MustCompile(`(?m)^config +(\S+)$`))[1]
	if want := filepath.Join(dir, "config.yaml"); cfg != want || !filepath.IsAbs(cfg) {
		t.Errorf("config printed as %q, want the absolute %q", cfg, want)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Fatal(err)
	}
	// No personnel file in the inbox, no daemon: nothing holds the state.
	if files, err := os.ReadDir(filepath.Join(dir, "inbox")); err != nil || len(files) != 0 {
		t.Errorf("inbox: %v, %v; want it empty", files, err)
	}
	if pid, err := lockHolder(filepath.Join(dir, "state", "lock")); pid != 0 || err != nil {
		t.Errorf("the state directory is held by pid %d (%v): a daemon runs", pid, err)
	}
	if strings.Contains(text, "ldapsync daemon") {
		t.Errorf("the banner speaks of a daemon:\n%s", text)
	}
	// The retirement file: today where effective dates are reckoned.
	retire, err := os.ReadFile(filepath.Join(dir, "retire.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var today string
	for _, d := range []string{before, after} {
		if string(retire) == "event_id,type,effective,employee_id\nRET-1,retire,"+d+","+retireEmployee+"\n" {
			today = d
		}
	}
	if today == "" {
		t.Fatalf("retire.csv is\n%s\nwant RET-1 retiring %s on %s", retire, retireEmployee, after)
	}

	// The commands, in the banner's order, and what each must show.
	ls := shellQuote(bin) + " "
	steps := []struct {
		name   string
		prefix string
		has    []string
		lack   []string
	}{
		{"hires", ls + "apply --config " + cfg + " ../../examples/personnel.csv", nil, nil},
		{"retirement", ls + "apply --config " + cfg + " " + filepath.Join(dir, "retire.csv"), nil, nil},
		{"retiree locked", "ldapsearch ", []string{"dn: uid=" + retireUID + ",ou=people,", "ldapsyncStatus: locked",
			"ldapsyncDepartureKind: retire", "ldapsyncDepartureDate: " + today, "ldapsyncLockAt:", "ldapsyncRevokeAt:", "pwdAccountLockedTime:"}, nil},
		{"forecast", ls + "forecast --config " + cfg + " --days 200", []string{"revoke"}, nil},
		{"sweep", ls + "sweep --config " + cfg + " --now DATE", nil, nil},
		{"pending", ls + "pending --config " + cfg, []string{"revoke " + retireUID}, nil},
		{"approve", ls + "approve --config " + cfg + " ID --by", []string{"approved"}, nil},
		{"retiree revoked", "ldapsearch ", []string{"dn: uid=" + retireUID + ",ou=revoked,", "ldapsyncStatus: revoked"}, nil},
		{"lock", ls + "lock --config " + cfg + " " + lockUID + " --reason compromised --request SOC-1 --note ", nil, nil},
		{"locked", "ldapsearch ", []string{"ldapsyncStatus: locked", "ldapsyncLockReason: compromised", "pwdAccountLockedTime:"}, nil},
		{"restore", ls + "restore --config " + cfg + " " + lockUID + " --request REQ-1", []string{filepath.Join(dir, "letters", lockUnit) + "/"}, nil},
		// Unlocked, and pending until the restore's password is changed.
		{"restored", "ldapsearch ", []string{"ldapsyncStatus: pending"}, []string{"pwdAccountLockedTime", "ldapsyncLockReason"}},
		{"requests", ls + "requests --config " + cfg, nil, nil},
	}
	var cmds []string
	for _, c := range bannerCommands(text) {
		if !strings.Contains(c, "COMMAND") {
			cmds = append(cmds, c)
		}
	}
	if len(cmds) != len(steps) {
		t.Fatalf("%d commands in the banner, want %d:\n%s", len(cmds), len(steps), strings.Join(cmds, "\n"))
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "ldapsearch ") {
			for _, a := range []string{"ldapsyncStatus", "ldapsyncLockReason", "ldapsyncDepartureKind", "ldapsyncDepartureDate",
				"ldapsyncLockAt", "ldapsyncRevokeAt", "pwdAccountLockedTime"} {
				if !strings.Contains(c, " "+a) {
					t.Errorf("ldapsearch does not ask for %s:\n%s", a, c)
				}
			}
		}
	}
	// A newcomer's shell has a login name: the operator the audit records.
	env := os.Environ()
	if os.Getenv("USER") == "" && os.Getenv("SUDO_USER") == "" {
		env = append(env, "USER=rehearsal")
	}
	revokeAt := regexp.MustCompile(`(?m)^(\S+) +revoke +` + regexp.QuoteMeta(retireUID) + ` `)
	var date, hold string
	for i, s := range steps {
		cmd := cmds[i]
		if !strings.HasPrefix(cmd, s.prefix) {
			t.Fatalf("%s: command %d is\n%s\nwant it to start %q", s.name, i, cmd, s.prefix)
		}
		switch s.name {
		case "sweep":
			cmd = strings.Replace(cmd, "DATE", shellQuote(date), 1)
		case "approve":
			cmd = strings.Replace(strings.Replace(cmd, "DATE", shellQuote(date), 1), " ID ", " "+hold+" ", 1)
		}
		c := exec.Command("sh", "-c", cmd)
		c.Env = env
		got, err := c.CombinedOutput()
		t.Logf("%s\n%s", cmd, got)
		// The sweep exits 1 when sync.guard holds its changes, as the
		// banner says; approve lets them run.
		if err != nil && !(s.name == "sweep" && c.ProcessState.ExitCode() == 1) {
			t.Fatalf("%s: %s: %v\n%s", s.name, cmd, err, got)
		}
		for _, h := range s.has {
			if !strings.Contains(string(got), h) {
				t.Errorf("%s: output lacks %q:\n%s", s.name, h, got)
			}
		}
		for _, h := range s.lack {
			if strings.Contains(string(got), h) {
				t.Errorf("%s: output has %q:\n%s", s.name, h, got)
			}
		}
		if s.name == "pending" {
			hold, _, _ = strings.Cut(string(got), " ")
		}
		if s.name == "forecast" {
			m := revokeAt.FindStringSubmatch(string(got))
			if m == nil {
				t.Fatalf("forecast names no revocation of %s:\n%s", retireUID, got)
			}
			date = m[1]
		}
	}

	cancel() // Ctrl-C
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("ldapsync-dev: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ldapsync-dev did not return after Ctrl-C:\n%s", out)
	}
	if err := slapdUp(); err == nil {
		t.Errorf("slapd still answers on %s after Ctrl-C", url)
	}
	if !strings.Contains(out.String(), "slapd stopped") {
		t.Errorf("no word of slapd stopping:\n%s", out)
	}
}

// TestRehearsal_accounts checks the rehearsal's people against the example
// personnel file: the retiree is there and staff, so the departure locks at
// once; the locked and restored account's unit is there.
func TestRehearsal_accounts(t *testing.T) {
	f, err := os.Open("../../examples/personnel.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	rc := rules.DefaultConfig()
	rc.Units = []*rules.Unit{{Name: "Sở Thông tin và Truyền thông", Kind: rules.KindDepartment, Abbr: "sotttt"}}
	r, errs := rules.New(rc, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var retiree, unit bool
	for _, row := range rows[1:] {
		if row[col["employee_id"]] == retireEmployee {
			retiree = true
			if title := row[col["title"]]; r.IsLeaderTitle(title) {
				t.Errorf("%s is a leader (%q): the departure would not lock at once", retireEmployee, title)
			}
		}
		unit = unit || row[col["unit"]] == lockUnit
	}
	if !retiree {
		t.Errorf("no %s in the example personnel file", retireEmployee)
	}
	if !unit {
		t.Errorf("no one in unit %s in the example personnel file", lockUnit)
	}
}

func TestLockHolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lock")
	if pid, err := lockHolder(file); pid != 0 || err != nil {
		t.Fatalf("no file: pid %d, %v; want 0, nil", pid, err)
	}
	cmd := exec.Command("flock", "-x", file, "sleep", "30")
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			t.Skip("no flock(1)")
		}
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pid, err := lockHolder(file)
		if err != nil {
			t.Fatal(err)
		}
		// flock(1) takes the lock itself, then runs sleep.
		if pid == cmd.Process.Pid {
			return
		}
	}
	t.Fatalf("lockHolder never named pid %d", cmd.Process.Pid)
}
