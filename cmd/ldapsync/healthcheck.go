package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ldapsync/ldapsync/api"
)

func init() {
	register(&command{
		name:    "healthcheck",
		summary: "Exit 0 when the daemon of this config answers on its control socket (for a container's HEALTHCHECK).",
		help: `Asks the running daemon, through <sync.state_dir>/control.sock, for its
open requests, with a 5-second limit: an answer means the daemon is alive
and serving. Exit status 1, with the reason on stderr, otherwise. It needs
no token and no network; /healthz and /readyz on the HTTP API (api.listen)
serve the same purpose from outside.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			l, err := loadConfig(*path)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			c, err := api.Dial(l.Cfg.Sync.Socket())
			if err != nil {
				return a.fail(exitFailure, "unhealthy: %v", err)
			}
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := c.Requests(ctx); err != nil {
				return a.fail(exitFailure, "unhealthy: %v", err)
			}
			fmt.Fprintln(a.stdout, "healthy")
			return exitOK
		},
	})
}
