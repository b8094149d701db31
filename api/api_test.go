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
	got       sync.OperatorAction
	decided   string
	submitted string
}

func (f *fakeEngine) Holds(status string) []sync.Hold {
	return []sync.Hold{{ID: "h1", Status: status}}
}

func (f *fakeEngine) Approve(_ context.Context, id, by string) (*sync.Report, error) {
	if id != "h1" {
		return nil, errors.New("sync: no hold " + id)
	}
	f.decided = "approve " + id + " " + by
	return &sync.Report{Applied: 2}, nil
}

func (f *fakeEngine) Reject(ctx context.Context, id, by string) (*sync.Report, error) {
	if id != "h1" {
		return nil, errors.New("sync: no hold " + id)
	}
	f.decided = "reject " + id + " " + by
	return &sync.Report{}, nil
}

func (f *fakeEngine) IngestRoster(path string) (*sync.RosterResult, error) {
	if path == "roster.csv" {
		return &sync.RosterResult{IngestResult: &sync.IngestResult{Batch: &sync.Batch{}}, Roster: &sync.Roster{}}, nil
	}
	return nil, errors.New("no roster here")
}

func (f *fakeEngine) LettersDone([]string, string) error { return nil }

func (f *fakeEngine) AdoptRoster(context.Context, string, bool, string) (*sync.AdoptResult, error) {
	return &sync.AdoptResult{}, nil
}

func (f *fakeEngine) Process(context.Context) (*sync.Plan, sync.Report, error) {
	return &sync.Plan{}, sync.Report{}, nil
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

func (f *fakeEngine) Sweep(_ context.Context, _ sync.SweepOptions) (*sync.SweepResult, error) {
	return &sync.SweepResult{Due: []rules.Action{{Kind: rules.ActionRevoke, UID: "tuanlv"}}, Report: sync.Report{Guarded: 3, Holds: []string{"h1"}}}, nil
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
	if ans, err := c.Sweep(ctx, sync.SweepOptions{}); err != nil || ans.Guarded != 3 || len(ans.Holds) != 1 || len(ans.Due) != 1 {
		t.Errorf("sweep: %+v %v", ans, err)
	}
	if holds, err := c.Holds(ctx, sync.HoldPending); err != nil || len(holds) != 1 || holds[0].ID != "h1" {
		t.Errorf("holds: %+v %v", holds, err)
	}
	if rep, err := c.Decide(ctx, "h1", "approve", "mai"); err != nil || rep.Applied != 2 {
		t.Errorf("approve: %+v %v", rep, err)
	}
	if eng.decided != "approve h1 mai (as "+me.Username+")" {
		t.Errorf("decided %q", eng.decided)
	}
	if _, err := c.Decide(ctx, "nope", "reject", "mai"); err == nil || !strings.Contains(err.Error(), "no hold") {
		t.Errorf("reject of an unknown hold: %v", err)
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
