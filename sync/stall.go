package sync

import (
	"errors"
	"os"
	"path/filepath"
)

// writable reports whether the state directory takes writes: the journal
// and the audit log have no sticky write error, or Reopen cleared it. While
// it does not (a full disk, a read-only mount), Run reads no inbox file and
// applies nothing: nothing is acknowledged that is not journaled, and no
// change is made that is not audited. It says so once when it stops and
// once when it recovers.
func (e *Engine) writable() bool {
	jerr, aerr := e.journal.Err(), e.audit.Err()
	if jerr == nil && aerr == nil {
		return true
	}
	if !e.stalled {
		e.stalled = true
		e.log.Error().Err(errors.Join(jerr, aerr)).Str("state_dir", e.cfg.StateDir).
			Msg("state directory does not take writes: inbox files stay in place and nothing is applied until it does; retrying at every poll")
	}
	if err := probe(e.cfg.StateDir); err != nil {
		e.log.Debug().Err(err).Msg("state directory still failing")
		return false
	}
	for _, r := range []struct {
		what   string
		err    error
		reopen func() (bool, error)
	}{{"journal", jerr, e.journal.Reopen}, {"audit log", aerr, e.audit.Reopen}} {
		if r.err == nil {
			continue
		}
		repaired, err := r.reopen()
		if err != nil {
			e.log.Debug().Err(err).Str("file", r.what).Msg("state directory still failing")
			return false
		}
		if repaired {
			e.log.Warn().Str("file", r.what).Msg("a record torn by the failed write was cut off")
		}
	}
	e.stalled = false
	e.log.Info().Str("state_dir", e.cfg.StateDir).Msg("state directory takes writes again: going on")
	return true
}

// probe writes, fsyncs and removes a small file in dir: whether a journal
// or audit write would go through now.
func probe(dir string) error {
	path := filepath.Join(dir, ".write-probe")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(make([]byte, 4096))
	err = errors.Join(werr, f.Sync(), f.Close(), os.Remove(path))
	return err
}
