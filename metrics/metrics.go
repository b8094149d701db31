// Package metrics owns ldapsync's Prometheus metrics: one Metrics struct
// that the engine reports to (it implements sync.Observer) and the
// directory client times its operations with (LDAP). Every label value
// comes from a fixed set (event sources and types, operation kinds, job
// names, results); anything else is counted as "other", so that no name,
// username, DN, employee id, password or token can ever become a label.
package metrics

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// Other is the label value of anything outside a label's fixed set.
const Other = "other"

// Results of an operation, a job or a reload.
const (
	ResultOK = "ok"
	// ResultUnavailable is a failure that says nothing about the request:
	// the directory was unreachable or busy, a connection could not be
	// used, a local write failed. The event waits in the journal.
	ResultUnavailable = "unavailable"
	// ResultRefused is the directory refusing the request itself.
	ResultRefused = "refused"
	// ResultFailed is a job or reload that did not succeed.
	ResultFailed = "failed"
)

// LDAPOps lists the directory operations the LDAP latency is reported
// for: the directory client's words, spaces made underscores.
var LDAPOps = []string{
	"activate", "add", "add_member_to", "add_members_to", "adopt", "await_change", "delete", "delete_tombstone", "lift_lock", "lock",
	"modify", "move", "move_back_from_revoked", "move_to_revoked", "read", "remove_member_from",
	"remove_members_from", "revoke", "search", "set_lifecycle", "set_password", "update",
}

// buckets are the latency buckets, in seconds: one LDAP request takes
// milliseconds, but with its retries a single operation may take until the
// directory's retry_for.
var buckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics holds ldapsync's metrics. It is safe for concurrent use.
type Metrics struct {
	eventsReceived    *prometheus.CounterVec
	eventsResolved    *prometheus.CounterVec
	operations        *prometheus.CounterVec
	operationDuration *prometheus.HistogramVec
	ldapDuration      *prometheus.HistogramVec
	backlog           prometheus.Gauge
	guardHeld         prometheus.Gauge
	holdsPending      prometheus.Gauge
	deadlinesDue      prometheus.Gauge
	requestsOverdue   prometheus.Gauge
	jobLastSuccess    *prometheus.GaugeVec
	jobRuns           *prometheus.CounterVec
	reloadSuccess     prometheus.Gauge
	reloads           *prometheus.CounterVec

	sources, types, kinds, jobs, ldapOps map[string]bool
}

var _ sync.Observer = (*Metrics)(nil)

// New makes the metrics and registers them on reg (none when reg is nil).
// It panics if one is registered there already, as MustRegister does.
func New(reg prometheus.Registerer) *Metrics {
	const ns = "ldapsync"
	m := &Metrics{
		eventsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_received_total",
			Help: "Events newly journaled, by source and type (duplicates not counted)."}, []string{"source", "type"}),
		eventsResolved: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_resolved_total",
			Help: "Events journaled as done or failed, by source, type and status."}, []string{"source", "type", "status"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "operations_total",
			Help: "Directory operations the applier ran, by kind and result (ok, refused, unavailable)."}, []string{"kind", "result"}),
		operationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "operation_duration_seconds",
			Help: "Time of one applier operation, audit records and retries included, by kind.", Buckets: buckets}, []string{"kind"}),
		ldapDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ldap_operation_duration_seconds",
			Help: "Time of one LDAP operation, retries included, by operation and result (ok, refused, unavailable).", Buckets: buckets}, []string{"op", "result"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "journal_backlog",
			Help: "Events pending in the journal, those held for an operator included."}),
		guardHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "guard_held_events",
			Help: "Pending events the mass-change guard holds for an operator."}),
		holdsPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "holds_pending",
			Help: "Holds waiting for an operator to approve or reject them."}),
		deadlinesDue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "deadlines_due",
			Help: "Lifecycle actions (departure locks, revocations, inactivity locks) due at the last sweep."}),
		requestsOverdue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "requests_overdue",
			Help: "Open requests (accounts to issue, restores) past their deadline at the last sweep."}),
		jobLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "job_last_success_timestamp_seconds",
			Help: "When a periodic job last succeeded, in Unix seconds."}, []string{"job"}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "job_runs_total",
			Help: "Runs of the periodic jobs, by job and result (ok, failed)."}, []string{"job", "result"}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "config_reload_success",
			Help: "1 if the last config reload succeeded (or none was asked), 0 if it failed and the old config runs."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "config_reloads_total",
			Help: "Config reloads, by result (ok, failed)."}, []string{"result"}),

		sources: set(sync.Sources), jobs: set(sync.Jobs), ldapOps: set(LDAPOps),
		types: set(strs(sync.AllEventTypes)), kinds: set(strs(sync.OpKinds)),
	}
	// The daemon starts on a config it validated.
	m.reloadSuccess.Set(1)
	// Series that exist from the start, so that rates and increase() see
	// the first run.
	for _, r := range []string{ResultOK, ResultFailed} {
		m.reloads.WithLabelValues(r)
		for _, j := range sync.Jobs {
			m.jobRuns.WithLabelValues(j, r)
		}
	}
	if reg != nil {
		reg.MustRegister(m.eventsReceived, m.eventsResolved, m.operations, m.operationDuration, m.ldapDuration,
			m.backlog, m.guardHeld, m.holdsPending, m.deadlinesDue, m.requestsOverdue,
			m.jobLastSuccess, m.jobRuns, m.reloadSuccess, m.reloads)
	}
	return m
}

// EventsReceived implements sync.Observer.
func (m *Metrics) EventsReceived(source string, typ sync.EventType, n int) {
	m.eventsReceived.WithLabelValues(pick(m.sources, source), pick(m.types, string(typ))).Add(float64(n))
}

// EventResolved implements sync.Observer.
func (m *Metrics) EventResolved(source string, typ sync.EventType, status sync.Status) {
	st := Other
	if status == sync.Done || status == sync.Failed {
		st = string(status)
	}
	m.eventsResolved.WithLabelValues(pick(m.sources, source), pick(m.types, string(typ)), st).Inc()
}

// Operation implements sync.Observer.
func (m *Metrics) Operation(kind sync.OpKind, err error, took time.Duration) {
	k := pick(m.kinds, string(kind))
	m.operations.WithLabelValues(k, result(err)).Inc()
	m.operationDuration.WithLabelValues(k).Observe(took.Seconds())
}

// LDAP records one directory operation; it is the directory client's
// observer (directory.Client.SetObserver(m.LDAP)).
func (m *Metrics) LDAP(op string, took time.Duration, err error) {
	m.ldapDuration.WithLabelValues(pick(m.ldapOps, strings.ReplaceAll(op, " ", "_")), result(err)).Observe(took.Seconds())
}

// Backlog implements sync.Observer.
func (m *Metrics) Backlog(pending, held int) {
	m.backlog.Set(float64(pending))
	m.guardHeld.Set(float64(held))
}

// Holds implements sync.Observer.
func (m *Metrics) Holds(pending int) { m.holdsPending.Set(float64(pending)) }

// DeadlinesDue implements sync.Observer.
func (m *Metrics) DeadlinesDue(due, breached int) {
	m.deadlinesDue.Set(float64(due))
	m.requestsOverdue.Set(float64(breached))
}

// JobRun implements sync.Observer.
func (m *Metrics) JobRun(job string, ok bool, at time.Time) {
	j := pick(m.jobs, job)
	if !ok {
		m.jobRuns.WithLabelValues(j, ResultFailed).Inc()
		return
	}
	m.jobRuns.WithLabelValues(j, ResultOK).Inc()
	m.jobLastSuccess.WithLabelValues(j).Set(float64(at.UnixMilli()) / 1e3)
}

// Reload implements sync.Observer.
func (m *Metrics) Reload(ok bool) {
	if !ok {
		m.reloads.WithLabelValues(ResultFailed).Inc()
		m.reloadSuccess.Set(0)
		return
	}
	m.reloads.WithLabelValues(ResultOK).Inc()
	m.reloadSuccess.Set(1)
}

// result classifies an operation's error as the engine does: nil is ok; a
// failure that may pass leaves the event pending; any other is the
// directory refusing the request.
func result(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case sync.Transient(err), errors.Is(err, rules.ErrUnavailable):
		return ResultUnavailable
	default:
		return ResultRefused
	}
}

// pick returns v if it is in the fixed set, else Other.
func pick(fixed map[string]bool, v string) string {
	if fixed[v] {
		return v
	}
	return Other
}

func set(vs []string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
