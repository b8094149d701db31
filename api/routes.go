package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// EventSubmitter journals and processes HR's records; *sync.Engine has it.
type EventSubmitter interface {
	SubmitEvents(ctx context.Context, name string, data []byte, scope func(unit string) bool) (*sync.SubmitEventsResult, error)
}

// RejectedLister lists the inbox's rejected/ directory; *sync.Engine has it.
type RejectedLister interface {
	RejectedFiles() ([]sync.RejectedFile, error)
}

// BatchName is the name the records of POST /v1/events are parsed and
// logged under.
const BatchName = "api"

// Route is one route of the network API: its method, its path pattern (as
// http.ServeMux reads it) and the roles that may call it. The control
// socket serves the same routes, but for NetworkOnly ones, to its trusted
// caller.
type Route struct {
	Method string
	Path   string
	// Roles may call the route; none means it is public (health and
	// readiness).
	Roles []Role
	// Scoped says the route checks a unit-scoped token's units itself (an
	// account's unit, a record's unit); other routes answer 403 to a
	// scoped token, since what they do or show spans every unit.
	Scoped bool
	// NetworkOnly routes are not served on the control socket.
	NetworkOnly bool
}

// route is a Route with its implementation.
type route struct {
	Route
	h http.HandlerFunc
}

// deps is what the routes call.
type deps struct {
	e       Engine
	log     zerolog.Logger
	maxBody int64
	ready   func(context.Context) error
	metrics http.Handler
}

var (
	reads = []Role{RoleOperator, RoleAuditor}
	ops   = []Role{RoleOperator}
)

// Routes returns the network API's route table; docs/openapi.yaml
// describes each of them.
func Routes() []Route {
	rs := routes(&deps{maxBody: DefaultMaxBody})
	out := make([]Route, len(rs))
	for i, r := range rs {
		out[i] = r.Route
	}
	return out
}

// routes returns every route: the control socket's and the network's.
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
//	GET  /v1/audit?from=D&to=D&unit=U  the audit records of those days (chain verified)
//	GET  /v1/plan                  what the daemon would do now with the events waiting
//	POST /v1/events                HR's records, JSON Lines or a JSON array
//	GET  /v1/rejected              the files in the inbox's rejected/
//	GET  /healthz, /readyz, /metrics   (network only)
func routes(d *deps) []route {
	e, log := d.e, d.log
	rs := []route{
		{Route{Method: "GET", Path: "/v1/holds", Roles: reads}, func(w http.ResponseWriter, r *http.Request) {
			reply(w, http.StatusOK, e.Holds(r.URL.Query().Get("status")))
		}},
	}
	for _, verb := range []string{"approve", "reject"} {
		rs = append(rs, route{Route{Method: "POST", Path: "/v1/holds/{id}/" + verb, Roles: ops}, func(w http.ResponseWriter, r *http.Request) {
			var dc Decision
			if !decode(w, r, 4<<10, &dc) {
				return
			}
			by := operatorName(r.Context(), dc.By)
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
		}})
	}
	rs = append(rs,
		route{Route{Method: "POST", Path: "/v1/letters/done", Roles: ops}, func(w http.ResponseWriter, r *http.Request) {
			var dl Delivered
			if !decode(w, r, 1<<20, &dl) {
				return
			}
			by := operatorName(r.Context(), dl.By)
			if err := e.LettersDone(dl.Paths, by); err != nil {
				reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
				return
			}
			reply(w, http.StatusOK, Delivered{Paths: dl.Paths, By: by})
		}},
		route{Route{Method: "POST", Path: "/v1/adopt", Roles: ops}, func(w http.ResponseWriter, r *http.Request) {
			var dc Decision
			if !decode(w, r, 4<<10, &dc) {
				return
			}
			if !rosterPathAllowed(w, r, e) {
				return
			}
			by := operatorName(r.Context(), dc.By)
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
		}},
		route{Route{Method: "POST", Path: "/v1/reconcile", Roles: ops}, func(w http.ResponseWriter, r *http.Request) {
			if !rosterPathAllowed(w, r, e) {
				return
			}
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
		}},
		route{Route{Method: "POST", Path: "/v1/actions", Roles: ops, Scoped: true}, func(w http.ResponseWriter, r *http.Request) {
			var a Action
			if !decode(w, r, 64<<10, &a) {
				return
			}
			if p := principalOf(r.Context()); p != nil && p.scoped() {
				if why := accountInScope(r.Context(), e, p, a.UID); why != "" {
					log.Warn().Str("token", p.name).Str("uid", a.UID).Str("reason", why).Msg("operator action forbidden")
					reply(w, http.StatusForbidden, problem{"forbidden: " + why})
					return
				}
			}
			by := operatorName(r.Context(), a.By)
			res, err := e.Submit(r.Context(), sync.OperatorAction{Type: a.Type, UID: a.UID, Reason: a.Reason, Note: a.Note,
				Request: a.Request, Received: a.Received, By: by})
			if err != nil {
				reply(w, http.StatusUnprocessableEntity, problem{err.Error()})
				return
			}
			log.Info().Str("type", string(a.Type)).Str("uid", a.UID).Str("by", by).Str("status", string(res.Status)).Msg("operator action")
			reply(w, http.StatusOK, res)
		}},
		route{Route{Method: "GET", Path: "/v1/requests", Roles: reads}, func(w http.ResponseWriter, _ *http.Request) {
			reply(w, http.StatusOK, e.Requests())
		}},
		route{Route{Method: "POST", Path: "/v1/sweep", Roles: ops}, func(w http.ResponseWriter, r *http.Request) {
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
		}},
		route{Route{Method: "GET", Path: "/v1/explain/{uid}", Roles: reads, Scoped: true}, func(w http.ResponseWriter, r *http.Request) {
			ex, ok := e.(Explainer)
			if !ok {
				reply(w, http.StatusNotImplemented, problem{"this daemon does not explain accounts"})
				return
			}
			x, err := ex.Explain(r.Context(), r.PathValue("uid"))
			p := principalOf(r.Context())
			switch {
			case p != nil && p.scoped() && (err != nil || x.State == nil || !p.allows(x.State.Unit)):
				// Whether the account exists is not the scoped caller's to know.
				reply(w, http.StatusForbidden, problem{"forbidden: the account is not in the token's units"})
			case errors.Is(err, sync.ErrNoAccount):
				reply(w, http.StatusNotFound, problem{err.Error()})
			case err != nil:
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
			default:
				reply(w, http.StatusOK, x)
			}
		}},
		route{Route{Method: "GET", Path: "/v1/forecast", Roles: reads}, func(w http.ResponseWriter, r *http.Request) {
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
		}},
		route{Route{Method: "POST", Path: "/v1/events", Roles: []Role{RoleHR}, Scoped: true}, func(w http.ResponseWriter, r *http.Request) {
			sub, ok := e.(EventSubmitter)
			if !ok {
				reply(w, http.StatusNotImplemented, problem{"this daemon does not take events over the API"})
				return
			}
			data, ok := readBody(w, r, d.maxBody)
			if !ok {
				return
			}
			data, err := eventLines(data)
			if err != nil {
				reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
				return
			}
			var scope func(string) bool
			p := principalOf(r.Context())
			if p != nil && p.scoped() {
				scope = p.allows
			}
			res, err := sub.SubmitEvents(r.Context(), BatchName, data, scope)
			var fe *sync.FileError
			switch {
			case errors.Is(err, sync.ErrOutOfScope):
				reply(w, http.StatusForbidden, struct {
					*sync.SubmitEventsResult
					Error string `json:"error"`
				}{res, "forbidden: records for units outside the token's units; nothing was journaled"})
			case errors.As(err, &fe):
				reply(w, http.StatusBadRequest, problem{"bad request: " + fe.Err.Error()})
			case err != nil && res == nil:
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
			case err != nil:
				reply(w, http.StatusServiceUnavailable, struct {
					*sync.SubmitEventsResult
					Error string `json:"error"`
				}{res, "journaled; the run that followed failed and is retried: " + err.Error()})
			default:
				reply(w, http.StatusOK, res)
			}
		}},
		route{Route{Method: "GET", Path: "/v1/rejected", Roles: reads}, func(w http.ResponseWriter, _ *http.Request) {
			rl, ok := e.(RejectedLister)
			if !ok {
				reply(w, http.StatusNotImplemented, problem{"this daemon does not list rejected files"})
				return
			}
			files, err := rl.RejectedFiles()
			if err != nil {
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
				return
			}
			reply(w, http.StatusOK, files)
		}},
		route{Route{Method: "GET", Path: "/v1/audit", Roles: reads}, func(w http.ResponseWriter, r *http.Request) {
			ar, ok := e.(AuditReader)
			if !ok {
				reply(w, http.StatusNotImplemented, problem{"this daemon does not export the audit log"})
				return
			}
			q := r.URL.Query()
			from, ferr := rules.ParseDate(q.Get("from"))
			to, terr := rules.ParseDate(q.Get("to"))
			if ferr != nil || terr != nil || to.Before(from) {
				reply(w, http.StatusBadRequest, problem{"from and to must be dates (YYYY-MM-DD), to not before from"})
				return
			}
			sel, err := ar.AuditRecords(from, to, q.Get("unit"))
			if err != nil {
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
				return
			}
			reply(w, http.StatusOK, sel)
		}},
		route{Route{Method: "GET", Path: "/v1/plan", Roles: reads}, func(w http.ResponseWriter, r *http.Request) {
			pp, ok := e.(PendingPlanner)
			if !ok {
				reply(w, http.StatusNotImplemented, problem{"this daemon does not show its plan"})
				return
			}
			plan, err := pp.PlanPending(r.Context())
			if err != nil {
				reply(w, http.StatusServiceUnavailable, problem{err.Error()})
				return
			}
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			_ = plan.WriteJSON(w) // the client went away: nothing to do
		}},
		route{Route{Method: "GET", Path: "/healthz", NetworkOnly: true}, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}},
		route{Route{Method: "GET", Path: "/readyz", NetworkOnly: true}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if d.ready != nil {
				if err := d.ready(r.Context()); err != nil {
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
					return
				}
			}
			_, _ = io.WriteString(w, "ok\n")
		}},
		route{Route{Method: "GET", Path: "/metrics", Roles: reads, NetworkOnly: true}, func(w http.ResponseWriter, r *http.Request) {
			if d.metrics == nil {
				http.NotFound(w, r)
				return
			}
			d.metrics.ServeHTTP(w, r)
		}},
	)
	return rs
}

// operatorName is the operator an action is recorded under: the name the
// request gives, and the caller the socket or the token names, when it
// differs.
func operatorName(ctx context.Context, by string) string {
	caller := callerName(ctx)
	switch {
	case caller == "" || by == caller:
		return by
	case by == "":
		return caller
	default:
		return by + " (as " + caller + ")"
	}
}

// callerName is who called: the socket peer's user name, or "api:" and
// the token's name.
func callerName(ctx context.Context) string {
	if p := principalOf(ctx); p != nil {
		return "api:" + p.name
	}
	return peerName(ctx)
}

// accountInScope says why a scoped token may not act on the account uid,
// "" when it may: the account's unit, as the engine's Explain tells it,
// must be one of the token's.
func accountInScope(ctx context.Context, e Engine, p *principal, uid string) string {
	ex, ok := e.(Explainer)
	if !ok {
		return "the account's unit cannot be told"
	}
	x, err := ex.Explain(ctx, uid)
	switch {
	case err != nil || x.State == nil:
		return fmt.Sprintf("account %q is not in the token's units", uid)
	case !p.allows(x.State.Unit):
		return fmt.Sprintf("account %q belongs to %q, not one of the token's units", uid, x.State.Unit)
	}
	return ""
}

// decode reads a JSON body into v, strictly: an unknown field, trailing
// data or a body over limit is a 400 (413) answered here.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		badBody(w, err)
		return false
	}
	return true
}

// readBody reads a whole body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		badBody(w, err)
		return nil, false
	}
	return data, true
}

func badBody(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		reply(w, http.StatusRequestEntityTooLarge, problem{fmt.Sprintf("request body over %d bytes", mbe.Limit)})
		return
	}
	reply(w, http.StatusBadRequest, problem{"bad request: " + err.Error()})
}

// eventLines turns a JSON array of records into JSON Lines, one element a
// line, so that a record's line is its 1-based index; JSON Lines pass as
// they are.
func eventLines(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return data, nil
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(trimmed, &recs); err != nil {
		return nil, fmt.Errorf("not a JSON array of records: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("no records")
	}
	var out bytes.Buffer
	for _, rec := range recs {
		if err := json.Compact(&out, rec); err != nil {
			return nil, err
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// AuditReader is an engine that exports its audit log.
type AuditReader interface {
	AuditRecords(from, to rules.Date, unit string) (*sync.AuditSelection, error)
}

// PendingPlanner is an engine that shows what it would do now.
type PendingPlanner interface {
	PlanPending(ctx context.Context) (*sync.Plan, error)
}

// RosterPaths is an engine that says which files a roster may be read
// from for a caller over the network.
type RosterPaths interface {
	RosterPathAllowed(path string) bool
}

// rosterPathAllowed refuses (403) a network caller's roster path outside
// the inbox and sync.roster.path: a token must not make the daemon read
// any file it can. The control socket, root's, is not limited.
func rosterPathAllowed(w http.ResponseWriter, r *http.Request, e Engine) bool {
	if principalOf(r.Context()) == nil {
		return true
	}
	rp, ok := e.(RosterPaths)
	if ok && rp.RosterPathAllowed(r.URL.Query().Get("path")) {
		return true
	}
	reply(w, http.StatusForbidden, problem{"forbidden: over the network a roster is read only from the inbox or sync.roster.path"})
	return false
}
