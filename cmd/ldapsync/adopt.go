package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name:    "adopt",
		args:    "ROSTER [--dry-run] [--by NAME]",
		summary: "Adopt the accounts made by hand before ldapsync: match them to a roster, and take over the exact matches where they are.",
		help: `Entries that look like people (inetOrgPerson) and have no employeeNumber,
wherever they are under the base (ou=people, per-unit OUs, ou=Users), are
matched to the roster's people that ldapsync does not manage yet: by the
roster's username or mail column when HR has one, otherwise by the full name
(without case or diacritics) among the entries of the row's unit, of a unit
above or below it, or of no known unit. One candidate is a match; two, or an
entry two rows claim, is ambiguous. --dry-run shows the matching and changes
nothing. Without it, each exact match is adopted: employeeNumber, the
ldapsync object class, the unit (departmentNumber) and the status are
written on the entry, audited. Nothing is moved or renamed: applications
store DNs, so an adopted entry keeps its DN, and its username, even off the
NT 4.2 ladder (such usernames are listed). Ambiguous and unmatched ones are
left for an administrator; until an entry is adopted, a hire whose name and
unit match it is held by the guard ("ldapsync pending") instead of giving
the person a second account. Goes through the running daemon when it runs.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			dry := fs.Bool("dry-run", false, "show the matching; change nothing")
			by := fs.String("by", "", "who asks, for the audit (default $SUDO_USER or $USER)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 1 {
				fs.Usage()
				return exitUsage
			}
			path, err := filepath.Abs(fs.Arg(0))
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			who := a.operatorName(*by)
			need := writeDir
			if *dry {
				need = readDir
			}
			var res *sync.AdoptResult
			code := a.operate(ctx, f, need,
				func(c *api.Client) (err error) { res, err = c.Adopt(ctx, path, *dry, who); return err },
				func(e *sync.Engine) (err error) { res, err = e.AdoptRoster(ctx, path, *dry, who); return err })
			if code != exitOK {
				return code
			}
			if *f.output == "json" {
				return exitCode(writeJSON(a.stdout, res))
			}
			rep := res.Report
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "matched (%d):\n", len(rep.Matched))
			for _, m := range rep.Matched {
				off := ""
				if m.OffLadder {
					off = "username off the NT 4.2 ladder: kept"
				}
				fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\t→ %s\tby %s\t%s\n", m.Line, m.EmployeeID, m.Name, m.Unit, m.DN, m.By, off)
			}
			fmt.Fprintf(tw, "ambiguous, for an administrator (%d):\n", len(rep.Ambiguous))
			for _, c := range rep.Ambiguous {
				fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\t→ %v\n", c.Line, c.EmployeeID, c.Name, c.Unit, c.DNs)
			}
			fmt.Fprintf(tw, "roster people with no entry (%d): a reconciliation hires them\n", len(rep.UnmatchedRows))
			for _, c := range rep.UnmatchedRows {
				fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\n", c.Line, c.EmployeeID, c.Name, c.Unit)
			}
			fmt.Fprintf(tw, "hand-made entries no row matched (%d): left alone\n", len(rep.UnmatchedEntries))
			for _, dn := range rep.UnmatchedEntries {
				fmt.Fprintf(tw, "  %s\n", dn)
			}
			tw.Flush()
			if *dry {
				fmt.Fprintf(a.stdout, "dry run: nothing was changed (%d already managed by ldapsync)\n", rep.Managed)
				return exitOK
			}
			fmt.Fprintf(a.stdout, "%d adoptions journaled; %d operations applied, %d done, %d refused\n", res.Added, res.Run.Applied, res.Run.Done, res.Run.Refused)
			if res.Run.Refused > 0 {
				return exitFailure
			}
			return exitOK
		},
	})
}
