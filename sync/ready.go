package sync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Pinger is a directory that can say cheaply whether it answers; the
// directory client has it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Ready reports whether the engine can do its work now, for /readyz: the
// journal and the audit log take writes, and the directory answers (within
// five seconds). It returns why not.
func (e *Engine) Ready(ctx context.Context) error {
	if err := errors.Join(e.journal.Err(), e.audit.Err()); err != nil {
		return fmt.Errorf("state directory does not take writes: %w", err)
	}
	p, ok := e.dir.(Pinger)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	return nil
}
