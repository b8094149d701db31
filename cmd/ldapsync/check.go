package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "config",
		args:    "check",
		summary: "Check a config file: every problem at once, with its YAML path and line.",
		help: `Also checks that the bind password can be read from its file or
environment variable (the value is never printed), and warns on stderr,
exit status still 0, when the public holidays of rules.calendar run out
within 60 days.`,
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 || fs.Arg(0) != "check" {
				fs.Usage()
				return exitUsage
			}
			l, err := loadConfig(*path)
			if err != nil {
				fmt.Fprintln(a.stderr, err)
				return exitFailure
			}
			if _, err := l.Cfg.Directory.BindPassword.Load(); err != nil {
				fmt.Fprintf(a.stderr, "config %s:\ndirectory.bind_password: %v\n", *path, err)
				return exitFailure
			}
			// The CLI's own clock: a warning, not a failure, since the
			// config is valid; the deadlines past the holidays are not.
			if w := l.Rules.CalendarWarning(time.Now()); w != "" {
				fmt.Fprintf(a.stderr, "%s: warning: %s\n", *path, w)
			}
			fmt.Fprintf(a.stdout, "%s: OK (%d units, %d applications, password profile %s)\n",
				*path, len(l.Rules.Units.All()), len(l.Rules.Applications), l.Rules.Config.Password.Profile)
			return exitOK
		},
	})
	register(&command{
		name:    "audit",
		args:    "verify [FILE] | export --from DATE --to DATE [--format csv|json] [--unit UNIT] [FILE]",
		summary: "Verify the hash chain of the audit log and print its head, or export a period of it.",
		help: `FILE defaults to <sync.state_dir>/audit.jsonl. Any changed, removed or
reordered record breaks the chain; the error names the first one. The
daemon also anchors the head in the directory after each run (the entry
cn=ldapsync-audit-anchor under the policies container): verify then checks
that the log still holds the anchored record with the anchored hash, which
catches a log whose tail was cut, or one rewritten from the start. With
the directory unreachable it says so and checks the file alone
(--anchor=false skips it).
"ldapsync audit export --help" describes the export.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			// export has flags of its own.
			if len(args) > 0 && args[0] == "export" {
				return a.auditExport(ctx, args[1:])
			}
			path := a.configFlag(fs)
			anchor := fs.Bool("anchor", true, "also compare the log with the head anchored in the directory (catches a cut tail)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() < 1 || fs.NArg() > 2 || fs.Arg(0) != "verify" {
				fs.Usage()
				return exitUsage
			}
			file := fs.Arg(1)
			if file == "" {
				l, err := loadConfig(*path)
				if err != nil {
					fmt.Fprintln(a.stderr, err)
					return exitUsage
				}
				file = sync.AuditPath(l.Cfg.Sync)
			}
			if _, err := os.Stat(file); err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			n, head, err := sync.VerifyAuditLog(file)
			if err != nil {
				return a.fail(exitFailure, "audit %s: %v (the %d records before it are intact)", file, err, n)
			}
			fmt.Fprintf(a.stdout, "%s: %d records, chain intact, head %s\n", file, n, head)
			if *anchor {
				return a.checkAnchor(ctx, *path, file)
			}
			return exitOK
		},
	})
}

// checkAnchor compares the audit log with the head the daemon anchored in
// the directory. The directory unreachable is said, and not a failure:
// the file itself verified.
func (a *app) checkAnchor(ctx context.Context, config, file string) int {
	l, err := loadConfig(config)
	if err != nil {
		fmt.Fprintf(a.stderr, "anchor not checked: %v\n", err)
		return exitOK
	}
	dir, err := dial(ctx, l.Cfg.Directory, zerolog.Nop(), false)
	if err != nil {
		fmt.Fprintf(a.stderr, "anchor not checked: %v\n", err)
		return exitOK
	}
	defer dir.Close()
	seq, head, ok, err := dir.ReadAuditAnchor(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "anchor not checked: %v\n", err)
		return exitOK
	case !ok:
		fmt.Fprintln(a.stdout, "no anchor in the directory yet")
		return exitOK
	}
	if err := sync.CheckAnchor(file, seq, head); err != nil {
		return a.fail(exitFailure, "%v", err)
	}
	fmt.Fprintf(a.stdout, "anchor: record %d matches the directory's\n", seq)
	return exitOK
}
