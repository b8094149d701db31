package directory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/rules"
)

// benchDirectory starts a slapd that fsyncs every commit, as a production
// one does, and returns a client with the tree made.
func benchDirectory(b *testing.B) (*slapdtest.Server, directory.Config, *directory.Client) {
	b.Helper()
	srv := slapdtest.New(b, slapdtest.Options{Durable: true})
	cfg := srv.Config()
	c, err := directory.Dial(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := c.EnsureTree(context.Background(), testRules(b)); err != nil {
		b.Fatal(err)
	}
	return srv, cfg, c
}

// BenchmarkClient_SetGroups gives one person an application and takes it
// away again, while the application's group holds n other members, on a
// slapd that fsyncs every commit. back-mdb rewrites the whole group entry
// on every change, so the cost grows with the group: the baseline is a
// group of 100.
func BenchmarkClient_SetGroups(b *testing.B) {
	for _, n := range []int{100, 5_000, 20_000} {
		name := fmt.Sprintf("members=%d", n)
		if n == 100 {
			name += "/baseline"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			srv, cfg, c := benchDirectory(b)
			p := rules.Account{UID: "hoa", EmployeeID: "NV1", CN: "Trần Thị Hoa", SN: "Trần", GivenName: "Hoa", Mail: "hoa@ninhthuan.gov.vn", Unit: "sonv"}
			if err := c.CreatePerson(ctx, p); err != nil {
				b.Fatal(err)
			}
			root, err := ldap.DialURL(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			defer root.Close()
			if err := root.Bind(srv.RootDN, srv.RootPassword); err != nil {
				b.Fatal(err)
			}
			others := make([]string, n)
			for i := range others {
				others[i] = fmt.Sprintf("uid=other%06d,%s,%s", i, cfg.People, cfg.BaseDN)
			}
			fill := ldap.NewModifyRequest(cfg.GroupDN("mail"), nil)
			fill.Add("member", others)
			if err := root.Modify(fill); err != nil {
				b.Fatal(err)
			}
			dn := cfg.PersonDN(p.UID)
			sets := [][]string{{"mail"}, nil}
			i := 0
			for b.Loop() {
				if err := c.SetGroups(ctx, dn, sets[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/change")
		})
	}
}

// BenchmarkClient_ChangeGroups adds 100 people to a group of 5,000, on a
// slapd that fsyncs every commit: in one ChangeGroups call, as a batch is
// applied, against the baseline of one call per person.
func BenchmarkClient_ChangeGroups(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := "batched"
		if !batched {
			name = "one-per-person/baseline"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			_, cfg, c := benchDirectory(b)
			fill := make([]string, 5000)
			for i := range fill {
				fill[i] = fmt.Sprintf("uid=other%06d,%s,%s", i, cfg.People, cfg.BaseDN)
			}
			if err := c.ChangeGroups(ctx, []rules.GroupChange{{Group: "mail", Add: fill}}); err != nil {
				b.Fatal(err)
			}
			round := 0
			for b.Loop() {
				dns := make([]string, 100)
				for i := range dns {
					dns[i] = fmt.Sprintf("uid=new%d-%03d,%s,%s", round, i, cfg.People, cfg.BaseDN)
				}
				round++
				var err error
				if batched {
					err = c.ChangeGroups(ctx, []rules.GroupChange{{Group: "mail", Add: dns}})
				} else {
					for _, dn := range dns {
						if err = c.ChangeGroups(ctx, []rules.GroupChange{{Group: "mail", Add: []string{dn}}}); err != nil {
							break
						}
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*100)/1000, "ms/person")
		})
	}
}
