package sync

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/syncbuf"
)

// A full disk under the state directory: the daemon stops reading the
// inbox and applying, says so once, and goes on by itself once space
// returns, losing nothing. The state directory is a 256 KiB tmpfs filled
// to the last byte (mounting needs root, as CI runs).
func TestEngine_FullDiskStopsAndRecovers(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v\n%s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v): %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	f := newFakeDir()
	cfg := DefaultConfig()
	cfg.StateDir = filepath.Join(mnt, "state")
	cfg.Inbox.Dir = t.TempDir() // on another file system: HR can still drop files
	cfg.Inbox.Settle, cfg.Inbox.Poll = 0, 50*1e6
	var logs syncbuf.Buffer
	e, err := Open(Options{Config: cfg, Rules: exampleRules(t), Directory: f, Layout: layout,
		Now: func() time.Time { return t0 }, Log: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	filler := filepath.Join(mnt, "filler")
	fill, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fill.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"))
	eventually(t, "the stop", func() bool { return strings.Contains(logs.String(), "state directory does not take writes") })
	time.Sleep(300 * time.Millisecond) // several polls
	if n := strings.Count(logs.String(), "state directory does not take writes"); n != 1 {
		t.Errorf("said %d times, want once", n)
	}
	if f.count() != 0 {
		t.Error("a change was applied while the state directory took no writes")
	}

	os.Remove(filler)
	eventually(t, "the recovery and the hire", func() bool {
		return strings.Contains(logs.String(), "takes writes again") && f.count() == 1 && len(e.Journal().Pending()) == 0
	})
	if data, _ := os.ReadFile(AuditPath(cfg)); !strings.Contains(string(data), `"action":"create","intent":`) {
		t.Errorf("the hire is not in the audit log:\n%s", data)
	}
}
