package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	gosync "sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Directory is what sync needs from the directory; *directory.Client
// satisfies it, and unit tests use a fake.
type Directory interface {
	Snapshot(ctx context.Context) (*directory.Snapshot, error)
	CreatePerson(ctx context.Context, p directory.Person) error
	SetPassword(ctx context.Context, dn string, pw secret.Secret) error
	SetGroups(ctx context.Context, dn string, apps []string) error
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
}

// Report counts what Apply did.
type Report struct {
	Applied   int // operations run
	Satisfied int // events that needed nothing
	Refused   int // events that cannot be applied
	Held      int // events not yet effective
	Done      int // events completed, Satisfied included
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
	for _, o := range p.Satisfied {
		if err := a.record(o, "verified"); err != nil {
			return nil, run.rep, err
		}
		run.resolve(Resolution{Seq: o.Seq, Status: Done, Reason: o.Reason})
		run.rep.Satisfied++
	}
	for _, o := range p.Refused {
		a.Log.Error().Str("event_id", o.Event.ID).Str("source", o.Event.Source).
			Str("employee_id", o.Event.EmployeeID).Str("reason", o.Reason).Msg("event refused")
		if err := a.record(o, "refused"); err != nil {
			return nil, run.rep, err
		}
		run.resolve(Resolution{Seq: o.Seq, Status: Failed, Reason: o.Reason})
	}

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
	if err := a.Audit.Sync(); err != nil {
		return nil, run.rep, err
	}
	return run.res, run.rep, run.err
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

// lane runs one person's operations, event by event. A failure that may
// pass stops the whole run; one that will not fails the event and leaves
// the person's later events pending, to be planned again.
func (r *applyRun) lane(ctx context.Context, ops []*Op) {
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].Seq == ops[i].Seq {
			j++
		}
		for _, op := range ops[i:j] {
			if ctx.Err() != nil {
				return
			}
			err := r.run(ctx, op)
			if err == nil {
				r.mu.Lock()
				r.rep.Applied++
				r.mu.Unlock()
				continue
			}
			if ctx.Err() != nil || transient(err) {
				r.mu.Lock()
				if r.err == nil {
					r.err = err
				}
				r.mu.Unlock()
				r.cancel()
				return
			}
			r.Log.Error().Err(err).Str("event_id", op.EventID).Str("uid", op.UID).Msg("event failed: the directory refused it")
			o := Outcome{Seq: op.Seq, Event: op.event, Status: Failed, Reason: err.Error()}
			if aerr := r.record(o, "refused"); aerr != nil {
				r.Log.Error().Err(aerr).Msg("audit")
			}
			r.resolve(Resolution{Seq: op.Seq, Status: Failed, Reason: err.Error()})
			return
		}
		r.resolve(Resolution{Seq: ops[i].Seq, Status: Done})
		i = j
	}
}

// transient reports whether a directory error may pass on a retry: the
// directory was unreachable, busy or timed out (for longer than its own
// retries), as opposed to refusing the change itself.
func transient(err error) bool {
	return errors.Is(err, directory.ErrUnavailable)
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

func (a *Applier) run(ctx context.Context, op *Op) error {
	log := a.Log.With().Str("op", string(op.Kind)).Str("uid", op.UID).Str("event_id", op.EventID).Logger()
	detail := map[string]string{}
	var err error
	switch op.Kind {
	case OpCreate:
		err = a.Dir.CreatePerson(ctx, op.Person())
		detail["cn"], detail["unit"], detail["mail"] = op.Name, op.Unit, op.Mail
		if op.Title != "" {
			detail["title"] = op.Title
		}
	case OpIssueCredentials:
		var path string
		path, err = a.issue(ctx, op)
		detail["letter"] = path
	case OpSetApplications:
		err = a.Dir.SetGroups(ctx, op.DN, op.Applications)
		detail["applications"] = strings.Join(op.Applications, ",")
	default:
		err = fmt.Errorf("sync: unknown operation %q", op.Kind)
	}
	if err != nil {
		return fmt.Errorf("%s %s (event %s): %w", op.Kind, op.UID, op.EventID, err)
	}
	if op.Note != "" {
		detail["note"] = op.Note
	}
	if _, err := a.Audit.Append(AuditRecord{
		Time: a.Now(), Action: string(op.Kind), UID: op.UID, DN: op.DN, EmployeeID: op.EmployeeID,
		EventID: op.EventID, Source: op.Source, Reason: string(op.Type), Article: op.Article,
		RequestedBy: op.event.RequestedBy, Detail: detail,
	}); err != nil {
		return err
	}
	log.Debug().Msg("applied")
	return nil
}

// issue generates a first password, seals it in a letter, then sets it. The
// letter is written first: if the process dies before the password is set,
// the replay issues a new one and rewrites the same letter; if it dies
// after, the letter already holds the password that works. Either way the
// unit ends with one letter whose password is the account's.
func (a *Applier) issue(ctx context.Context, op *Op) (string, error) {
	unit, ok := a.Rules.Units.Lookup(op.Unit)
	if !ok {
		return "", fmt.Errorf("unit %q is not in the config", op.Unit)
	}
	pw, err := a.Rules.Password.Generate(a.Rand, a.Rules.Config.Password.GeneratedLength, op.UID)
	if err != nil {
		return "", err
	}
	path, err := a.Letters.Write(Letter{
		Issued: a.Now().In(a.Rules.Location), Event: op.event, UID: op.UID, Mail: op.Mail,
		FullName: op.Name, Unit: unit, Password: pw, Profile: a.Rules.Password,
	})
	if err != nil {
		return "", err
	}
	if err := a.Dir.SetPassword(ctx, op.DN, pw); err != nil {
		return "", err
	}
	return path, nil
}
