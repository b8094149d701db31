package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// SourceOperator is the source of an operator's events (ldapsync lock,
// ldapsync restore, and the API that calls the same methods).
const SourceOperator = "operator"

// OperatorAction is an operator's lock or restore of one account.
type OperatorAction struct {
	Type EventType // Lock or Restore
	UID  string
	// Reason (Lock) is one of rules.AdminLockReasons; Note is free text.
	Reason, Note string
	// Request is the reference of the request or report behind the action.
	Request string
	// Received is when a restore request was received (NT 6.3.b counts its
	// 30 working minutes from it); zero means now.
	Received time.Time
	// By is the operator.
	By string
}

// event validates a and returns its event.
func (a OperatorAction) event(now time.Time) (Event, error) {
	var probs []string
	if a.UID == "" {
		probs = append(probs, "the username is required")
	}
	if strings.TrimSpace(a.Request) == "" {
		probs = append(probs, "--request is required: the reference of the request or report (NT 6.3: a restore follows a request)")
	}
	if a.By == "" {
		probs = append(probs, "the operator is unknown: give --by NAME")
	}
	ev := Event{Source: SourceOperator, Type: a.Type, Effective: rules.Date{}, UID: strings.ToLower(a.UID),
		Note: a.Note, Request: a.Request, RequestedBy: a.By, Received: now}
	sum := sha256.Sum256([]byte(a.Request))
	ref := hex.EncodeToString(sum[:6])
	switch a.Type {
	case Lock:
		if !slices.Contains(rules.AdminLockReasons, a.Reason) {
			probs = append(probs, fmt.Sprintf("--reason %q must be one of %s", a.Reason, strings.Join(rules.AdminLockReasons, ", ")))
		}
		ev.LockReason = a.Reason
		// Each lock is its own event: the same report may lock, and after
		// a restore lock again.
		ev.ID = fmt.Sprintf("lock:%s:%s:%d", ev.UID, ref, now.UnixNano())
	case Restore:
		ev.RequestReceived = a.Received
		if ev.RequestReceived.IsZero() {
			ev.RequestReceived = now
		}
		if ev.RequestReceived.After(now) {
			probs = append(probs, "--received is in the future")
		}
		// One restore per request: repeating the command is a duplicate.
		ev.ID = fmt.Sprintf("restore:%s:%s", ev.UID, ref)
	default:
		probs = append(probs, fmt.Sprintf("%q is not an operator action", a.Type))
	}
	if len(probs) > 0 {
		return Event{}, fmt.Errorf("sync: %s", strings.Join(probs, "; "))
	}
	return ev, nil
}

// SubmitResult is the answer to an operator's action.
type SubmitResult struct {
	EventID string `json:"event_id"`
	// Status is done, failed, or pending (the directory is unreachable:
	// the action waits in the journal and is retried).
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Ops are the operations run, Letter the sealed letter of a restore.
	Ops    []OpKind `json:"ops,omitempty"`
	Letter string   `json:"letter,omitempty"`
	// Due is a restore's deadline (NT 6.3.b).
	Due time.Time `json:"due,omitzero"`
}

// Submit journals an operator's action and applies it at once, like any
// other event (planned, applied, audited, with the operator recorded), and
// answers with its outcome. It is safe to call while Run runs.
func (e *Engine) Submit(ctx context.Context, a OperatorAction) (*SubmitResult, error) {
	// A standby journals nothing: the action would wait there until this
	// instance leads, perhaps much later.
	if err := e.lease.standby(); err != nil {
		return nil, err
	}
	now := e.now()
	ev, err := a.event(now)
	if err != nil {
		return nil, err
	}
	ev.Effective = rules.DateOf(now.In(e.Rules().Location))
	res := &SubmitResult{EventID: ev.ID}
	if a.Type == Restore {
		res.Due = e.Rules().RestoreDue(ev.RequestReceived).In(e.Rules().Location)
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	defer e.anchorAudit(ctx)
	if _, err := e.addEvents([]Event{ev}, now); err != nil {
		return nil, err
	}
	plan, _, perr := e.process(ctx)
	status, reason, _ := e.journal.Lookup(ev.Key())
	res.Status, res.Reason = status, reason
	if plan != nil {
		for _, op := range plan.Ops {
			if op.event == nil || op.event.Key() != ev.Key() {
				continue
			}
			res.Ops = append(res.Ops, op.Kind)
			if op.Kind == OpRestore && status == Done {
				res.Letter = e.applier.Letters.Path(op.Unit, op.UID, op.event)
			}
		}
	}
	if status == Pending && perr != nil {
		res.Reason = "waiting in the journal: " + perr.Error()
	}
	return res, nil
}
