package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "plan",
		args:    "FILE...",
		summary: "Print what applying personnel files would do, and change nothing.",
		help: `Reads the files and the directory and prints the operations the daemon
would run for them: the usernames it would allocate, the letters it would
write, the events it would hold until their effective date. A roster
(roster*.csv, roster*.jsonl) is compared with the directory and the events
it derives are planned (reconcile applies them); the departures it suggests
are listed, since they always wait for an operator. An LDIF export of
another directory (two provinces merging) is checked for usernames and mail
addresses this one holds: every collision is listed with a ladder name free
on both sides for the incoming person, the old address to keep as an
alias. Renaming at a merger stays a manual, reviewed step. It plans the
files' events alone, against the directory as it is now: events a running
daemon has received but not yet applied (held until their effective date,
or waiting for the directory) are not taken into account, and may take a
username first. Nothing is written: not the directory, not the journal, not
a letter. Rejected rows are reported on stderr with file, line and field.

--output json prints one JSON object a line: operations have an "op" key;
events needing none have a "status" key (pending: held until "until";
done: nothing to do; failed: refused, with the reason).

Exit status: 0 planned, 1 rows rejected or the directory unreachable,
2 usage or config error.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			c := a.commonFlags(fs)
			output := fs.String("output", "table", "output format: table, or json (one object a line)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() == 0 || (*output != "table" && *output != "json") {
				fs.Usage()
				return exitUsage
			}
			l, log, now, err := a.setup(c)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			code := exitOK
			var entries []sync.Entry
			var rosters []*sync.Roster
			var incoming []rules.Account
			for _, path := range fs.Args() {
				data, err := os.ReadFile(path)
				if err != nil {
					return a.fail(exitFailure, "%v", err)
				}
				if strings.EqualFold(filepath.Ext(path), ".ldif") {
					people, err := directory.ReadPeopleLDIF(bytes.NewReader(data))
					if err != nil {
						return a.fail(exitFailure, "%s: %v", path, err)
					}
					incoming = append(incoming, people...)
					continue
				}
				if sync.IsRoster(path) {
					ro, err := sync.ParseRoster(path, data, l.Rules, now(), sync.WithHeaders(l.Cfg.Sync.Inbox.Headers))
					if err != nil {
						fmt.Fprintln(a.stderr, err)
						code = exitFailure
						continue
					}
					for _, r := range ro.Batch.Rejected {
						fmt.Fprintln(a.stderr, r.Error())
						code = exitFailure
					}
					rosters = append(rosters, ro)
					continue
				}
				b, err := sync.Parse(path, data, sync.SourceInbox, l.Rules, now(), sync.WithHeaders(l.Cfg.Sync.Inbox.Headers))
				var fe *sync.FileError
				if errors.As(err, &fe) {
					fmt.Fprintln(a.stderr, err)
					code = exitFailure
					continue
				}
				for _, w := range b.Warnings {
					fmt.Fprintf(a.stderr, "%s: warning: %s\n", path, w)
				}
				for _, r := range b.Rejected {
					fmt.Fprintln(a.stderr, r.Error())
					code = exitFailure
				}
				for _, ev := range b.Events {
					entries = append(entries, sync.Entry{Seq: uint64(len(entries) + 1), Event: ev, Status: sync.Pending})
				}
			}
			dir, err := dial(ctx, l.Cfg.Directory, log, false)
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer dir.Close()
			snap, err := dir.Snapshot(ctx)
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			for _, ro := range rosters {
				if err := sync.RosterTooShort(ro, snap, l.Cfg.Sync.Guard); err != nil {
					fmt.Fprintf(a.stderr, "%s: %v\n", ro.File, err)
					code = exitFailure
					continue
				}
				derived := sync.Reconcile(ro, snap, nil, l.Rules, now())
				fmt.Fprintf(a.stderr, "%s: %d people listed; %d events derived\n", ro.File, len(ro.Rows), len(derived))
				for _, ev := range derived {
					if ev.Type == sync.RosterDeparture {
						fmt.Fprintf(a.stderr, "  employee %s is no longer listed: a departure that waits for an operator's approval\n", ev.EmployeeID)
					}
					entries = append(entries, sync.Entry{Seq: uint64(len(entries) + 1), Event: ev, Status: sync.Pending})
				}
			}
			if len(incoming) > 0 {
				a.printCollisions(sync.Collisions(incoming, snap, l.Rules), len(incoming))
			}
			planner := &sync.Planner{Rules: l.Rules, Layout: layout(l.Cfg.Directory)}
			plan := planner.Plan(entries, snap, now())
			if *output == "json" {
				err = plan.WriteJSON(a.stdout)
			} else {
				err = plan.WriteTable(a.stdout)
				if err == nil {
					fmt.Fprintf(a.stdout, "\n%d operations planned. Nothing was changed.\n", len(plan.Ops))
				}
			}
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			return code
		},
	})
}

// printCollisions prints a merger's collisions.
func (a *app) printCollisions(cs []sync.Collision, n int) {
	fmt.Fprintf(a.stdout, "merger check: %d people incoming, %d collide with this directory\n", n, len(cs))
	if len(cs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INCOMING\tNAME\tCOLLIDES ON\tHELD HERE BY\tPROPOSED\tKEEP AS ALIAS")
	for _, c := range cs {
		proposed := c.Proposed
		if proposed == "" {
			proposed = "(none: " + c.Problem + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\n", c.DN, c.Name, c.Kind, c.UID, c.Holder, proposed, c.Alias)
	}
	tw.Flush()
	fmt.Fprintln(a.stdout)
}
