package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Directory is what sync needs from the directory, in the domain's types;
// the directory package's Client satisfies it, and unit tests use a fake.
type Directory interface {
	Snapshot(ctx context.Context) (*rules.Snapshot, error)
	AddPerson(ctx context.Context, p rules.Account) error
	// HashesCleartext reports whether the directory was proven to hash a
	// password added in clear; AddPersonWithPassword is refused otherwise.
	HashesCleartext() bool
	// AddPersonWithPassword adds the person with a first password the user
	// must change, recording the event it was issued for: one write.
	AddPersonWithPassword(ctx context.Context, p rules.Account, pw secret.Secret, issuedFor string) error
	// SetPassword sets a first or reset password the user must change at
	// the next login, recording with it the event it was issued for
	// (Account.Issued).
	SetPassword(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error
	ChangeGroups(ctx context.Context, changes []rules.GroupChange) error
	DeleteTombstone(ctx context.Context, uid string) error

	// Move sets the person's unit; DN, uid and mail stay.
	Move(ctx context.Context, dn, unit string) error
	// UpdatePerson changes name or title attributes.
	UpdatePerson(ctx context.Context, dn string, u rules.PersonUpdate) error
	// SetLifecycle makes the entry's lifecycle attributes exactly l.
	SetLifecycle(ctx context.Context, dn string, l rules.Lifecycle) error
	// Lock locks the account with a reason; its entry, mail and
	// application groups stay (NT 6.1).
	Lock(ctx context.Context, dn, reason string) error
	// LiftLock lifts a lock without changing the password.
	LiftLock(ctx context.Context, dn string) error
	// Unlock lifts a lock with a new password the user must change,
	// recording the event it was issued for.
	Unlock(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error
	// Reinstate brings the revoked account whose live DN is dn back from
	// its tombstone, with a new password the user must change.
	Reinstate(ctx context.Context, dn string, pw secret.Secret, issuedFor string) error
	// Revoke ends the account for good at at.
	Revoke(ctx context.Context, dn string, at time.Time) error
	// Adopt makes the hand-made entry at dn the account of employeeID in
	// unit, where it is.
	Adopt(ctx context.Context, dn, employeeID, unit string) error

	// People returns the people (tombstones included) without their
	// groups or the rest of the directory: what a sweep reads.
	People(ctx context.Context) ([]rules.Account, error)
	// Pending returns the accounts waiting for their first password
	// change (status pending), without their groups: a cheap read.
	Pending(ctx context.Context) ([]rules.Account, error)
	// Activate makes a pending account whose password was changed active,
	// in the active group.
	Activate(ctx context.Context, dn string) error
	// AwaitChange makes an active account whose password must be changed
	// pending, out of the active group.
	AwaitChange(ctx context.Context, dn string) error
}

// Applier runs a plan's operations and records each in the audit log.
type Applier struct {
	Dir     Directory
	Rules   *rules.Rules
	Letters *Letters
	Audit   *Audit
	// Parallel is how many people's operations run at once; set it to the
	// directory's connection count. Default 1.
	Parallel int
	// Rand is the randomness for passwords; nil means crypto/rand.
	Rand io.Reader
	Now  func() time.Time
	Log  zerolog.Logger
	// AfterWrite, when set, runs after each operation the directory
	// accepted and before its audit record: the window a crash test aims
	// at (see Options.AfterWrite).
	AfterWrite func(*Op)
	// Observer is told of every operation run; nil means none.
	Observer Observer
	// sealed are the passwords of the batch being applied, sealed in their
	// letters before any operation runs (see seal); nil between batches.
	sealed map[*Op]*sealedLetter
}

// Report counts what Apply did.
type Report struct {
	Applied   int // operations run
	Satisfied int // events that needed nothing
	Refused   int // events that cannot be applied
	Held      int // events not yet effective
	Done      int // events completed, Satisfied included
	// Guarded counts the events the mass-change guard held for an
	// operator, in the holds Holds names.
	Guarded int
	Holds   []string
}

// Apply runs p's operations and returns the resolutions to journal: Done
// for events whose every operation succeeded or that needed none, Failed
// for refused ones and for those the directory refused for good. Each
// person's operations run in plan order; different people's run in
// parallel (Parallel at once). When the directory fails in a way that may
// pass (unreachable, busy), Apply stops starting operations, lets the
// running ones end, and returns the error: the unfinished events stay
// pending and the journal retries them later. Operations are idempotent, so
// a retry redoes nothing that was done. Every audit record is on disk
// before Apply returns.
func (a *Applier) Apply(ctx context.Context, p *Plan) ([]Resolution, Report, error) {
	run := &applyRun{Applier: a, rep: Report{Held: len(p.Held)}}
	var after []Outcome
	for _, o := range p.Satisfied {
		if o.After != 0 {
			after = append(after, o) // once the event it waits for is done
			continue
		}
		if err := a.record(o, "verified"); err != nil {
			return nil, run.rep, err
		}
		run.resolve(Resolution{Seq: o.Seq, Status: Done, Reason: o.Reason})
		run.rep.Satisfied++
	}
	for _, o := range p.Withdrawn {
		a.Log.Info().Str("event_id", o.Event.ID).Str("source", o.Event.Source).
			Str("employee_id", o.Event.EmployeeID).Str("reason", o.Reason).Msg("event withdrawn")
		if err := a.record(o, "withdrawn"); err != nil {
			return nil, run.rep, err
		}
		run.resolve(Resolution{Seq: o.Seq, Status: Failed, Reason: o.Reason, Withdrawn: true})
	}
	for _, o := range p.Refused {
		a.Log.Error().Str("event_id", o.Event.ID).Str("source", o.Event.Source).
			Str("employee_id", o.Event.EmployeeID).Str("reason", o.Reason).Msg("event refused")
		if err := a.record(o, "refused"); err != nil {
			return nil, run.rep, err
		}
		run.resolve(Resolution{Seq: o.Seq, Status: Failed, Reason: o.Reason})
	}

	if err := a.seal(p.Ops); err != nil {
		a.unseal()
		return run.res, run.rep, err
	}
	defer a.unseal()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run.cancel = cancel
	lanes := make(chan []*Op)
	var wg gosync.WaitGroup
	for range max(1, a.Parallel) {
		wg.Go(func() {
			for lane := range lanes {
				run.lane(ctx, lane)
			}
		})
	}
send:
	for _, lane := range byPerson(p.Ops) {
		select {
		case lanes <- lane:
		case <-ctx.Done():
			break send
		}
	}
	close(lanes)
	wg.Wait()
	run.groups(ctx)
	if err := run.satisfiedAfter(after); err != nil {
		return nil, run.rep, err
	}
	if err := a.Audit.Sync(); err != nil {
		return nil, run.rep, err
	}
	return run.res, run.rep, run.err
}

// satisfiedAfter resolves the events the plan found satisfied by another
// event's operations in this run, once that event is done; the others stay
// pending and are planned again.
func (r *applyRun) satisfiedAfter(outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	done := map[uint64]bool{}
	for _, res := range r.res {
		done[res.Seq] = res.Status == Done
	}
	for _, o := range outcomes {
		if !done[o.After] {
			continue
		}
		if err := r.record(o, "verified"); err != nil {
			return err
		}
		r.resolve(Resolution{Seq: o.Seq, Status: Done, Reason: o.Reason})
		r.rep.Satisfied++
	}
	return nil
}

// byPerson splits ops into one lane per person, each in plan order, the
// lanes in the order their people first appear.
func byPerson(ops []Op) [][]*Op {
	index := map[string]int{}
	var lanes [][]*Op
	for i := range ops {
		k := ops[i].EmployeeID
		j, ok := index[k]
		if !ok {
			j = len(lanes)
			index[k] = j
			lanes = append(lanes, nil)
		}
		lanes[j] = append(lanes[j], &ops[i])
	}
	return lanes
}

// applyRun is the shared state of one Apply.
type applyRun struct {
	*Applier
	cancel context.CancelFunc
	mu     gosync.Mutex
	res    []Resolution
	rep    Report
	err    error // the first failure that may pass; it stops the run
	// deferred are the OpGroups the lanes reached, in plan order per
	// person; the group phase runs them together.
	deferred []*Op
}

func (r *applyRun) resolve(res Resolution) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, res)
	switch res.Status {
	case Done:
		r.rep.Done++
	case Failed:
		r.rep.Refused++
	}
}

// lane runs one person's operations, event by event. An OpGroups, always
// the last of its event, is deferred to the group phase and its event
// resolved there. Once one is deferred, the lane stops before any later
// event that has other operations: those may depend on the memberships
// (the next run plans them afresh). A failure that may pass stops the
// whole run; one that will not fails the event and leaves the person's
// later events pending, to be planned again.
func (r *applyRun) lane(ctx context.Context, ops []*Op) {
	deferred := false
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].Seq == ops[i].Seq {
			j++
		}
		event := ops[i:j]
		if deferred && !(len(event) == 1 && event[0].Kind == OpGroups) {
			return
		}
		for _, op := range event {
			if ctx.Err() != nil {
				return
			}
			if op.Kind == OpGroups {
				r.mu.Lock()
				r.deferred = append(r.deferred, op)
				r.mu.Unlock()
				deferred = true
				continue
			}
			if r.failed(ctx, op, r.run(ctx, op)) {
				return
			}
		}
		if !deferred {
			r.resolve(Resolution{Seq: ops[i].Seq, Status: Done})
		}
		i = j
	}
}

// failed handles the outcome of op: nil counts it; a failure that says
// nothing about the event (see stopsRun) stops the run and leaves the event
// pending; any other is the directory refusing the change, which fails
// op's event. It reports whether op failed.
func (r *applyRun) failed(ctx context.Context, op *Op, err error) bool {
	if err == nil {
		r.mu.Lock()
		r.rep.Applied++
		r.mu.Unlock()
		return false
	}
	if ctx.Err() != nil || stopsRun(err) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
		r.cancel()
		return true
	}
	r.Log.Error().Err(err).Str("event_id", op.EventID).Str("uid", op.UID).Msg("event failed: the directory refused it")
	o := Outcome{Seq: op.Seq, Event: op.event, Status: Failed, Reason: err.Error()}
	if aerr := r.record(o, "refused"); aerr != nil {
		r.Log.Error().Err(aerr).Msg("audit")
	}
	r.resolve(Resolution{Seq: op.Seq, Status: Failed, Reason: err.Error()})
	return true
}

// groups runs the deferred OpGroups as one change per group (see
// directory.ChangeGroups: one request per group instead of one per person
// is what keeps a large batch fast as the groups grow), then audits each
// and resolves its event. If the directory refuses the change for good (a
// group that does not exist, say), they are run again one by one, so that
// only the events at fault fail. After a failure that may pass, they stay
// pending: the next run finds the memberships missing and plans them again.
func (r *applyRun) groups(ctx context.Context) {
	if len(r.deferred) == 0 || r.err != nil || ctx.Err() != nil {
		return
	}
	intents := make([]uint64, len(r.deferred))
	for i, op := range r.deferred {
		seq, err := r.intend(op, false)
		if err != nil {
			r.failed(ctx, op, err)
			return
		}
		intents[i] = seq
	}
	if err := r.syncAudit(); err != nil {
		r.failed(ctx, r.deferred[0], err)
		return
	}
	start := time.Now()
	err := r.Dir.ChangeGroups(ctx, groupChanges(r.deferred))
	// One change for all: each operation is reported with its share.
	share := time.Since(start) / time.Duration(len(r.deferred))
	if err != nil && stopsRun(err) {
		r.observer().Operation(OpGroups, err, share)
		r.failed(ctx, r.deferred[0], err)
		return
	}
	for i, op := range r.deferred {
		var opErr error
		if err != nil {
			opErr = r.run(ctx, op) // one by one, under the same intent; run audits
		} else {
			if r.AfterWrite != nil {
				r.AfterWrite(op)
			}
			opErr = r.audit(op, intents[i], groupDetail(op))
			r.observer().Operation(op.Kind, opErr, share)
		}
		if r.failed(ctx, op, opErr) {
			if r.err != nil {
				return
			}
			continue
		}
		r.resolve(Resolution{Seq: op.Seq, Status: Done})
	}
}

// groupChanges nets ops, in plan order, into one change per group: what a
// person joins and then leaves in the same run is left alone.
func groupChanges(ops []*Op) []rules.GroupChange {
	type key struct{ group, dn string }
	first, last := map[key]bool{}, map[key]bool{} // true: join
	var order []key
	note := func(k key, join bool) {
		if _, seen := first[k]; !seen {
			first[k] = join
			order = append(order, k)
		}
		last[k] = join
	}
	for _, op := range ops {
		for _, g := range op.Join {
			note(key{g, op.DN}, true)
		}
		for _, g := range op.Leave {
			note(key{g, op.DN}, false)
		}
	}
	byGroup := map[string]*rules.GroupChange{}
	var groups []string
	for _, k := range order {
		if first[k] != last[k] {
			continue // joined and left, or left and joined: no change
		}
		c, ok := byGroup[k.group]
		if !ok {
			c = &rules.GroupChange{Group: k.group}
			byGroup[k.group] = c
			groups = append(groups, k.group)
		}
		if last[k] {
			c.Add = append(c.Add, k.dn)
		} else {
			c.Remove = append(c.Remove, k.dn)
		}
	}
	slices.Sort(groups)
	out := make([]rules.GroupChange, len(groups))
	for i, g := range groups {
		out[i] = *byGroup[g]
	}
	return out
}

func groupDetail(op *Op) map[string]string {
	d := map[string]string{}
	if len(op.Join) > 0 {
		d["join"] = strings.Join(op.Join, ",")
	}
	if len(op.Leave) > 0 {
		d["leave"] = strings.Join(op.Leave, ",")
	}
	return d
}

// stopsRun reports whether err says nothing about the event it came from,
// so that the event must wait in the journal rather than fail: the
// directory was unreachable or busy (for longer than its own retries), a
// connection could not be used (the service account's password rotated, a
// certificate that no longer verifies), or a local write failed (a sealed
// letter, the audit log: a full disk). Anything else is the directory
// refusing the change itself.
func stopsRun(err error) bool {
	return errors.Is(err, rules.ErrUnavailable) || errors.Is(err, rules.ErrConnect) ||
		errors.Is(err, rules.ErrClosed) || errors.Is(err, errLocal)
}

// record writes the audit record of an event that needed no operation.
func (a *Applier) record(o Outcome, action string) error {
	_, err := a.Audit.Append(AuditRecord{
		Time: a.Now(), Action: action, EmployeeID: o.Event.EmployeeID,
		EventID: o.Event.ID, Source: o.Event.Source, Reason: o.Reason,
		Article: o.Event.Type.Article(), RequestedBy: o.Event.RequestedBy,
	})
	return err
}

// run runs one operation between its intent, fsynced before it starts,
// and the record of its outcome.
func (a *Applier) run(ctx context.Context, op *Op) (err error) {
	defer func(start time.Time) { a.observer().Operation(op.Kind, err, time.Since(start)) }(time.Now())
	intent, err := a.intend(op, true)
	if err != nil {
		return err
	}
	var detail map[string]string
	switch op.Kind {
	case OpCreate:
		detail = map[string]string{"cn": op.Name, "unit": op.Unit, "mail": op.Mail}
		if op.WithPassword {
			var path string
			path, err = a.sealAndSet(ctx, op, func(pw secret.Secret) error {
				return a.Dir.AddPersonWithPassword(ctx, op.Person(), pw, op.event.Key())
			})
			detail["letter"] = path
		} else {
			err = a.Dir.AddPerson(ctx, op.Person())
		}
		if op.Title != "" {
			detail["title"] = op.Title
		}
	case OpIssueCredentials:
		var path string
		path, err = a.issue(ctx, op)
		detail = map[string]string{"letter": path}
	case OpGroups:
		err = a.Dir.ChangeGroups(ctx, groupChanges([]*Op{op}))
		detail = groupDetail(op)
	case OpPurge:
		err = a.Dir.DeleteTombstone(ctx, op.UID)
		detail = map[string]string{}
	case OpMove:
		err = a.Dir.Move(ctx, op.DN, op.Unit)
	case OpUpdate:
		err = a.Dir.UpdatePerson(ctx, op.DN, *op.Update)
	case OpLifecycle:
		err = a.Dir.SetLifecycle(ctx, op.DN, *op.Lifecycle)
	case OpLock:
		err = a.Dir.Lock(ctx, op.DN, op.LockReason)
	case OpLiftLock:
		err = a.Dir.LiftLock(ctx, op.DN)
	case OpActivate:
		err = a.Dir.Activate(ctx, op.DN)
	case OpAwaitChange:
		err = a.Dir.AwaitChange(ctx, op.DN)
	case OpRevoke:
		err = a.Dir.Revoke(ctx, op.DN, op.At)
	case OpAdopt:
		err = a.Dir.Adopt(ctx, op.DN, op.EmployeeID, op.Unit)
	case OpRestore, OpReinstate:
		set := a.Dir.Unlock
		if op.Kind == OpReinstate {
			set = a.Dir.Reinstate
		}
		var path string
		path, err = a.sealAndSet(ctx, op, func(pw secret.Secret) error { return set(ctx, op.DN, pw, op.event.Key()) })
		detail = map[string]string{"letter": path}
	default:
		err = fmt.Errorf("sync: unknown operation %q", op.Kind)
	}
	if err != nil {
		err = fmt.Errorf("%s %s (event %s): %w", op.Kind, op.UID, op.EventID, err)
		if !outcomeUnknown(ctx, err) {
			// Refused: the operation did not happen; its intent is closed.
			// After a failure that may pass, or a stop that cut the
			// operation off (it may have happened at the directory), it
			// stays open: the retry finishes it, or adopts what it finds.
			a.closeIntent(op, intent, "not_done", err.Error())
		}
		return err
	}
	if a.AfterWrite != nil {
		a.AfterWrite(op)
	}
	if detail == nil {
		detail = map[string]string{}
	}
	for k, v := range op.Detail {
		if _, set := detail[k]; !set {
			detail[k] = v
		}
	}
	return a.audit(op, intent, detail)
}

// intend writes the intent of op, or finds the one an interrupted run left
// open for the same operation, and returns its Seq. With sync, the intent
// is on disk when it returns; without, the caller syncs several at once.
func (a *Applier) intend(op *Op, sync bool) (uint64, error) {
	if seq, ok := a.Audit.OpenIntent(op.Source, op.EventID, string(op.Kind), op.UID); ok {
		return seq, nil
	}
	rec := AuditRecord{
		Time: a.Now(), Action: ActionIntent, Op: string(op.Kind), UID: op.UID, DN: op.DN, EmployeeID: op.EmployeeID,
		EventID: op.EventID, Source: op.Source, Reason: string(op.Type), Article: op.Article,
		RequestedBy: op.event.RequestedBy,
	}
	// An operation that seals a password names its letter already: if the
	// run is cut off, the record that adopts it says where the password went.
	if path := a.letterPath(op); path != "" {
		rec.Detail = map[string]string{"letter": path}
	}
	rec, err := a.Audit.Append(rec)
	if err != nil {
		return 0, fmt.Errorf("%w: audit log: %w", errLocal, err)
	}
	if sync {
		if err := a.syncAudit(); err != nil {
			return 0, err
		}
	}
	return rec.Seq, nil
}

func (a *Applier) syncAudit() error {
	if err := a.Audit.Sync(); err != nil {
		return fmt.Errorf("%w: audit log: %w", errLocal, err)
	}
	return nil
}

// closeIntent records that the operation of an intent did not happen.
func (a *Applier) closeIntent(op *Op, intent uint64, action, reason string) {
	if _, err := a.Audit.Append(AuditRecord{
		Time: a.Now(), Action: action, Op: string(op.Kind), Intent: intent, UID: op.UID, DN: op.DN,
		EmployeeID: op.EmployeeID, EventID: op.EventID, Source: op.Source, Reason: reason, Article: op.Article,
	}); err != nil {
		a.Log.Error().Err(err).Msg("audit")
	}
}

// outcomeUnknown reports whether err leaves it open whether the operation
// happened: a failure that may pass (see stopsRun), or a stop (the context
// ended) that cut the operation off after its request may have reached the
// directory. Its intent then stays open, and a sealed letter stays, for
// the next run to finish or adopt.
func outcomeUnknown(ctx context.Context, err error) bool {
	return stopsRun(err) || ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// errLocal marks a failed local write (the audit log, a sealed letter): the
// run stops and the event stays pending (a replay finds what was made and
// records it), rather than failing an event the directory did not refuse.
var errLocal = errors.New("local write failed")

// audit records an operation that ran, under its intent.
func (a *Applier) audit(op *Op, intent uint64, detail map[string]string) error {
	if op.Note != "" {
		detail["note"] = op.Note
	}
	if _, err := a.Audit.Append(AuditRecord{
		Time: a.Now(), Action: string(op.Kind), Intent: intent, UID: op.UID, DN: op.DN, EmployeeID: op.EmployeeID,
		EventID: op.EventID, Source: op.Source, Reason: string(op.Type), Article: op.Article,
		RequestedBy: op.event.RequestedBy, Detail: detail,
	}); err != nil {
		return fmt.Errorf("%w: audit log: %w", errLocal, err)
	}
	a.Log.Debug().Str("op", string(op.Kind)).Str("uid", op.UID).Str("event_id", op.EventID).Msg("applied")
	return nil
}

// writeLetter generates op's password and seals it in its letter, durable
// at once or (durable false) at the next Letters.Sync.
func (a *Applier) writeLetter(op *Op, durable bool) (secret.Secret, string, error) {
	unit, ok := a.Rules.Units.Lookup(op.Unit)
	if !ok {
		return secret.Secret{}, "", fmt.Errorf("unit %q is not in the config", op.Unit)
	}
	pw, err := a.Rules.Password.Generate(a.Rand, a.Rules.Config.Password.GeneratedLength, op.UID)
	if err != nil {
		return secret.Secret{}, "", err
	}
	lt := Letter{
		Issued: a.Now().In(a.Rules.Location), Event: op.event, UID: op.UID, Mail: op.Mail,
		FullName: op.Name, Unit: unit, Password: pw, Profile: a.Rules.Password,
	}
	write := a.Letters.Write
	if !durable {
		write = a.Letters.WriteUnsynced
	}
	path, err := write(lt)
	if err != nil {
		return secret.Secret{}, "", fmt.Errorf("%w: %w", errLocal, err)
	}
	return pw, path, nil
}

// letterPath is the letter an operation seals its password in, "" for an
// operation that issues none.
func (a *Applier) letterPath(op *Op) string {
	switch {
	case op.Kind == OpIssueCredentials, op.Kind == OpRestore, op.Kind == OpReinstate, op.Kind == OpCreate && op.WithPassword:
	default:
		return ""
	}
	unit, ok := a.Rules.Units.Lookup(op.Unit)
	if !ok {
		return ""
	}
	return a.Letters.PathFor(unit, op.UID, op.event)
}

// issue generates a first password, seals it in a letter, then sets it.
func (a *Applier) issue(ctx context.Context, op *Op) (string, error) {
	return a.sealAndSet(ctx, op, func(pw secret.Secret) error { return a.Dir.SetPassword(ctx, op.DN, pw, op.event.Key()) })
}

// sealAndSet generates a password, seals it in a letter for op's unit,
// then sets it with set. The letter is written first: if the process dies
// before the password is set, the replay issues a new one and rewrites the
// same letter; if it dies after, the letter already holds the password
// that works. Either way the unit ends with one letter whose password is
// the account's.
func (a *Applier) sealAndSet(ctx context.Context, op *Op, set func(secret.Secret) error) (string, error) {
	var pw secret.Secret
	var path string
	if s := a.sealed[op]; s != nil {
		// Sealed with the rest of its batch (see seal).
		s.attempted.Store(true)
		pw, path = s.pw, s.path
	} else {
		var err error
		if pw, path, err = a.writeLetter(op, true); err != nil {
			return "", err
		}
	}
	if err := set(pw); err != nil {
		if !outcomeUnknown(ctx, err) {
			// Refused for good: the password in the letter was never set
			// and never will be, so the letter must not reach anyone.
			if rerr := os.Remove(path); rerr != nil {
				return "", errors.Join(err, fmt.Errorf("%w: void the letter %s: %w", errLocal, path, rerr))
			}
			return "", fmt.Errorf("%w (its letter was voided)", err)
		}
		return "", err
	}
	return path, nil
}
