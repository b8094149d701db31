package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// drive calls every method of m at least once, with good values.
func drive(m *Metrics, at time.Time) {
	m.EventsReceived(sync.SourceInbox, sync.Hire, 3)
	m.EventsReceived(sync.SourceSweep, sync.DeadlineLock, 1)
	m.EventResolved(sync.SourceInbox, sync.Hire, sync.Done)
	m.EventResolved(sync.SourceInbox, sync.Hire, sync.Failed)
	m.Operation(sync.OpCreate, nil, 20*time.Millisecond)
	m.Operation(sync.OpCreate, errors.New("directory: add: constraint violation"), 10*time.Millisecond)
	m.Operation(sync.OpLock, fmt.Errorf("lock: %w", rules.ErrUnavailable), 30*time.Second)
	m.LDAP("add", 5*time.Millisecond, nil)
	m.LDAP("search", 2*time.Second, fmt.Errorf("directory: search: %w", rules.ErrUnavailable))
	m.LDAP("add members to", time.Millisecond, nil)
	m.Backlog(7, 2)
	m.Holds(1)
	m.DeadlinesDue(4, 1)
	m.JobRun(sync.JobSweep, true, at)
	m.JobRun(sync.JobTree, false, at)
	m.Reload(true)
	m.Reload(false)
}

func TestMetrics_Observer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	at := time.Date(2026, 3, 2, 8, 30, 0, 500_000_000, time.UTC)
	drive(m, at)

	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"received inbox hire", m.eventsReceived.WithLabelValues("inbox", "hire"), 3},
		{"received sweep deadline_lock", m.eventsReceived.WithLabelValues("sweep", "deadline_lock"), 1},
		{"resolved done", m.eventsResolved.WithLabelValues("inbox", "hire", "done"), 1},
		{"resolved failed", m.eventsResolved.WithLabelValues("inbox", "hire", "failed"), 1},
		{"create ok", m.operations.WithLabelValues("create", ResultOK), 1},
		{"create refused", m.operations.WithLabelValues("create", ResultRefused), 1},
		{"lock unavailable", m.operations.WithLabelValues("lock", ResultUnavailable), 1},
		{"backlog", m.backlog, 7},
		{"guard held", m.guardHeld, 2},
		{"holds", m.holdsPending, 1},
		{"deadlines due", m.deadlinesDue, 4},
		{"requests overdue", m.requestsOverdue, 1},
		{"sweep last success", m.jobLastSuccess.WithLabelValues("sweep"), float64(at.Unix()) + 0.5},
		{"sweep ok", m.jobRuns.WithLabelValues("sweep", ResultOK), 1},
		{"tree failed", m.jobRuns.WithLabelValues("tree", ResultFailed), 1},
		{"tree ok", m.jobRuns.WithLabelValues("tree", ResultOK), 0},
		{"reload success after a failure", m.reloadSuccess, 0},
		{"reloads ok", m.reloads.WithLabelValues(ResultOK), 1},
		{"reloads failed", m.reloads.WithLabelValues(ResultFailed), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testutil.ToFloat64(tt.c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A failed tree run sets no timestamp.
	if n := testutil.CollectAndCount(m.jobLastSuccess); n != 1 {
		t.Errorf("job_last_success_timestamp_seconds has %d series, want 1 (the sweep's)", n)
	}
	if n := testutil.CollectAndCount(m.operationDuration); n != 2 {
		t.Errorf("operation_duration_seconds has %d series, want 2 (create, lock)", n)
	}
	if n := testutil.CollectAndCount(m.ldapDuration); n != 3 {
		t.Errorf("ldap_operation_duration_seconds has %d series, want 3", n)
	}
	want := `
# HELP ldapsync_ldap_operation_duration_seconds Time of one LDAP operation, retries included, by operation and result (ok, refused, unavailable).
# TYPE ldapsync_ldap_operation_duration_seconds histogram
`
	var b strings.Builder
	b.WriteString(want)
	for _, s := range []struct {
		op, result string
		v          float64
	}{{"add", "ok", .005}, {"add_members_to", "ok", .001}, {"search", "unavailable", 2}} {
		for _, le := range buckets {
			n := 0
			if s.v <= le {
				n = 1
			}
			fmt.Fprintf(&b, "ldapsync_ldap_operation_duration_seconds_bucket{op=%q,result=%q,le=%q} %d\n", s.op, s.result, fmt.Sprint(le), n)
		}
		fmt.Fprintf(&b, "ldapsync_ldap_operation_duration_seconds_bucket{op=%q,result=%q,le=\"+Inf\"} 1\n", s.op, s.result)
		fmt.Fprintf(&b, "ldapsync_ldap_operation_duration_seconds_sum{op=%q,result=%q} %v\n", s.op, s.result, s.v)
		fmt.Fprintf(&b, "ldapsync_ldap_operation_duration_seconds_count{op=%q,result=%q} 1\n", s.op, s.result)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(b.String()), "ldapsync_ldap_operation_duration_seconds"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", err, probs)
	}
}

func TestMetrics_NilRegisterer(t *testing.T) {
	m := New(nil) // not registered: still usable
	drive(m, time.Now())
	if got := testutil.ToFloat64(m.backlog); got != 7 {
		t.Errorf("backlog %v, want 7", got)
	}
}

// TestMetrics_LabelsFixed feeds the observer user data where labels come
// from and checks that every label value exposed is from a fixed set.
func TestMetrics_LabelsFixed(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	drive(m, time.Now())
	hostile := []string{
		"uid=quoctrang,ou=people,dc=example,dc=vn", "quoctrang", "Nguyễn Văn Quốc", "NV00123", "s3cr3t-Passw0rd", "Bearer abc.def",
	}
	for _, h := range hostile {
		m.EventsReceived(h, sync.EventType(h), 1)
		m.EventResolved(h, sync.EventType(h), sync.Status(h))
		m.Operation(sync.OpKind(h), errors.New(h), time.Millisecond)
		m.LDAP(h, time.Millisecond, errors.New(h))
		m.JobRun(h, true, time.Now())
		m.JobRun(h, false, time.Now())
	}
	allowed := map[string]map[string]bool{
		"source": set(append(slices.Clone(sync.Sources), Other)),
		"type":   set(append(strs(sync.AllEventTypes), Other)),
		"status": set([]string{string(sync.Done), string(sync.Failed), Other}),
		"kind":   set(append(strs(sync.OpKinds), Other)),
		"op":     set(append(slices.Clone(LDAPOps), Other)),
		"job":    set(append(slices.Clone(sync.Jobs), Other)),
		"result": set([]string{ResultOK, ResultRefused, ResultUnavailable, ResultFailed}),
		"le":     nil, // histogram buckets: numbers
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				seen++
				name, value := lp.GetName(), lp.GetValue()
				fixed, known := allowed[name]
				switch {
				case !known:
					t.Errorf("%s: label %q is not one of the fixed labels", mf.GetName(), name)
				case name == "le":
					if !regexp.MustCompile(`^([0-9.e+-]+|\+Inf)$`).MatchString(value) {
						t.Errorf("%s: le=%q", mf.GetName(), value)
					}
				case !fixed[value]:
					t.Errorf("%s: %s=%q is not from its fixed set", mf.GetName(), name, value)
				}
				for _, h := range hostile {
					if strings.Contains(value, h) {
						t.Errorf("%s: %s=%q carries user data", mf.GetName(), name, value)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no labels gathered")
	}
	// The hostile values were counted, as other.
	if got := testutil.ToFloat64(m.eventsReceived.WithLabelValues(Other, Other)); got != float64(len(hostile)) {
		t.Errorf("events_received_total{source=other,type=other} = %v, want %d", got, len(hostile))
	}
}

// TestMetrics_LDAPOps checks that every word the directory client names
// its operations with is in LDAPOps, so that none is counted as other.
func TestMetrics_LDAPOps(t *testing.T) {
	files, err := filepath.Glob("../directory/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("directory sources: %v", err)
	}
	// c.do(ctx, "add", …) and c.modifyPerson(ctx, "lock", …).
	re := regexp.MustCompile(`c\.(?:do|modifyPerson)\(ctx, "([^"]+)"`)
	verbs := regexp.MustCompile(`verb(?: :)?= "([^"]+)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{re, verbs} {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				found++
				if op := strings.ReplaceAll(m[1], " ", "_"); !slices.Contains(LDAPOps, op) {
					t.Errorf("%s: operation %q is not in LDAPOps", filepath.Base(f), op)
				}
			}
		}
	}
	if found < 10 {
		t.Errorf("found only %d directory operations: has the client's code changed shape?", found)
	}
}

var metricName = regexp.MustCompile(`ldapsync_[a-z_]+`)

// TestDeploy_MetricNames checks that every metric the Grafana dashboard
// and the alert rules use is one New registers, and that both files parse.
func TestDeploy_MetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	drive(New(reg), time.Now())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		exported[n] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[n+s] = true
			}
		}
	}
	if len(mfs) != 14 {
		t.Errorf("gathered %d metric families, want 14 (does drive call every method?)", len(mfs))
	}

	dash, err := os.ReadFile("../deploy/grafana/ldapsync.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if len(d.Panels) == 0 {
		t.Fatal("dashboard has no panels")
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
	}

	al, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(al)))
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("alerts: %v", err)
	}
	rulesSeen := 0
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			rulesSeen++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alert rule %q: alert and expr are required", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
		}
	}
	if rulesSeen == 0 {
		t.Fatal("no alert rules")
	}

	for _, f := range []struct {
		name string
		data []byte
	}{{"grafana/ldapsync.json", dash}, {"prometheus/alerts.yml", al}} {
		names := metricName.FindAllString(string(f.data), -1)
		if len(names) == 0 {
			t.Errorf("%s names no ldapsync metric", f.name)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s uses %s, which ldapsync does not export", f.name, n)
			}
		}
	}
}
