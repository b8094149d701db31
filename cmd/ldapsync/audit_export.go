package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/sync"
)

// auditExportHelp is the help of "audit export", which has flags of its
// own.
const auditExportHelp = `Reads the audit log (FILE, default <sync.state_dir>/audit.jsonl) without
the state directory's lock, so a running daemon is no obstacle, and
verifies the whole chain as it reads: a changed, removed or reordered
record fails the export and nothing is written. Selects the records of
--from 00:00 to the end of --to (both YYYY-MM-DD in rules.timezone) and
writes them to stdout:

  csv   columns seq, time (RFC 3339 in rules.timezone), action, op, uid,
        dn, employee_id, event (source/event_id), reason, article,
        requested_by, detail (k=v; ...). A cell that starts with = + - @,
        a tab or a carriage return gets a leading ' so that a spreadsheet
        shows it as text and never runs it.
  json  JSON Lines: each record as the log holds it (time in UTC, with
        prev and hash), to check against the log.

--unit U keeps the records about unit U as the audit log itself tells
it, at the time of each record: an account's creation or adoption names
its unit, and each move the unit it leaves and the one it joins (a move's
record is in both); every other record about the account (by uid, else
employee id) is in the unit the account was in then, and an intent in
the units of its outcome too. Records about no
account of a known unit (the tree, hold decisions, events refused before
the person had an account) are left out of a --unit export. The audit
holds no password, so neither does an export. A summary (records
exported, chain head) goes to stderr.`

// auditExport runs "audit export".
func (a *app) auditExport(_ context.Context, args []string) int {
	c := &command{name: "audit export", args: "--from DATE --to DATE [--format csv|json] [--unit UNIT] [FILE]",
		summary: "Export the audit records of a period, for an inspector (NT 8.2).", help: auditExportHelp}
	fs := a.flags(c)
	path := a.configFlag(fs)
	from := fs.String("from", "", "first day, YYYY-MM-DD in rules.timezone (required)")
	to := fs.String("to", "", "last day, YYYY-MM-DD in rules.timezone, included (required)")
	format := fs.String("format", "csv", "output format: csv or json (JSON Lines)")
	unit := fs.String("unit", "", "only the records about this unit (its account name, e.g. sotttt)")
	if code := a.parse(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	if *format != "csv" && *format != "json" {
		return a.fail(exitUsage, "--format %q: want csv or json", *format)
	}
	l, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return exitUsage
	}
	loc := l.Rules.Location
	start, end, err := exportWindow(*from, *to, loc)
	if err != nil {
		return a.fail(exitUsage, "%v", err)
	}
	u := strings.TrimSpace(*unit)
	if u != "" {
		if _, ok := l.Rules.Units.Lookup(u); !ok {
			fmt.Fprintf(a.stderr, "ldapsync: warning: --unit %q is not a unit of the config (a unit since ceased?): exporting the records that name it\n", u)
		}
	}
	file := fs.Arg(0)
	if file == "" {
		file = sync.AuditPath(l.Cfg.Sync)
	}
	sel, err := sync.SelectAudit(file, start, end, u)
	if err != nil {
		return a.fail(exitFailure, "%v; nothing exported", err)
	}
	recs := sel.Records
	if *format == "json" {
		err = sync.WriteAuditJSON(a.stdout, recs)
	} else {
		err = sync.WriteAuditCSV(a.stdout, recs, loc)
	}
	if err != nil {
		return a.fail(exitFailure, "%v", err)
	}
	fmt.Fprintf(a.stderr, "%s: %d of %d records exported (%s to %s), chain intact, head %s\n",
		file, len(recs), sel.Total, start.Format(time.RFC3339), end.Format(time.RFC3339), sel.Head)
	return exitOK
}

// exportWindow returns [00:00 of from, 24:00 of to) in loc.
func exportWindow(from, to string, loc *time.Location) (start, end time.Time, err error) {
	if from == "" || to == "" {
		return start, end, fmt.Errorf("--from and --to are required (YYYY-MM-DD)")
	}
	f, err := rules.ParseDate(from)
	if err != nil || strings.Contains(from, "/") {
		return start, end, fmt.Errorf("--from %q: want YYYY-MM-DD", from)
	}
	t, err := rules.ParseDate(to)
	if err != nil || strings.Contains(to, "/") {
		return start, end, fmt.Errorf("--to %q: want YYYY-MM-DD", to)
	}
	if t.Before(f) {
		return start, end, fmt.Errorf("--to %s is before --from %s", t, f)
	}
	return f.In(loc), t.AddDays(1).In(loc), nil
}
