package sync

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	gosync "sync"
	"time"

	"github.com/rs/zerolog"
)

// Leaser is a lease in the directory that one ldapsync instance at a time
// holds: the leader, the only one whose Run reads the inbox, applies,
// sweeps and runs the scheduled jobs. The directory package's Client
// satisfies it; an engine whose Directory does not is always the leader.
type Leaser interface {
	// AcquireLease takes or renews the lease for holder until now+ttl when
	// it is holder's or has expired at now, atomically, and reports
	// whether holder has it, and who holds it until when.
	AcquireLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (held bool, current string, expires time.Time, err error)
	// ReleaseLease lets holder's lease expire at once.
	ReleaseLease(ctx context.Context, holder string) error
}

// ErrStandby is the error of a write asked of an instance that does not
// hold the lease.
var ErrStandby = errors.New("standby")

// leadership is what an engine knows of the lease. Run tracks it; outside
// Run (ldapsync apply, tests) the engine is the leader, as the state
// directory's lock then keeps the daemon of this host out.
type leadership struct {
	leaser       Leaser
	holder       string
	ttl, renewal time.Duration
	now          func() time.Time
	log          zerolog.Logger
	// gained runs when a term starts: a new leader checks the tree and
	// sweeps, as at start-up.
	gained func()

	mu       gosync.Mutex
	tracking bool // Run is running
	held     bool
	current  string    // the holder last seen (holder when held)
	expires  time.Time // when current's lease ends, on e.now's clock
	term     context.Context
	end      context.CancelFunc // ends term, when the lease is lost
	logged   string             // the last standby or error line, logged once
}

// newLeadership returns the engine's leadership, nil when dir is no
// Leaser.
func newLeadership(dir Directory, c LeaseConfig, now func() time.Time, log zerolog.Logger, gained func()) *leadership {
	l, ok := dir.(Leaser)
	if !ok {
		return nil
	}
	return &leadership{leaser: l, holder: cmp.Or(c.Holder, defaultHolder()), ttl: c.TTL.Std(), renewal: c.Renew.Std(),
		now: now, log: log, gained: gained}
}

// defaultHolder is <hostname>:<pid>, or a random id without a host name.
func defaultHolder() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h + ":" + strconv.Itoa(os.Getpid())
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Leader reports whether this instance may apply changes now: it holds
// the lease and, by its clock, the lease has not run out; or no lease is
// in use.
func (e *Engine) Leader() bool { return e.lease.standby() == nil }

// LeaseHolder returns this instance's name in the lease ("" without one).
func (e *Engine) LeaseHolder() string {
	if e.lease == nil {
		return ""
	}
	return e.lease.holder
}

// standby returns an ErrStandby naming the leader while this instance may
// not apply changes, else nil.
func (l *leadership) standby() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.tracking || l.held && l.now().Before(l.expires) {
		return nil
	}
	if l.current == "" || l.current == l.holder || !l.now().Before(l.expires) {
		return fmt.Errorf("sync: %w: this instance (%s) does not hold the lease, and no leader is known", ErrStandby, l.holder)
	}
	return fmt.Errorf("sync: %w: the leader is %s (lease until %s)", ErrStandby, l.current, l.expires.UTC().Format(time.RFC3339))
}

// termContext returns a context that ends with parent or when this
// instance loses the lease, and whether it leads now. Without a lease it
// is parent itself.
func (l *leadership) termContext(parent context.Context) (context.Context, bool) {
	if l == nil {
		return parent, true
	}
	if l.standby() != nil {
		return parent, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == nil {
		return parent, true // outside Run
	}
	return l.term, true
}

// start takes the lease if it can, then renews it (or tries to take it)
// every renewal until ctx ends or stop is called; stop then releases it.
func (l *leadership) start(ctx context.Context) (stop func()) {
	if l == nil {
		return func() {}
	}
	l.mu.Lock()
	l.tracking = true
	l.mu.Unlock()
	l.renew(ctx)
	rctx, cancel := context.WithCancel(ctx)
	var wg gosync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(l.renewal)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				l.renew(rctx)
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		l.mu.Lock()
		held := l.held
		l.held, l.tracking = false, false
		if l.end != nil {
			l.end()
			l.term, l.end = nil, nil
		}
		l.mu.Unlock()
		if !held {
			return
		}
		// ctx has ended: the release gets a moment of its own.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.leaser.ReleaseLease(rctx, l.holder); err != nil {
			l.log.Warn().Err(err).Msg("cannot release the lease; the standby takes over when it expires")
			return
		}
		l.log.Info().Str("holder", l.holder).Msg("lease released")
	}
}

// renew makes one attempt to take or renew the lease, bounded so that it
// does not outlive a lease this instance holds.
func (l *leadership) renew(ctx context.Context) {
	now := l.now()
	wait := l.ttl
	l.mu.Lock()
	if l.held {
		wait = min(wait, l.expires.Sub(now))
	}
	l.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
	held, current, expires, err := l.leaser.AcquireLease(actx, l.holder, now, l.ttl)
	cancel()
	if ctx.Err() != nil {
		return // stopping
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.held
	l.held = err == nil && held
	if err == nil {
		l.current, l.expires = current, expires
	}
	switch {
	case l.held && !was:
		l.logged = ""
		l.term, l.end = context.WithCancel(ctx)
		l.log.Info().Str("holder", l.holder).Time("expires", expires).Msg("leader: holding the lease")
		if l.gained != nil {
			l.gained()
		}
		return
	case l.held:
		return
	case was:
		l.end()
		l.term, l.end = nil, nil
	}
	if err != nil {
		if line := "error: " + err.Error(); line != l.logged {
			l.logged = line
			l.log.Warn().Err(err).Bool("was_leader", was).Msg("cannot take or renew the lease; standing by")
		}
		return
	}
	if line := "standby: " + current; line != l.logged || was {
		l.logged = line
		l.log.Info().Str("holder", current).Time("expires", expires).Bool("was_leader", was).
			Msg("standby: another instance holds the lease")
	}
}
