package main

import (
	"context"
	"flag"

	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "run",
		summary: "Run the daemon: watch the inbox and keep the directory in step.",
		help: `Scans sync.inbox.dir every sync.inbox.poll for .csv and .jsonl files,
journals their events, and applies them to the directory. A file leaves the
inbox for done/ once its events are journaled; its rejected rows go to
rejected/ with the reasons. Events not yet effective wait in the journal
until 00:00 of their effective date (rules.timezone). When the directory is
unreachable, events wait in the journal and are retried with back-off.
SIGINT or SIGTERM stop it cleanly.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			c := a.commonFlags(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() > 0 {
				fs.Usage()
				return exitUsage
			}
			l, log, now, err := a.setup(c)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			log.Info().Str("version", buildVersion()).Str("config", l.Path).Str("directory", l.Cfg.Directory.URL).Msg("ldapsync starting")
			dir, err := dial(ctx, l.Cfg.Directory, log, true)
			if err != nil {
				if ctx.Err() != nil {
					return exitOK
				}
				return a.fail(exitFailure, "%v", err)
			}
			defer dir.Close()
			eng, err := sync.Open(sync.Options{
				Config: l.Cfg.Sync, Rules: l.Rules, Directory: dir, Layout: l.Cfg.Directory,
				Now: now, Log: log.With().Str("component", "sync").Logger(), Parallel: l.Cfg.Directory.Connections,
			})
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer eng.Close()
			if err := eng.Run(ctx); err != nil {
				log.Error().Err(err).Msg("daemon stopped")
				return exitFailure
			}
			log.Info().Msg("ldapsync stopped")
			return exitOK
		},
	})
}
