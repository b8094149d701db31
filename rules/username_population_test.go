package rules

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// chamRaglaiFamilies are Cham and Raglai family names of Ninh Thuận, which
// the frequency data (counted from students elsewhere) barely holds. Each
// gets chamRaglaiWeight, so that together they are about a fifth of the
// people, as the two peoples are of the province.
var chamRaglaiFamilies = []string{"Đàng", "Thập", "Quảng", "Châu", "Thiên", "Báo", "Pinăng", "Chamaléa", "Katơr", "Mấu", "Tà", "Lộ"}

const chamRaglaiWeight = 180

type tsvEntry struct {
	name  string
	count int
}

// readTSV reads one file of testdata/vn-names: a header, then name and
// count separated by a tab.
func readTSV(tb testing.TB, file string) []tsvEntry {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "vn-names", file))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var entries []tsvEntry
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		name, count, ok := strings.Cut(s.Text(), "\t")
		n, err := strconv.Atoi(count)
		if !ok || err != nil {
			tb.Fatalf("%s: bad line %q", file, s.Text())
		}
		entries = append(entries, tsvEntry{name, n})
	}
	if err := s.Err(); err != nil {
		tb.Fatal(err)
	}
	return entries
}

// weighted draws names with probability proportional to their count.
type weighted struct {
	names []string
	cum   []int // cum[i] is the sum of the counts up to and including i
}

func newWeighted(entries []tsvEntry) *weighted {
	w := &weighted{}
	total := 0
	for _, e := range entries {
		total += e.count
		w.names = append(w.names, e.name)
		w.cum = append(w.cum, total)
	}
	return w
}

func (w *weighted) draw(r *rand.Rand) string {
	x := r.IntN(w.cum[len(w.cum)-1])
	return w.names[sort.SearchInts(w.cum, x+1)]
}

// person is one synthetic member of staff.
type person struct {
	name Name
	unit *Unit
}

// population draws n people from the name frequencies, as the data's
// README says, spread evenly over the units of config.example.yaml. The
// same seed gives the same people. Names are used as the data has them,
// legacy-encoding damage included, as HR exports have it.
func population(tb testing.TB, n int, seed uint64) []person {
	tb.Helper()
	families := readTSV(tb, "family.tsv")
	for _, f := range chamRaglaiFamilies {
		families = append(families, tsvEntry{f, chamRaglaiWeight})
	}
	family, middle, given := newWeighted(families), newWeighted(readTSV(tb, "middle.tsv")), newWeighted(readTSV(tb, "given.tsv"))
	middles := newWeighted(readTSV(tb, "middle-count.tsv"))
	units := exampleTree(tb).All()
	r := rand.New(rand.NewPCG(seed, 0))
	people := make([]person, n)
	for i := range people {
		k, _ := strconv.Atoi(middles.draw(r))
		ms := make([]string, k)
		for j := range ms {
			ms[j] = middle.draw(r)
		}
		people[i] = person{
			name: Name{Family: family.draw(r), Middle: strings.Join(ms, " "), Given: given.draw(r)},
			unit: units[r.IntN(len(units))],
		}
	}
	return people
}

// rung returns rung k of the ladder (1 to 3 the rules, 4 and up rule 4
// with the number k-2), built from the words of the folded name parts
// independently of the allocator's code.
func rung(family, middle, given []string, abbr string, k int) string {
	if k == 1 {
		return strings.Join(middle, "") + strings.Join(given, "")
	}
	r2 := strings.Join(given, "")
	for _, w := range slices.Concat(family, middle) {
		r2 += w[:1]
	}
	switch k {
	case 2:
		return r2
	case 3:
		return r2 + "." + abbr
	}
	return r2 + strconv.Itoa(k-2) + "." + abbr
}

// lowestFree returns the first rung of n's ladder that fits maxLen and is
// not in known, and its number k as rung counts them, or "" when there is
// none or n does not fold.
func lowestFree(n Name, abbr string, maxLen int, known map[string]bool) (string, int) {
	var words [3][]string
	for i, part := range []string{n.Family, n.Middle, n.Given} {
		f, err := Fold(part)
		if err != nil {
			return "", 0
		}
		words[i] = strings.Fields(f)
	}
	if len(words[0]) == 0 || len(words[2]) == 0 {
		return "", 0
	}
	for k := 1; ; k++ {
		u := rung(words[0], words[1], words[2], abbr, k)
		switch {
		case len(u) <= maxLen && !known[u]:
			return u, k
		case k >= 4 && len(u) > maxLen:
			return "", 0
		}
	}
}

// knownTaken returns what the test knows to be taken before a batch: the
// directory and the reserved names.
func knownTaken(cfg UsernameConfig, dir map[string]bool) map[string]bool {
	known := make(map[string]bool, len(dir)+len(cfg.Reserved))
	for u := range dir {
		known[u] = true
	}
	for _, u := range cfg.Reserved {
		known[u] = true
	}
	return known
}

// directory returns the account names a directory holds before a batch:
// every organisational account of the example tree and the usernames of
// staff people, each given the lowest free rung by the reference ladder.
func directory(tb testing.TB, cfg UsernameConfig, staff []person) map[string]bool {
	tb.Helper()
	dir := map[string]bool{}
	for _, u := range exampleTree(tb).All() {
		dir[u.Account()] = true
	}
	known := knownTaken(cfg, dir)
	for _, p := range staff {
		if u, _ := lowestFree(p.name, p.unit.LadderAbbr(), cfg.MaxLength, known); u != "" {
			dir[u], known[u] = true, true
		}
	}
	return dir
}

// TestAllocator_population allocates 100,000 synthetic people (10,000 with
// -short) into a directory that already holds the province's
// organisational accounts and 20,000 staff, and checks each username
// against a ladder the test builds itself: it must be the first rung that
// was free when it was allocated, so all are unique. Names that do not
// fold must be refused with a *CharError.
func TestAllocator_population(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	cfg := DefaultUsernameConfig()
	dir := directory(t, cfg, population(t, 20_000, 2))
	known := knownTaken(cfg, dir)
	a := NewAllocator(cfg, func(u string) bool { return dir[u] })
	var rules [5]int // people per rule; [0] the refused
	deepest := 0
	for i, p := range population(t, n, 1) {
		abbr := p.unit.LadderAbbr()
		got, err := a.Allocate(p.name, abbr)
		want, k := lowestFree(p.name, abbr, cfg.MaxLength, known)
		if err != nil {
			var ce *CharError
			if !errors.As(err, &ce) || want != "" {
				t.Fatalf("person %d %+v in %s: %v; want %q", i, p.name, abbr, err, want)
			}
			rules[0]++
			continue
		}
		if got != want {
			t.Fatalf("person %d %+v in %s: got %q; the lowest free rung was %q", i, p.name, abbr, got, want)
		}
		known[got] = true
		rules[min(k, 4)]++
		deepest = max(deepest, k-2)
	}
	t.Logf("refused %d, rule 1 %d, rule 2 %d, rule 3 %d, rule 4 %d (highest number %d)", rules[0], rules[1], rules[2], rules[3], rules[4], deepest)
	if rules[0] == 0 || rules[3] == 0 || rules[4] == 0 {
		t.Errorf("the population did not exercise refusals, rule 3 and rule 4: %v", rules)
	}
}

// BenchmarkAllocate allocates a synthetic population in one batch, into a
// directory holding only the organisational accounts, and into one that
// also holds 100,000 other people.
func BenchmarkAllocate(b *testing.B) {
	cfg := DefaultUsernameConfig()
	people := population(b, 100_000, 1)
	empty := directory(b, cfg, nil)
	full := map[string]bool{}
	pre := NewAllocator(cfg, func(u string) bool { return empty[u] })
	for _, p := range population(b, 100_000, 2) {
		if u, err := pre.Allocate(p.name, p.unit.LadderAbbr()); err == nil {
			full[u] = true
		}
	}
	for u := range empty {
		full[u] = true
	}
	for _, bc := range []struct {
		name string
		n    int
		dir  map[string]bool
	}{
		{"empty/10k", 10_000, empty},
		{"empty/100k", 100_000, empty},
		{"populated/100k", 100_000, full},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a := NewAllocator(cfg, func(u string) bool { return bc.dir[u] })
				for _, p := range people[:bc.n] {
					_, _ = a.Allocate(p.name, p.unit.LadderAbbr())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.n), "ns/person")
		})
		b.Run(bc.name+"/in-set", func(b *testing.B) {
			// NewAllocatorIn, as the planner uses it: the directory's names
			// and those handed out in one map.
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				used := NewNameSet(len(bc.dir) + bc.n)
				for u := range bc.dir {
					used.Add(u)
				}
				b.StartTimer()
				a := NewAllocatorIn(cfg, used)
				for _, p := range people[:bc.n] {
					_, _ = a.Allocate(p.name, p.unit.LadderAbbr())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.n), "ns/person")
			b.ReportMetric(float64(b.N*bc.n)/b.Elapsed().Seconds(), "names/s")
		})
		b.Run(bc.name+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a := naiveAllocator{cfg: cfg, dir: bc.dir, mine: map[string]bool{}}
				for _, p := range people[:bc.n] {
					a.allocate(p.name, p.unit.LadderAbbr())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.n), "ns/person")
		})
	}
}

// naiveAllocator is the baseline the benchmarks measure the allocator
// against, in the same run: the ladder read straight from the regulation,
// as the tests' reference does it — fold every part as a string, build
// each rung, probe rule 4's numbers from 2 every time.
type naiveAllocator struct {
	cfg       UsernameConfig
	dir, mine map[string]bool
}

func (a *naiveAllocator) allocate(n Name, abbr string) string {
	var words [3][]string
	for i, part := range []string{n.Family, n.Middle, n.Given} {
		f, err := Fold(part)
		if err != nil {
			return ""
		}
		words[i] = strings.Fields(f)
	}
	if len(words[0]) == 0 || len(words[2]) == 0 {
		return ""
	}
	for k := 1; ; k++ {
		if k == 3 && abbr == "" {
			return ""
		}
		u := rung(words[0], words[1], words[2], abbr, k)
		if len(u) > a.cfg.MaxLength {
			if k >= 4 {
				return ""
			}
			continue
		}
		if !a.dir[u] && !a.mine[u] && !slices.Contains(a.cfg.Reserved, u) {
			a.mine[u] = true
			return u
		}
	}
}

// BenchmarkAllocate_sameName allocates 500 Nguyễn Văn Anh in one district,
// the deep rule 4 ladder.
func BenchmarkAllocate_sameName(b *testing.B) {
	b.Run("allocator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := NewAllocator(DefaultUsernameConfig(), nil)
			for range 500 {
				if _, err := a.Allocate(Name{"Nguyễn", "Văn", "Anh"}, "ns"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a := naiveAllocator{cfg: DefaultUsernameConfig(), mine: map[string]bool{}}
			for range 500 {
				if a.allocate(Name{"Nguyễn", "Văn", "Anh"}, "ns") == "" {
					b.Fatal("no username")
				}
			}
		}
	})
}
