package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// deadlineKinds are the deadlines command's subcommands and the flags each
// takes besides --config and --output.
var deadlineKinds = map[string][]string{
	"departure":  {"effective", "leader"},
	"inactivity": {"last-active", "leave-until", "created"},
	"restore":    {"received"},
	"issue":      {"received"},
}

func init() {
	register(&command{
		name: "deadlines",
		args: "departure|inactivity|restore|issue",
		summary: "Compute a lifecycle deadline offline from the config's rules and calendar: departure lock and " +
			"revocation (NT 5.2.c), inactivity lock (NT 6.2.a), restore (NT 6.3.b), issue (BTC 4).",
		help: `  ldapsync deadlines departure --effective 2026-03-15 [--leader]     lock_at, revoke_at
  ldapsync deadlines inactivity --last-active 2026-01-10 [--created D] [--leave-until D]
                                                                      lock_at
  ldapsync deadlines restore --received 2026-04-24T16:50              due
  ldapsync deadlines issue --received 2026-04-24T09:00                due

Times are printed in RFC 3339 in rules.timezone; a deadline is the instant
the period has ended (2026-09-16T00:00:00+07:00 is the end of 15/9).
Dates are YYYY-MM-DD or DD/MM/YYYY. --received is RFC 3339, or
"YYYY-MM-DDTHH:MM" or "YYYY-MM-DD HH:MM" in rules.timezone. --last-active
and --created take a date (00:00 of that day) or a time like --received.

--output json prints one object with the keys above.

Exit status: 0 computed, 2 usage, input or config error.`,
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			output := fs.String("output", "text", "output format: text, or json (one object)")
			effective := fs.String("effective", "", "departure: the departure's effective date")
			leader := fs.Bool("leader", false, "departure: the person is a leader in the sense of NT 5.2.c")
			lastActive := fs.String("last-active", "", "inactivity: the account's last activity (login, application, password change)")
			created := fs.String("created", "", "inactivity: when the account was created, for an account never used")
			leaveUntil := fs.String("leave-until", "", "inactivity: the last day of a notified absence")
			received := fs.String("received", "", "restore, issue: when the request was received")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 || deadlineKinds[fs.Arg(0)] == nil || (*output != "text" && *output != "json") {
				fs.Usage()
				return exitUsage
			}
			kind := fs.Arg(0)
			var stray []string
			fs.Visit(func(f *flag.Flag) {
				if f.Name != "config" && f.Name != "output" && !slices.Contains(deadlineKinds[kind], f.Name) {
					stray = append(stray, "--"+f.Name)
				}
			})
			if len(stray) > 0 {
				return a.fail(exitUsage, "deadlines %s: %s does not apply (flags: --%s)", kind, strings.Join(stray, ", "), strings.Join(deadlineKinds[kind], ", --"))
			}
			l, err := loadConfig(*path)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			r := l.Rules
			var out []deadline
			switch kind {
			case "departure":
				d, err := requiredDate("--effective", *effective)
				if err != nil {
					return a.fail(exitUsage, "deadlines departure: %v", err)
				}
				rule, name := r.Lifecycle.Staff, "staff"
				if *leader {
					rule, name = r.Lifecycle.Leader, "leader"
				}
				lockAt, revokeAt := r.DepartureDeadlines(d, *leader)
				out = []deadline{
					{"lock_at", lockAt, fmt.Sprintf("NT 5.2.c, %s: locked %s", name, after(rule.Lock, "the effective date "+d.String()))},
					{"revoke_at", revokeAt, fmt.Sprintf("NT 5.2.c, %s: revoked %s", name, after(rule.Revoke, "the effective date "+d.String()))},
				}
			case "inactivity":
				var acct rules.Account
				var err error
				if *lastActive == "" && *created == "" {
					return a.fail(exitUsage, "deadlines inactivity: --last-active or --created is required")
				}
				if acct.Lifecycle.LastActive, err = parseDayOrTime(*lastActive, r.Location); err != nil {
					return a.fail(exitUsage, "deadlines inactivity: --last-active: %v", err)
				}
				if acct.Created, err = parseDayOrTime(*created, r.Location); err != nil {
					return a.fail(exitUsage, "deadlines inactivity: --created: %v", err)
				}
				if *leaveUntil != "" {
					if acct.Lifecycle.LeaveUntil, err = rules.ParseDate(*leaveUntil); err != nil {
						return a.fail(exitUsage, "deadlines inactivity: --leave-until: %v", err)
					}
				}
				lockAt, basis := r.InactivityLockAt(&acct)
				// The command's one kind of activity is --last-active.
				basis = strings.Replace(basis, "last activity reported by applications", "last activity", 1)
				why := fmt.Sprintf("NT 6.2.a: %s without activity; %s", r.Lifecycle.Inactivity, basis)
				if r.Lifecycle.Inactivity.IsZero() {
					why = "NT 6.2.a: off (rules.lifecycle.inactivity is 0)"
				}
				out = []deadline{{"lock_at", lockAt, why}}
			case "restore", "issue":
				t, err := parseInstant(*received, r.Location)
				if err == nil && t.IsZero() {
					err = fmt.Errorf("required")
				}
				if err != nil {
					return a.fail(exitUsage, "deadlines %s: --received: %v", kind, err)
				}
				if kind == "restore" {
					out = []deadline{{"due", r.RestoreDue(t), "NT 6.3.b: restored within " + workingTime(r.Lifecycle.RestoreWithin.Std())}}
				} else {
					out = []deadline{{"due", r.IssueDue(t), fmt.Sprintf("BTC 4: issued within %d working days", r.Lifecycle.IssueWithinDays)}}
				}
			}
			return a.printDeadlines(out, *output, r.Location)
		},
	})
}

// deadline is one line of the deadlines command's output.
type deadline struct {
	key string
	at  time.Time // zero: never
	why string    // the article behind it, for the text output
}

func (a *app) printDeadlines(out []deadline, output string, loc *time.Location) int {
	stamp := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	if output == "json" {
		obj := map[string]any{}
		for _, d := range out {
			obj[d.key] = nil
			if !d.at.IsZero() {
				obj[d.key] = stamp(d.at)
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return a.fail(exitFailure, "%v", err)
		}
		fmt.Fprintf(a.stdout, "%s\n", b)
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, d := range out {
		at := "never"
		if !d.at.IsZero() {
			at = stamp(d.at)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.key, at, d.why)
	}
	tw.Flush()
	return exitOK
}

// after says when a period counted from what ends, for people.
func after(p rules.Period, what string) string {
	if p.IsZero() {
		return "at once, from " + what
	}
	return p.String() + " after " + what
}

// workingTime writes a working-time limit as the regulations do: "30
// working minutes".
func workingTime(d time.Duration) string {
	if d%time.Minute == 0 {
		return plural(int(d/time.Minute), "working minute")
	}
	return d.String() + " of working time"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func requiredDate(name, s string) (rules.Date, error) {
	if s == "" {
		return rules.Date{}, fmt.Errorf("%s is required", name)
	}
	d, err := rules.ParseDate(s)
	if err != nil {
		return rules.Date{}, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// localLayouts are the wall-clock forms --received takes besides RFC 3339.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// parseInstant reads RFC 3339, or a date and time on the wall clock of loc;
// "" is the zero time.
func parseInstant(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339 or YYYY-MM-DDTHH:MM (in rules.timezone)", s)
}

// parseDayOrTime reads a time as parseInstant does, or a date as 00:00 of
// that day in loc; "" is the zero time.
func parseDayOrTime(s string, loc *time.Location) (time.Time, error) {
	if strings.ContainsAny(s, ":") {
		return parseInstant(s, loc)
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	d, err := rules.ParseDate(s)
	if err != nil {
		return time.Time{}, err
	}
	return d.In(loc), nil
}
