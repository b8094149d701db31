package sync

import (
	"sync/atomic"
	"time"
)

// Observer receives what the engine does, for metrics. Every method must
// be cheap and safe for concurrent use. A nil Observer in Options means
// none.
//
// Everything it is given comes from a fixed set (an event's source and
// type, an operation's kind, a job's name, counts and durations), never a
// person's name, uid, DN, employee id or password; err is the operation's
// error, to classify, not to print.
type Observer interface {
	// EventsReceived counts n events of source and typ newly journaled
	// (duplicates are not counted).
	EventsReceived(source string, typ EventType, n int)
	// EventResolved counts one event journaled as Done or Failed.
	EventResolved(source string, typ EventType, status Status)
	// Operation reports one directory operation the applier ran, with its
	// error (nil on success) and how long it took.
	Operation(kind OpKind, err error, took time.Duration)
	// Backlog reports the journal's pending events, and how many of them
	// the mass-change guard holds for an operator.
	Backlog(pending, held int)
	// Holds reports how many holds wait for an operator's decision.
	Holds(pending int)
	// DeadlinesDue reports, after a sweep, the lifecycle actions whose time
	// had come, and the open requests past their deadline.
	DeadlinesDue(due, breached int)
	// JobRun reports a run of a periodic job (tree, sweep, reconcile) that
	// ended at at, on the engine's clock.
	JobRun(job string, ok bool, at time.Time)
	// Reload reports a reload of the config file.
	Reload(ok bool)
}

// The periodic jobs JobRun names.
const (
	JobTree      = "tree"
	JobSweep     = "sweep"
	JobReconcile = "reconcile"
	JobCompact   = "compact"
)

// Jobs lists the names JobRun reports.
var Jobs = []string{JobTree, JobSweep, JobReconcile, JobCompact}

// Sources lists every source an event can come from.
var Sources = []string{SourceInbox, SourceRoster, SourceSweep, SourceReorg, SourceOperator, SourceAdopt, SourceFeed,
	SourceActivation, "api", // the network API's submissions
}

// AllEventTypes lists every event type, those of input files and those
// ldapsync makes itself.
var AllEventTypes = []EventType{Hire, Applications, Transfer, TitleChange, Rename, Retire, Resign, TransferOut, Return,
	LeaveNotice, Withdraw, Lock, Restore, DeadlineLock, DeadlineRevoke, InactivityLock, FirstSeen, Activity,
	RosterDeparture, Reorganise, Adoption, Activate, AwaitChange}

// OpKinds lists every kind of directory operation a plan may hold.
var OpKinds = []OpKind{OpCreate, OpIssueCredentials, OpPurge, OpGroups, OpMove, OpUpdate, OpLifecycle, OpLock,
	OpLiftLock, OpRestore, OpReinstate, OpRevoke, OpAdopt, OpActivate, OpAwaitChange}

// nopObserver is the Observer of an engine given none.
type nopObserver struct{}

func (nopObserver) EventsReceived(string, EventType, int)   {}
func (nopObserver) EventResolved(string, EventType, Status) {}
func (nopObserver) Operation(OpKind, error, time.Duration)  {}
func (nopObserver) Backlog(int, int)                        {}
func (nopObserver) Holds(int)                               {}
func (nopObserver) DeadlinesDue(int, int)                   {}
func (nopObserver) JobRun(string, bool, time.Time)          {}
func (nopObserver) Reload(bool)                             {}

// orNop returns o, or an Observer that does nothing when o is nil.
func orNop(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}

// ReportReload tells the observer whether a reload of the config file
// succeeded; cmd calls it, since the engine does not read the file.
func (e *Engine) ReportReload(ok bool) { e.obs.Reload(ok) }

// addEvents journals events (see Journal.Add) and reports those added.
func (e *Engine) addEvents(events []Event, now time.Time) (AddResult, error) {
	res, err := e.journal.Add(events, now)
	if err != nil || len(res.Added) == 0 {
		return res, err
	}
	e.reportReceived(res.Added)
	e.reportBacklog()
	return res, nil
}

// reportReceived counts the events just journaled, by source and type.
func (e *Engine) reportReceived(added []Entry) {
	type key struct {
		source string
		typ    EventType
	}
	counts := map[key]int{}
	for i := range added {
		ev := &added[i].Event
		counts[key{ev.Source, ev.Type}]++
	}
	for k, n := range counts {
		e.obs.EventsReceived(k.source, k.typ, n)
	}
}

// resolveEvents journals the outcomes res of events in pending (see
// Journal.Resolve) and reports each.
func (e *Engine) resolveEvents(pending []Entry, res []Resolution, now time.Time) error {
	if err := e.journal.Resolve(res, now); err != nil {
		return err
	}
	if len(res) == 0 {
		return nil
	}
	bySeq := make(map[uint64]*Event, len(pending))
	for i := range pending {
		bySeq[pending[i].Seq] = &pending[i].Event
	}
	for _, r := range res {
		if ev := bySeq[r.Seq]; ev != nil {
			e.obs.EventResolved(ev.Source, ev.Type, r.Status)
		}
	}
	return nil
}

// reportBacklog reports the journal's backlog and the pending holds.
func (e *Engine) reportBacklog() {
	pending := e.journal.Pending()
	held := 0
	for _, en := range pending {
		if h := e.holds.of(en.Event.Key()); h != nil && h.Status == HoldPending {
			held++
		}
	}
	e.obs.Backlog(len(pending), held)
	e.obs.Holds(len(e.holds.list(HoldPending)))
}

// reportDeadlines reports, after a sweep, the due actions it found and the
// open requests past their deadline.
func (e *Engine) reportDeadlines(due int) {
	overdue := 0
	for _, q := range e.Requests() {
		if q.Overdue {
			overdue++
		}
	}
	e.obs.DeadlinesDue(due, overdue)
}

// observer returns the applier's Observer, never nil.
func (a *Applier) observer() Observer { return orNop(a.Observer) }

// Transient reports whether err, from an operation the applier ran, is a
// failure that may pass (the directory unreachable or busy, a connection
// that cannot be used, a local write that failed): the event then waits
// in the journal. Any other error is the directory refusing the change.
func Transient(err error) bool { return stopsRun(err) }

// beatObserver passes everything on, and stamps the engine's heartbeat at
// the end of every operation.
type beatObserver struct {
	Observer
	beat *atomic.Int64
}

func (b beatObserver) Operation(kind OpKind, err error, took time.Duration) {
	b.beat.Store(time.Now().UnixNano())
	b.Observer.Operation(kind, err, took)
}
