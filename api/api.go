// Package api is ldapsync's control interface over HTTP. Today it serves a
// Unix socket in the state directory, which the operator commands (lock,
// restore, requests, sweep, forecast) use to reach a running daemon, which
// holds the state directory; a later network API serves the same routes
// with its own authentication. Every route calls the engine method the
// command would call itself when no daemon runs: one behaviour, two ways
// in. The socket is mode 0600 and the kernel names the caller (its uid),
// which is recorded as the operator when the request names none.
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

// Handler returns the routes:
//
//	POST /v1/actions          an operator's lock or restore; answers when applied
//	GET  /v1/requests         the open requests and their deadlines
//	POST /v1/sweep?dry_run=1
//	GET  /v1/forecast?days=N
//	GET  /v1/holds?status=pending
//	POST /v1/holds/{id}/approve, /v1/holds/{id}/reject   {"by": NAME}
//	POST /v1/reconcile?path=FILE   a roster file the daemon can read
//	POST /v1/letters/done          {"paths": [...], "by": NAME}
//	POST /v1/adopt?path=FILE&dry_run=1   {"by": NAME}
//	GET  /v1/explain/{uid}         an account's story, state and next deadline
func Handler(e Engine, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/holds", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, e.Holds(r.URL.Query().Get("status")))
	})
	for _, verb := range []string{"approve", "reject"} {
		mux.HandleFunc("POST /v1/holds/{id}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			var d Decision
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&d); err != nil {
				reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
				return
			}
			by := d.By
			if peer := peerName(r.Context()); peer != "" && by != peer {
				if by == "" {
					by = peer
				} else {
					by += " (as " + peer + ")"
				}
			}
			decide := e.Approve
			if verb == "reject" {
				decide = e.Reject
			}
			rep, err := decide(r.Context(), r.PathValue("id"), by)
			if err != nil && rep == nil {
				reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
				return
			}
			log.Info().Str("hold", r.PathValue("id")).Str("decision", verb).Str("by", by).Msg("hold decided")
			if err != nil {
				reply(w, http.StatusServiceUnavailable, problem{"decided; the run that followed failed and is retried: " + err.Error()})
				return
			}
			reply(w, http.StatusOK, rep)
		})
	}
	mux.HandleFunc("POST /v1/letters/done", func(w http.ResponseWriter, r *http.Request) {
		var d Delivered
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&d); err != nil {
			reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
			return
		}
		by := d.By
		if peer := peerName(r.Context()); peer != "" && by != peer {
			if by == "" {
				by = peer
			} else {
				by += " (as " + peer + ")"
			}
		}
		if err := e.LettersDone(d.Paths, by); err != nil {
			reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
			return
		}
		reply(w, http.StatusOK, Delivered{Paths: d.Paths, By: by})
	})
	mux.HandleFunc("POST /v1/adopt", func(w http.ResponseWriter, r *http.Request) {
		var d Decision
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&d); err != nil {
			reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
			return
		}
		by := d.By
		if peer := peerName(r.Context()); peer != "" && by != peer {
			if by == "" {
				by = peer
			} else {
				by += " (as " + peer + ")"
			}
		}
		res, err := e.AdoptRoster(r.Context(), r.URL.Query().Get("path"), r.URL.Query().Get("dry_run") == "1", by)
		if err != nil && res == nil {
			reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
			return
		}
		if err != nil {
			reply(w, http.StatusServiceUnavailable, problem{"journaled; the run that followed failed and is retried: " + err.Error()})
			return
		}
		reply(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/reconcile", func(w http.ResponseWriter, r *http.Request) {
		ans, err := Reconcile(r.Context(), e, r.URL.Query().Get("path"))
		if err != nil && ans == nil {
			reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
			return
		}
		if err != nil {
			reply(w, http.StatusServiceUnavailable, problem{"journaled; the run that followed failed and is retried: " + err.Error()})
			return
		}
		reply(w, http.StatusOK, ans)
	})
	mux.HandleFunc("POST /v1/actions", func(w http.ResponseWriter, r *http.Request) {
		var a Action
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
			return
		}
		by := a.By
		if peer := peerName(r.Context()); peer != "" {
			if by == "" {
				by = peer
			} else if by != peer {
				by += " (as " + peer + ")"
			}
		}
		res, err := e.Submit(r.Context(), sync.OperatorAction{Type: a.Type, UID: a.UID, Reason: a.Reason, Note: a.Note,
			Request: a.Request, Received: a.Received, By: by})
		if err != nil {
			reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
			return
		}
		log.Info().Str("type", string(a.Type)).Str("uid", a.UID).Str("by", by).Str("status", string(res.Status)).Msg("operator action")
		reply(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /v1/requests", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, e.Requests())
	})
	mux.HandleFunc("POST /v1/sweep", func(w http.ResponseWriter, r *http.Request) {
		o := sync.SweepOptions{DryRun: r.URL.Query().Get("dry_run") == "1"}
		res, err := e.Sweep(r.Context(), o)
		if err != nil && res == nil {
			reply(w, http.StatusServiceUnavailable, problem{err.Error()})
			return
		}
		ans := SweepAnswerOf(res, o.DryRun)
		if err != nil {
			reply(w, http.StatusServiceUnavailable, struct {
				*SweepAnswer
				Error string `json:"error"`
			}{ans, err.Error()})
			return
		}
		reply(w, http.StatusOK, ans)
	})
	if ex, ok := e.(Explainer); ok {
		mux.HandleFunc("GET /v1/explain/{uid}", func(w http.ResponseWriter, r *http.Request) {
			x, err := ex.Explain(r.Context(), r.PathValue("uid"))
			switch {
			case errors.Is(err, sync.ErrNoAccount):
				reply(w, http.StatusNotFound, problem{err.Error()})
			case err != nil:
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
			default:
				reply(w, http.StatusOK, x)
			}
		})
	}
	mux.HandleFunc("GET /v1/forecast", func(w http.ResponseWriter, r *http.Request) {
		days, err := strconv.Atoi(r.URL.Query().Get("days"))
		if err != nil || days < 0 {
			reply(w, http.StatusBadRequest, problem{"days must be a whole number of days"})
			return
		}
		f, err := e.Forecast(r.Context(), days)
		if err != nil {
			reply(w, http.StatusServiceUnavailable, problem{err.Error()})
			return
		}
		reply(w, http.StatusOK, f)
	})
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

// Server serves the control socket.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	path string
	done chan struct{}
}

// Listen creates the control socket at path, mode 0600, replacing one a
// crashed daemon left (the state directory's lock says no other daemon
// runs), and serves h on it until Close.
func Listen(path string, h http.Handler, log zerolog.Logger) (*Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api: %w", err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{ln: ln, path: path, done: make(chan struct{}),
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
func (s *Server) Close() error {
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
