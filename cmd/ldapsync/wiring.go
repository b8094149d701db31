package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/selfservice"
	"github.com/ldapsync/ldapsync/sync"
)

// common holds the flags the commands that touch the directory share.
type common struct {
	config *string
	level  *string
	format *string
	now    *string
}

func (a *app) commonFlags(fs *flag.FlagSet) *common {
	return &common{
		config: a.configFlag(fs),
		level:  fs.String("log-level", "", "log level: trace, debug, info, warn, error (overrides log.level)"),
		format: fs.String("log-format", "", "log format: auto, json, console (overrides log.format)"),
		now: fs.String("now", "", "pretend the time is this (RFC 3339, or YYYY-MM-DD for 00:00 in rules.timezone); "+
			"the clock runs on from there. For tests and rehearsals of deadlines"),
	}
}

// setup loads the config and builds the logger and the clock.
func (a *app) setup(c *common) (*loaded, zerolog.Logger, func() time.Time, error) {
	l, err := loadConfig(*c.config)
	if err != nil {
		return nil, zerolog.Nop(), nil, err
	}
	lc := l.Cfg.Log
	if *c.level != "" {
		lc.Level = *c.level
	}
	if *c.format != "" {
		lc.Format = *c.format
	}
	if errs := lc.validate("log"); len(errs) > 0 {
		return nil, zerolog.Nop(), nil, errs
	}
	log := a.logger(lc)
	clock, err := parseClock(*c.now, l.Rules.Location, time.Now)
	if err != nil {
		return nil, log, nil, err
	}
	return l, log, clock, nil
}

func parseLevel(s string) (zerolog.Level, error) {
	switch s {
	case "trace", "debug", "info", "warn", "error":
		return zerolog.ParseLevel(s)
	}
	return zerolog.NoLevel, fmt.Errorf("%q must be trace, debug, info, warn or error", s)
}

// logger builds the root logger: JSON lines by default (journald, files,
// containers), the console writer on a terminal.
func (a *app) logger(c LogConfig) zerolog.Logger {
	w := a.stderr
	console := c.Format == "console"
	if c.Format == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	}
	if console {
		// Colours only on a terminal: escape codes in a file or journal are noise.
		f, isFile := w.(*os.File)
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !isFile || !isatty.IsTerminal(f.Fd())}
	}
	level, _ := parseLevel(c.Level) // validated with the config
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// parseClock returns the clock: real time, or, with --now, time that
// starts at the given instant and runs on.
func parseClock(s string, loc *time.Location, real func() time.Time) (func() time.Time, error) {
	if s == "" {
		return real, nil
	}
	var start time.Time
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		start = t
	} else if d, derr := rules.ParseDate(s); derr == nil && !strings.Contains(s, "/") {
		start = d.In(loc)
	} else {
		return nil, fmt.Errorf("--now %q: want RFC 3339 (2026-03-01T08:00:00+07:00) or YYYY-MM-DD", s)
	}
	offset := start.Sub(real())
	return func() time.Time { return real().Add(offset) }, nil
}

// dial connects to the directory, retrying with back-off until ctx ends when
// wait is set (a daemon may start before slapd does).
func dial(ctx context.Context, cfg directory.Config, log zerolog.Logger, wait bool) (*directory.Client, error) {
	backoff := time.Second
	for {
		c, err := directory.Dial(ctx, cfg, log.With().Str("component", "directory").Logger())
		if err == nil || !wait {
			return c, err
		}
		log.Error().Err(err).Dur("retry_in", backoff).Msg("cannot reach the directory")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// layout tells the planner where the directory of cfg keeps accounts.
func layout(cfg directory.Config) sync.Layout {
	return sync.Layout{PersonDN: cfg.PersonDN, ActiveGroup: cfg.ActiveGroup}
}

// passwordPageURL is the page's address for the letters: api.password_page.url
// when the page is served, "" otherwise.
func passwordPageURL(c api.Config) string {
	if !c.Enabled() || !c.PasswordPage.Enabled {
		return ""
	}
	return c.PasswordPage.URL
}

// passwordPage builds the self-service password page on dir. It checks
// new passwords against the profile of the rules in force, which a reload
// (SIGHUP) replaces.
func passwordPage(c api.PasswordPageConfig, dir *directory.Client, eng *sync.Engine, log zerolog.Logger) http.Handler {
	return selfservice.New(selfservice.Config{
		MaxFailures:    c.MaxFailures,
		FailureWindow:  c.FailureWindow.Std(),
		PerSourceRate:  float64(c.PerSourceRequestsPerMinute),
		PerSourceBurst: c.PerSourceBurst,
		TrustProxy:     c.TrustProxy,
	}, dir, func() rules.PasswordProfile { return eng.Rules().Password }, log.With().Str("component", "password_page").Logger())
}

// EnvPauseAfterWrites names the fault-injection variable the crash tests
// set: with LDAPSYNC_TEST_PAUSE_AFTER_WRITES=N, the process stops for good
// right after the directory accepted its N-th operation and before that
// operation's audit record, and says so on stderr, for the test to kill it
// with SIGKILL there. Never set it in production.
const EnvPauseAfterWrites = "LDAPSYNC_TEST_PAUSE_AFTER_WRITES"

// pauseAfterWrites returns the hook EnvPauseAfterWrites asks for, or nil.
func (a *app) pauseAfterWrites() func(*sync.Op) {
	n, err := strconv.Atoi(a.getenv(EnvPauseAfterWrites))
	if err != nil || n <= 0 {
		return nil
	}
	var writes atomic.Int64
	return func(op *sync.Op) {
		if writes.Add(1) == int64(n) {
			fmt.Fprintf(a.stderr, "ldapsync: paused after directory write %d (%s %s), before its audit record\n", n, op.Kind, op.UID)
			select {} // until killed
		}
	}
}

// The directory client is what the engine needs: checked when building,
// since the engine finds the tree check by a type assertion.
var (
	_ sync.Directory      = (*directory.Client)(nil)
	_ sync.TreeEnsurer    = (*directory.Client)(nil)
	_ selfservice.Changer = (*directory.Client)(nil)
)
