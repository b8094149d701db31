package sync

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/rules"
)

// syntheticCSV is n hire rows over a few units, with the name collisions
// real rosters have.
func syntheticCSV(n int) []byte {
	names := []string{"Nguyễn Văn Anh", "Lê Văn Tuấn", "Trần Thị Hoa", "Đàng Năng Thọ", "Phạm Minh Đức", "Nguyễn Thị Lan", "Võ Quốc Bảo"}
	units := []string{"sotttt", "ubnd_nh", "vhtt_ns", "sonv_vp", "ttcntttt", "ubnd_phuochai"}
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		b.WriteString(row(fmt.Sprintf("E%06d", i), fmt.Sprintf("NV%06d", i), names[i%len(names)], units[i%len(units)]))
	}
	return []byte(b.String())
}

// BenchmarkParse reads a 10,000-row personnel file into validated events.
// The baseline is encoding/csv reading the same bytes, so the difference is
// the cost of validation: names folded, units looked up, fields checked.
func BenchmarkParse(b *testing.B) {
	r := exampleRules(b)
	data := syntheticCSV(10_000)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			batch, err := Parse("in.csv", data, SourceInbox, r, t0)
			if err != nil || len(batch.Events) != 10_000 {
				b.Fatal(err, len(batch.Rejected))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/row")
	})
	b.Run("baseline-csv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
			if err != nil || len(rows) != 10_001 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/row")
	})
}

// BenchmarkPlan plans 10,000 hires against a directory of 20,000 people.
// The baseline is the allocator alone over the same people, so the
// difference is what planning adds around it.
func BenchmarkPlan(b *testing.B) {
	r := exampleRules(b)
	batch, err := Parse("in.csv", syntheticCSV(30_000), SourceInbox, r, t0)
	if err != nil {
		b.Fatal(err)
	}
	pl := &Planner{Rules: r, Layout: layout}
	var existing []Entry
	for i, ev := range batch.Events[:20_000] {
		existing = append(existing, Entry{Seq: uint64(i + 1), Event: ev})
	}
	snap := &rules.Snapshot{}
	for _, op := range pl.Plan(existing, &rules.Snapshot{}, t0).Ops {
		if op.Kind == OpCreate {
			p := op.Person()
			p.PasswordChanged, p.MustChange = t0, true
			snap.People = append(snap.People, p)
		}
	}
	var entries []Entry
	for i, ev := range batch.Events[20_000:] {
		entries = append(entries, Entry{Seq: uint64(i + 1), Event: ev})
	}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p := pl.Plan(entries, snap, t0); len(p.Ops) != 30_000 {
				b.Fatal(len(p.Ops), len(p.Refused))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/event")
	})
	b.Run("baseline-allocate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st := newPlanState(pl, snap, t0)
			for _, e := range entries {
				u, _ := r.Units.Lookup(e.Event.Unit)
				if _, err := st.alloc.Allocate(e.Event.Name, u.LadderAbbr()); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/event")
	})
}
