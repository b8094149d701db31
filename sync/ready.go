package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// Pinger is a directory that can say cheaply whether it answers; the
// directory client has it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ready reports whether the engine can do its work now, for /readyz: the
// journal and the audit log take writes, and the directory answers (within
// five seconds). It returns why not.
func (e *Engine) Ready(ctx context.Context) error {
	if err := errors.Join(e.journal.Err(), e.audit.Err()); err != nil {
		return fmt.Errorf("state directory does not take writes: %w", err)
	}
	p, ok := e.dir.(Pinger)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	return nil
}

// AuditRecords returns the audit records of the days from to to (in
// rules.timezone), of unit when set, reading the whole log and verifying
// its chain (see SelectAudit).
func (e *Engine) AuditRecords(from, to rules.Date, unit string) (*AuditSelection, error) {
	loc := e.Rules().Location
	return SelectAudit(AuditPath(e.cfg), from.In(loc), to.AddDays(1).In(loc), unit)
}

// PlanPending returns what the engine would do now with the events
// waiting in the journal (those a hold keeps back left out), against the
// directory as it is, changing nothing.
func (e *Engine) PlanPending(ctx context.Context) (*Plan, error) {
	snap, err := e.dir.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: plan: read directory: %w", err)
	}
	return e.planner(e.Rules()).Plan(e.runnable(), snap, e.now()), nil
}
