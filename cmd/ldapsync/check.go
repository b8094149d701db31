package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

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
reordered record breaks the chain; the error names the first one. Record
the printed head somewhere else now and then: a chain rewritten from the
start would verify, but would not end in a head you recorded.
"ldapsync audit export --help" describes the export.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			// export has flags of its own.
			if len(args) > 0 && args[0] == "export" {
				return a.auditExport(ctx, args[1:])
			}
			path := a.configFlag(fs)
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
			f, err := os.Open(file)
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer f.Close()
			n, head, err := sync.VerifyAudit(f)
			if err != nil {
				return a.fail(exitFailure, "audit %s: %v (the %d records before it are intact)", file, err, n)
			}
			fmt.Fprintf(a.stdout, "%s: %d records, chain intact, head %s\n", file, n, head)
			return exitOK
		},
	})
}
