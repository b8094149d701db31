package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/internal/yamlpatch"
)

// listenNotify listens on a unixgram socket as systemd does for
// NOTIFY_SOCKET and returns its name and the datagrams that arrive on it.
// An abstract name ("@…") leaves no file behind.
func listenNotify(t *testing.T, abstract bool) (string, <-chan string) {
	t.Helper()
	name := fmt.Sprintf("@ldapsync-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	if !abstract {
		// A short directory: a socket path must fit in 108 bytes.
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return name, ch
}

// awaitDatagram returns the first datagram that contains want, failing
// after d.
func awaitDatagram(t *testing.T, ch <-chan string, want string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case msg, ok := <-ch:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(msg, want) {
				return msg
			}
		case <-deadline:
			t.Fatalf("no %q on the notify socket within %s", want, d)
		}
	}
}

func fakeEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestNewNotifier(t *testing.T) {
	pid := fmt.Sprint(os.Getpid())
	for _, tc := range []struct {
		name     string
		env      map[string]string
		socket   string
		watchdog time.Duration
	}{
		{name: "not under systemd", env: map[string]string{"WATCHDOG_USEC": "30000000"}},
		{name: "notify without watchdog", env: map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, socket: "/run/systemd/notify"},
		{name: "watchdog", env: map[string]string{"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"}, socket: "@x", watchdog: 30 * time.Second},
		{name: "watchdog for this pid", env: map[string]string{"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": pid}, socket: "@x", watchdog: 2 * time.Second},
		{name: "watchdog for another pid", env: map[string]string{"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}, socket: "@x"},
		{name: "watchdog zero", env: map[string]string{"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "0"}, socket: "@x"},
		{name: "watchdog garbage", env: map[string]string{"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30s"}, socket: "@x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNotifier(fakeEnv(tc.env), zerolog.Nop())
			if n.socket != tc.socket || n.watchdog != tc.watchdog {
				t.Errorf("got socket %q watchdog %s, want %q %s", n.socket, n.watchdog, tc.socket, tc.watchdog)
			}
		})
	}
}

func TestNotifier_Send(t *testing.T) {
	for _, tc := range []struct {
		name     string
		abstract bool
	}{
		{name: "socket file", abstract: false},
		{name: "abstract socket", abstract: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, ch := listenNotify(t, tc.abstract)
			n := newNotifier(fakeEnv(map[string]string{"NOTIFY_SOCKET": sock}), zerolog.Nop())
			n.ready()
			if got := awaitDatagram(t, ch, "READY=1", 5*time.Second); got != "READY=1\nSTATUS=watching the inbox" {
				t.Errorf("datagram %q", got)
			}
			n.stopping()
			awaitDatagram(t, ch, "STOPPING=1", 5*time.Second)
		})
	}
	t.Run("no NOTIFY_SOCKET", func(t *testing.T) {
		if err := newNotifier(fakeEnv(nil), zerolog.Nop()).send("READY=1"); err != nil {
			t.Error(err)
		}
		var nilNotifier *notifier
		if err := nilNotifier.send("READY=1"); err != nil {
			t.Error(err)
		}
	})
	t.Run("nobody listening", func(t *testing.T) {
		n := newNotifier(fakeEnv(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "gone")}), zerolog.Nop())
		if err := n.send("READY=1"); err == nil {
			t.Error("send to a missing socket: no error")
		}
	})
}

func TestNotifier_Watch(t *testing.T) {
	sock, ch := listenNotify(t, true)
	n := newNotifier(fakeEnv(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "100000"}), zerolog.Nop())
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { n.watch(done); close(stopped) }()
	for range 3 {
		awaitDatagram(t, ch, "WATCHDOG=1", 5*time.Second)
	}
	close(done)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not return once done was closed")
	}

	// Without a watchdog it returns at once.
	off := newNotifier(fakeEnv(map[string]string{"NOTIFY_SOCKET": sock}), zerolog.Nop())
	returned := make(chan struct{})
	go func() { off.watch(make(chan struct{})); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("watch without WATCHDOG_USEC did not return")
	}
}

// The real binary under a service manager's eyes: ldapsync run with
// NOTIFY_SOCKET and WATCHDOG_USEC says READY=1 once the directory is
// reached, pings the watchdog, reloads on SIGHUP (refusing a broken
// config, taking a valid one), says STOPPING=1 on SIGTERM and exits 0.
func TestRun_SystemdNotify(t *testing.T) {
	bin := buildBinary(t)
	srv := slapdtest.New(t, slapdtest.Options{})
	cfg, state := harnessConfig(t, srv)
	// The HTTP API too, for /readyz and the reload metric.
	port := freePort(t)
	tokenFile := filepath.Join(t.TempDir(), "inspector")
	os.WriteFile(tokenFile, []byte("inspector-token-7c1d"), 0o600)
	base, _ := os.ReadFile(cfg)
	good, err := yamlpatch.Patch(base, map[string]any{
		"sync.inbox.poll": "200ms", "sync.inbox.settle": "0", "sync.schedule.sweep": "",
		"api.listen": "127.0.0.1:" + port,
		"api.tokens": []map[string]string{{"name": "inspector", "file": tokenFile, "role": "auditor"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, good, 0o600)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+path, nil)
		req.Header.Set("Authorization", "Bearer inspector-token-7c1d")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	reloadMetric := func() string {
		_, body := get("/metrics")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "ldapsync_config_reload_success ") {
				return strings.TrimPrefix(line, "ldapsync_config_reload_success ")
			}
		}
		return "(absent)"
	}
	sock, ch := listenNotify(t, false)

	var logs syncbuf.Buffer
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false
	defer func() {
		if !reaped {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("ldapsync's log:\n%s", logs.String())
		}
	}()

	awaitDatagram(t, ch, "READY=1", 60*time.Second)
	awaitDatagram(t, ch, "WATCHDOG=1", 5*time.Second)
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if m := reloadMetric(); m != "1" {
		t.Errorf("reload metric at start: %s", m)
	}

	if err := os.WriteFile(cfg, append(good, []byte("bogus: 1\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", func() bool { return strings.Contains(logs.String(), "config reload failed") })
	if m := reloadMetric(); m != "0" {
		t.Errorf("reload metric after a broken config: %s", m)
	}
	withApp, err := yamlpatch.Patch(good, map[string]any{
		"rules.applications": []map[string]string{{"name": "mail"}, {"name": "zalo", "description": "Zalo OA"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, withApp, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(logs.String(), "config reloaded") })
	if strings.Count(logs.String(), "config reload failed") != 1 {
		t.Errorf("the valid config was refused")
	}
	if m := reloadMetric(); m != "1" {
		t.Errorf("reload metric after a valid config: %s", m)
	}
	if strings.Contains(logs.String(), "inspector-token-7c1d") {
		t.Errorf("the API token is in the log")
	}
	// Still pinging after the reloads.
	awaitDatagram(t, ch, "WATCHDOG=1", 5*time.Second)

	// SIGTERM in the middle of a batch of hires.
	const n = 60
	var rows strings.Builder
	rows.WriteString("event_id,type,effective,employee_id,full_name,unit,title,phone,applications,reply_name,reply_unit,reply_mail,reply_phone,requested_by\n")
	day := time.Now().Format(time.DateOnly) // the daemon runs on real time here
	i := 0
	for _, f := range []string{"Nguyễn", "Trần", "Lê"} {
		for _, m := range []string{"Văn", "Thị", "Quốc", "Minh"} {
			for _, g := range []string{"An", "Bình", "Cường", "Dũng", "Hoa"} {
				fmt.Fprintf(&rows, "S%d,hire,%s,NS-%03d,%s %s %s,sotttt,Chuyên viên,0259 1,mail,Mai,VP,vp@ninhthuan.gov.vn,0259 2,GĐ\n", i, day, i, f, m, g)
				i++
			}
		}
	}
	auditPath := filepath.Join(state, "audit.jsonl")
	dropFile(t, state, "batch.csv", rows.String())
	waitFor(t, "the batch to start", func() bool {
		b, _ := os.ReadFile(auditPath)
		return strings.Contains(string(b), `"action":"create"`)
	})

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	awaitDatagram(t, ch, "STOPPING=1", 15*time.Second)
	select {
	case err := <-exited:
		reaped = true
		if err != nil {
			t.Fatalf("ldapsync run after SIGTERM: %v", err)
		}
		t.Logf("exited 0 %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(15*time.Second - time.Since(sent)):
		t.Fatal("ldapsync run did not exit within 15s of SIGTERM")
	}
	if !strings.Contains(logs.String(), "ldapsync stopped") {
		t.Error("no \"ldapsync stopped\" in the log")
	}

	b, _ := os.ReadFile(auditPath)
	if c := strings.Count(string(b), `"action":"create"`); c >= n {
		t.Errorf("all %d hires were done before SIGTERM: the stop was not mid-batch", c)
	} else {
		t.Logf("stopped with %d of %d hires made", c, n)
	}
	// Restarted, it finishes the batch: every hire applied once, nothing
	// lost, the audit log whole.
	again := exec.Command(bin, "run", "--config", cfg)
	var logs2 syncbuf.Buffer
	again.Stdout, again.Stderr = &logs2, &logs2
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		again.Process.Signal(syscall.SIGTERM)
		again.Wait()
		if t.Failed() {
			t.Logf("the restarted ldapsync's log:\n%s", logs2.String())
		}
	}()
	created := func() int {
		b, _ := os.ReadFile(auditPath)
		return strings.Count(string(b), `"action":"create"`)
	}
	// Under a loaded CI machine a restart and 60 hires may take a while.
	for deadline := time.Now().Add(60 * time.Second); created() < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(auditPath)
			t.Logf("audit:\n%s", b)
			t.Fatalf("timed out waiting for every hire after the restart: %d of %d", created(), n)
		}
	}
	time.Sleep(500 * time.Millisecond) // nothing more may come
	if c := created(); c != n {
		t.Errorf("%d create records for %d hires", c, n)
	}
	if got := strings.Count(dump(t, srv), "employeeNumber: NS-"); got != n {
		t.Errorf("%d entries for %d hires", got, n)
	}
	again.Process.Signal(syscall.SIGTERM)
	again.Wait()
	if out, errOut, code := ldapsync(t, nil, "audit", "verify", "--config", cfg); code != 0 {
		t.Errorf("audit verify after the restart: %s%s", out, errOut)
	}
}

// freePort returns a TCP port on loopback nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// The watchdog pings only while the daemon's loop goes round: a loop stuck
// longer than the interval stops the pings, and they resume with it.
func TestNotifier_WatchLive(t *testing.T) {
	sock, ch := listenNotify(t, false)
	n := newNotifier(fakeEnv(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "200000"}), zerolog.Nop())
	var mu gosync.Mutex
	last := time.Now().Add(-time.Hour) // stuck
	alive := func() time.Time { mu.Lock(); defer mu.Unlock(); return last }
	done := make(chan struct{})
	defer close(done)
	go n.watchLive(done, alive)
	select {
	case got := <-ch:
		t.Fatalf("a ping while the loop was stuck: %q", got)
	case <-time.After(600 * time.Millisecond):
	}
	mu.Lock()
	last = time.Now().Add(time.Hour) // going round again
	mu.Unlock()
	awaitDatagram(t, ch, "WATCHDOG=1", 2*time.Second)
}
