package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "apply",
		args:    "FILE...",
		summary: "Apply personnel files (CSV or JSON Lines) once, as the daemon would, and exit.",
		help: `Each file is read, its valid rows journaled and applied; rejected rows are
reported on stderr with file, line and field, and written with their reasons
to the inbox's rejected/ directory, where they can be fixed and resubmitted.
The files themselves are left where they are. Rows already received are not
applied again. First passwords go only into sealed letters (sync.letters_dir).
Refuses to run while the daemon holds the state directory: drop files into
its inbox instead.

Exit status: 0 all applied, 1 something was rejected or failed, 2 usage or
config error.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			c := a.commonFlags(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() == 0 {
				fs.Usage()
				return exitUsage
			}
			l, log, now, err := a.setup(c)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			dir, err := dial(ctx, l.Cfg.Directory, log, false)
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer dir.Close()
			eng, err := sync.Open(sync.Options{
				Config: l.Cfg.Sync, Rules: l.Rules, Directory: dir, Layout: layout(l.Cfg.Directory),
				Now: now, Log: log.With().Str("component", "sync").Logger(), Parallel: l.Cfg.Directory.Connections,
				AfterWrite: a.pauseAfterWrites(),
			})
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer eng.Close()
			if err := eng.EnsureTree(ctx); err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			code := exitOK
			for _, path := range fs.Args() {
				res, err := eng.IngestFile(path)
				var fe *sync.FileError
				switch {
				case errors.As(err, &fe):
					fmt.Fprintf(a.stderr, "%v\n", err)
					code = exitFailure
					continue
				case err != nil:
					return a.fail(exitFailure, "%v", err)
				}
				for _, r := range res.Rejected {
					fmt.Fprintln(a.stderr, r.Error())
				}
				fmt.Fprintf(a.stdout, "%s: %d new, %d already received, %d rejected\n", path, res.Added, res.Duplicates, len(res.Rejected))
				if res.RejectedPath != "" {
					fmt.Fprintf(a.stdout, "  rejected rows, with reasons, in %s\n", res.RejectedPath)
					code = exitFailure
				}
			}
			plan, rep, err := eng.Process(ctx)
			if plan != nil {
				for _, o := range plan.Refused {
					fmt.Fprintf(a.stderr, "%s: event %s refused: %s\n", o.Event.Origin.File, o.Event.ID, o.Reason)
				}
			}
			if rep.Refused > 0 {
				code = exitFailure // refused by the planner or by the directory; see rejected/refused-*.jsonl
			}
			fmt.Fprintf(a.stdout, "%d operations applied; %d events done, %d refused, %d waiting for their effective date\n",
				rep.Applied, rep.Done, rep.Refused, rep.Held)
			if rep.Refused > 0 {
				fmt.Fprintf(a.stdout, "  refused events, with reasons, in %s\n", filepath.Join(l.Cfg.Sync.InboxDir(), "rejected"))
			}
			fmt.Fprintf(a.stdout, "credential letters: %s\n", l.Cfg.Sync.Letters())
			if err != nil {
				return a.fail(exitFailure, "%v (the unfinished events stay in the journal and are retried by the next apply or run)", err)
			}
			return code
		},
	})
}
