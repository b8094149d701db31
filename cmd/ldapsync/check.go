package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "config",
		args:    "check",
		summary: "Check a config file and report every problem at once, each with its YAML path and line.",
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
			fmt.Fprintf(a.stdout, "%s: OK (%d units, %d applications, password profile %s)\n",
				*path, len(l.Rules.Units.All()), len(l.Rules.Applications), l.Rules.Config.Password.Profile)
			return exitOK
		},
	})
	register(&command{
		name:    "audit",
		args:    "verify [FILE]",
		summary: "Verify the hash chain of the audit log (default: <sync.state_dir>/audit.jsonl) and print its head.",
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
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
