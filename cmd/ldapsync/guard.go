package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "pending",
		summary: "List the changes the mass-change guard holds for an operator, with counts by kind and a sample.",
		help: `A run that would lock, revoke, move or rename more accounts than
sync.guard allows (max_count, max_percent) applies none of those changes;
every departure a roster suggests is held too. Each hold has an id:
"ldapsync approve ID --by NAME" lets it run, "ldapsync reject ID --by NAME"
drops it. --all lists decided holds too.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			all := fs.Bool("all", false, "list approved and rejected holds too")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			status := sync.HoldPending
			if *all {
				status = ""
			}
			var holds []sync.Hold
			code := a.operate(ctx, f, journalOnly,
				func(c *api.Client) (err error) { holds, err = c.Holds(ctx, status); return err },
				func(e *sync.Engine) error { holds = e.Holds(status); return nil })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				if holds == nil {
					holds = []sync.Hold{}
				}
				return exitCode(writeJSON(a.stdout, holds))
			}
			if len(holds) == 0 {
				fmt.Fprintln(a.stdout, "nothing held")
				return exitOK
			}
			for _, h := range holds {
				var counts []string
				for _, k := range slices.Sorted(maps.Keys(h.Counts)) {
					counts = append(counts, fmt.Sprintf("%s %d", k, h.Counts[k]))
				}
				fmt.Fprintf(a.stdout, "%s  %s  %d events: %s\n", h.ID, h.Status, len(h.Events), strings.Join(counts, ", "))
				fmt.Fprintf(a.stdout, "  held %s: %s\n", h.Created.Format(time.RFC3339), h.Reason)
				if h.By != "" {
					fmt.Fprintf(a.stdout, "  %s by %s at %s\n", h.Status, h.By, h.Decided.Format(time.RFC3339))
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				for _, x := range h.Sample {
					fmt.Fprintf(tw, "  - %s\n", x)
				}
				tw.Flush()
			}
			return exitOK
		},
	})
	for _, verb := range []string{"approve", "reject"} {
		summary := "Let the changes of a hold run: re-planned against the directory as it is now, held again if they grew."
		if verb == "reject" {
			summary = "Drop the changes of a hold: they never run; the audit log says who decided."
		}
		register(&command{
			name:    verb,
			args:    "ID --by NAME",
			summary: summary,
			help: `The decision is recorded in the audit log with who made it (--by, and,
through the daemon's socket, the caller's login). Goes through the running
daemon when it runs.`,
			run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
				f := a.operatorFlags(fs)
				by := fs.String("by", "", "who decides (required)")
				if code := a.parse(fs, args); code >= 0 {
					return code
				}
				if fs.NArg() != 1 || *by == "" {
					fs.Usage()
					return exitUsage
				}
				id := fs.Arg(0)
				var rep *sync.Report
				code := a.operate(ctx, f, writeDir,
					func(c *api.Client) (err error) { rep, err = c.Decide(ctx, id, verb, *by); return err },
					func(e *sync.Engine) (err error) {
						if verb == "approve" {
							rep, err = e.Approve(ctx, id, *by)
						} else {
							rep, err = e.Reject(ctx, id, *by)
						}
						return err
					})
				if code != exitOK {
					return code
				}
				if *f.output == "json" {
					return exitCode(writeJSON(a.stdout, rep))
				}
				fmt.Fprintf(a.stdout, "hold %s %s by %s; %d operations applied, %d events done, %d refused\n",
					id, map[string]string{"approve": "approved", "reject": "rejected"}[verb], *by, rep.Applied, rep.Done, rep.Refused)
				if rep.Guarded > 0 {
					fmt.Fprintf(a.stdout, "  the changes grew since they were held: held again as %s\n", strings.Join(rep.Holds, ", "))
					return exitFailure
				}
				return exitOK
			},
		})
	}
	register(&command{
		name:    "reconcile",
		args:    "ROSTER",
		summary: "Compare a roster (the whole staff list) with the directory and apply the events it derives.",
		help: `A roster lists everyone employed: the columns of a personnel file without
event_id and type (effective optional: the day of receipt). New employees
are hired, changed units transferred, changed titles or leader flags and
names updated, departed people listed again returned. People the roster no
longer lists get a departure that is never applied without an operator's
confirmation ("ldapsync pending", "ldapsync approve"). The derived events'
ids come from the roster's content, so the same roster twice changes
nothing. A roster listing fewer people than sync.guard.min_roster_ratio of
the accounts is refused whole. Goes through the running daemon when it runs
(it reads the file itself). Files named roster*.csv or roster*.jsonl
dropped into the inbox are reconciled the same way.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 {
				fs.Usage()
				return exitUsage
			}
			path, err := filepath.Abs(fs.Arg(0))
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			var ans *api.ReconcileAnswer
			code := a.operate(ctx, f, writeDir,
				func(c *api.Client) (err error) { ans, err = c.Reconcile(ctx, path); return err },
				func(e *sync.Engine) (err error) { ans, err = api.Reconcile(ctx, e, path); return err })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				return exitCode(writeJSON(a.stdout, ans))
			}
			for _, r := range ans.Rejected {
				fmt.Fprintln(a.stderr, r)
			}
			var derived []string
			for _, k := range slices.Sorted(maps.Keys(ans.Derived)) {
				derived = append(derived, fmt.Sprintf("%s %d", k, ans.Derived[k]))
			}
			fmt.Fprintf(a.stdout, "%s: %d people listed, %d rejected; %d new events (%s), %d already received\n",
				path, ans.Rows, len(ans.Rejected), ans.Added, strings.Join(derived, ", "), ans.Duplicates)
			fmt.Fprintf(a.stdout, "%d operations applied; %d events done, %d refused, %d held by the guard\n",
				ans.Report.Applied, ans.Report.Done, ans.Report.Refused, ans.Report.Guarded)
			if ans.Report.Guarded > 0 {
				fmt.Fprintf(a.stdout, "  held: %s (ldapsync pending; ldapsync approve ID --by NAME)\n", strings.Join(ans.Report.Holds, ", "))
			}
			if len(ans.Rejected) > 0 || ans.Report.Refused > 0 {
				return exitFailure
			}
			return exitOK
		},
	})
}
