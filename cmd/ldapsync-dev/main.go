// Command ldapsync-dev is what `make dev` runs: it starts a throwaway slapd
// on loopback with the project's schema and password policy (the same
// harness the tests use), writes a config for it derived from
// config.example.yaml, drops the example personnel file into the inbox, and
// runs the ldapsync daemon in the foreground. Ctrl-C stops the daemon and
// slapd and leaves nothing running.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
)

func main() { os.Exit(run()) }

func run() int {
	bin := flag.String("ldapsync", "bin/ldapsync", "the ldapsync binary to run")
	dir := flag.String("dir", ".dev", "working directory, emptied at start: slapd's data, the daemon's state, inbox and letters")
	example := flag.String("config", "config.example.yaml", "config to derive the dev config from")
	personnel := flag.String("personnel", "examples/personnel.csv", "personnel file dropped into the inbox")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dev(ctx, *bin, *dir, *example, *personnel); err != nil {
		fmt.Fprintln(os.Stderr, "ldapsync-dev:", err)
		return 1
	}
	return 0
}

func dev(ctx context.Context, bin, dir, example, personnel string) error {
	dir, err := filepath.Abs(dir)
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
	inbox, letters := filepath.Join(dir, "inbox"), filepath.Join(dir, "letters")
	if err := writeDevConfig(example, cfgPath, map[string]any{
		"log.format":                      "console",
		"directory.url":                   srv.URL,
		"directory.base_dn":               srv.BaseDN,
		"directory.bind_dn":               srv.ServiceDN,
		"directory.bind_password":         map[string]string{"file": srv.ServicePasswordFile},
		"sync.state_dir":                  filepath.Join(dir, "state"),
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
	if err := copyFile(personnel, filepath.Join(inbox, filepath.Base(personnel))); err != nil {
		return err
	}
	banner(os.Stdout, srv, dir, cfgPath, letters)

	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group: Ctrl-C reaches it through us, once, and we
	// then wait for it before stopping slapd.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (make dev builds it)", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return fmt.Errorf("ldapsync exited: %v", err)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	fmt.Println("\nldapsync and slapd stopped. The state of this run stays in", dir, "until the next make dev.")
	return nil
}

func banner(w io.Writer, srv *slapdtest.Server, dir, cfgPath, letters string) {
	rel := func(p string) string {
		if r, err := filepath.Rel(mustGetwd(), p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	people := "ou=people," + srv.BaseDN
	fmt.Fprintf(w, `
ldapsync development environment
================================
LDAP URL        %s
admin DN        %s   (password in %s)
service DN      %s   (ldapsync binds as this)
config          %s
inbox           %s   (drop more .csv / .jsonl files here)
letters         %s   (sealed first passwords, one directory per unit)
slapd log       %s

Once the daemon below logs "batch processed", in another terminal:

  # the accounts, as the admin sees them
  ldapsearch -x -LLL -H %s -D '%s' -y %s -b '%s' uid cn mail departmentNumber pwdReset

  # bind as Nguyễn Quốc Trạng with the first password from his sealed letter
  ldapwhoami -x -H %s -e ppolicy -D 'uid=quoctrang,%s' \
    -w "$(sed -n 's/^ *Mật khẩu lần đầu: *//p' %s/sotttt/quoctrang_*.txt)"
  # → "Password must be changed"; change it with ldappasswd -S (same -D and -w) and bind again

Ctrl-C stops the daemon and slapd.

`, srv.URL, srv.RootDN, rel(srv.RootPasswordFile), srv.ServiceDN, rel(cfgPath), rel(filepath.Join(dir, "inbox")),
		rel(letters), rel(filepath.Join(dir, "slapd.log")),
		srv.URL, srv.RootDN, rel(srv.RootPasswordFile), people,
		srv.URL, people, rel(letters))
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
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
