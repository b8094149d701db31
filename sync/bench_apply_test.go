package sync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/testclock"
	"github.com/ldapsync/ldapsync/rules"
)

// BenchmarkApply applies batches of hires to a real slapd that fsyncs every
// commit as a production one does: per hire, an add, a Password Modify
// (hashed with {ARGON2} by slapd) and the pwdReset flag, the sealed letter
// and the audit records, and per batch one change to each group (the
// active group and two applications). The baseline is the same batches
// through one connection, one person at a time; the other runs use
// directory.connections people at once. "groups=20000" runs with the
// groups already holding 20,000 members each, as a province's do.
func BenchmarkApply(b *testing.B) {
	const batch = 25
	r := exampleRules(b)
	for _, bc := range []struct {
		conns, members int
	}{{1, 0}, {2, 0}, {4, 0}, {4, 20_000}} {
		conns := bc.conns
		name := fmt.Sprintf("connections=%d", conns)
		if bc.members > 0 {
			name += fmt.Sprintf("/groups=%d", bc.members)
		}
		if conns == 1 {
			name += "/baseline"
		}
		b.Run(name, func(b *testing.B) {
			srv := slapdtest.New(b, slapdtest.Options{Durable: true})
			dcfg := srv.Config()
			dcfg.Connections = conns
			ctx := context.Background()
			client, err := directory.Dial(ctx, dcfg, zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			cfg := DefaultConfig()
			cfg.StateDir = b.TempDir()
			eng, err := Open(Options{Config: cfg, Rules: r, Directory: client, Layout: layoutOf(dcfg), Parallel: conns, Log: zerolog.Nop(), Now: testclock.Clock()})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			if err := eng.EnsureTree(ctx); err != nil {
				b.Fatal(err)
			}
			if bc.members > 0 {
				others := make([]string, bc.members)
				for i := range others {
					others[i] = dcfg.PersonDN(fmt.Sprintf("other%06d", i))
				}
				var fill []rules.GroupChange
				for _, g := range []string{dcfg.ActiveGroup, "eoffice", "mail"} {
					fill = append(fill, rules.GroupChange{Group: g, Add: others})
				}
				if err := client.ChangeGroups(ctx, fill); err != nil {
					b.Fatal(err)
				}
			}
			names := []string{"Nguyễn Văn Anh", "Lê Văn Tuấn", "Trần Thị Hoa", "Đàng Năng Thọ", "Phạm Minh Đức"}
			units := []string{"sotttt", "ubnd_nh", "vhtt_ns", "sonv_vp"}
			round := 0
			b.ResetTimer()
			for b.Loop() {
				events := make([]Event, batch)
				for i := range events {
					n, _ := rules.ParseFullName(names[i%len(names)])
					events[i] = Event{
						Source: SourceInbox, ID: fmt.Sprintf("B%d-%d", round, i), Type: Hire,
						Effective: effective, EmployeeID: fmt.Sprintf("E%d-%d", round, i),
						Name: n, Unit: units[i%len(units)], Applications: []string{"eoffice", "mail"},
						Reply: Reply{Name: "Văn phòng"}, Received: time.Now(),
					}
				}
				round++
				if _, err := eng.Journal().Add(events, time.Now()); err != nil {
					b.Fatal(err)
				}
				_, rep, err := eng.Process(ctx)
				if err != nil || rep.Done != batch {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1e6, "ms/hire")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "hires/s")
		})
	}
}
