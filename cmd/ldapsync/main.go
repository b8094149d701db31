// Command ldapsync keeps an OpenLDAP directory of civil-servant accounts in
// step with personnel changes, following the Vietnamese government account
// regulations. This package is flags, logging, signals and wiring; the
// domain lives in rules, the LDAP in directory, the pipeline in sync.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	_ "time/tzdata" // effective dates are reckoned in Asia/Ho_Chi_Minh even on a bare container
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and something failed or was rejected
	exitUsage   = 2 // the command line or the config is wrong
)

// command is one subcommand.
type command struct {
	name    string
	args    string // the arguments synopsis for usage
	summary string // one line, for the command list
	help    string // more, for the command's own --help
	// run defines its flags on fs, parses args with a.parse, and runs.
	run func(ctx context.Context, a *app, fs *flag.FlagSet, args []string) int
}

var commands []*command

// register adds a subcommand; each lives in its own file.
func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// app is what every subcommand shares: the standard streams and the
// environment, so tests run commands in-process.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// hup, when set, replaces SIGHUP for run (tests).
	hup chan os.Signal
}

func main() {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	// SIGINT and SIGTERM end the context; commands stop cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return c.run(ctx, a, a.flags(c), []string{"--help"})
			}
		}
		a.usage(a.stdout)
		return exitOK
	case "-version", "--version":
		args[0] = "version"
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(a.stderr, "ldapsync: unknown command %q\n\n", args[0])
		a.usage(a.stderr)
		return exitUsage
	}
	return c.run(ctx, a, a.flags(c), args[1:])
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "ldapsync keeps an OpenLDAP directory of civil-servant accounts in step with personnel changes.")
	fmt.Fprintln(w, "\nUsage:\n  ldapsync COMMAND [flags] [args]\n\nCommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cs := slices.Clone(commands)
	slices.SortFunc(cs, func(x, y *command) int { return strings.Compare(x.name, y.name) })
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun \"ldapsync COMMAND --help\" for a command's flags.")
}

// flags returns a FlagSet for c whose usage prints c's synopsis, summary
// and flags to the app's stderr (stdout for --help).
func (a *app) flags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: ldapsync %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
		if c.help != "" {
			fmt.Fprintf(w, "\n%s\n", c.help)
		}
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args, flags and arguments in any order ("plan FILE
// --output json" as well as "plan --output json FILE"; everything after
// "--" is an argument). It returns a non-negative exit code when the
// command should stop: help was asked for, or the flags are wrong.
func (a *app) parse(fs *flag.FlagSet, args []string) int {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	if slices.ContainsFunc(args, func(s string) bool { return s == "-h" || s == "-help" || s == "--help" }) {
		fs.SetOutput(a.stdout)
		fs.Usage()
		return exitOK
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	// Parse again with only the arguments, so fs.Args returns them.
	_ = fs.Parse(append([]string{"--"}, append(positional, rest...)...))
	return -1
}

// fail prints an error and returns code.
func (a *app) fail(code int, format string, args ...any) int {
	fmt.Fprintf(a.stderr, "ldapsync: "+format+"\n", args...)
	return code
}
