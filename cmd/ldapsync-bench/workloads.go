package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// bench is one run: a slapd set up as in production, the engine on it,
// and the population it holds.
type bench struct {
	o      options
	srv    *slapdtest.Server
	cfg    *benchConfig
	dcfg   directory.Config
	client *directory.Client
	eng    *sync.Engine
	gen    *generator
	// effective is the effective date of every event: the day the run
	// started, in rules.timezone.
	effective rules.Date
	// staff are the people with an account, by employee id, as the
	// directory holds them now; uids their usernames.
	staff map[string]*person
	uids  map[string]string
	order []string // employee ids in hiring order
	seq   int      // event ids
	obs   engineObserver
	res   results
}

// results are the measurements the table prints.
type results struct {
	load, batch, sweep, roster    workload
	lowerBound, lowerBoundGroups  time.Duration
	lowerBoundPeople              int
	allocN                        int
	allocRate, allocAllocs        float64
	daemonRSS, daemonFileRSS      float64 // MB
	daemonReady                   time.Duration
	daemonFileRows                int
	daemonFileTime                time.Duration
	daemonAccounts, journalEvents int
	daemonFileApp                 string
	loadStart, loadEnd            string // load averages
	// One Snapshot of the directory of N: bytes and objects allocated,
	// heap in use before and after a collection (the snapshot held).
	snapAlloc, snapObjects uint64
	snapHeap, snapLive     uint64
	snapPeople             int
}

// workload is one in-process workload: what ldapsync took and sent, and
// its baseline in the same run.
type workload struct {
	n                int // accounts created, events or accounts covered
	elapsed          time.Duration
	reads, writes    int64
	baseline         time.Duration
	baselineSearch   time.Duration // roster: the ldapsearch part
	replayErrors     map[string]int
	report           sync.Report
	benchCPU, ldCPU  time.Duration // CPU of this process, and of slapd
	derived, refused int
	times            *opTimes
}

// now is the engine's clock: real time. slapd stamps createTimestamp and
// pwdChangedTime in real time and the sweep reckons inactivity from them,
// so the engine's clock is derived from the same one; events carry a
// fixed effective date, the day the run started.
func now() time.Time { return time.Now() }

// open starts slapd, writes the config and opens the engine on it, with
// the tree made.
func (b *bench) open(ctx context.Context) error {
	var err error
	b.srv, err = slapdtest.Start(ctx, slapdtest.Options{Durable: true, Dir: filepath.Join(b.o.Dir, "slapd")})
	if err != nil {
		return err
	}
	if b.cfg, err = writeConfig(b.o.Example, b.o.Dir, b.srv, b.o.Conns); err != nil {
		return err
	}
	b.effective = rules.DateOf(now().In(b.cfg.Rules.Location))
	if b.gen, err = newGenerator(b.o.Names, b.cfg.Rules, b.o.Seed); err != nil {
		return err
	}
	b.dcfg = b.cfg.Cfg.Directory
	if b.client, err = directory.Dial(ctx, b.dcfg, zerolog.Nop()); err != nil {
		return err
	}
	scfg := b.cfg.Cfg.Sync
	b.eng, err = sync.Open(sync.Options{
		Config: scfg, Rules: b.cfg.Rules, Directory: b.client, Parallel: b.o.Conns, Now: now, Log: zerolog.Nop(), Observer: &b.obs,
		Layout: sync.Layout{PersonDN: b.dcfg.PersonDN, ActiveGroup: b.dcfg.ActiveGroup},
	})
	if err != nil {
		return err
	}
	b.staff, b.uids = map[string]*person{}, map[string]string{}
	return b.eng.EnsureTree(ctx)
}

// close stops the engine and the client; slapd stays for the daemon.
func (b *bench) closeEngine() {
	if b.eng != nil {
		_ = b.eng.Close()
		b.eng = nil
	}
	if b.client != nil {
		b.client.Close()
		b.client = nil
	}
}

func (b *bench) id(kind string) string {
	b.seq++
	return fmt.Sprintf("BENCH-%s-%07d", kind, b.seq)
}

// hire is the event of p's hire, with everything BTC 4 asks of a request,
// so that the letter is written as in production.
func (b *bench) hire(p *person) sync.Event {
	return sync.Event{
		Source: sync.SourceInbox, ID: b.id("hire"), Type: sync.Hire, Effective: b.effective,
		EmployeeID: p.EmployeeID, Name: p.Name, Unit: p.Unit, Title: p.Title, Phone: p.Phone,
		Applications: slices.Clone(p.Applications),
		Reply:        sync.Reply{Name: "Văn phòng", Unit: "Phòng Tổ chức", Mail: "vanphong@" + b.cfg.Rules.MailDomain, Phone: "0259 3824 100"},
		RequestedBy:  "Giám đốc Sở", Received: now(),
	}
}

// timed runs f, measuring the wall time, this process's CPU and slapd's,
// with f's requests recorded, and a CPU profile to profile when set.
// process journals events and processes them through the engine, timed
// and recorded under profile.
func (b *bench) process(ctx context.Context, profile string, events []sync.Event) (recording, workload, sync.Report, error) {
	var rep sync.Report
	rec, w, err := b.timed(profile, func() error {
		if _, err := b.eng.Journal().Add(events, now()); err != nil {
			return err
		}
		var err error
		_, rep, err = b.eng.Process(ctx)
		return err
	})
	return rec, w, rep, err
}

func (b *bench) timed(profile string, f func() error) (recording, workload, error) {
	var w workload
	stop, err := b.profile(profile)
	if err != nil {
		return recording{}, w, err
	}
	defer stop()
	w.times = newOpTimes()
	b.obs.cur.Store(w.times)
	b.client.SetObserver(w.times.directory)
	defer func() {
		b.obs.cur.Store(nil)
		b.client.SetObserver(nil)
	}()
	self0, slapd0 := cpuOf(os.Getpid()), cpuOf(slapdPID(b.srv))
	start := time.Now()
	rec, err := record(b.client, f)
	w.elapsed = time.Since(start)
	w.benchCPU, w.ldCPU = cpuOf(os.Getpid())-self0, cpuOf(slapdPID(b.srv))-slapd0
	w.reads, w.writes = rec.reads, rec.writes
	return rec, w, err
}

// writeHeapProfile writes a heap profile (alloc_space shows where a
// workload allocated).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profile starts a CPU profile written to <-cpuprofile>.<name>.pprof, and
// returns what stops it; it does nothing without -cpuprofile.
func (b *bench) profile(name string) (stop func(), err error) {
	if b.o.CPUProfile == "" {
		return func() {}, nil
	}
	file, err := os.Create(b.o.CPUProfile + "." + name + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		file.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		file.Close()
	}, nil
}

// refresh reads the directory's people into staff and uids.
func (b *bench) refresh(ctx context.Context) (*rules.Snapshot, error) {
	snap, err := b.client.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	b.uids = map[string]string{}
	for _, a := range snap.People {
		if a.Revoked || a.Status == rules.StatusLocked {
			continue
		}
		b.uids[a.EmployeeID] = a.UID
	}
	return snap, nil
}

// initialLoad hires N people in one batch, as a province's first import
// does, and measures its two baselines on fresh copies of the directory as
// it was before.
func (b *bench) initialLoad(ctx context.Context) error {
	pre := filepath.Join(b.o.Dir, "pre-load.ldif")
	if err := dump(ctx, b.srv, pre); err != nil {
		return err
	}
	people := b.gen.people(b.o.N)
	events := make([]sync.Event, len(people))
	for i := range people {
		events[i] = b.hire(&people[i])
	}
	progress(b.o, "initial load: %d hires through the engine", len(events))
	rec, w, rep, err := b.process(ctx, "load", events)
	if err != nil {
		return fmt.Errorf("initial load: %w", err)
	}
	w.report = rep
	if _, err := b.refresh(ctx); err != nil {
		return err
	}
	for i := range people {
		p := &people[i]
		if _, ok := b.uids[p.EmployeeID]; ok {
			b.staff[p.EmployeeID] = p
			b.order = append(b.order, p.EmployeeID)
		}
	}
	w.n = len(b.staff)
	w.refused = rep.Refused
	if w.n == 0 {
		return fmt.Errorf("initial load: no account was created: %+v", rep)
	}

	// (a) the lower bound: ldapadd and ldapmodify.
	adds, groups, n, err := lowerBoundLDIF(b.o.Dir, b.dcfg.People+","+b.dcfg.BaseDN, rec.reqs, b.o.Conns)
	if err != nil {
		return err
	}
	progress(b.o, "initial load: lower bound, %d ldapadd processes on a copy", b.o.Conns)
	if err := b.onClone(ctx, pre, "clone-lower-bound", func(c *slapdtest.Server) error {
		a, g, err := lowerBound(ctx, b.target(c), adds, groups)
		b.res.lowerBound, b.res.lowerBoundGroups, b.res.lowerBoundPeople = a+g, g, n
		return err
	}); err != nil {
		return fmt.Errorf("lower bound: %w", err)
	}
	// (b) the replay of ldapsync's own requests.
	progress(b.o, "initial load: replay of %d requests on a copy", len(rec.reqs))
	if err := b.onClone(ctx, pre, "clone-load-replay", func(c *slapdtest.Server) error {
		r, err := replay(ctx, b.target(c), rec.reqs, b.o.Conns, b.dcfg.Groups+","+b.dcfg.BaseDN)
		w.baseline, w.replayErrors = r.Elapsed, r.Errors
		return err
	}); err != nil {
		return fmt.Errorf("load replay: %w", err)
	}
	b.res.load = w
	return nil
}

// target is where a replay binds: the clone, as ldapsync's service
// account (the clone holds the dumped one, with the first server's
// password).
func (b *bench) target(c *slapdtest.Server) replayTarget {
	return replayTarget{URL: c.URL, BindDN: b.srv.ServiceDN, PasswordFile: b.srv.ServicePasswordFile}
}

// onClone runs f on a fresh slapd loaded with ldif, and stops it after.
func (b *bench) onClone(ctx context.Context, ldif, name string, f func(*slapdtest.Server) error) error {
	dir := filepath.Join(b.o.Dir, name)
	c, err := clone(ctx, dir, ldif)
	if err != nil {
		return err
	}
	defer func() {
		c.Stop()
		_ = os.RemoveAll(dir)
	}()
	return f(c)
}

// sweep runs the lifecycle sweep over the directory with nothing due; the
// baseline is the ldapsearch program sending the same searches.
func (b *bench) sweep(ctx context.Context) error {
	progress(b.o, "sweep over %d accounts", len(b.staff))
	var res *sync.SweepResult
	rec, w, err := b.timed("sweep", func() error {
		var err error
		res, err = b.eng.Sweep(ctx, sync.SweepOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if len(res.Due) > 0 {
		return fmt.Errorf("sweep: %d actions due, want none (first: %+v)", len(res.Due), res.Due[0])
	}
	w.n, w.report = len(b.staff), res.Report
	if w.baseline, err = ldapsearchAll(ctx, b.srv.URL, b.srv.ServiceDN, b.srv.ServicePasswordFile, rec.searches()); err != nil {
		return fmt.Errorf("sweep baseline: %w", err)
	}
	b.res.sweep = w
	return nil
}

// roster reconciles a roster of everyone, 1 % of them changed (half a new
// title, half another unit). The baseline is the ldapsearch program
// sending ldapsync's searches and then the replay of its writes, on a copy
// of the directory as it was before.
func (b *bench) roster(ctx context.Context) error {
	r := rand.New(rand.NewPCG(b.o.Seed, 2))
	changed := max(1, len(b.order)/100)
	pick := r.Perm(len(b.order))[:changed]
	for i, k := range pick {
		p := b.staff[b.order[k]]
		if i%2 == 0 {
			p.Title = retitle(p.Title)
		} else {
			p.Unit, p.Abbr = b.otherUnit(r, p.Unit)
		}
	}
	path := filepath.Join(b.o.Dir, "roster-bench.csv")
	if err := b.writeRoster(path); err != nil {
		return err
	}
	pre := filepath.Join(b.o.Dir, "pre-roster.ldif")
	if err := dump(ctx, b.srv, pre); err != nil {
		return err
	}
	progress(b.o, "roster of %d, %d changed", len(b.order), changed)
	var rr *sync.RosterResult
	var rep sync.Report
	rec, w, err := b.timed("roster", func() error {
		var err error
		if rr, err = b.eng.IngestRoster(path); err != nil {
			return err
		}
		_, rep, err = b.eng.Process(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	w.report = rep
	w.n = len(b.order)
	for _, n := range rr.Derived {
		w.derived += n
	}
	err = b.onClone(ctx, pre, "clone-roster", func(c *slapdtest.Server) error {
		s, err := ldapsearchAll(ctx, c.URL, b.srv.ServiceDN, b.srv.ServicePasswordFile, rec.searches())
		if err != nil {
			return err
		}
		rp, err := replay(ctx, b.target(c), rec.writesOnly(), b.o.Conns, b.dcfg.Groups+","+b.dcfg.BaseDN)
		w.baselineSearch, w.baseline, w.replayErrors = s, s+rp.Elapsed, rp.Errors
		return err
	})
	if err != nil {
		return fmt.Errorf("roster baseline: %w", err)
	}
	b.res.roster = w
	return nil
}

// retitle returns another title than t.
func retitle(t string) string {
	for i, x := range titles {
		if x == t {
			return titles[(i+1)%len(titles)]
		}
	}
	return titles[0]
}

// otherUnit returns a unit other than u, and its ladder abbreviation.
func (b *bench) otherUnit(r *rand.Rand, u string) (string, string) {
	for {
		x := b.gen.units[r.IntN(len(b.gen.units))]
		if x.Account() != u {
			return x.Account(), x.LadderAbbr()
		}
	}
}

// writeRoster writes the staff as HR exports a roster.
func (b *bench) writeRoster(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"employee_id", "family_name", "middle_name", "given_name", "unit", "title", "phone", "applications"})
	for _, id := range b.order {
		p := b.staff[id]
		_ = w.Write([]string{p.EmployeeID, p.Name.Family, p.Name.Middle, p.Name.Given, p.Unit, p.Title, p.Phone, strings.Join(p.Applications, ";")})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

// batchMix is the daily batch: how many of each change in 1,000.
var batchMix = []struct {
	typ sync.EventType
	per int // per mille
}{
	{sync.Hire, 300}, {sync.Transfer, 200}, {sync.TitleChange, 200}, {sync.Applications, 150},
	{sync.Retire, 75}, {sync.Resign, 75},
}

// dailyBatch applies a batch of mixed changes into the directory; the
// baseline is the replay of ldapsync's requests on a copy of the directory
// as it was before the batch.
func (b *bench) dailyBatch(ctx context.Context) error {
	size := b.o.Batch
	r := rand.New(rand.NewPCG(b.o.Seed, 3))
	var events []sync.Event
	perm := r.Perm(len(b.order))
	k := 0
	var left []string // who departs
	for _, m := range batchMix {
		n := size * m.per / 1000
		for range n {
			if m.typ == sync.Hire {
				p := b.gen.person()
				events = append(events, b.hire(&p))
				continue
			}
			if k >= len(perm) {
				break
			}
			id := b.order[perm[k]]
			k++
			p := b.staff[id]
			ev := sync.Event{Source: sync.SourceInbox, ID: b.id(string(m.typ)), Type: m.typ, Effective: b.effective,
				EmployeeID: id, RequestedBy: "Phòng Tổ chức", Received: now()}
			switch m.typ {
			case sync.Transfer:
				p.Unit, p.Abbr = b.otherUnit(r, p.Unit)
				ev.Unit = p.Unit
			case sync.TitleChange:
				p.Title = retitle(p.Title)
				ev.Title = p.Title
			case sync.Applications:
				p.Applications = b.gen.applications()
				ev.Applications = slices.Clone(p.Applications)
			default:
				left = append(left, id)
			}
			events = append(events, ev)
		}
	}
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	pre := filepath.Join(b.o.Dir, "pre-batch.ldif")
	if err := dump(ctx, b.srv, pre); err != nil {
		return err
	}
	progress(b.o, "daily batch of %d changes", len(events))
	rec, w, rep, err := b.process(ctx, "batch", events)
	if err != nil {
		return fmt.Errorf("daily batch: %w", err)
	}
	w.n, w.report, w.refused = len(events), rep, rep.Refused
	err = b.onClone(ctx, pre, "clone-batch", func(c *slapdtest.Server) error {
		rp, err := replay(ctx, b.target(c), rec.reqs, b.o.Conns, b.dcfg.Groups+","+b.dcfg.BaseDN)
		w.baseline, w.replayErrors = rp.Elapsed, rp.Errors
		return err
	})
	if err != nil {
		return fmt.Errorf("daily batch replay: %w", err)
	}
	b.res.batch = w
	for _, id := range left {
		delete(b.staff, id)
	}
	b.order = slices.DeleteFunc(b.order, func(id string) bool { return b.staff[id] == nil })
	return nil
}

// allocate allocates usernames for N new people into the directory as it
// is (N accounts), on one core, as the planner does for a batch.
func (b *bench) allocate(ctx context.Context) error {
	// The snapshot that gives the taken names is also measured: what one
	// whole-directory read allocates and how high it takes the heap, which
	// a daemon pays at start and for every batch.
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	snap, err := b.client.Snapshot(ctx)
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&m1)
	b.res.snapAlloc, b.res.snapObjects, b.res.snapHeap = m1.TotalAlloc-m0.TotalAlloc, m1.Mallocs-m0.Mallocs, m1.HeapInuse
	if b.o.MemProfile != "" {
		if err := writeHeapProfile(b.o.MemProfile + ".snapshot.pprof"); err != nil {
			return err
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.res.snapLive = m1.HeapInuse
	b.res.snapPeople = len(snap.People)
	// The directory's names in the set the planner allocates into
	// (rules.NewAllocatorIn), built anew for each pass, outside the timing.
	used := func() *rules.NameSet {
		s := rules.NewNameSet(len(snap.People) + len(snap.Accounts) + b.o.N)
		for _, a := range snap.People {
			s.Add(strings.ToLower(a.UID))
		}
		for _, u := range snap.Accounts {
			s.Add(strings.ToLower(u))
		}
		return s
	}
	g, err := newGenerator(b.o.Names, b.cfg.Rules, b.o.Seed+1)
	if err != nil {
		return err
	}
	people := g.people(b.o.N)
	progress(b.o, "username allocation for %d people into a directory of %d", len(people), len(snap.People))
	run := func() (time.Duration, uint64) {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		set := used()
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		a := rules.NewAllocatorIn(b.cfg.Rules.Username, set)
		for i := range people {
			_, _ = a.Allocate(people[i].Name, people[i].Abbr)
		}
		d := time.Since(start)
		runtime.ReadMemStats(&m1)
		return d, m1.Mallocs - m0.Mallocs
	}
	run() // warm-up
	stop, err := b.profile("alloc")
	if err != nil {
		return err
	}
	best, allocs := run()
	for range 2 {
		if d, a := run(); d < best {
			best, allocs = d, a
		}
	}
	stop()
	b.res.allocN = len(people)
	b.res.allocRate = float64(len(people)) / best.Seconds()
	b.res.allocAllocs = float64(allocs) / float64(len(people))
	return nil
}
