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
// outcome yet (the two stay in one segment) or when the segment is empty.
// It reports whether it rotated.
func (a *Audit) Rotate(now time.Time, loc *time.Location) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil || a.first.IsZero() || len(a.open) > 0 {
		return false, a.err
	}
	y1, m1, _ := a.first.In(loc).Date()
	y2, m2, _ := now.In(loc).Date()
	if y1 == y2 && m1 == m2 {
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
	if err := os.Rename(a.path, closed); err != nil {
		return false, fmt.Errorf("audit: rotate: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// The records are all in the closed segment; appending stops until
		// Reopen finds the file.
		a.err = fmt.Errorf("audit: rotate: %w", err)
		return true, a.err
	}
	err = errors.Join(syncDir(filepath.Dir(a.path)), a.f.Close())
	a.f, a.first, a.firstSeq = f, time.Time{}, 0
	return true, err
}
