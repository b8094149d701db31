package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon runs the real binary on the state directory and the directory
// the in-process workloads left (N accounts, a journal of their events,
// all done): how long from exec until /readyz answers 200, its peak RSS
// (VmHWM) once its start-up work is over, and its peak RSS after an N-row
// file dropped into its inbox was read, planned and applied.
func (b *bench) daemon(ctx context.Context) error {
	b.closeEngine() // the daemon takes the state directory's lock
	b.res.daemonAccounts = len(b.staff)
	n, err := countEvents(filepath.Join(b.cfg.StateDir, "journal.jsonl"))
	if err != nil {
		return err
	}
	b.res.journalEvents = n
	logf, err := os.Create(filepath.Join(b.o.Dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	progress(b.o, "daemon: %s run on %d accounts", b.o.Bin, len(b.staff))
	cmd := exec.Command(b.o.Bin, "run", "--config", b.cfg.Path)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (make bench builds it)", b.o.Bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid
	base := "http://" + b.cfg.Listen
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("daemon exited before it was ready (%v); see %s", err, logf.Name())
		default:
		}
		if resp, err := client.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("daemon not ready after 5 minutes; see %s", logf.Name())
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.res.daemonReady = time.Since(start)
	// Its start-up work (the tree checked, the catch-up sweep over every
	// account) runs after it is ready: wait until it is idle.
	if err := waitIdle(ctx, pid, 2*time.Minute); err != nil {
		return err
	}
	if b.res.daemonRSS, err = peakRSS(pid); err != nil {
		return err
	}

	token, err := os.ReadFile(b.cfg.TokenFile)
	if err != nil {
		return err
	}
	apps := b.cfg.Rules.Applications
	b.res.daemonFileApp = apps[len(apps)-1].Name
	rows, err := b.writeAppsFile(filepath.Join(b.cfg.Inbox, "rollout.csv"), b.res.daemonFileApp)
	if err != nil {
		return err
	}
	progress(b.o, "daemon: %d-row file dropped into its inbox", rows)
	fileStart := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("daemon exited while processing the file (%v); see %s", err, logf.Name())
		default:
		}
		n, err := resolved(client, base, strings.TrimSpace(string(token)), "applications")
		if err != nil {
			return err
		}
		if n >= rows {
			break
		}
		if time.Since(fileStart) > 20*time.Minute {
			return fmt.Errorf("daemon: %d of %d rows resolved after 20 minutes; see %s", n, rows, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.res.daemonFileTime = time.Since(fileStart)
	b.res.daemonFileRows = rows
	b.res.daemonFileRSS, err = peakRSS(pid)
	return err
}

// writeAppsFile writes a personnel file that gives every account one more
// application (app, rolled out to the whole staff: "+app"), under a
// dot-name renamed when complete, as the README asks of HR, and returns
// its rows. Those who have app already need nothing; the others join its
// group, which ldapsync changes with one request per group for the batch.
func (b *bench) writeAppsFile(path, app string) (int, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"event_id", "type", "effective", "employee_id", "applications", "requested_by"})
	n := 0
	for _, id := range b.order {
		_ = w.Write([]string{b.id("rollout"), "applications", b.effective.String(), id, "+" + app, "Giám đốc Sở Thông tin và Truyền thông"})
		n++
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return n, os.Rename(tmp, path)
}

// resolved returns how many events of type typ the daemon has resolved,
// from its /metrics.
func resolved(c *http.Client, base, token, typ string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("daemon: GET /metrics: %s", resp.Status)
	}
	total := 0.0
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "ldapsync_events_resolved_total{") || !strings.Contains(line, `type="`+typ+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("daemon: /metrics: %q: %w", line, err)
		}
		total += v
	}
	return int(total), s.Err()
}

// peakRSS returns a process's peak resident set (VmHWM), in MB.
func peakRSS(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// waitIdle waits until the process has used under 2 % of a core over a
// second.
func waitIdle(ctx context.Context, pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	prev := cpuOf(pid)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		cur := cpuOf(pid)
		if cur-prev < 20*time.Millisecond {
			return nil
		}
		prev = cur
	}
	return fmt.Errorf("pid %d still busy after %s", pid, limit)
}

// countEvents counts the events of a journal (its other lines record
// what became of them).
func countEvents(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	for s.Scan() {
		if bytes.HasPrefix(s.Bytes(), []byte(`{"kind":"event"`)) {
			n++
		}
	}
	return n, s.Err()
}
