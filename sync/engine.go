package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
)

// SourceInbox names the channel files come through; with the event_id it
// is the deduplication key. Files dropped in the inbox and files given to
// "ldapsync apply" share it, so the same file applied both ways is applied
// once.
const SourceInbox = "inbox"

// TreeEnsurer creates the containers, units, groups and password policy the
// accounts live in; the directory package's Client satisfies it.
type TreeEnsurer interface {
	EnsureTreeAt(ctx context.Context, r *rules.Rules, now time.Time) ([]rules.TreeChange, error)
}

// Engine ties the journal, the planner, the applier and the audit log to
// one state directory, which it locks.
type Engine struct {
	cfg    Config
	dir    Directory
	layout Layout
	// rules is swapped by SetRules when the config is reloaded; each batch
	// reads it once and keeps it to its end.
	rules atomic.Pointer[rules.Rules]
	// treeStale asks Run to check the tree against the rules again.
	treeStale atomic.Bool
	applier   Applier // a template: each batch copies it with its rules
	journal   *Journal
	audit     *Audit
	lock      *os.File
	now       func() time.Time
	log       zerolog.Logger
	// seen is what ReadyFiles last saw of each inbox file, by name: the
	// settle check compares one look with the next. Only Run's goroutine
	// uses it.
	seen map[string]sighting
	// claimedHook, set by tests, runs after a claimed file is journaled and
	// before it moves to done/: the window a crash or a writer can hit.
	claimedHook func(claimed string) error
	// chunkHook, set by tests, runs after each chunk of a file is
	// journaled: a crash between two chunks.
	chunkHook func(chunk int) error
	// stalled is set while the state directory takes no writes (see
	// writable). Only Run's goroutine uses it.
	stalled bool
	// proc makes one batch run at a time: the Run loop, a sweep and an
	// operator's action each plan against the directory as the one before
	// left it.
	proc gosync.Mutex
	// sweepAt is when Run sweeps next (Unix nanoseconds on e.now's clock;
	// 0: at the next scheduled sweep only): when the next deadline falls,
	// or at once after a batch that changed accounts.
	sweepAt atomic.Int64
	// runCtx is Run's context, for work the inbox scan starts.
	runCtx atomic.Pointer[context.Context]
	// holds are the changes the mass-change guard keeps for an operator.
	holds *holdStore
	// anchored is the audit record last anchored in the directory.
	anchored atomic.Uint64
	// beat is when Run's loop last went round, or an operation last
	// ended (Unix nanoseconds, real time): the watchdog's sign of life.
	beat atomic.Int64
	// obs is told what the engine does, for metrics; never nil.
	obs Observer
	// lease is the lease Run works under; nil: always the leader.
	lease *leadership
	// chunk is how many events a round of Process takes, and how many
	// rows of a file are journaled at a time; 0: processChunk. Tests make
	// it small.
	chunk int
}

// Heartbeat returns when Run's loop last went round or an operation last
// ended, in real time; zero before Run starts. A service manager's
// watchdog pings only while it is recent.
func (e *Engine) Heartbeat() time.Time {
	if n := e.beat.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// runContext returns Run's context, or a background one outside Run.
func (e *Engine) runContext() context.Context {
	if c := e.runCtx.Load(); c != nil {
		return *c
	}
	return context.Background()
}

// Options are the parts an Engine is built from.
type Options struct {
	Config    Config
	Rules     *rules.Rules
	Directory Directory
	// Layout is where accounts live in the directory.
	Layout Layout
	// Now is the clock; nil means time.Now. Every deadline is reckoned by it.
	Now func() time.Time
	// Rand is the randomness for passwords; nil means crypto/rand.
	Rand io.Reader
	// Parallel is how many people's operations run at once; set it to the
	// directory's connection count. Default 1.
	Parallel int
	Log      zerolog.Logger
	// AfterWrite, when set, runs after each operation the directory
	// accepted and before its audit record is written: fault injection for
	// the crash tests, nil in production.
	AfterWrite func(*Op)
	// Observer is told what the engine does, for metrics; nil means none.
	Observer Observer
	// LeaseClock is the clock of the lease between instances; nil is real
	// time (tests inject one).
	LeaseClock func() time.Time
	// PasswordPageURL is the self-service password page's address, which
	// every letter gives; "" for none.
	PasswordPageURL string
}

// Open locks the state directory and opens the journal and the audit log.
// It fails if another ldapsync holds the lock.
func Open(o Options) (*Engine, error) {
	c := o.Config
	for _, d := range []string{c.StateDir, c.InboxDir(), filepath.Join(c.InboxDir(), processingDir),
		filepath.Join(c.InboxDir(), doneDir), filepath.Join(c.InboxDir(), rejectedDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(c.StateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("sync: state directory %s is in use by another ldapsync process (a running daemon? drop files into its inbox, or use a command that reaches it through its control socket: lock, restore, sweep, pending, approve, reconcile …)", c.StateDir)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Log
	journal, repaired, err := OpenJournal(filepath.Join(c.StateDir, "journal.jsonl"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	if repaired {
		log.Warn().Msg("journal ended in a torn write from a crash; it was cut off (its input files are still in the inbox)")
	}
	audit, repaired, err := OpenAudit(AuditPath(c))
	if err != nil {
		journal.Close()
		lock.Close()
		return nil, err
	}
	if repaired {
		log.Warn().Msg("audit log ended in a torn write from a crash; it was cut off")
	}
	holds, err := openHolds(holdsPath(c))
	if err != nil {
		journal.Close()
		audit.Close()
		lock.Close()
		return nil, err
	}
	e := &Engine{
		holds: holds,
		obs:   orNop(o.Observer),
		cfg:   c, dir: o.Directory, layout: o.Layout, journal: journal, audit: audit, lock: lock, now: now, log: log,
		applier: Applier{
			Dir: o.Directory, Letters: &Letters{Dir: c.Letters(), PageURL: o.PasswordPageURL}, Audit: audit,
			Rand: o.Rand, Now: now, Log: log, Parallel: o.Parallel, AfterWrite: o.AfterWrite,
		},
	}
	// Every operation that ends is a sign of life for the watchdog, also
	// in a batch that keeps the loop from going round for long.
	e.applier.Observer = beatObserver{Observer: e.obs, beat: &e.beat}
	e.rules.Store(o.Rules)
	// The lease is between processes, on real time: a daemon rehearsing a
	// later day with --now must not hold it into that day.
	leaseNow := o.LeaseClock
	if leaseNow == nil {
		leaseNow = time.Now
	}
	e.lease = newLeadership(o.Directory, c.Lease, leaseNow, log, func() {
		e.treeStale.Store(true)
		e.sweepAt.Store(e.now().UnixNano())
	})
	return e, nil
}

// AuditPath returns where the audit log of c is.
func AuditPath(c Config) string { return filepath.Join(c.StateDir, "audit.jsonl") }

// Close releases the journal, the audit log and the lock.
func (e *Engine) Close() error {
	return errors.Join(e.journal.Close(), e.audit.Close(), e.lock.Close())
}

// SetRules swaps in the rules of a reloaded config: new units, usernames,
// password profile, applications. A batch under way finishes with the old
// ones; Run then brings the tree in line with the new ones (a new unit's
// entry, a new application's group) before the next batch.
func (e *Engine) SetRules(r *rules.Rules) {
	e.rules.Store(r)
	e.treeStale.Store(true)
	e.sweepAt.Store(e.now().UnixNano()) // new unit changes, new periods
}

// Rules returns the rules in force.
func (e *Engine) Rules() *rules.Rules { return e.rules.Load() }

// Journal returns the engine's journal.
func (e *Engine) Journal() *Journal { return e.journal }

// EnsureTree brings the directory's containers, units, groups and policy in
// line with the rules, and audits what it changed.
func (e *Engine) EnsureTree(ctx context.Context) error {
	t, ok := e.dir.(TreeEnsurer)
	if !ok {
		return nil
	}
	created, err := t.EnsureTreeAt(ctx, e.Rules(), e.now())
	for _, c := range created {
		if _, aerr := e.audit.Append(AuditRecord{Time: e.now(), Action: "ensure", DN: c.DN, Reason: c.What, Source: "config"}); aerr != nil {
			return aerr
		}
	}
	if serr := e.audit.Sync(); serr != nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("sync: prepare directory: %w", err)
	}
	if len(created) > 0 {
		e.log.Info().Int("changed", len(created)).Msg("directory tree brought in line with the config")
	}
	return nil
}

// Process plans the pending events against a fresh snapshot and applies
// the plan, journaling the outcome of every event it finished. It goes
// round again, with a fresh snapshot, while a round finished some events
// and others that are not held remain: a person's later events wait for
// the group changes of an earlier one, which end a run. It returns the
// last round's plan and the counts of all rounds.
func (e *Engine) Process(ctx context.Context) (*Plan, Report, error) {
	e.proc.Lock()
	defer e.proc.Unlock()
	defer e.anchorAudit(ctx)
	return e.process(ctx)
}

// process is Process with e.proc held. A round takes the runnable events
// a chunk at a time (see chunkEvents): each chunk is read back from the
// journal, planned against a fresh snapshot, applied and resolved before
// the next is read, so a backlog of 100,000 events never sits in memory
// with its plan. The plan it returns is the last round's: its outcomes
// from every chunk, its operations from the last.
func (e *Engine) process(ctx context.Context) (*Plan, Report, error) {
	defer e.reportPending()
	plan, total := &Plan{}, Report{}
	for {
		idx := e.runnableIndex()
		if len(idx) == 0 {
			break
		}
		// A lease lost between rounds stops the batch: the leader now
		// applies what is left.
		if err := e.lease.standby(); err != nil {
			e.logBatch(total)
			return plan, total, err
		}
		chunks := chunkEvents(idx, e.chunkSize())
		var snap *rules.Snapshot // the first chunk's, when the guard read it
		if len(chunks) > 1 {
			var err error
			if snap, err = e.snapshot(ctx); err == nil {
				var whole bool
				if whole, err = e.guardNeedsWhole(chunks, snap, e.Rules()); whole {
					e.log.Info().Int("events", len(idx)).Msg("the mass-change guard must see this round whole: it is planned in one piece")
					chunks = [][]uint64{slices.Concat(chunks...)}
				}
			}
			if err != nil {
				e.logBatch(total)
				return plan, total, err
			}
			if len(chunks) > 1 {
				e.log.Info().Int("events", len(idx)).Int("chunks", len(chunks)).Msg("large batch: planned and applied a chunk at a time")
			}
		}
		round, finished, held := &Plan{}, 0, 0
		for i, c := range chunks {
			if i > 0 {
				if err := e.lease.standby(); err != nil {
					total.Held = held
					e.logBatch(total)
					return round, total, err
				}
			}
			pending, err := e.journal.entries(c)
			var p *Plan
			var rep Report
			if err == nil {
				p, rep, err = e.processOnce(ctx, pending, snap)
			}
			snap = nil
			switch {
			case p != nil && len(chunks) == 1:
				round = p
			case p != nil:
				mergePlan(round, p)
			}
			total.Applied += rep.Applied
			total.Satisfied += rep.Satisfied
			total.Refused += rep.Refused
			total.Done += rep.Done
			total.Guarded += rep.Guarded
			total.Holds = append(total.Holds, rep.Holds...)
			held += rep.Held
			finished += rep.Done + rep.Refused
			if err != nil {
				if p != nil || i > 0 {
					plan = round
				}
				total.Held = held
				e.logBatch(total)
				return plan, total, err
			}
			if len(chunks) > 1 {
				e.log.Debug().Int("chunk", i+1).Int("of", len(chunks)).Int("events", len(pending)).Int("applied", rep.Applied).
					Int("done", rep.Done).Int("refused", rep.Refused).Msg("chunk processed")
			}
		}
		plan, total.Held = round, held
		if finished == 0 || len(idx)-finished <= held {
			break
		}
	}
	e.logBatch(total)
	return plan, total, nil
}

// processOnce plans pending against snap, or against a fresh snapshot
// when snap is nil, and applies and resolves the plan.
func (e *Engine) processOnce(ctx context.Context, pending []Entry, snap *rules.Snapshot) (*Plan, Report, error) {
	if snap == nil {
		var err error
		if snap, err = e.snapshot(ctx); err != nil {
			return nil, Report{}, err
		}
	}
	r := e.Rules()
	plan := e.planner(r).Plan(pending, snap, e.now())
	hold, err := e.guard(plan, managedCount(snap))
	if err != nil {
		return plan, Report{}, err
	}
	applier := e.applier
	applier.Rules = r
	res, rep, err := applier.Apply(ctx, plan)
	if hold != nil {
		rep.Guarded, rep.Holds = len(plan.Guarded), []string{hold.ID}
	}
	// Refused events go to rejected/ before the journal says so: after a
	// crash in between, a line written twice beats one never written.
	if werr := e.setAsideRefused(pending, res); werr != nil {
		e.log.Error().Err(werr).Msg("cannot write the refused events to rejected/")
	}
	// The audit must hold every change before the journal calls its event
	// resolved: unresolved, it is planned and adopted again.
	if aerr := e.adopt(pending, res); aerr != nil {
		return plan, rep, errors.Join(err, aerr)
	}
	if rerr := e.resolveEvents(pending, res, e.now()); rerr != nil {
		return plan, rep, errors.Join(err, rerr)
	}
	return plan, rep, err
}

// runnable returns the pending events that no pending hold keeps back,
// read whole from the journal.
func (e *Engine) runnable() []Entry {
	idx := e.runnableIndex()
	seqs := make([]uint64, len(idx))
	for i, p := range idx {
		seqs[i] = p.seq
	}
	pending, _ := e.journal.entries(seqs) // an error stops the journal: see Err
	return pending
}

// managedCount is how many live accounts ldapsync manages.
func managedCount(snap *rules.Snapshot) int {
	n := 0
	for i := range snap.People {
		if !snap.People[i].Revoked && snap.People[i].Status != "" {
			n++
		}
	}
	return n
}

// logBatch logs one line per Process with its counts and the audit head,
// which anchors the hash chain outside the file.
func (e *Engine) logBatch(rep Report) {
	ev := e.log.Info()
	if rep.Applied == 0 && rep.Refused == 0 {
		ev = e.log.Debug()
	}
	seq, head := e.audit.Head()
	ev.Int("applied", rep.Applied).Int("done", rep.Done).Int("refused", rep.Refused).Int("held", rep.Held).Int("guarded", rep.Guarded).
		Uint64("audit_seq", seq).Str("audit_head", head).Msg("batch processed")
}

// setAsideRefused appends the events res fails to
// rejected/refused-<date>.jsonl, each as an input record with its reason in
// "error", so that an admin can fix one and drop it back into the inbox: a
// failed event_id may be submitted again.
func (e *Engine) setAsideRefused(pending []Entry, res []Resolution) error {
	bySeq := make(map[uint64]*Event, len(pending))
	for i := range pending {
		bySeq[pending[i].Seq] = &pending[i].Event
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range res {
		ev := bySeq[r.Seq]
		if r.Status != Failed || r.Withdrawn || ev == nil {
			continue
		}
		rec := ev.record()
		rec[FieldError] = r.Reason
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	if buf.Len() == 0 {
		return nil
	}
	name := "refused-" + e.now().In(e.Rules().Location).Format("2006-01-02") + ".jsonl"
	f, err := os.OpenFile(filepath.Join(e.cfg.InboxDir(), "rejected", name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Run watches the inbox and processes events until ctx ends. Its first
// look at the inbox, before anything else, reads again the files a crashed
// run left in processing/ (see scanInbox). Directory
// failures are retried with exponential back-off; nothing is lost while the
// directory is down, because events wait in the journal. While the state
// directory takes no writes (a full disk), it reads and applies nothing and
// waits for it to recover (see writable). With a Leaser, it does all this
// only while it holds the lease, and stands by otherwise (see leader.go).
// It returns an error only when its schedules cannot start.
func (e *Engine) Run(ctx context.Context) error {
	backoff := e.cfg.RetryMin.Std()
	var retryAt, dueAt, activateAt time.Time
	e.runCtx.Store(&ctx)
	e.treeStale.Store(true)
	e.sweepAt.Store(e.now().UnixNano()) // catch up on what fell due while stopped
	dirty := true                       // pending events left by an earlier run are processed at once
	// The loop goes round at the inbox's poll, or the first-login gate's
	// when that is shorter.
	every := e.cfg.Inbox.Poll.Std()
	if a := e.cfg.Activation.Poll.Std(); a > 0 && a < every {
		every = a
	}
	poll := time.NewTicker(every)
	defer poll.Stop()
	stopLease := e.lease.start(ctx)
	defer stopLease()
	sched, err := startScheduler(ctx, e.Rules().Location, e.log, []job{
		{name: JobTree, spec: e.cfg.Schedule.Tree, run: e.leaderOnly(e.EnsureTree)},
		{name: JobSweep, spec: e.cfg.Schedule.Sweep, run: e.leaderOnly(e.sweepJob)},
		{name: JobReconcile, spec: e.cfg.Schedule.Reconcile, run: e.leaderOnly(e.reconcileJob)},
		{name: JobCompact, spec: e.cfg.Schedule.Compact, run: e.compactJob}, // the journal is this instance's
	}, func(job string, ok bool) { e.obs.JobRun(job, ok, e.now()) })
	if err != nil {
		return err
	}
	defer sched.stop()
	e.log.Info().Str("inbox", e.cfg.InboxDir()).Str("letters", e.cfg.Letters()).Msg("watching inbox")
	for {
		wall := time.Now() // real time: file times are stamped by the OS
		e.beat.Store(wall.UnixNano())
		if !e.writable() {
			dirty = true // once it takes writes again, pending events go on
			select {
			case <-ctx.Done():
				return nil
			case <-poll.C:
			}
			continue
		}
		// A standby reads nothing: the inbox is the leader's, and its
		// journal waits for a term of its own.
		wctx, leading := e.lease.termContext(ctx)
		if !leading {
			dirty = true
			select {
			case <-ctx.Done():
				return nil
			case <-poll.C:
			}
			continue
		}
		if e.scanInbox(wall) {
			dirty = true
		}
		if !dueAt.IsZero() && !e.now().Before(dueAt) {
			dirty = true
		}
		if (dirty || e.treeStale.Load()) && !wall.Before(retryAt) {
			err := e.step(wctx, &dueAt)
			switch {
			case ctx.Err() != nil:
				return nil
			case wctx.Err() != nil || errors.Is(err, ErrStandby):
				e.log.Warn().Err(err).Msg("lease lost during a batch; its events stay in the journal")
			case err != nil:
				e.log.Error().Err(err).Dur("retry_in", backoff).Msg("batch failed; events stay in the journal")
				retryAt = wall.Add(backoff)
				backoff = min(2*backoff, e.cfg.RetryMax.Std())
			default:
				dirty, retryAt, backoff = false, time.Time{}, e.cfg.RetryMin.Std()
			}
		}
		// A sweep waits for the tree and the pending events: it plans
		// against the directory they leave.
		if at := e.sweepAt.Load(); at != 0 && !dirty && !e.treeStale.Load() && e.cfg.Schedule.Sweep != "" &&
			!e.now().Before(time.Unix(0, at)) && !wall.Before(retryAt) {
			err := e.sweepJob(wctx)
			if ctx.Err() == nil {
				e.obs.JobRun(JobSweep, err == nil, e.now())
			}
			if err != nil && ctx.Err() == nil && wctx.Err() == nil && !errors.Is(err, ErrStandby) {
				e.log.Error().Err(err).Dur("retry_in", backoff).Msg("sweep failed; it is tried again")
				retryAt = wall.Add(backoff)
				backoff = min(2*backoff, e.cfg.RetryMax.Std())
			}
		}
		// The first-login gate, on real time: a user who has just changed
		// the letter's password is let into applications within seconds.
		if a := e.cfg.Activation.Poll.Std(); a > 0 && !dirty && !e.treeStale.Load() && !wall.Before(activateAt) && !wall.Before(retryAt) {
			activateAt = wall.Add(a)
			_, err := e.Activations(wctx)
			if err != nil && ctx.Err() == nil && wctx.Err() == nil && !errors.Is(err, ErrStandby) {
				e.log.Error().Err(err).Dur("retry_in", backoff).Msg("first-login activation failed; it is tried again")
				retryAt = wall.Add(backoff)
				backoff = min(2*backoff, e.cfg.RetryMax.Std())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
	}
}

// step brings the tree in line with the rules when they are new, then
// processes pending events.
func (e *Engine) step(ctx context.Context, dueAt *time.Time) error {
	if e.treeStale.Swap(false) {
		if err := e.EnsureTree(ctx); err != nil {
			e.treeStale.Store(true)
			return err
		}
	}
	plan, rep, err := e.Process(ctx)
	if plan != nil {
		*dueAt = plan.NextDue()
	}
	if rep.Applied > 0 {
		// Deadlines may have been set or cleared: find the next one.
		e.sweepAt.Store(e.now().UnixNano())
	}
	if err == nil {
		e.warnOverdue()
	}
	return err
}

// leaderOnly returns job run only while this instance holds the lease,
// under a context that ends when it loses it.
func (e *Engine) leaderOnly(job func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		wctx, leading := e.lease.termContext(ctx)
		if !leading {
			e.log.Debug().Msg("standby: scheduled job skipped")
			return nil
		}
		return job(wctx)
	}
}

// sweepJob is the scheduled sweep; it also notes when the next deadline
// falls, so that Run sweeps then, not at the next scheduled time.
func (e *Engine) sweepJob(ctx context.Context) error {
	res, err := e.Sweep(ctx, SweepOptions{})
	if err != nil {
		return err
	}
	next := int64(0)
	if !res.Next.IsZero() {
		next = res.Next.UnixNano()
	}
	e.sweepAt.Store(next)
	return nil
}
