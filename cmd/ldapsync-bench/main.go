// Command ldapsync-bench is what `make bench` runs: the whole daemon
// against a slapd set up as production runs it (durable commits, the
// password policy hashing with Argon2, last-bind tracking, the indexes),
// with a realistic population (the Vietnamese name frequencies of
// rules/testdata/vn-names, a fixed seed, the units and applications of
// config.example.yaml). It prints one markdown table: each workload beside
// its baseline, measured in the same run on the same machine.
//
// The in-process workloads drive the real engine (sync.Open, the journal,
// Process, Sweep, IngestRoster) with a directory.Client whose recorder
// counts the reads and writes it sends and keeps them for a replay. The
// baselines: the LDAP tools (ldapadd, ldapmodify, ldapsearch) doing the
// same work, and the replay of ldapsync's own requests over long-lived
// connections on a copy of the directory as it was before (slapcat, then
// slapadd -q into a fresh slapd). The daemon rows run the real binary.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the bench's flags.
type options struct {
	N, Conns, Batch int
	Seed            uint64
	Names, Example  string
	Bin             string
	Dir             string
	Keep            bool
	CPUProfile      string
	MemProfile      string
	// Progress receives a line as each workload starts; nil for none.
	Progress io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ldapsync-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{Progress: stderr}
	fs.IntVar(&o.N, "n", envInt("BENCH_N", 20_000), "people in the directory (env BENCH_N)")
	fs.IntVar(&o.Conns, "conns", envInt("BENCH_CONNS", 4), "LDAP connections, and people applied at once (env BENCH_CONNS)")
	fs.IntVar(&o.Batch, "batch", 1000, "changes in the daily batch")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the population and of the changes")
	fs.StringVar(&o.Names, "names", "rules/testdata/vn-names", "directory of the name frequency files (family.tsv, middle.tsv, given.tsv, middle-count.tsv)")
	fs.StringVar(&o.Example, "config", "config.example.yaml", "config the bench config is derived from (units, applications, rules)")
	fs.StringVar(&o.Bin, "ldapsync", "bin/ldapsync", "the ldapsync binary the daemon rows run")
	fs.StringVar(&o.Dir, "dir", "", "working directory (slapd, state, clones); default a new temporary one, removed at the end")
	fs.BoolVar(&o.Keep, "keep", false, "keep the working directory")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write CPU profiles of this process to `PREFIX`.WORKLOAD.pprof: load, batch, sweep, roster, alloc")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of this process after one directory snapshot of N to `PREFIX`.snapshot.pprof")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.N < 100 || o.Conns < 1 || o.Batch < 10 {
		fmt.Fprintln(stderr, "ldapsync-bench: want -n ≥ 100, -conns ≥ 1, -batch ≥ 10")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench1(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "ldapsync-bench:", err)
		return 1
	}
	return 0
}

// bench1 runs every workload, prints the table and returns what it
// measured.
func bench1(ctx context.Context, o options, out io.Writer) (results, error) {
	if err := slapdtest.Available(); err != nil {
		return results{}, err
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "ldapsync-bench-")
		if err != nil {
			return results{}, err
		}
		o.Dir = d
		if !o.Keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return results{}, err
	}
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return results{}, err
	}
	if o.Bin, err = filepath.Abs(o.Bin); err != nil {
		return results{}, err
	}
	started := time.Now()
	b := &bench{o: o}
	b.res.loadStart = loadavg()
	defer func() {
		b.closeEngine()
		if b.srv != nil {
			b.srv.Stop()
		}
	}()
	if err := b.open(ctx); err != nil {
		return results{}, err
	}
	for _, step := range []func(context.Context) error{b.initialLoad, b.sweep, b.roster, b.dailyBatch, b.allocate, b.daemon} {
		if err := step(ctx); err != nil {
			return results{}, err
		}
	}
	b.res.loadEnd = loadavg()
	printReport(out, machine(), o, b.res, time.Since(started))
	return b.res, nil
}

func progress(o options, format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// machineInfo is what the table was measured on.
type machineInfo struct {
	CPU, OS, Slapd, Go string
	Cores              int
}

func machine() machineInfo {
	m := machineInfo{CPU: "unknown", OS: runtime.GOOS, Slapd: "unknown", Go: runtime.Version(), Cores: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if p, err := tool("slapd"); err == nil {
		var buf bytes.Buffer
		cmd := exec.Command(p, "-VV")
		cmd.Stdout, cmd.Stderr = &buf, &buf
		_ = cmd.Run() // slapd -VV exits non-zero
		if line, _, _ := strings.Cut(buf.String(), "\n"); strings.Contains(line, "slapd") {
			if _, v, ok := strings.Cut(line, "slapd "); ok {
				m.Slapd = strings.TrimSpace(strings.Fields(v)[0])
			}
		}
	}
	return m
}

// loadavg returns the system's load averages over 1, 5 and 15 minutes: on
// a shared machine, what else was running.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// cpuOf returns the CPU time (user and system) a process has used; 0 when
// it cannot be read.
func cpuOf(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// slapdPID finds the process of srv, by the configuration directory on
// its command line; 0 when none is found.
func slapdPID(srv *slapdtest.Server) int {
	want := filepath.Join(srv.Dir, "slapd.d")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "slapd" && containsArg(args, want) {
			return pid
		}
	}
	return 0
}

func containsArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}
