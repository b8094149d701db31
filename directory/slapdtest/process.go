package slapdtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one run of slapd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once slapd has exited and been reaped
	out  *tail
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs slapd in the foreground (-d) in its own process group and
// waits until it accepts connections on both listeners. The caller holds
// s.mu.
func (s *Server) start(ctx context.Context) error {
	out := &tail{max: 8 << 10}
	var w io.Writer = out
	var logf *os.File
	level := "none" // errors only
	if s.logFile != "" {
		f, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("slapdtest: %w", err)
		}
		logf, level, w = f, "stats", io.MultiWriter(f, out)
	}
	urls := s.URL + "/ " + s.LDAPI + "/"
	if s.LDAPSURL != "" {
		urls += " " + s.LDAPSURL + "/"
	}
	cmd := exec.Command(s.env.slapd, "-d", level, "-F", filepath.Join(s.Dir, "slapd.d"), "-h", urls)
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group, so halt reaches anything it starts; killed
	// with the test binary if that dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			_ = logf.Close()
		}
		return fmt.Errorf("slapdtest: start slapd: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		if logf != nil {
			_ = logf.Close()
		}
		close(p.done)
	}()
	s.proc = p
	if err := s.waitReady(ctx, p); err != nil {
		s.halt(syscall.SIGKILL)
		return err
	}
	return nil
}

// waitReady polls slapd's listeners until all accept a connection.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sock := filepath.Join(s.sockDir, "ldapi")
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	tlsAddr := ""
	if s.tlsPort != 0 {
		tlsAddr = fmt.Sprintf("127.0.0.1:%d", s.tlsPort)
	}
	for {
		if p.exited() {
			msg := p.out.String()
			if strings.Contains(msg, "errno=98") {
				return fmt.Errorf("slapdtest: slapd on %s: %w", addr, errPortTaken)
			}
			return fmt.Errorf("slapdtest: slapd exited at start (%v):\n%s", p.cmd.ProcessState, msg)
		}
		if dialOK("unix", sock) && dialOK("tcp", addr) && (tlsAddr == "" || dialOK("tcp", tlsAddr)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slapdtest: slapd did not answer on %s: %w\n%s", addr, ctx.Err(), p.out.String())
		case <-time.After(3 * time.Millisecond):
		}
	}
}

func dialOK(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// halt signals slapd's process group and waits until slapd has exited,
// escalating to SIGKILL after 10 seconds. The caller holds s.mu.
func (s *Server) halt(sig syscall.Signal) {
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
