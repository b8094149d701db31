package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/metrics"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "run",
		summary: "Run the daemon: watch the inbox and keep the directory in step.",
		help: `Scans sync.inbox.dir every sync.inbox.poll for .csv and .jsonl files,
journals their events, and applies them to the directory. A file is read
once its size, modification time and change time have not changed for
sync.inbox.settle. It is first moved into processing/, so a file written to
the same name meanwhile is read in its own turn, and leaves processing/ for
done/ once its events are journaled; its rejected rows go to rejected/ with
the reasons. Files a crash left in processing/ are read again at start-up;
events already journaled are not added twice. Events not yet effective
wait in the journal until 00:00 of their effective date (rules.timezone).
When the directory is unreachable, events wait in the journal and are
retried with back-off. Lifecycle deadlines are swept on sync.schedule.sweep,
when the next one falls, and after each batch that changed accounts.
Every sync.activation.poll it looks for pending accounts (new or restored,
outside the active group) whose user has changed the password of the
letter, and activates them: they join the active group applications
filter on.
Operator commands (lock, restore, requests, sweep, forecast, pending,
approve, reject, reconcile, adopt, explain, letters done) reach the daemon
through sync.control_socket (default <sync.state_dir>/control.sock, mode
0600). With api.listen set it also serves the HTTP API (tokens and roles,
/healthz, /readyz, /metrics) and, with api.password_page.enabled, the
self-service password page at /password, where people change their own
password under the password profile in force (api.password_page.url is
printed in every credential letter). With a second instance against the
same directory, only the holder of the lease (sync.lease) works; the other
stands by and takes over when the lease is not renewed. Under systemd it
says READY=1 once the directory is reached, pings the watchdog while its
loop goes round, and says STOPPING=1 on the way out.
SIGINT or SIGTERM stop it cleanly. SIGHUP reloads the config file: if it is
valid, its rules (units, usernames, password profile, applications) take
effect from the next batch and the directory tree is brought in line; the
directory, sync, api and log sections take effect at the next restart. If
it is not valid, the running config stays and the problems are logged.`,
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
			sd := newNotifier(a.getenv, log.With().Str("component", "systemd").Logger())
			dir, err := dial(ctx, l.Cfg.Directory, log, true)
			if err != nil {
				if ctx.Err() != nil {
					return exitOK
				}
				return a.fail(exitFailure, "%v", err)
			}
			defer dir.Close()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			m := metrics.New(reg)
			dir.SetObserver(m.LDAP)
			eng, err := sync.Open(sync.Options{
				Config: l.Cfg.Sync, Rules: l.Rules, Directory: dir, Layout: layout(l.Cfg.Directory),
				Now: now, Log: log.With().Str("component", "sync").Logger(), Parallel: l.Cfg.Directory.Connections,
				AfterWrite: a.pauseAfterWrites(), Observer: m,
				PasswordPageURL: passwordPageURL(l.Cfg.API),
			})
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer eng.Close()
			ctl, err := api.Listen(l.Cfg.Sync.Socket(), api.Handler(eng, log.With().Str("component", "api").Logger()), log)
			if err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			defer ctl.Close()
			if l.Cfg.API.Enabled() {
				opts := []api.Option{api.WithReady(eng.Ready), api.WithMetrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
				if l.Cfg.API.PasswordPage.Enabled {
					opts = append(opts, api.WithPasswordPage(passwordPage(l.Cfg.API.PasswordPage, dir, eng, log)))
				}
				web, err := api.NewServer(l.Cfg.API, eng, log.With().Str("component", "http_api").Logger(), opts...)
				if err != nil {
					return a.fail(exitFailure, "%v", err)
				}
				if err := web.Start(); err != nil {
					return a.fail(exitFailure, "%v", err)
				}
				defer web.Close()
			}
			if w := l.Rules.CalendarWarning(now()); w != "" {
				log.Warn().Msg(w)
			}
			hup, stop := a.hangups()
			defer stop()
			// Ready only once SIGHUP is caught: systemctl reload may follow at once.
			sd.ready()
			go func() {
				for {
					select {
					case <-ctx.Done():
						sd.stopping()
						return
					case <-hup:
						reload(*c.config, l, eng, log)
					}
				}
			}()
			alive := make(chan struct{})
			go sd.watchLive(alive, eng.Heartbeat)
			err = eng.Run(ctx)
			// Said at once when the signal came (the goroutine above);
			// said here too, before exiting, should that goroutine not
			// have run yet.
			sd.stopping()
			close(alive)
			if err != nil {
				log.Error().Err(err).Msg("daemon stopped")
				return exitFailure
			}
			log.Info().Msg("ldapsync stopped")
			return exitOK
		},
	})
}

// hangups returns the channel SIGHUP arrives on, and a function that stops
// delivering it. Tests set app.hup to send their own.
func (a *app) hangups() (<-chan os.Signal, func()) {
	if a.hup != nil {
		return a.hup, func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// reload reads the config file again. A valid one's rules replace the
// running ones; the sections the daemon was built from (directory, sync,
// log) are compared with running's and, when they differ, the log says a
// restart is needed. An invalid one changes nothing.
func reload(path string, running *loaded, eng *sync.Engine, log zerolog.Logger) {
	l, err := loadConfig(path)
	if err != nil {
		eng.ReportReload(false)
		log.Error().Err(err).Msg("config reload failed; the running config stays")
		return
	}
	eng.SetRules(l.Rules)
	eng.ReportReload(true)
	var restart []string
	for _, s := range []struct {
		name     string
		old, new any
	}{
		{"directory", running.Cfg.Directory, l.Cfg.Directory},
		{"sync", running.Cfg.Sync, l.Cfg.Sync},
		{"log", running.Cfg.Log, l.Cfg.Log},
		{"api", running.Cfg.API, l.Cfg.API},
	} {
		if !reflect.DeepEqual(s.old, s.new) {
			restart = append(restart, s.name)
		}
	}
	if len(restart) > 0 {
		log.Warn().Strs("restart_needed", restart).Msg("config reloaded: its rules are in force; these sections take effect at the next restart")
		return
	}
	log.Info().Msg("config reloaded: its rules are in force")
}
