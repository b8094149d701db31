package main

import (
	"context"
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
	if err := c.CreatePerson(ctx, rules.Account{UID: "quoctrang", EmployeeID: "NT-001245", CN: "Nguyễn Quốc Trạng", SN: "Nguyễn", Unit: "sotttt"}); err != nil {
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

	var b strings.Builder
	banner(&b, srv, dir, filepath.Join(dir, "config.yaml"), letters)
	text := b.String()
	for _, placeholder := range []string{"PORT", "…", "FIRST"} {
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
	dn := "dn:" + cfg.PersonDN("quoctrang")
	want := []struct {
		tool      string
		has, lack []string
	}{
		{"ldapsearch", []string{"uid: quoctrang", "pwdReset: TRUE"}, nil},
		{"ldapwhoami", []string{dn, "Password must be changed"}, nil},
		{"ldappasswd", nil, nil},
		{"ldapwhoami", []string{dn}, []string{"must be changed"}},
	}
	if len(cmds) != len(want) {
		t.Fatalf("%d commands in the banner, want %d:\n%s", len(cmds), len(want), text)
	}
	for i, w := range want {
		if !strings.HasPrefix(cmds[i], "  "+w.tool+" ") {
			t.Fatalf("command %d is not %s:\n%s", i, w.tool, cmds[i])
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
	if !strings.Contains(cmds[2], `-a "$(sed`) || !strings.Contains(cmds[2], "-s "+shellQuote(newPassword)) {
		t.Errorf("ldappasswd does not change the letter's password with -a and -s:\n%s", cmds[2])
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
