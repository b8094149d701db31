package sync

import (
	"context"
	"fmt"
)

// AuditAnchorer is a directory that keeps a copy of the audit chain's head
// outside the file (the directory client has it).
type AuditAnchorer interface {
	WriteAuditAnchor(ctx context.Context, seq uint64, head string) error
	ReadAuditAnchor(ctx context.Context) (seq uint64, head string, ok bool, err error)
}

// anchorAudit writes the audit log's head into the directory after a run
// that added records, so that deleting the file's tail is detectable from
// the directory (see CheckAnchor). A failure is logged, not returned: the
// next run anchors again.
func (e *Engine) anchorAudit(ctx context.Context) {
	a, ok := e.dir.(AuditAnchorer)
	if !ok || !e.Leader() {
		return // a standby writes nothing to the directory
	}
	seq, head := e.audit.Head()
	if seq == 0 || seq == e.anchored.Load() {
		return
	}
	if err := e.audit.Sync(); err != nil {
		return // not on disk: not anchored either
	}
	if err := a.WriteAuditAnchor(ctx, seq, head); err != nil {
		e.log.Warn().Err(err).Msg("audit head not anchored in the directory; the next run tries again")
		return
	}
	e.anchored.Store(seq)
}

// CheckAnchor checks the audit log at path against the head anchored in
// the directory: the log must hold the anchored record, with the anchored
// hash. A log that ends before it lost its tail; one whose record differs
// was rewritten (and re-chained, or VerifyAudit would have said so).
func CheckAnchor(path string, seq uint64, head string) error {
	var last uint64
	recs, err := ReadAudit(path, func(r AuditRecord) bool {
		last = r.Seq
		return r.Seq == seq
	})
	switch {
	case err != nil:
		return err
	case len(recs) == 0:
		return fmt.Errorf("audit %s ends at record %d, but the directory anchored record %d: the log's tail was cut", path, last, seq)
	case recs[0].Hash != head:
		return fmt.Errorf("audit %s: record %d has hash %s, but the directory anchored %s: the log was rewritten", path, seq, recs[0].Hash, head)
	}
	return nil
}
