package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// printReport prints the machine, the run's parameters and the table.
func printReport(w io.Writer, m machineInfo, o options, r results, total time.Duration) {
	fmt.Fprintf(w, "machine: %s, %d cores; %s; slapd %s; %s\n", m.CPU, m.Cores, m.OS, m.Slapd, m.Go)
	fmt.Fprintf(w, "date: %s; N = %d, P = %d connections, seed %d; whole run %s s; load average %s at the start, %s at the end\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), o.N, o.Conns, o.Seed, secs(total), r.loadStart, r.loadEnd)
	fmt.Fprintln(w, "| workload | ldapsync | baseline, same run | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, row := range tableRows(o, r) {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
	for _, n := range notes(o, r) {
		fmt.Fprintln(w, "- "+n)
	}
}

// rowNames are the workloads, in the table's order; the smoke test checks
// that each is printed.
var rowNames = []string{
	"initial load of",
	"daily batch of",
	"lifecycle sweep over",
	"roster reconciliation of",
	"username allocation for",
	"daemon peak RSS holding",
	"daemon peak RSS while",
}

func tableRows(o options, r results) [][]string {
	l := r.load
	perAcct := func(v int64) string { return fmt.Sprintf("%.2f", float64(v)/float64(max(l.n, 1))) }
	return [][]string{
		{
			fmt.Sprintf("%s %d people (plan, usernames, adds, passwords, letters, audit)", rowNames[0], o.N),
			fmt.Sprintf("%s s, %.0f accounts/s, %s writes and %s reads per account", secs(l.elapsed), rate(l.n, l.elapsed), perAcct(l.writes), perAcct(l.reads)),
			fmt.Sprintf("(a) lower bound, %d `ldapadd -c` processes (one connection each, as the service account) then one `ldapmodify` per group with all its members: %s s (adds %s s, group modifies %s s); (b) replay of its %d requests over %d go-ldap connections on a fresh slapd in the same starting state: %s s",
				o.Conns, secs(r.lowerBound), secs(r.lowerBound-r.lowerBoundGroups), secs(r.lowerBoundGroups), l.reads+l.writes, o.Conns, secs(l.baseline)),
			fmt.Sprintf("%s× (a), %s× (b)", ratio(l.elapsed, r.lowerBound), ratio(l.elapsed, l.baseline)),
		},
		{
			fmt.Sprintf("%s %d mixed changes (hires, transfers, title changes, departures, application changes) into a directory of %d", rowNames[1], r.batch.n, l.n),
			fmt.Sprintf("%s s, %.2f writes per change (%.2f reads)", secs(r.batch.elapsed), float64(r.batch.writes)/float64(max(r.batch.n, 1)), float64(r.batch.reads)/float64(max(r.batch.n, 1))),
			fmt.Sprintf("replay of its %d requests on a copy of the pre-batch directory (slapcat, slapadd -q): %s s", r.batch.reads+r.batch.writes, secs(r.batch.baseline)),
			ratio(r.batch.elapsed, r.batch.baseline) + "×",
		},
		{
			fmt.Sprintf("%s %d accounts (nothing due)", rowNames[2], r.sweep.n),
			fmt.Sprintf("%s s (%d reads, %d writes)", secs(r.sweep.elapsed), r.sweep.reads, r.sweep.writes),
			fmt.Sprintf("paged `ldapsearch` (the program) of the same %d searches, same attributes: %s s", r.sweep.reads, secs(r.sweep.baseline)),
			ratio(r.sweep.elapsed, r.sweep.baseline) + "×",
		},
		{
			fmt.Sprintf("%s %d with 1 %% changed", rowNames[3], r.roster.n),
			fmt.Sprintf("%s s (%d events derived, %d writes, %d reads)", secs(r.roster.elapsed), r.roster.derived, r.roster.writes, r.roster.reads),
			fmt.Sprintf("paged `ldapsearch` of its %d searches (%s s) + replay of its %d writes on a copy (%s s): %s s",
				r.roster.reads, secs(r.roster.baselineSearch), r.roster.writes, secs(r.roster.baseline-r.roster.baselineSearch), secs(r.roster.baseline)),
			ratio(r.roster.elapsed, r.roster.baseline) + "×",
		},
		{
			fmt.Sprintf("%s %d people into a directory of %d", rowNames[4], r.allocN, l.n),
			fmt.Sprintf("%.0f names/s, %.2f allocs/op (one core)", r.allocRate, r.allocAllocs),
			"—", "—",
		},
		{
			fmt.Sprintf("%s %d; time from start to ready", rowNames[5], r.daemonAccounts),
			fmt.Sprintf("%.0f MB; %s s (a journal of %d events, all resolved)", r.daemonRSS, secs(r.daemonReady), r.journalEvents),
			"—", "—",
		},
		{
			fmt.Sprintf("%s a %d-row event file is read, planned and applied", rowNames[6], r.daemonFileRows),
			fmt.Sprintf("%.0f MB (the file: `+%s` for every account, all resolved in %s s)", r.daemonFileRSS, r.daemonFileApp, secs(r.daemonFileTime)),
			"—", "—",
		},
	}
}

// notes are what the table's cells have no room for: refusals, replay
// errors, where the CPU went.
func notes(o options, r results) []string {
	cpu := func(name string, w workload) string {
		s := fmt.Sprintf("%s: CPU ldapsync (this process) %s s, slapd %s s, over %s s of wall time", name, secs(w.benchCPU), secs(w.ldCPU), secs(w.elapsed))
		if w.times != nil {
			s += fmt.Sprintf("; time summed over the lanes, applier operations (with their letters and audit records): %s; LDAP requests: %s",
				summary(w.times.ops), summary(w.times.ldap))
		}
		return s
	}
	out := []string{
		cpu("initial load", r.load),
		cpu("daily batch", r.batch),
		cpu("sweep", r.sweep),
		cpu("roster", r.roster),
		fmt.Sprintf("initial load: %d hires, %d accounts created, %d refused (names that do not fold, as the regulation requires); lower bound: %d entries", o.N, r.load.n, r.load.refused, r.lowerBoundPeople),
		fmt.Sprintf("daily batch: %d events done, %d operations applied, %d refused", r.batch.report.Done, r.batch.report.Applied, r.batch.refused),
		fmt.Sprintf("one directory snapshot of %d people (what the daemon reads at start and for each batch): %d MB allocated in %.1f M objects, heap in use %d MB before a collection, %d MB after (the snapshot held)",
			r.snapPeople, r.snapAlloc>>20, float64(r.snapObjects)/1e6, r.snapHeap>>20, r.snapLive>>20),
	}
	for _, w := range []struct {
		name string
		w    workload
	}{{"initial load", r.load}, {"daily batch", r.batch}, {"roster", r.roster}} {
		if len(w.w.replayErrors) > 0 {
			var parts []string
			for k, n := range w.w.replayErrors {
				parts = append(parts, fmt.Sprintf("%s %d×", k, n))
			}
			slices.Sort(parts)
			out = append(out, fmt.Sprintf("%s replay: requests refused by the copy as they were in ldapsync's own run, which handled them: %s", w.name, strings.Join(parts, ", ")))
		}
	}
	return out
}

func secs(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f", s)
	case s >= 10:
		return fmt.Sprintf("%.1f", s)
	case s >= 1:
		return fmt.Sprintf("%.2f", s)
	}
	return fmt.Sprintf("%.3f", s)
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
}
