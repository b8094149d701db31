// Package api is ldapsync's control interface over HTTP. It serves a Unix
// socket in the state directory, which the operator commands (lock,
// restore, requests, sweep, forecast) use to reach a running daemon, which
// holds the state directory, and, when the config's api.listen is set, a
// network API (Server) that serves the same routes, and HR's submissions,
// to callers with a bearer token and a role (NT 3.2). Every route calls
// the engine method the command would call itself when no daemon runs:
// one behaviour, two ways in. The socket is mode 0600 and the kernel names
// the caller (its uid), which is recorded as the operator when the request
// names none; on the network, the token's name is.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// SocketName is the control socket's name in the state directory.
const SocketName = "control.sock"

// SocketPath returns the control socket's path for a state directory.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// Engine is what the routes call; *sync.Engine has it.
type Engine interface {
	Submit(ctx context.Context, a sync.OperatorAction) (*sync.SubmitResult, error)
	Requests() []sync.Request
	Sweep(ctx context.Context, o sync.SweepOptions) (*sync.SweepResult, error)
	Forecast(ctx context.Context, days int) (*sync.Forecast, error)
	Holds(status string) []sync.Hold
	Approve(ctx context.Context, id, by string) (*sync.Report, error)
	Reject(ctx context.Context, id, by string) (*sync.Report, error)
	IngestRoster(path string) (*sync.RosterResult, error)
	Process(ctx context.Context) (*sync.Plan, sync.Report, error)
	LettersDone(paths []string, by string) error
	AdoptRoster(ctx context.Context, path string, dryRun bool, by string) (*sync.AdoptResult, error)
}

// Explainer tells an account's story; *sync.Engine has it. It stands
// apart from Engine so that an Engine without it (a test's) still serves
// the other routes; GET /v1/explain is served when the engine has it.
type Explainer interface {
	Explain(ctx context.Context, uid string) (*sync.Explanation, error)
}

// Delivered is the body of POST /v1/letters/done.
type Delivered struct {
	Paths []string `json:"paths"`
	By    string   `json:"by"`
}

// Decision is the body of POST /v1/holds/{id}/approve and .../reject.
type Decision struct {
	By string `json:"by"`
}

// ReconcileAnswer is what reconciling a roster did.
type ReconcileAnswer struct {
	Rows       int                    `json:"rows"`
	Rejected   []string               `json:"rejected,omitempty"`
	RejectedTo string                 `json:"rejected_to,omitempty"`
	Added      int                    `json:"added"`
	Duplicates int                    `json:"duplicates"`
	Derived    map[sync.EventType]int `json:"derived"`
	Report     sync.Report            `json:"report"`
}

// Reconcile reads the roster at path, journals what it derives and
// processes it: the same for the socket and for a command with no daemon.
func Reconcile(ctx context.Context, e Engine, path string) (*ReconcileAnswer, error) {
	rr, err := e.IngestRoster(path)
	if err != nil {
		return nil, err
	}
	ans := &ReconcileAnswer{Rows: len(rr.Roster.Rows), RejectedTo: rr.RejectedPath, Added: rr.Added, Duplicates: rr.Duplicates, Derived: rr.Derived}
	for _, r := range rr.Batch.Rejected {
		ans.Rejected = append(ans.Rejected, r.Error())
	}
	_, ans.Report, err = e.Process(ctx)
	return ans, err
}

// Action is the body of POST /v1/actions: an operator's lock or restore.
type Action struct {
	Type     sync.EventType `json:"type"`
	UID      string         `json:"uid"`
	Reason   string         `json:"reason,omitempty"`
	Note     string         `json:"note,omitempty"`
	Request  string         `json:"request"`
	Received time.Time      `json:"received,omitzero"`
	By       string         `json:"by,omitempty"`
}

// SweepAnswer is what a sweep reports, on the wire and on the command line.
type SweepAnswer struct {
	Due      []rules.Action `json:"due"`
	Ops      []sync.Op      `json:"ops"`
	Applied  int            `json:"applied"`
	Done     int            `json:"done"`
	Refused  int            `json:"refused"`
	Refusals []string       `json:"refusals,omitempty"`
	Guarded  int            `json:"guarded"`
	Holds    []string       `json:"holds,omitempty"`
	Next     time.Time      `json:"next,omitzero"`
	DryRun   bool           `json:"dry_run"`
}

// SweepAnswerOf summarises a sweep's result.
func SweepAnswerOf(res *sync.SweepResult, dryRun bool) *SweepAnswer {
	a := &SweepAnswer{Due: res.Due, Guarded: res.Report.Guarded, Holds: res.Report.Holds, Next: res.Next, DryRun: dryRun,
		Applied: res.Report.Applied, Done: res.Report.Done, Refused: res.Report.Refused}
	if res.Plan != nil {
		a.Ops = res.Plan.Ops
		for _, o := range res.Plan.Refused {
			a.Refusals = append(a.Refusals, o.Event.ID+": "+o.Reason)
		}
	}
	return a
}

// problem is an error answer.
type problem struct {
	Error string `json:"error"`
}

// peerKey is the context key of the caller's uid.
type peerKey struct{}

// Handler returns the control socket's routes (see Routes), with no
// authentication: the socket is mode 0600 and the kernel names the caller.
// /healthz, /readyz and /metrics are the network server's only.
func Handler(e Engine, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes(&deps{e: e, log: log, maxBody: DefaultMaxBody}) {
		if !rt.NetworkOnly {
			mux.HandleFunc(rt.Method+" "+rt.Path, rt.h)
		}
	}
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing to do
}

// peerName returns the caller's user name (or uid) from the socket's peer
// credentials, "" when unknown.
func peerName(ctx context.Context) string {
	uid, ok := ctx.Value(peerKey{}).(uint32)
	if !ok {
		return ""
	}
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}

// Socket serves the control socket.
type Socket struct {
	srv  *http.Server
	ln   net.Listener
	path string
	done chan struct{}
}

// Listen creates the control socket at path, mode 0600, replacing one a
// crashed daemon left (the state directory's lock says no other daemon
// runs), and serves h on it until Close.
func Listen(path string, h http.Handler, log zerolog.Logger) (*Socket, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api: %w", err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Socket{ln: ln, path: path, done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				if uid, ok := peerUID(c); ok {
					return context.WithValue(ctx, peerKey{}, uid)
				}
				return ctx
			}}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("control socket stopped")
		}
	}()
	return s, nil
}

// Close stops serving, lets running requests end, and removes the socket.
func (s *Socket) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// peerUID returns the uid of the process at the other end of a Unix
// socket connection.
func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}
