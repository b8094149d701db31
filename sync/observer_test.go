package sync

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu        gosync.Mutex
	received  map[string]int // source/type
	resolved  map[string]int // source/type/status
	ops       map[string]int // kind/ok|err
	backlog   [2]int
	backlogs  int
	holds     int
	due       [2]int
	sweeps    int
	jobs      []string
	reloads   []bool
	negatives int
}

func newRecorder() *recorder {
	return &recorder{received: map[string]int{}, resolved: map[string]int{}, ops: map[string]int{}}
}

func (r *recorder) EventsReceived(source string, typ EventType, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received[source+"/"+string(typ)] += n
}

func (r *recorder) EventResolved(source string, typ EventType, status Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resolved[source+"/"+string(typ)+"/"+string(status)]++
}

func (r *recorder) Operation(kind OpKind, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := "ok"
	if err != nil {
		res = "err"
	}
	if took < 0 {
		r.negatives++
	}
	r.ops[string(kind)+"/"+res]++
}

func (r *recorder) Backlog(pending, held int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backlog, r.backlogs = [2]int{pending, held}, r.backlogs+1
}

func (r *recorder) Holds(pending int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds = pending
}

func (r *recorder) DeadlinesDue(due, breached int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.due, r.sweeps = [2]int{due, breached}, r.sweeps+1
}

func (r *recorder) JobRun(job string, ok bool, _ time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, job+"/"+strconv.FormatBool(ok))
}

func (r *recorder) Reload(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reloads = append(r.reloads, ok)
}

func TestEngine_Observer(t *testing.T) {
	f := newFakeDir()
	obs := newRecorder()
	cfg := DefaultConfig()
	cfg.StateDir = t.TempDir()
	cfg.Inbox.Settle = 0
	e, err := Open(Options{
		Config: cfg, Rules: exampleRules(t), Directory: f, Layout: layout,
		Now: func() time.Time { return t0 }, Log: zerolog.New(zerolog.NewTestWriter(t)), Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	in := drop(t, cfg, "personnel.csv", header+
		row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh")+
		row("E3", "NV3", "Lê Văn Tuấn", "vhtt_nh")+
		row("E5", "NV5", "Nguyễn Quốc Trạng", "sotttt"))
	if _, _, err := claimAndIngest(t, e, in); err != nil {
		t.Fatal(err)
	}
	if got := obs.received["inbox/hire"]; got != 3 {
		t.Errorf("received inbox/hire %d, want 3 (%v)", got, obs.received)
	}
	if obs.backlog != [2]int{3, 0} {
		t.Errorf("backlog after the file %v, want 3 pending, none held", obs.backlog)
	}
	// The same file again adds nothing, and reports nothing.
	in = drop(t, cfg, "again.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh"))
	if _, _, err := claimAndIngest(t, e, in); err != nil {
		t.Fatal(err)
	}
	if got := obs.received["inbox/hire"]; got != 3 {
		t.Errorf("a duplicate was counted: received inbox/hire %d", got)
	}

	if _, _, err := e.Process(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := obs.resolved["inbox/hire/done"]; got != 3 {
		t.Errorf("resolved %v, want 3 inbox/hire/done", obs.resolved)
	}
	want := map[string]int{"create/ok": 3, "issue_credentials/ok": 3, "groups/ok": 3}
	for k, n := range want {
		if obs.ops[k] != n {
			t.Errorf("operations %v, want %v", obs.ops, want)
			break
		}
	}
	if obs.negatives > 0 {
		t.Errorf("%d negative durations", obs.negatives)
	}
	if obs.backlog != [2]int{0, 0} || obs.holds != 0 {
		t.Errorf("after the batch: backlog %v holds %d, want empty", obs.backlog, obs.holds)
	}

	if _, err := e.Sweep(context.Background(), SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	if obs.sweeps != 1 || obs.due != [2]int{0, 0} {
		t.Errorf("after a sweep: %d reports, due %v; want one, nothing due", obs.sweeps, obs.due)
	}

	e.ReportReload(false)
	e.ReportReload(true)
	if !slices.Equal(obs.reloads, []bool{false, true}) {
		t.Errorf("reloads %v", obs.reloads)
	}
}

// TestEngine_NilObserver checks an engine runs with no Observer.
func TestEngine_NilObserver(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	in := drop(t, cfg, "personnel.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh"))
	if _, _, err := claimAndIngest(t, e, in); err != nil {
		t.Fatal(err)
	}
	if _, rep, err := e.Process(context.Background()); err != nil || rep.Done != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	e.ReportReload(true)
	a := Applier{} // an applier built by hand has no Observer either
	a.observer().Operation(OpCreate, nil, 0)
}

// TestScheduler_Report checks the scheduler reports each job's runs.
func TestScheduler_Report(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu gosync.Mutex
	var got []string
	done := make(chan struct{}, 4)
	s, err := startScheduler(ctx, time.UTC, zerolog.Nop(), []job{
		{name: JobTree, spec: "@every 1s", run: func(context.Context) error { return nil }},
		{name: JobReconcile, spec: "@every 1s", run: func(context.Context) error { return context.DeadlineExceeded }},
	}, func(job string, ok bool) {
		mu.Lock()
		got = append(got, job+"/"+strconv.FormatBool(ok))
		mu.Unlock()
		done <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("no job reported")
		}
	}
	s.stop()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(got, "tree/true") || !slices.Contains(got, "reconcile/false") {
		t.Errorf("reported %v, want tree/true and reconcile/false", got)
	}
}

// TestObserver_FixedSets checks that the lists metrics takes its label
// values from name every source, event type and operation kind the
// package declares: one left out would be counted as "other".
func TestObserver_FixedSets(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	typed := map[string][]string{} // type name: const names
	var sources []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if tn, ok := vs.Type.(*ast.Ident); ok {
						typed[tn.Name] = append(typed[tn.Name], id.Name)
					}
					if strings.HasPrefix(id.Name, "Source") && vs.Type == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							sources = append(sources, v)
						}
					}
				}
			}
		}
	}
	listed := func(list string) []string {
		f, err := parser.ParseFile(fset, "observer.go", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != list {
				return true
			}
			for _, el := range vs.Values[0].(*ast.CompositeLit).Elts {
				if id, ok := el.(*ast.Ident); ok {
					out = append(out, id.Name)
				}
			}
			return false
		})
		return out
	}
	for _, c := range []struct{ typ, list string }{{"EventType", "AllEventTypes"}, {"OpKind", "OpKinds"}} {
		have := listed(c.list)
		if len(typed[c.typ]) == 0 {
			t.Fatalf("no %s constants found", c.typ)
		}
		for _, name := range typed[c.typ] {
			if !slices.Contains(have, name) {
				t.Errorf("%s %s is not in %s", c.typ, name, c.list)
			}
		}
	}
	if len(sources) < 5 {
		t.Fatalf("found only sources %v", sources)
	}
	for _, s := range sources {
		if !slices.Contains(Sources, s) {
			t.Errorf("source %q is not in Sources", s)
		}
	}
}
