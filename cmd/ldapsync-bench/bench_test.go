package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
)

// TestBench runs every workload of make bench at N=200, with the real
// daemon binary, and checks that the table has every row and that its
// numbers are sane, so that the bench cannot rot between the runs that
// BENCHMARKS.md reports. It needs slapd: under CI=true a missing slapd
// fails the test instead of skipping it.
func TestBench(t *testing.T) {
	if err := slapdtest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true, so this is a failure)", err)
		}
		t.Skipf("%v; skipping", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ldapsync")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/ldapsync/ldapsync/cmd/ldapsync")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := options{
		N: 200, Conns: 4, Batch: 50, Seed: 1,
		Names:   filepath.Join("..", "..", "rules", "testdata", "vn-names"),
		Example: filepath.Join("..", "..", "config.example.yaml"),
		Bin:     bin, Dir: filepath.Join(dir, "run"),
		CPUProfile: filepath.Join(dir, "cpu"), MemProfile: filepath.Join(dir, "mem"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	r, err := bench1(ctx, o, &out)
	if err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Log("\n" + table)
	for _, name := range rowNames {
		if !strings.Contains(table, "| "+name+" ") {
			t.Errorf("no row %q in the table", name)
		}
	}
	for _, h := range []string{"machine: ", "slapd ", "N = 200, P = 4", "seed 1", "| workload | ldapsync | baseline, same run | ratio |"} {
		if !strings.Contains(table, h) {
			t.Errorf("the report lacks %q", h)
		}
	}
	// Sane: every workload took time and did its work, every baseline
	// ran, and no ratio is absurd.
	for _, w := range []struct {
		name string
		w    workload
	}{{"initial load", r.load}, {"daily batch", r.batch}, {"sweep", r.sweep}, {"roster", r.roster}} {
		if w.w.elapsed <= 0 || w.w.baseline <= 0 || w.w.n <= 0 {
			t.Errorf("%s: %v against a baseline of %v for %d", w.name, w.w.elapsed, w.w.baseline, w.w.n)
			continue
		}
		if q := w.w.elapsed.Seconds() / w.w.baseline.Seconds(); q < 0.05 || q > 20 {
			t.Errorf("%s: %v against a baseline of %v: ratio %.2f", w.name, w.w.elapsed, w.w.baseline, q)
		}
	}
	if r.load.n < 190 || r.load.writes < int64(r.load.n) || r.lowerBound <= 0 || r.lowerBoundPeople != r.load.n {
		t.Errorf("initial load: %d accounts, %d writes, lower bound %v for %d people", r.load.n, r.load.writes, r.lowerBound, r.lowerBoundPeople)
	}
	if r.batch.writes == 0 || r.batch.report.Done < 45 {
		t.Errorf("daily batch: %d writes, %+v", r.batch.writes, r.batch.report)
	}
	if r.sweep.reads == 0 || r.roster.derived == 0 {
		t.Errorf("sweep: %d reads; roster: %d events derived", r.sweep.reads, r.roster.derived)
	}
	if r.allocN != 200 || r.allocRate <= 0 || r.allocAllocs <= 0 {
		t.Errorf("allocation: %d names at %.0f/s, %.2f allocs each", r.allocN, r.allocRate, r.allocAllocs)
	}
	if r.daemonReady <= 0 || r.daemonRSS <= 1 || r.daemonFileRSS < r.daemonRSS || r.daemonFileRows != r.daemonAccounts {
		t.Errorf("daemon: ready in %v, %.1f MB, %.1f MB with a file of %d rows", r.daemonReady, r.daemonRSS, r.daemonFileRSS, r.daemonFileRows)
	}
	if r.snapPeople < 190 || r.snapAlloc == 0 || r.snapHeap == 0 {
		t.Errorf("snapshot: %d people, %d bytes allocated, heap %d", r.snapPeople, r.snapAlloc, r.snapHeap)
	}
	for _, p := range []string{o.CPUProfile + ".load", o.CPUProfile + ".batch", o.CPUProfile + ".sweep", o.CPUProfile + ".roster", o.CPUProfile + ".alloc", o.MemProfile + ".snapshot"} {
		if fi, err := os.Stat(p + ".pprof"); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
	}
}
