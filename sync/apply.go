package sync

import (
	"context"
	"fmt"
	"io"
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
}

// Applier runs a plan's operations and records each in the audit log.
type Applier struct {
	Dir     Directory
	Rules   *rules.Rules
	Letters *Letters
	Audit   *Audit
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

// Apply runs p's operations event by event, in plan order. It returns the
// resolutions to journal: Done for events whose every operation succeeded
// or that needed none, Failed for refused ones. An event whose operation
// fails stays pending, and Apply stops there and returns the error: the
// directory is probably unreachable, and the journal retries it later.
// Operations are idempotent, so a retry redoes nothing that was done.
func (a *Applier) Apply(ctx context.Context, p *Plan) ([]Resolution, Report, error) {
	var res []Resolution
	rep := Report{Held: len(p.Held)}
	for _, o := range p.Satisfied {
		if err := a.record(o, "verified"); err != nil {
			return res, rep, err
		}
		res = append(res, Resolution{Seq: o.Seq, Status: Done, Reason: o.Reason})
		rep.Satisfied++
		rep.Done++
	}
	for _, o := range p.Refused {
		a.Log.Error().Str("event_id", o.Event.ID).Str("source", o.Event.Source).
			Str("employee_id", o.Event.EmployeeID).Str("reason", o.Reason).Msg("event refused")
		if err := a.record(o, "refused"); err != nil {
			return res, rep, err
		}
		res = append(res, Resolution{Seq: o.Seq, Status: Failed, Reason: o.Reason})
		rep.Refused++
	}
	for i := 0; i < len(p.Ops); {
		j := i
		for j < len(p.Ops) && p.Ops[j].Seq == p.Ops[i].Seq {
			j++
		}
		for k := i; k < j; k++ {
			if err := a.run(ctx, &p.Ops[k]); err != nil {
				return res, rep, err
			}
			rep.Applied++
		}
		res = append(res, Resolution{Seq: p.Ops[i].Seq, Status: Done})
		rep.Done++
		i = j
	}
	return res, rep, nil
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
