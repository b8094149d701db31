package sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	gosync "sync"
	"sync/atomic"

	"github.com/ldapsync/ldapsync/internal/secret"
)

// sealedLetter is the password of one operation of a batch, sealed in its
// letter before the batch's first directory write.
type sealedLetter struct {
	pw     secret.Secret
	path   string
	intent uint64
	// attempted is set once the operation is sent to the directory; a
	// letter whose operation never was is voided when the batch ends.
	attempted atomic.Bool
}

// seal writes, for every operation of ops that issues a password (a
// create that carries it, a first password, a restore, a
// reinstatement), its intent and its letter, and then makes all of them
// durable at once: one audit fsync and one syncfs(2) of the letters' file
// system for the batch, instead of three fsyncs per password. No password
// is set before its letter is on disk, as when each was written alone.
func (a *Applier) seal(ops []Op) error {
	a.sealed = nil
	var sealed map[*Op]*sealedLetter
	for i := range ops {
		op := &ops[i]
		if a.letterPath(op) == "" {
			continue
		}
		if sealed == nil {
			sealed = map[*Op]*sealedLetter{}
			a.sealed = sealed
		}
		intent, err := a.intend(op, false)
		if err != nil {
			return err
		}
		pw, path, err := a.writeLetter(op, false)
		if err != nil {
			return err
		}
		sealed[op] = &sealedLetter{pw: pw, path: path, intent: intent}
	}
	if len(sealed) == 0 {
		return nil
	}
	if err := a.Letters.Sync(); err != nil {
		return fmt.Errorf("%w: %w", errLocal, err)
	}
	return a.syncAudit()
}

// unseal ends a batch's sealing: the letter of an operation that was never
// sent to the directory (the run stopped first) holds a password nobody
// set, and is voided, its intent closed; the next run plans the operation
// again and seals a new one.
func (a *Applier) unseal() {
	sealed := a.sealed
	a.sealed = nil
	var wg gosync.WaitGroup
	for op, s := range sealed {
		if s.attempted.Load() {
			continue
		}
		wg.Go(func() {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				a.Log.Error().Err(err).Str("letter", s.path).Msg("cannot void the letter of an operation never sent")
			}
		})
		a.closeIntent(op, s.intent, "not_done", "not attempted: the run stopped before it; its letter was voided")
	}
	wg.Wait()
}
