package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SourceAPI is the source of the events HR submits over the network API
// (POST /v1/events); with the event_id it is their deduplication key, so
// an event submitted both by file and by the API is two events.
const SourceAPI = "api"

// ErrOutOfScope says a submission names a unit its submitter may not
// change; nothing of it was journaled.
var ErrOutOfScope = errors.New("sync: records for units outside the caller's scope")

// Record outcomes of SubmitEvents.
const (
	RecordAccepted  = "accepted"
	RecordDuplicate = "duplicate"
	RecordRejected  = "rejected"
	RecordForbidden = "forbidden"
)

// SubmittedRecord is what became of one submitted record.
type SubmittedRecord struct {
	// Line is the record's line in the JSON Lines body, or its 1-based
	// index in a JSON array.
	Line    int    `json:"line"`
	EventID string `json:"event_id,omitempty"`
	// Status is accepted (journaled), duplicate (journaled before),
	// rejected (with Problems) or forbidden (a unit outside the scope).
	Status   string    `json:"status"`
	Problems []Problem `json:"problems,omitempty"`
}

// SubmitEventsResult is what SubmitEvents did, record by record.
type SubmitEventsResult struct {
	Records    []SubmittedRecord `json:"records"`
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   int               `json:"rejected"`
	Forbidden  int               `json:"forbidden,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	// Report is what processing the journal did after the records were
	// journaled.
	Report Report `json:"report"`
}

// SubmitEvents reads data, JSON Lines records with the keys of an inbox
// .jsonl file, as the batch name, journals the valid events (fsynced)
// under SourceAPI and processes the journal. Rejected records are answered,
// not written to the inbox's rejected/.
//
// scope, when not nil, says which units the submitter may change. Every
// unit a record touches must pass: the unit it names and, for a person the
// directory knows, the person's current unit. If any record fails, nothing
// is journaled: the result marks those records forbidden and the error is
// ErrOutOfScope. A FileError means the body held no record at all.
//
// When the events were journaled but processing failed, the result comes
// with the error: the events wait in the journal and are retried.
func (e *Engine) SubmitEvents(ctx context.Context, name string, data []byte, scope func(unit string) bool) (*SubmitEventsResult, error) {
	if err := e.lease.standby(); err != nil {
		return nil, err
	}
	file := name
	if FormatOf(file) != FormatJSONL {
		file += ".jsonl"
	}
	now := e.now()
	batch, err := Parse(file, data, SourceAPI, e.Rules(), now, WithHeaders(e.cfg.Inbox.Headers))
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.File = name
		}
		return nil, err
	}
	res := &SubmitEventsResult{Warnings: batch.Warnings}
	if scope != nil {
		forbidden, err := e.outOfScope(ctx, batch, scope)
		if err != nil {
			return nil, err
		}
		if len(forbidden) > 0 {
			res.Records, res.Forbidden = forbidden, len(forbidden)
			e.log.Warn().Str("batch", name).Int("forbidden", len(forbidden)).Msg("submission refused: units outside the caller's scope")
			return res, ErrOutOfScope
		}
	}
	e.proc.Lock()
	added, err := e.addEvents(batch.Events, now)
	if err != nil {
		e.proc.Unlock()
		return nil, err
	}
	batch.reject(added.Conflicts, Problem{Field: FieldEventID, Msg: "already received with different content; give a corrected change a new event_id"})
	dup := make(map[string]bool, len(added.Duplicates))
	for _, ev := range added.Duplicates {
		dup[ev.Key()] = true
	}
	for _, ev := range batch.Events {
		r := SubmittedRecord{Line: ev.Origin.Line, EventID: ev.ID, Status: RecordAccepted}
		if dup[ev.Key()] {
			r.Status = RecordDuplicate
			res.Duplicates++
		} else {
			res.Accepted++
		}
		res.Records = append(res.Records, r)
	}
	for _, rj := range batch.Rejected {
		res.Records = append(res.Records, SubmittedRecord{Line: rj.Record.Origin.Line, EventID: rj.Record.Values[FieldEventID],
			Status: RecordRejected, Problems: rj.Problems})
		res.Rejected++
	}
	slices.SortStableFunc(res.Records, func(a, b SubmittedRecord) int { return a.Line - b.Line })
	e.log.Info().Str("batch", name).Int("added", res.Accepted).Int("duplicates", res.Duplicates).
		Int("rejected", res.Rejected).Msg("events submitted")
	var perr error
	if res.Accepted > 0 {
		_, res.Report, perr = e.process(ctx)
	}
	e.proc.Unlock()
	return res, perr
}

// outOfScope returns the records of b that touch a unit scope refuses: the
// unit a record names (valid or not) and the current unit of the person
// a valid event is about. The directory is read only when needed.
func (e *Engine) outOfScope(ctx context.Context, b *Batch, scope func(string) bool) ([]SubmittedRecord, error) {
	var out []SubmittedRecord
	for _, rj := range b.Rejected {
		if u := strings.TrimSpace(rj.Record.Values[FieldUnit]); u != "" && !scope(u) {
			out = append(out, SubmittedRecord{Line: rj.Record.Origin.Line, EventID: rj.Record.Values[FieldEventID], Status: RecordForbidden,
				Problems: []Problem{{Field: FieldUnit, Msg: fmt.Sprintf("%q is not one of the caller's units", u)}}})
		}
	}
	var unitOf map[string]string // employee id (folded) → current unit
	for _, ev := range b.Events {
		var probs []Problem
		if ev.Unit != "" && !scope(ev.Unit) {
			probs = append(probs, Problem{Field: FieldUnit, Msg: fmt.Sprintf("%q is not one of the caller's units", ev.Unit)})
		}
		if ev.EmployeeID != "" {
			if unitOf == nil {
				snap, err := e.dir.Snapshot(ctx)
				if err != nil {
					return nil, fmt.Errorf("sync: read directory: %w", err)
				}
				unitOf = make(map[string]string, len(snap.People))
				for i := range snap.People {
					if p := &snap.People[i]; p.EmployeeID != "" {
						unitOf[fold(p.EmployeeID)] = p.Unit
					}
				}
			}
			if u, ok := unitOf[fold(ev.EmployeeID)]; ok && u != "" && !scope(u) {
				probs = append(probs, Problem{Field: FieldEmployeeID, Msg: fmt.Sprintf("the person belongs to %q, not one of the caller's units", u)})
			}
		} else if ev.Unit == "" {
			probs = append(probs, Problem{Msg: "names no unit and no person: its unit cannot be checked"})
		}
		if len(probs) > 0 {
			out = append(out, SubmittedRecord{Line: ev.Origin.Line, EventID: ev.ID, Status: RecordForbidden, Problems: probs})
		}
	}
	slices.SortStableFunc(out, func(a, b SubmittedRecord) int { return a.Line - b.Line })
	return out, nil
}

// RejectedFile is a file in the inbox's rejected/ directory.
type RejectedFile struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// RejectedFiles lists the inbox's rejected/ directory: the rows and files
// that were set aside, for an admin to fix and resubmit.
func (e *Engine) RejectedFiles() ([]RejectedFile, error) {
	ents, err := os.ReadDir(filepath.Join(e.cfg.InboxDir(), rejectedDir))
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	out := make([]RejectedFile, 0, len(ents))
	for _, d := range ents {
		if !d.Type().IsRegular() {
			continue
		}
		info, err := d.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, RejectedFile{Name: d.Name(), Size: info.Size(), Modified: info.ModTime()})
	}
	return out, nil
}
