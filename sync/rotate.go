package sync

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The audit log rotates into dated segments so that it does not grow
// without bound in one file: audit.jsonl is the current segment; a closed
// one is audit-<YYYY-MM>-<seq of its first record>.jsonl beside it (the
// month of its first record). The chain runs on across segments: the
// first record of a segment follows the last of the one before, so the
// whole history verifies as one chain, and a segment removed or reordered
// breaks it.

// segmentPrefix starts the names of closed segments.
const segmentPrefix = "audit-"

// auditSegment is a closed segment and the seq of its first record.
type auditSegment struct {
	path  string
	first uint64
}

// auditSegments returns the closed segments beside the audit log at path,
// in chain order.
func auditSegments(path string) ([]auditSegment, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []auditSegment
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, segmentPrefix)
		if !ok || !strings.HasSuffix(rest, ".jsonl") || !e.Type().IsRegular() {
			continue
		}
		rest = strings.TrimSuffix(rest, ".jsonl")
		i := strings.LastIndex(rest, "-")
		if i < 0 {
			continue
		}
		first, err := strconv.ParseUint(rest[i+1:], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, auditSegment{filepath.Join(dir, name), first})
	}
	slices.SortFunc(out, func(a, b auditSegment) int { return cmp.Compare(a.first, b.first) })
	return out, nil
}

// AuditFiles returns the audit log's files in chain order: the closed
// segments beside path, then path itself (the current segment).
func AuditFiles(path string) ([]string, error) {
	segs, err := auditSegments(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(segs)+1)
	for _, s := range segs {
		out = append(out, s.path)
	}
	return append(out, path), nil
}

// Rotate closes the current segment when its first record is of an
// earlier month (in loc) than now, and starts a new one that goes on with
// the same chain. It does nothing while an operation's intent has no
// outcome yet (the two stay in one segment, so a closed segment holds no
// open intent) or when the segment is empty. It reports whether it
// rotated.
//
// The segment it closes is read back and checked first, and the new one
// starts with a seal record (ActionSeal, at now) for every closed segment,
// which the next open checks instead of their records. When the log has a
// closed segment no seal names (left by an earlier version, or by a
// rotation a crash interrupted), Rotate writes a seal record also when it
// does not rotate.
func (a *Audit) Rotate(now time.Time, loc *time.Location) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return false, a.err
	}
	y1, m1, _ := a.first.In(loc).Date()
	y2, m2, _ := now.In(loc).Date()
	if a.first.IsZero() || len(a.open) > 0 || y1 == y2 && m1 == m2 {
		if !a.unsealed {
			return false, nil
		}
		if _, err := a.append(sealRecord(now, a.sealed)); err != nil {
			return false, err
		}
		a.unsealed = false
		return false, nil
	}
	if err := a.f.Sync(); err != nil {
		a.err = fmt.Errorf("audit: fsync: %w", err)
		return false, a.err
	}
	a.synced = a.written
	closed := filepath.Join(filepath.Dir(a.path), fmt.Sprintf("%s%04d-%02d-%d.jsonl", segmentPrefix, y1, m1, a.firstSeq))
	if _, err := os.Stat(closed); err == nil {
		return false, fmt.Errorf("audit: rotate: %s exists already", closed)
	}
	// What is sealed is what is on disk, checked again: a record changed
	// since the open is not sealed as if it were the one written.
	seal, err := sealCurrent(a.path, a.seq, a.head)
	if err != nil {
		a.err = fmt.Errorf("audit: rotate: %w", err)
		return false, a.err
	}
	seal.name = filepath.Base(closed)
	if err := os.Rename(a.path, closed); err != nil {
		return false, fmt.Errorf("audit: rotate: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// The records are all in the closed segment; appending stops until
		// Reopen finds the file (and the segment unsealed).
		a.err = fmt.Errorf("audit: rotate: %w", err)
		return true, a.err
	}
	err = errors.Join(syncDir(filepath.Dir(a.path)), a.f.Close())
	a.f, a.first, a.firstSeq = f, time.Time{}, 0
	a.sealed = append(slices.Clip(a.sealed), seal)
	if _, serr := a.append(sealRecord(now, a.sealed)); serr != nil {
		return true, errors.Join(err, serr)
	}
	a.unsealed = false
	return true, errors.Join(err, a.syncLocked())
}

// syncLocked fsyncs the file with a.mu held: for Rotate, which is rare.
func (a *Audit) syncLocked() error {
	if err := a.f.Sync(); err != nil {
		a.err = fmt.Errorf("audit: fsync: %w", err)
		return a.err
	}
	a.synced = a.written
	return nil
}
