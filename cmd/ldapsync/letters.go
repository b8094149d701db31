package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/sync"
)

func init() {
	register(&command{
		name: "letters",
		args: "[done FILE...]",
		summary: "List the sealed letters waiting for delivery; \"letters done FILE...\" removes the delivered ones " +
			"and records each in the audit log.",
		help: `The list gives each letter's unit, account, event, file, when it was
written, and whether it is encrypted with age (a unit with age_recipients,
its own or its parent's, gets .txt.age letters; the others get .txt
files readable by ldapsync's user only). No letter is opened: the list
never shows a password.
"letters done" takes letters from the list once they are handed over: each
must be a letter in a unit's directory under sync.letters_dir, or nothing
is removed. Each removal is recorded in the audit log (letter_delivered,
with the operator: --by, else $SUDO_USER or $USER) before the file goes.
Goes through the running daemon when it runs.`,
		run: func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int {
			f := a.operatorFlags(fs)
			by := fs.String("by", "", "with done: the operator who delivered them, for the audit (default $SUDO_USER or $USER)")
			if code := a.parse(fs, args); code >= 0 {
				return code
			}
			switch {
			case fs.NArg() == 0:
				return a.listLetters(f)
			case fs.Arg(0) == "done" && fs.NArg() > 1:
				return a.lettersDone(ctx, f, fs.Args()[1:], *by)
			default:
				fs.Usage()
				return exitUsage
			}
		},
	})
}

// listLetters prints the letters waiting for delivery.
func (a *app) listLetters(f *operatorFlags) int {
	if *f.output != "text" && *f.output != "json" {
		return a.fail(exitUsage, "--output %q: want text or json", *f.output)
	}
	l, err := loadConfig(*f.config)
	if err != nil {
		return a.fail(exitUsage, "%v", err)
	}
	letters, err := sync.ListLetters(l.Cfg.Sync)
	if err != nil {
		return a.fail(exitFailure, "%v", err)
	}
	for i := range letters {
		letters[i].Written = letters[i].Written.In(l.Rules.Location)
	}
	if *f.output == "json" {
		if letters == nil {
			letters = []sync.LetterFile{}
		}
		return exitCode(writeJSON(a.stdout, letters))
	}
	if len(letters) == 0 {
		fmt.Fprintf(a.stdout, "no letters waiting for delivery in %s\n", l.Cfg.Sync.Letters())
		return exitOK
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WRITTEN\tUNIT\tUID\tEVENT\tENCRYPTED\tFILE")
	for _, lf := range letters {
		event := lf.EventID
		if lf.Source != "" {
			event = lf.Source + "/" + lf.EventID
		}
		enc := "no"
		if lf.Encrypted {
			enc = "age"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", lf.Written.Format(time.RFC3339), lf.Unit, lf.UID, event, enc, lf.File)
	}
	return exitCode(tw.Flush())
}

// lettersDone removes delivered letters, through the running daemon (which
// holds the audit log) or an engine of its own.
func (a *app) lettersDone(ctx context.Context, f *operatorFlags, files []string, by string) int {
	who := a.operatorName(by)
	// The same letter named twice is delivered once.
	seen := map[string]bool{}
	files = slices.DeleteFunc(slices.Clone(files), func(p string) bool {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		dup := seen[abs]
		seen[abs] = true
		return dup
	})
	for i, p := range files {
		if abs, err := filepath.Abs(p); err == nil {
			files[i] = abs // the daemon resolves them, not this directory
		}
	}
	code := a.operate(ctx, f, journalOnly,
		func(c *api.Client) (err error) { who, err = c.LettersDone(ctx, files, who); return err },
		func(e *sync.Engine) error { return e.LettersDone(files, who) })
	if code != exitOK {
		return code
	}
	if *f.output == "json" {
		return exitCode(writeJSON(a.stdout, struct {
			Removed []string `json:"removed"`
			By      string   `json:"by"`
		}{files, who}))
	}
	for _, p := range files {
		fmt.Fprintf(a.stdout, "delivered and removed: %s\n", p)
	}
	fmt.Fprintf(a.stdout, "%d recorded in the audit log by %s\n", len(files), who)
	return exitOK
}
