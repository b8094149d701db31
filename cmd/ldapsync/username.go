package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ldapsync/ldapsync/rules"
)

func init() {
	register(&command{
		name: "username",
		args: "NAME...",
		summary: "Derive usernames offline by the NT Art. 4.2 ladder, in order, each counting as taken for the next, " +
			"and print one a line. NAME is a full name, or family|middle|given. Exits 1 on a name that cannot be used.",
		run: func(_ context.Context, a *app, fs *flag.FlagSet, args []string) int {
			path := a.configFlag(fs)
			unit := fs.String("unit", "", "account name of the people's unit in the config, e.g. vhtt_ns; needed when rules 1 and 2 are taken")
			takenFile := fs.String("taken", "", "file of names already taken, one a line")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			if fs.NArg() == 0 {
				fs.Usage()
				return exitUsage
			}
			l, err := loadConfig(*path)
			if err != nil {
				return a.fail(exitUsage, "%v", err)
			}
			abbr := ""
			if *unit != "" {
				u, ok := l.Rules.Units.Lookup(*unit)
				if !ok {
					return a.fail(exitUsage, "--unit %q is not the account name of a unit in %s (see ldapsync units)", *unit, *path)
				}
				abbr = u.LadderAbbr()
			}
			taken, err := readTaken(*takenFile)
			if err != nil {
				return a.fail(exitUsage, "--taken: %v", err)
			}
			// Organisational accounts are taken too (NT Art. 4.1).
			for _, u := range l.Rules.Units.All() {
				taken[u.Account()] = true
			}
			// Every name is checked before any is allocated, so the output
			// is either one username for each NAME or nothing.
			names := make([]rules.Name, fs.NArg())
			code := exitOK
			for i, arg := range fs.Args() {
				if names[i], err = parseNameArg(arg); err != nil {
					fmt.Fprintf(a.stderr, "ldapsync: %v\n", err)
					code = exitFailure
				}
			}
			if code != exitOK {
				return code
			}
			alloc := rules.NewAllocator(l.Rules.Username, func(u string) bool { return taken[u] })
			for _, n := range names {
				u, err := alloc.Allocate(n, abbr)
				if err != nil {
					return a.fail(exitFailure, "%v", err)
				}
				fmt.Fprintln(a.stdout, u)
			}
			return exitOK
		},
	})
}

// parseNameArg reads a NAME argument: "family|middle|given" gives the
// parts as HR does, anything else is a full name.
func parseNameArg(arg string) (rules.Name, error) {
	if !strings.Contains(arg, "|") {
		return rules.ParseFullName(arg)
	}
	parts := strings.Split(arg, "|")
	if len(parts) != 3 {
		return rules.Name{}, fmt.Errorf("name %q: want a full name or family|middle|given", arg)
	}
	return rules.NameFromParts(parts[0], parts[1], parts[2])
}

// readTaken reads a file of taken names, one a line; blank lines are
// skipped. Names are lower-cased, because LDAP matches uid without regard
// to case: TuanLV in the directory takes tuanlv. No file means nothing is
// taken.
func readTaken(path string) (map[string]bool, error) {
	taken := map[string]bool{}
	if path == "" {
		return taken, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if u := strings.ToLower(strings.TrimSpace(s.Text())); u != "" {
			taken[u] = true
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return taken, nil
}
