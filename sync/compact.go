package sync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Compact keeps the journal from growing without bound: the events
// resolved before cutoff move, whole (the event and its outcome, as they
// were written), to an archive file in archiveDir, journal-<YYYY-MM>.jsonl
// by the month of the compaction; in the journal each leaves one "seen"
// line with its key, content hash and outcome, so the same event sent
// again is still recognised and never applied twice. A line records the
// archive and the SHA-256 of its content, so a later change to an archive
// can be detected. The new journal is written beside the old one, fsynced
// and renamed over it: a crash leaves one or the other whole. It returns
// how many events moved.
func (j *Journal) Compact(cutoff time.Time, archiveDir string, now time.Time) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return 0, j.err
	}
	lines, err := readJournalLines(j.path)
	if err != nil {
		return 0, err
	}
	// Which events are resolved, and when.
	resolvedAt := map[uint64]time.Time{}
	for _, l := range lines {
		if l.kind == string(Done) || l.kind == string(Failed) {
			resolvedAt[l.seq] = l.at
		}
	}
	keyOf := make(map[uint64]string, len(j.keys))
	for k, ks := range j.keys {
		keyOf[ks.seq] = k
	}
	var keep, archive bytes.Buffer
	moved := 0
	for _, l := range lines {
		at, resolved := resolvedAt[l.seq]
		old := resolved && at.Before(cutoff)
		switch {
		case !old || l.kind == "seen" || l.kind == "archive":
			keep.Write(l.raw)
			keep.WriteByte('\n')
		case l.kind == "event":
			archive.Write(l.raw)
			archive.WriteByte('\n')
			moved++
		default: // its outcome: archived, and summed up in a seen line
			archive.Write(l.raw)
			archive.WriteByte('\n')
			key, ok := keyOf[l.seq]
			if !ok {
				return 0, fmt.Errorf("journal: compact: no key for event %d", l.seq)
			}
			if err := appendLine(&keep, journalLine{Kind: "seen", Seq: l.seq, At: l.at, Key: key, Hash: j.keys[key].hash, Status: Status(l.kind), Reason: l.reason}); err != nil {
				return 0, err
			}
		}
	}
	if moved == 0 {
		return 0, nil
	}
	if err := os.MkdirAll(archiveDir, 0o750); err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	file := filepath.Join(archiveDir, "journal-"+now.UTC().Format("2006-01")+".jsonl")
	sum, err := appendArchive(file, archive.Bytes())
	if err != nil {
		return 0, err
	}
	if err := appendLine(&keep, journalLine{Kind: "archive", At: now.UTC(), File: filepath.Base(file), SHA256: sum}); err != nil {
		return 0, err
	}
	tmp := j.path + ".compact"
	if err := writeFileAtomic(tmp, keep.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		j.err = fmt.Errorf("journal: reopen after compaction: %w", err)
		return moved, j.err
	}
	j.f.Close()
	j.f = f
	return moved, nil
}

// rawLine is a journal line as written, with what compaction needs.
type rawLine struct {
	raw    []byte
	kind   string
	seq    uint64
	at     time.Time
	reason string
}

func readJournalLines(path string) ([]rawLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: compact: %w", err)
	}
	defer f.Close()
	var out []rawLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("journal: compact: %w", err)
		}
		out = append(out, rawLine{raw: bytes.Clone(sc.Bytes()), kind: l.Kind, seq: l.Seq, at: l.At, reason: l.Reason})
	}
	return out, sc.Err()
}

// appendArchive appends data to the archive file, fsyncs it, and returns
// the SHA-256 of the whole file.
func appendArchive(file string, data []byte) (string, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), errors.Join(syncDir(filepath.Dir(file)))
}

// compactJob is the scheduled compaction: the audit log rotates into a
// new segment when the month has changed, and the events resolved longer
// ago than sync.journal_retention move to <state_dir>/archive.
func (e *Engine) compactJob(context.Context) error {
	e.proc.Lock()
	defer e.proc.Unlock()
	now := e.now()
	// The audit log starts a new dated segment each month.
	if rotated, err := e.audit.Rotate(now, e.Rules().Location); err != nil {
		return err
	} else if rotated {
		e.log.Info().Msg("audit log rotated: a new segment goes on with the chain")
	}
	if e.cfg.JournalRetention <= 0 {
		return nil
	}
	n, err := e.journal.Compact(now.Add(-e.cfg.JournalRetention.Std()), filepath.Join(e.cfg.StateDir, "archive"), now)
	if n > 0 {
		e.log.Info().Int("events", n).Str("archive", filepath.Join(e.cfg.StateDir, "archive")).Msg("journal compacted")
	}
	return err
}
