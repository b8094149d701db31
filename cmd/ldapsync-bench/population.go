package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ldapsync/ldapsync/rules"
)

// chamRaglaiFamilies are Cham and Raglai family names of Ninh Thuận, which
// the frequency data (counted from students elsewhere) barely holds; as in
// rules' population test, each gets chamRaglaiWeight, so that together they
// are about a fifth of the people, as the two peoples are of the province.
var chamRaglaiFamilies = []string{"Đàng", "Thập", "Quảng", "Châu", "Thiên", "Báo", "Pinăng", "Chamaléa", "Katơr", "Mấu", "Tà", "Lộ"}

const chamRaglaiWeight = 180

// titles are the positions people are drawn with, most of them staff (NT
// 5.2.c's staff rule); none is in rules.lifecycle.leader_titles.
var titles = []string{"Chuyên viên", "Chuyên viên", "Chuyên viên", "Cán bộ", "Công chức", "Kế toán", "Văn thư", "Chuyên viên chính", "Phó Trưởng phòng", "Trưởng phòng"}

// person is one synthetic member of staff, as HR would list them.
type person struct {
	EmployeeID   string
	Name         rules.Name
	Unit         string // the unit's account name
	Abbr         string // the unit's ladder abbreviation
	Title        string
	Phone        string
	Applications []string
}

// weighted draws names with probability proportional to their count.
type weighted struct {
	names []string
	cum   []int // cum[i] is the sum of the counts up to and including i
}

func (w *weighted) add(name string, count int) {
	total := count
	if n := len(w.cum); n > 0 {
		total += w.cum[n-1]
	}
	w.names = append(w.names, name)
	w.cum = append(w.cum, total)
}

func (w *weighted) draw(r *rand.Rand) string {
	x := r.IntN(w.cum[len(w.cum)-1])
	return w.names[sort.SearchInts(w.cum, x+1)]
}

// readTSV reads one file of the vn-names data: a header, then name and
// count separated by a tab.
func readTSV(dir, file string) (*weighted, error) {
	path := filepath.Join(dir, file)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := &weighted{}
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		name, count, ok := strings.Cut(s.Text(), "\t")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("%s: bad line %q", path, s.Text())
		}
		w.add(name, n)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(w.cum) == 0 {
		return nil, fmt.Errorf("%s: no names", path)
	}
	return w, nil
}

// generator draws people from the Vietnamese name frequencies
// (rules/testdata/vn-names, read at run time) over the units of the
// config, as rules' population test does: the same seed gives the same
// people, and common names collide as they do in a real province.
type generator struct {
	family, middle, given, middles *weighted
	units                          []*rules.Unit
	apps                           []string
	r                              *rand.Rand
	next                           int // the next employee number
}

func newGenerator(namesDir string, r *rules.Rules, seed uint64) (*generator, error) {
	g := &generator{r: rand.New(rand.NewPCG(seed, 0x6c647370))}
	var err error
	for _, f := range []struct {
		file string
		dst  **weighted
	}{{"family.tsv", &g.family}, {"middle.tsv", &g.middle}, {"given.tsv", &g.given}, {"middle-count.tsv", &g.middles}} {
		if *f.dst, err = readTSV(namesDir, f.file); err != nil {
			return nil, fmt.Errorf("names: %w", err)
		}
	}
	for _, name := range chamRaglaiFamilies {
		g.family.add(name, chamRaglaiWeight)
	}
	g.units = r.Units.All()
	for _, a := range r.Applications {
		g.apps = append(g.apps, a.Name)
	}
	if len(g.units) == 0 || len(g.apps) == 0 {
		return nil, fmt.Errorf("names: the config has no units or no applications")
	}
	return g, nil
}

// name draws a full name.
func (g *generator) name() rules.Name {
	k, _ := strconv.Atoi(g.middles.draw(g.r))
	ms := make([]string, k)
	for j := range ms {
		ms[j] = g.middle.draw(g.r)
	}
	return rules.Name{Family: g.family.draw(g.r), Middle: strings.Join(ms, " "), Given: g.given.draw(g.r)}
}

// unit draws a unit, evenly over the tree.
func (g *generator) unit() *rules.Unit { return g.units[g.r.IntN(len(g.units))] }

// applications draws the applications a person asks for: the first one
// (mail) always, each other one with probability 1/2.
func (g *generator) applications() []string {
	apps := []string{g.apps[0]}
	for _, a := range g.apps[1:] {
		if g.r.IntN(2) == 0 {
			apps = append(apps, a)
		}
	}
	return apps
}

// person draws the next new member of staff.
func (g *generator) person() person {
	g.next++
	u := g.unit()
	return person{
		EmployeeID:   fmt.Sprintf("NT-%07d", g.next),
		Name:         g.name(),
		Unit:         u.Account(),
		Abbr:         u.LadderAbbr(),
		Title:        titles[g.r.IntN(len(titles))],
		Phone:        fmt.Sprintf("0259 3%03d %03d", g.r.IntN(1000), g.r.IntN(1000)),
		Applications: g.applications(),
	}
}

// people draws n new members of staff.
func (g *generator) people(n int) []person {
	ps := make([]person, n)
	for i := range ps {
		ps[i] = g.person()
	}
	return ps
}
