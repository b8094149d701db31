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
	// The journal is read twice, a line at a time, never whole: first for
	// which events are old, then to copy each line where it goes.
	old := map[uint64]bool{}
	moved := 0
	err := eachJournalLine(j.path, func(l *compactLine) error {
		if l.kind == string(Done) || l.kind == string(Failed) {
			if l.at.Before(cutoff) {
				old[l.seq] = true
				moved++ // its event line is in the file: a seen line replaces both
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if moved == 0 {
		return 0, nil
	}
	keyOf := make(map[uint64]string, len(old))
	for k, ks := range j.keys {
		if old[ks.seq] {
			keyOf[ks.seq] = k
		}
	}
	if err := os.MkdirAll(archiveDir, 0o750); err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	file := filepath.Join(archiveDir, "journal-"+now.UTC().Format("2006-01")+".jsonl")
	af, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("journal: archive: %w", err)
	}
	defer af.Close()
	tmp := j.path + ".compact"
	kf, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	defer func() {
		if kf != nil {
			kf.Close()
			os.Remove(tmp)
		}
	}()
	archive, keep := bufio.NewWriterSize(af, 1<<16), bufio.NewWriterSize(kf, 1<<16)
	var size int64 // of the new journal so far
	offsets := map[uint64]int64{}
	put := func(w *bufio.Writer, b []byte) {
		w.Write(b)
		w.WriteByte('\n')
		if w == keep {
			size += int64(len(b)) + 1
		}
	}
	var line bytes.Buffer
	err = eachJournalLine(j.path, func(l *compactLine) error {
		switch {
		case !old[l.seq] || l.kind == "seen" || l.kind == "archive":
			if l.kind == "event" {
				offsets[l.seq] = size
			}
			put(keep, l.raw)
		case l.kind == "event":
			put(archive, l.raw)
		default: // its outcome: archived, and summed up in a seen line
			put(archive, l.raw)
			key, ok := keyOf[l.seq]
			if !ok {
				return fmt.Errorf("journal: compact: no key for event %d", l.seq)
			}
			line.Reset()
			if err := appendLine(&line, journalLine{Kind: "seen", Seq: l.seq, At: l.at, Key: key, Hash: j.keys[key].hash.String(), Status: Status(l.kind), Reason: l.reason}); err != nil {
				return err
			}
			put(keep, bytes.TrimSuffix(line.Bytes(), []byte("\n")))
		}
		return nil
	})
	if err == nil {
		err = archive.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	sum, err := syncArchive(af)
	if err != nil {
		return 0, err
	}
	line.Reset()
	if err := appendLine(&line, journalLine{Kind: "archive", At: now.UTC(), File: filepath.Base(file), SHA256: sum}); err != nil {
		return 0, err
	}
	put(keep, bytes.TrimSuffix(line.Bytes(), []byte("\n")))
	if err := keep.Flush(); err != nil {
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	if err := errors.Join(kf.Sync(), kf.Close()); err != nil {
		kf = nil
		os.Remove(tmp)
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	kf = nil
	if err := os.Rename(tmp, j.path); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("journal: compact: %w", err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return 0, err
	}
	// The events still pending moved within the file.
	for seq, ref := range j.pending {
		off, ok := offsets[seq]
		if !ok {
			j.err = fmt.Errorf("journal: compact: pending event %d was not copied", seq)
			return moved, j.err
		}
		ref.off = off
	}
	f, err := os.OpenFile(j.path, os.O_RDWR, 0o600)
	if err != nil {
		j.err = fmt.Errorf("journal: reopen after compaction: %w", err)
		return moved, j.err
	}
	j.f.Close()
	j.f, j.size = f, size
	return moved, nil
}

// compactLine is a journal line as written, with what compaction needs.
type compactLine struct {
	raw    []byte // valid during the callback only
	kind   string
	seq    uint64
	at     time.Time
	reason string
}

// eachJournalLine calls fn with each line of the journal at path, in
// order, without keeping them.
func eachJournalLine(path string, fn func(*compactLine) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		l := compactLine{raw: raw}
		if h, ok := decodeEventHead(raw); ok {
			// An event line's time is not needed, nor its event.
			l.kind, l.seq = h.kind, h.seq
		} else {
			var jl journalLine
			if err := json.Unmarshal(raw, &jl); err != nil {
				return fmt.Errorf("journal: compact: %w", err)
			}
			l.kind, l.seq, l.at, l.reason = jl.Kind, jl.Seq, jl.At, jl.Reason
		}
		if err := fn(&l); err != nil {
			return err
		}
	}
	return sc.Err()
}

// syncArchive fsyncs the archive file f, open for appending, and returns
// the SHA-256 of its whole content.
func syncArchive(f *os.File) (string, error) {
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	r, err := os.Open(f.Name())
	if err != nil {
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("journal: archive: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), syncDir(filepath.Dir(f.Name()))
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
