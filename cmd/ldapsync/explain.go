package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "explain",
		args:    "USERNAME [--output json]",
		summary: "Tell an account's story: why it can or cannot log in, its state, its next deadline, every audit record about it.",
		help: `The first line answers "why can't she log in?" in one sentence. Then the
account as the directory holds it (status, lock and its reason, must
change the password, last login, password set, unit, groups, departure
and its deadlines), its next lifecycle deadline, and the audit records
about it (by username, and by its employee id) in order, with the hold
decision that let a held event run. Intents whose outcome is recorded are
left out of the text (--output json has every record). Goes through the
running daemon's control socket when it runs; otherwise reads the
directory and the audit log itself. Exit status 1 for an unknown username.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 {
				fs.Usage()
				return exitUsage
			}
			uid := fs.Arg(0)
			var x *sync.Explanation
			var loc *time.Location
			code := a.operate(ctx, f, readDir,
				func(c *api.Client) (err error) { x, err = c.Explain(ctx, uid); return err },
				func(e *sync.Engine) (err error) { loc = e.Rules().Location; x, err = e.Explain(ctx, uid); return err })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				return exitCode(writeJSON(a.stdout, x))
			}
			if loc == nil {
				loc = x.At.Location() // the daemon's answer: At is in rules.timezone
				if l, err := loadConfig(*f.config); err == nil {
					loc = l.Rules.Location
				}
			}
			return exitCode(printExplanation(a.stdout, x, loc))
		},
	})
}

// printExplanation writes x for people.
func printExplanation(w io.Writer, x *sync.Explanation, loc *time.Location) error {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format(time.RFC3339)
	}
	fmt.Fprintln(w, x.Answer)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if s := x.State; s != nil {
		fmt.Fprintf(tw, "entry\t%s\n", s.DN)
		fmt.Fprintf(tw, "employee\t%s\n", dash(s.EmployeeID))
		name := s.Name
		if s.Mail != "" {
			name = strings.TrimSpace(name + " <" + s.Mail + ">")
		}
		fmt.Fprintf(tw, "name\t%s\n", dash(name))
		fmt.Fprintf(tw, "unit\t%s\n", dash(s.Unit))
		fmt.Fprintf(tw, "title\t%s\n", dash(s.Title))
		status := s.Status
		if status == "" {
			status = "not managed by ldapsync"
		}
		if s.ActiveGroup {
			status += ", in the active group"
		} else {
			status += ", not in the active group"
		}
		fmt.Fprintf(tw, "status\t%s\n", status)
		lock := "no"
		if s.Locked {
			lock = "yes: " + dash(s.LockReason)
			if !s.LockedSince.IsZero() {
				lock += " (since " + ts(s.LockedSince) + ")"
			}
		}
		fmt.Fprintf(tw, "locked\t%s\n", lock)
		if s.Revoked {
			fmt.Fprintf(tw, "revoked\t%s\n", ts(s.RevokedAt))
		}
		fmt.Fprintf(tw, "must change password\t%v\n", s.MustChange)
		fmt.Fprintf(tw, "password set\t%s\n", ts(s.PasswordChanged))
		fmt.Fprintf(tw, "last login\t%s\n", ts(s.LastLogin))
		if !s.LastActive.IsZero() {
			fmt.Fprintf(tw, "last activity reported\t%s\n", ts(s.LastActive))
		}
		if !s.Created.IsZero() {
			fmt.Fprintf(tw, "created\t%s\n", ts(s.Created))
		}
		fmt.Fprintf(tw, "groups\t%s\n", dash(strings.Join(s.Groups, ", ")))
		dep := "none"
		if s.Departure != "" {
			dep = fmt.Sprintf("%s effective %s (event %s)", s.Departure, s.DepartureDate, s.DepartureEvent)
		}
		fmt.Fprintf(tw, "departure\t%s\n", dep)
		if !s.LockAt.IsZero() {
			fmt.Fprintf(tw, "lock at\t%s\n", ts(s.LockAt))
		}
		if !s.RevokeAt.IsZero() {
			fmt.Fprintf(tw, "revoke at\t%s\n", ts(s.RevokeAt))
		}
		if !s.LeaveUntil.IsZero() {
			fmt.Fprintf(tw, "on leave until\t%s\n", s.LeaveUntil)
		}
	} else {
		fmt.Fprintf(tw, "entry\tnone in the directory\n")
	}
	next := "none"
	if n := x.Next; n != nil {
		next = fmt.Sprintf("%s at %s (%s): %s", n.Kind, ts(n.At), n.Article, n.Why)
	}
	fmt.Fprintf(tw, "next deadline\t%s\n", next)
	if err := tw.Flush(); err != nil {
		return err
	}

	closed := map[uint64]bool{}
	for _, r := range x.History {
		if r.Intent != 0 {
			closed[r.Intent] = true
		}
	}
	fmt.Fprintf(w, "\nhistory (%d audit records)\n", len(x.History))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTION\tEVENT\tREASON\tARTICLE\tBY\tDETAIL")
	for _, r := range x.History {
		if r.Action == sync.ActionIntent && closed[r.Seq] {
			continue
		}
		action := r.Action
		if r.Op != "" {
			action += " " + r.Op
		}
		event := r.EventID
		if r.Source != "" {
			event = r.Source + "/" + r.EventID
		}
		by := r.RequestedBy
		if p := r.Approval; p != nil {
			by = strings.TrimSpace(by + fmt.Sprintf(" (hold %s %s by %s)", p.Hold, p.Status, p.By))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, ts(r.Time), action, dash(event), dash(r.Reason),
			dash(r.Article), dash(by), sync.DetailString(r.Detail))
	}
	return tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
