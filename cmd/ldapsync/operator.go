package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// The operator's commands reach a running daemon through its control
// socket (the daemon holds the state directory); when none runs, they open
// the state directory and do the work themselves. Either way the same
// engine method runs, and the answer is synchronous.

// operatorFlags are the flags every operator command has.
type operatorFlags struct {
	*common
	output *string
}

func (a *app) operatorFlags(fs *flag.FlagSet) *operatorFlags {
	return &operatorFlags{common: a.commonFlags(fs), output: fs.String("output", "text", "output format: text or json")}
}

// access is what a command needs of the directory when it runs without a
// daemon.
type access int

const (
	journalOnly access = iota // the journal alone (requests)
	readDir                   // reads the directory (forecast)
	writeDir                  // changes it (lock, restore, sweep): the tree is checked first
)

// operate runs remote against the daemon when one listens, else local on
// an engine of its own.
func (a *app) operate(ctx context.Context, f *operatorFlags, need access,
	remote func(*api.Client) error, local func(*sync.Engine) error) int {
	if *f.output != "text" && *f.output != "json" {
		return a.fail(exitUsage, "--output %q: want text or json", *f.output)
	}
	l, log, now, err := a.setup(f.common)
	if err != nil {
		return a.fail(exitUsage, "%v", err)
	}
	client, err := api.Dial(l.Cfg.Sync.Socket())
	switch {
	case err == nil:
		if *f.now != "" {
			return a.fail(exitUsage, "--now cannot move a running daemon's clock: stop it to rehearse, or leave --now out")
		}
		if err := remote(client); err != nil {
			return a.fail(exitFailure, "%v", err)
		}
		return exitOK
	case !errors.Is(err, api.ErrNoDaemon):
		return a.fail(exitFailure, "%v", err)
	}
	var dir sync.Directory
	if need != journalOnly {
		c, err := dial(ctx, l.Cfg.Directory, log, false)
		if err != nil {
			return a.fail(exitFailure, "%v", err)
		}
		defer c.Close()
		dir = c
	}
	eng, err := sync.Open(sync.Options{
		Config: l.Cfg.Sync, Rules: l.Rules, Directory: dir, Layout: layout(l.Cfg.Directory),
		Now: now, Log: log.With().Str("component", "sync").Logger(), Parallel: l.Cfg.Directory.Connections,
	})
	if err != nil {
		return a.fail(exitFailure, "%v", err)
	}
	defer eng.Close()
	if need == writeDir {
		if err := eng.EnsureTree(ctx); err != nil {
			return a.fail(exitFailure, "%v", err)
		}
	}
	if err := local(eng); err != nil {
		return a.fail(exitFailure, "%v", err)
	}
	return exitOK
}

// operatorName is who runs the command, for the audit: --by, else the
// login behind sudo, else the user ($USER, $LOGNAME, or the account the
// process runs as: a root shell in a container sets none of the others).
func (a *app) operatorName(by string) string {
	for _, v := range []string{by, a.getenv("SUDO_USER"), a.getenv("USER"), a.getenv("LOGNAME")} {
		if v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func init() {
	register(&command{
		name:    "lock",
		args:    "USERNAME --reason REASON --request REF [--note TEXT]",
		summary: "Lock an account for a reason (NT 6.2.b-c): compromised, malware, spam, prohibited-use, other.",
		help: `A temporary lock: the user cannot log in; the entry, its mail address and
its application groups stay (NT 6.1: mail and documents still arrive). The
reason, note and request are written on the entry (ldapsyncLockReason,
readable only by its person and the service account) and in the audit
log with the operator (--by, else $SUDO_USER or $USER; through the daemon's
socket, also the caller's login). "ldapsync restore" lifts it.
Goes through the running daemon's control socket when it runs; otherwise
applies the lock itself. Exit status 1 when the lock was refused.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			reason := fs.String("reason", "", "why: "+strings.Join(rules.AdminLockReasons, ", "))
			note := fs.String("note", "", "free text: what was seen")
			request := fs.String("request", "", "reference of the report or request behind the lock (required)")
			by := fs.String("by", "", "the operator, for the audit (default $SUDO_USER or $USER)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 {
				fs.Usage()
				return exitUsage
			}
			act := api.Action{Type: sync.Lock, UID: fs.Arg(0), Reason: *reason, Note: *note, Request: *request, By: a.operatorName(*by)}
			return a.submit(ctx, f, act)
		},
	})
	register(&command{
		name:    "restore",
		args:    "USERNAME --request REF [--received TIME]",
		summary: "Restore a locked account (NT 6.3): unlock it with a new password in a sealed letter.",
		help: `Only for an account locked and not revoked, and not locked because the
person departed (a return event brings them back). The new password goes
into a sealed letter for the person's unit (sync.letters_dir), never to the
screen or a log; the user must change it at the next login. NT 6.3.b gives
30 working minutes (rules.lifecycle.restore_within, counted in the working
hours of rules.calendar) from the request's receipt: --received (RFC 3339,
or YYYY-MM-DDTHH:MM in rules.timezone; default now). The same request
restored twice is done once. Exit status 1 when the restore was refused.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			request := fs.String("request", "", "reference of the restore request (required)")
			received := fs.String("received", "", "when the request was received (default now)")
			by := fs.String("by", "", "the operator, for the audit (default $SUDO_USER or $USER)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 {
				fs.Usage()
				return exitUsage
			}
			act := api.Action{Type: sync.Restore, UID: fs.Arg(0), Request: *request, By: a.operatorName(*by)}
			if *received != "" {
				l, err := loadConfig(*f.config)
				if err != nil {
					return a.fail(exitUsage, "%v", err)
				}
				t, err := parseInstant(*received, l.Rules.Location)
				if err != nil {
					return a.fail(exitUsage, "--received: %v", err)
				}
				act.Received = t
			}
			return a.submit(ctx, f, act)
		},
	})
	register(&command{
		name:    "requests",
		summary: "List the open requests (account issues, restores) and when each is due.",
		help: `An account request is due 3 working days after its receipt (BTC 4;
rules.lifecycle.issue_within_days); a restore 30 working minutes after
(NT 6.3.b). Overdue ones are marked and logged by the daemon.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			var reqs []sync.Request
			code := a.operate(ctx, f, journalOnly,
				func(c *api.Client) (err error) { reqs, err = c.Requests(ctx); return err },
				func(e *sync.Engine) error { reqs = e.Requests(); return nil })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				if reqs == nil {
					reqs = []sync.Request{}
				}
				return exitCode(writeJSON(a.stdout, reqs))
			}
			if len(reqs) == 0 {
				fmt.Fprintln(a.stdout, "no open requests")
				return exitOK
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DUE\tTYPE\tWHO\tREQUEST\tEVENT\tARTICLE\t")
			for _, q := range reqs {
				mark := ""
				if q.Overdue {
					mark = "OVERDUE"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\n", q.Due.Format(time.RFC3339), q.Type, q.Who, q.Request, q.Source, q.EventID, q.Article, mark)
			}
			return exitCode(tw.Flush())
		},
	})
	register(&command{
		name:    "sweep",
		summary: "Take every lifecycle action whose time has come, once: departure locks and revocations, inactivity locks.",
		help: `Departures (NT 5.2.c) are locked and revoked once their deadlines, kept on
the entry (ldapsyncLockAt, ldapsyncRevokeAt), have passed; accounts without
activity for rules.lifecycle.inactivity (NT 6.2.a) and no leave notice
running are locked with reason "inactive". Activity is the latest of the
last login (pwdLastSuccess), activity reported by applications
(activity-*.csv in the inbox) and the last password change; an account
never used counts from the later of its creation and the day ldapsync first
saw it. The daemon sweeps by itself (sync.schedule.sweep, and when the next
deadline falls); this runs one now. --now rehearses a later day.
Like any run, a sweep that would lock or revoke more accounts than
sync.guard allows (the first one on a directory, say) applies none of
those changes: they are held ("ldapsync pending") until approved or
rejected. Exit status 1 when something was refused or held.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			dry := fs.Bool("dry-run", false, "show what is due and would be done; change nothing")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() > 0 {
				fs.Usage()
				return exitUsage
			}
			o := sync.SweepOptions{DryRun: *dry}
			var ans *api.SweepAnswer
			var sweepErr error
			need := writeDir
			if *dry {
				need = readDir
			}
			code := a.operate(ctx, f, need,
				func(c *api.Client) (err error) { ans, err = c.Sweep(ctx, o); return err },
				func(e *sync.Engine) error {
					res, err := e.Sweep(ctx, o)
					if res != nil {
						ans = api.SweepAnswerOf(res, o.DryRun)
					}
					sweepErr = err
					return nil
				})
			if code != exitOK {
				return code
			}
			if ans != nil {
				if *f.output == "json" {
					if err := writeJSON(a.stdout, ans); err != nil {
						return exitFailure
					}
				} else {
					a.printSweep(ans)
				}
			}
			if sweepErr != nil {
				return a.fail(exitFailure, "%v (what was not done stays in the journal and is retried)", sweepErr)
			}
			if ans != nil && (ans.Refused > 0 || ans.Guarded > 0) {
				return exitFailure
			}
			return exitOK
		},
	})
	register(&command{
		name:    "forecast",
		args:    "--days N",
		summary: "List who will be locked or revoked in the next N days, and which requests will miss their deadline.",
		help: `Each line names the action, the account, when it falls due and the
article behind it. Actions already due and not yet taken (no sweep since)
are listed too. --now looks ahead from another day.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			days := fs.Int("days", 30, "how many days ahead")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() > 0 || *days < 0 {
				fs.Usage()
				return exitUsage
			}
			var fc *sync.Forecast
			code := a.operate(ctx, f, readDir,
				func(c *api.Client) (err error) { fc, err = c.Forecast(ctx, *days); return err },
				func(e *sync.Engine) (err error) { fc, err = e.Forecast(ctx, *days); return err })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				if fc.Actions == nil {
					fc.Actions = []rules.Action{}
				}
				if fc.Requests == nil {
					fc.Requests = []sync.Request{}
				}
				return exitCode(writeJSON(a.stdout, fc))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "from %s to %s\n", fc.From.Format(time.RFC3339), fc.To.Format(time.RFC3339))
			fmt.Fprintln(tw, "AT\tACTION\tUID\tUNIT\tARTICLE\tWHY")
			for _, x := range fc.Actions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.At.Format(time.RFC3339), x.Kind, x.UID, x.Unit, x.Article, x.Why)
			}
			for _, q := range fc.Requests {
				fmt.Fprintf(tw, "%s\t%s due\t%s\t\t%s\trequest %s (%s/%s)\n", q.Due.Format(time.RFC3339), q.Type, q.Who, q.Article, q.Request, q.Source, q.EventID)
			}
			if len(fc.Actions)+len(fc.Requests) == 0 {
				fmt.Fprintln(tw, "(nothing)")
			}
			return exitCode(tw.Flush())
		},
	})
}

// submit sends an operator's action and prints the answer.
func (a *app) submit(ctx context.Context, f *operatorFlags, act api.Action) int {
	var res *sync.SubmitResult
	code := a.operate(ctx, f, writeDir,
		func(c *api.Client) (err error) { res, err = c.Submit(ctx, act); return err },
		func(e *sync.Engine) (err error) {
			res, err = e.Submit(ctx, sync.OperatorAction{Type: act.Type, UID: act.UID, Reason: act.Reason, Note: act.Note,
				Request: act.Request, Received: act.Received, By: act.By})
			return err
		})
	if code != exitOK {
		return code
	}
	if *f.output == "json" {
		if err := writeJSON(a.stdout, res); err != nil {
			return exitFailure
		}
	} else {
		fmt.Fprintf(a.stdout, "%s %s: %s", act.Type, act.UID, res.Status)
		if res.Reason != "" {
			fmt.Fprintf(a.stdout, " (%s)", res.Reason)
		}
		fmt.Fprintln(a.stdout)
		if len(res.Ops) > 0 {
			ops := make([]string, len(res.Ops))
			for i, o := range res.Ops {
				ops[i] = string(o)
			}
			fmt.Fprintf(a.stdout, "  operations: %s\n", strings.Join(ops, ", "))
		}
		if !res.Due.IsZero() {
			fmt.Fprintf(a.stdout, "  due (NT 6.3.b): %s\n", res.Due.Format(time.RFC3339))
		}
		if res.Letter != "" {
			fmt.Fprintf(a.stdout, "  new password sealed in %s\n", res.Letter)
		}
		fmt.Fprintf(a.stdout, "  event: %s/%s\n", sync.SourceOperator, res.EventID)
	}
	if res.Status != sync.Done {
		return exitFailure
	}
	return exitOK
}

func (a *app) printSweep(ans *api.SweepAnswer) {
	verb := "applied"
	if ans.DryRun {
		verb = "would apply (dry run)"
	}
	fmt.Fprintf(a.stdout, "%d lifecycle actions due\n", len(ans.Due))
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, x := range ans.Due {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", x.At.Format(time.RFC3339), x.Kind, x.UID, x.Article, x.Why)
	}
	tw.Flush()
	n := ans.Applied
	if ans.DryRun {
		n = len(ans.Ops)
	}
	fmt.Fprintf(a.stdout, "%s %d operations", verb, n)
	if !ans.DryRun {
		fmt.Fprintf(a.stdout, "; %d events done, %d refused", ans.Done, ans.Refused)
	}
	fmt.Fprintln(a.stdout)
	if ans.DryRun {
		for _, op := range ans.Ops {
			fmt.Fprintf(a.stdout, "  %s %s (%s): %s\n", op.Kind, op.UID, op.Article, op.Note)
		}
	}
	for _, r := range ans.Refusals {
		fmt.Fprintf(a.stderr, "refused: %s\n", r)
	}
	if ans.Guarded > 0 {
		fmt.Fprintf(a.stderr, "%d events held by the mass-change guard (hold %s): see 'ldapsync pending', then 'ldapsync approve ID --by NAME' or 'ldapsync reject ID --by NAME'\n",
			ans.Guarded, strings.Join(ans.Holds, ", "))
	}
	if !ans.Next.IsZero() {
		fmt.Fprintf(a.stdout, "next deadline: %s\n", ans.Next.Format(time.RFC3339))
	}
}

func exitCode(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitFailure
	}
	return exitOK
}
