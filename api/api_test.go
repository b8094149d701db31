package api

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// fakeEngine records what the routes ask of it.
type fakeEngine struct {
	got sync.OperatorAction
}

func (f *fakeEngine) Submit(_ context.Context, a sync.OperatorAction) (*sync.SubmitResult, error) {
	f.got = a
	if a.Request == "" {
		return nil, errors.New("sync: --request is required")
	}
	return &sync.SubmitResult{EventID: "lock:x", Status: sync.Done, Ops: []sync.OpKind{sync.OpLock}}, nil
}

func (f *fakeEngine) Requests() []sync.Request {
	return []sync.Request{{EventID: "H1", Type: sync.Hire}}
}

func (f *fakeEngine) Sweep(_ context.Context, o sync.SweepOptions) (*sync.SweepResult, error) {
	return &sync.SweepResult{Due: []rules.Action{{Kind: rules.ActionRevoke, UID: "tuanlv"}}, HeldInactive: map[bool]int{true: 0, false: 3}[o.Confirm]}, nil
}

func (f *fakeEngine) Forecast(_ context.Context, days int) (*sync.Forecast, error) {
	return &sync.Forecast{Actions: []rules.Action{{Kind: rules.ActionDepartureLock, UID: "vannam"}}}, nil
}

// The control socket is the caller's own (0600), names the caller as the
// operator, and answers each route as the engine does.
func TestServer_RoutesOverTheSocket(t *testing.T) {
	path := SocketPath(t.TempDir())
	if _, err := Dial(path); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("dial without a daemon: %v, want ErrNoDaemon", err)
	}
	eng := &fakeEngine{}
	srv, err := Listen(path, Handler(eng, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v, want 0600", info.Mode().Perm(), err)
	}
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res, err := c.Submit(ctx, Action{Type: sync.Lock, UID: "tuanlv", Reason: "spam", Request: "R1"})
	if err != nil || res.Status != sync.Done || len(res.Ops) != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	me, _ := user.Current()
	if eng.got.By != me.Username || eng.got.UID != "tuanlv" {
		t.Errorf("operator %q, want the caller %q", eng.got.By, me.Username)
	}
	if _, err := c.Submit(ctx, Action{Type: sync.Lock, UID: "tuanlv", Reason: "spam", Request: "R1", By: "someone"}); err != nil {
		t.Fatal(err)
	}
	if want := "someone (as " + me.Username + ")"; eng.got.By != want {
		t.Errorf("operator %q, want %q", eng.got.By, want)
	}
	if _, err := c.Submit(ctx, Action{Type: sync.Lock, UID: "tuanlv"}); err == nil || !strings.Contains(err.Error(), "--request is required") {
		t.Errorf("a refused action: %v", err)
	}
	if reqs, err := c.Requests(ctx); err != nil || len(reqs) != 1 || reqs[0].EventID != "H1" {
		t.Errorf("requests: %+v %v", reqs, err)
	}
	if ans, err := c.Sweep(ctx, sync.SweepOptions{}); err != nil || ans.HeldInactive != 3 || len(ans.Due) != 1 {
		t.Errorf("sweep: %+v %v", ans, err)
	}
	if ans, err := c.Sweep(ctx, sync.SweepOptions{Confirm: true}); err != nil || ans.HeldInactive != 0 {
		t.Errorf("confirmed sweep: %+v %v", ans, err)
	}
	if f, err := c.Forecast(ctx, 30); err != nil || len(f.Actions) != 1 {
		t.Errorf("forecast: %+v %v", f, err)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	// A socket a crashed daemon left: nobody listens, the command works alone.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := Dial(path); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("dial a stale socket: %v, want ErrNoDaemon", err)
	}
	srv, err = Listen(path, Handler(eng, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	srv.Close()
}
