package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ldapsync/ldapsync/rules"
)

func init() {
	register(&command{
		name:    "units",
		summary: "Print the configured unit tree: each unit's account name, kind, abbreviation and full name, indented under the unit above it.",
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() != 0 {
				fs.Usage()
				return exitUsage
			}
			l, err := loadConfig(*path)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ACCOUNT\tKIND\tABBR\tNAME")
			writeUnits(tw, l.Rules.Units.Roots, 0)
			if err := tw.Flush(); err != nil {
				return a.fail(exitFailure, "%v", err)
			}
			return exitOK
		},
	})
}

// writeUnits writes one line a unit, each indented two spaces more than
// the unit above it. A commune has no abbreviation: "-".
func writeUnits(w io.Writer, units []*rules.Unit, depth int) {
	for _, u := range units {
		abbr := u.Abbr
		if abbr == "" {
			abbr = "-"
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\n", strings.Repeat("  ", depth), u.Account(), u.Kind, abbr, u.Name)
		writeUnits(w, u.Units, depth+1)
	}
}
