package sync

import (
	"context"
	"fmt"
	gosync "sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/internal/field"
)

// ScheduleConfig is the "sync.schedule" section: when the daemon's periodic
// jobs run, as cron expressions (five fields, or @hourly, @daily,
// @every 30m …), in rules.timezone. An empty expression turns a job off.
type ScheduleConfig struct {
	// Tree re-checks the containers, unit entries, groups and password
	// policy against the config and repairs what was changed by hand.
	// Default "@hourly".
	Tree string `yaml:"tree"`
	// Sweep takes the lifecycle actions whose time has come: departure
	// locks and revocations (NT 5.2.c) and inactivity locks (NT 6.2.a).
	// Between runs the daemon also sweeps when the next known deadline
	// falls, and after a batch that changed accounts, so a deadline is
	// met within a poll interval; this catches changes made by others.
	// Default "@hourly"; empty turns the sweeps off.
	Sweep string `yaml:"sweep"`
	// Reconcile reads the newest roster at sync.roster.path and applies
	// what it derives (as ldapsync reconcile does). Default "" (off).
	Reconcile string `yaml:"reconcile"`
	// Compact moves the events resolved longer ago than
	// sync.journal_retention out of the journal into <state_dir>/archive.
	// Default "@daily".
	Compact string `yaml:"compact"`
}

// cronParser accepts the standard five fields and the @ descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate checks every expression at load time, not at the first run.
func (c ScheduleConfig) Validate(path string) field.List {
	var errs field.List
	for key, expr := range map[string]string{"tree": c.Tree, "sweep": c.Sweep, "reconcile": c.Reconcile, "compact": c.Compact} {
		if expr == "" {
			continue
		}
		if _, err := cronParser.Parse(expr); err != nil {
			errs.Add(field.Join(path, key), "%q is not a cron expression: %v", expr, err)
		}
	}
	return errs
}

// scheduler runs the periodic jobs on robfig/cron, one at a time per job
// (a run still going when the next is due is skipped), recovering panics.
type scheduler struct {
	cron *cron.Cron
	wg   gosync.WaitGroup
}

// cronLogger adapts zerolog to cron.Logger.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug().Fields(kv).Msg(msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg(msg)
}

// job is one periodic job.
type job struct {
	name, spec string
	run        func(context.Context) error
}

// startScheduler starts the jobs; each gets ctx, and report is told how
// each run ended (not one cut short by ctx). Stop it with stop.
func startScheduler(ctx context.Context, loc *time.Location, log zerolog.Logger, jobs []job, report func(job string, ok bool)) (*scheduler, error) {
	cl := cronLogger{log}
	s := &scheduler{cron: cron.New(cron.WithParser(cronParser), cron.WithLocation(loc), cron.WithLogger(cl),
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))}
	for _, j := range jobs {
		if j.spec == "" {
			continue
		}
		jl := log.With().Str("job", j.name).Logger()
		if _, err := s.cron.AddFunc(j.spec, func() {
			s.wg.Add(1)
			defer s.wg.Done()
			if ctx.Err() != nil {
				return
			}
			start := time.Now()
			err := j.run(ctx)
			if ctx.Err() == nil {
				report(j.name, err == nil)
			}
			if err != nil && ctx.Err() == nil {
				jl.Error().Err(err).Msg("scheduled job failed")
				return
			}
			jl.Debug().Dur("took", time.Since(start)).Msg("scheduled job done")
		}); err != nil {
			return nil, fmt.Errorf("sync: schedule %s %q: %w", j.name, j.spec, err)
		}
	}
	s.cron.Start()
	return s, nil
}

// stop stops starting jobs and waits for the running ones.
func (s *scheduler) stop() {
	<-s.cron.Stop().Done()
	s.wg.Wait()
}
