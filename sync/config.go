package sync

import (
	"cmp"
	"path/filepath"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/internal/field"
	"github.com/ldapsync/ldapsync/rules"
)

// Config is the "sync" section of the config file.
type Config struct {
	// StateDir holds the journal, the audit log and the lock that keeps two
	// ldapsync processes from sharing them. Default /var/lib/ldapsync.
	StateDir string `yaml:"state_dir"`
	// LettersDir receives the sealed credential letters, one directory per
	// unit. Default <state_dir>/letters.
	LettersDir string `yaml:"letters_dir"`
	// Inbox is the watched directory HR drops files into.
	Inbox InboxConfig `yaml:"inbox"`
	// RetryMin and RetryMax bound the back-off after the directory fails.
	// Defaults 5s and 5m.
	RetryMin rules.Duration `yaml:"retry_min"`
	RetryMax rules.Duration `yaml:"retry_max"`
	// Schedule is when the periodic jobs run.
	Schedule ScheduleConfig `yaml:"schedule"`
	// Guard is the brake on drastic changes.
	Guard GuardConfig `yaml:"guard"`
	// Roster is where the scheduled reconciliation finds the staff list.
	Roster RosterConfig `yaml:"roster"`
	// JournalRetention is how long resolved events stay in the journal
	// before sync.schedule.compact moves them to <state_dir>/archive (a
	// line per event stays, so none is ever applied twice). Default 90d;
	// 0 keeps everything.
	JournalRetention rules.Duration `yaml:"journal_retention"`
	// Lease is how two instances share the work: one applies, the other
	// stands by.
	Lease LeaseConfig `yaml:"lease"`
	// ControlSocket is where the daemon serves the operator commands
	// (mode 0600). Default <state_dir>/control.sock; under systemd,
	// /run/ldapsync/control.sock (RuntimeDirectory=).
	ControlSocket string `yaml:"control_socket"`
	// Activation is the first-login gate: how soon an account joins the
	// active group once its user has changed the password ldapsync issued.
	Activation ActivationConfig `yaml:"activation"`
}

// ActivationConfig is the "sync.activation" section.
type ActivationConfig struct {
	// Poll is how often the daemon looks for pending accounts whose user
	// has changed the first (or restored) password, and activates them:
	// one indexed search of the pending accounts. Default 5s; 0 leaves it
	// to the sweeps.
	Poll rules.Duration `yaml:"poll"`
}

// LeaseConfig is the "sync.lease" section: the lease in the directory
// that only its holder, the leader, works under (see Leaser). A second
// instance with its own state_dir and the same inbox stands by and takes
// over once the leader stops renewing.
type LeaseConfig struct {
	// TTL is how long a lease lasts unrenewed: after a crash the standby
	// takes over within it. It must exceed the clock skew between the
	// hosts by far. Default 30s.
	TTL rules.Duration `yaml:"ttl"`
	// Renew is how often the lease is renewed, and a standby tries to
	// take it; below ttl. Default 10s.
	Renew rules.Duration `yaml:"renew"`
	// Holder names this instance in the lease; it must differ between
	// instances. Default <hostname>:<pid> (a random id when the host name
	// is unknown).
	Holder string `yaml:"holder"`
}

// RosterConfig is the "sync.roster" section.
type RosterConfig struct {
	// Path is the roster sync.schedule.reconcile reads: a file, or a glob
	// (/srv/hr/roster-*.csv) of which the newest by modification time is
	// read. The file is left where it is. Default none.
	Path string `yaml:"path"`
}

// GuardConfig is the "sync.guard" section: the brake on changes to many
// accounts at once. A run that would lock, revoke, move or rename more
// accounts than it allows applies none of those changes: they are held
// (see Hold) until an operator approves or rejects them; the rest of the
// run goes on.
type GuardConfig struct {
	// MaxCount is the most accounts one run may lock, revoke, move or
	// rename; default 50.
	MaxCount int `yaml:"max_count"`
	// MaxPercent is the same limit in percent of the accounts ldapsync
	// manages; default 5. The smaller of the two applies, but never below
	// MinCount.
	MaxPercent float64 `yaml:"max_percent"`
	// MinCount is how many accounts a run may always change, however small
	// the directory (5 % of 40 accounts is 2); default 5.
	MinCount int `yaml:"min_count"`
	// MinRosterRatio refuses a roster whole when it lists fewer people
	// than this share of the accounts ldapsync manages (a truncated export,
	// the wrong file); default 0.7.
	MinRosterRatio float64 `yaml:"min_roster_ratio"`
}

// limit returns how many accounts of total one run may change.
func (g GuardConfig) limit(total int) int {
	return min(g.MaxCount, max(g.MinCount, int(float64(total)*g.MaxPercent/100)))
}

// InboxConfig is the "sync.inbox" section.
type InboxConfig struct {
	// Dir is watched for .csv and .jsonl files. Each is claimed into
	// Dir/processing before it is read, then moves to Dir/done; rejected
	// rows go to Dir/rejected. Default <state_dir>/inbox.
	Dir string `yaml:"dir"`
	// Poll is how often Dir is scanned. Polling, not inotify, because
	// inboxes are often network shares. Default 5s.
	Poll rules.Duration `yaml:"poll"`
	// Settle is how long a file's size, modification time and change time
	// must stay the same before it is read, so a file still being copied
	// in is not read half. The change time is what catches a copy that
	// keeps its source's modification time: no copy tool can set it.
	// Default 2s; 0 reads files at once. Writers that create the file
	// under a dot-name and rename it need no settling.
	Settle rules.Duration `yaml:"settle"`
	// Headers maps the header texts of HR's exports (CSV headers, JSON
	// Lines keys) to the columns they stand for, compared without case,
	// marks, punctuation or extra spaces; a column's own name always
	// works. A map here replaces the default, DefaultHeaders (Vietnamese).
	Headers HeaderMap `yaml:"headers"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		StateDir:         "/var/lib/ldapsync",
		Inbox:            InboxConfig{Poll: rules.Duration(5 * time.Second), Settle: rules.Duration(2 * time.Second), Headers: DefaultHeaders()},
		RetryMin:         rules.Duration(5 * time.Second),
		RetryMax:         rules.Duration(5 * time.Minute),
		Schedule:         ScheduleConfig{Tree: "@hourly", Sweep: "@hourly", Compact: "@daily"},
		Guard:            GuardConfig{MaxCount: 50, MaxPercent: 5, MinCount: 5, MinRosterRatio: 0.7},
		JournalRetention: rules.Duration(90 * 24 * time.Hour),
		Lease:            LeaseConfig{TTL: rules.Duration(30 * time.Second), Renew: rules.Duration(10 * time.Second)},
		Activation:       ActivationConfig{Poll: rules.Duration(5 * time.Second)},
	}
}

// Validate reports every problem, each named under path.
func (c Config) Validate(path string) field.List {
	var errs field.List
	if c.StateDir == "" {
		errs.Add(field.Join(path, "state_dir"), "required")
	}
	if c.Inbox.Poll <= 0 {
		errs.Add(field.Join(path, "inbox.poll"), "must be positive")
	}
	if c.Inbox.Settle < 0 {
		errs.Add(field.Join(path, "inbox.settle"), "must not be negative")
	}
	errs.Append(c.Inbox.Headers.Validate(field.Join(path, "inbox.headers")))
	if c.RetryMin <= 0 {
		errs.Add(field.Join(path, "retry_min"), "must be positive")
	}
	if c.RetryMax < c.RetryMin {
		errs.Add(field.Join(path, "retry_max"), "must not be below retry_min (%s)", c.RetryMin)
	}
	errs.Append(c.Schedule.Validate(field.Join(path, "schedule")))
	if c.Schedule.Reconcile != "" && c.Roster.Path == "" {
		errs.Add(field.Join(path, "roster.path"), "required when sync.schedule.reconcile is set")
	}
	if _, err := filepath.Match(c.Roster.Path, ""); err != nil {
		errs.Add(field.Join(path, "roster.path"), "%q is not a file name or glob: %v", c.Roster.Path, err)
	}
	if c.Guard.MaxCount < 0 {
		errs.Add(field.Join(path, "guard.max_count"), "must not be negative")
	}
	if c.Guard.MinCount < 0 || c.Guard.MinCount > c.Guard.MaxCount {
		errs.Add(field.Join(path, "guard.min_count"), "must be between 0 and max_count (%d)", c.Guard.MaxCount)
	}
	if c.Guard.MaxPercent < 0 || c.Guard.MaxPercent > 100 {
		errs.Add(field.Join(path, "guard.max_percent"), "must be between 0 and 100")
	}
	if c.JournalRetention < 0 {
		errs.Add(field.Join(path, "journal_retention"), "must not be negative")
	}
	if c.Guard.MinRosterRatio < 0 || c.Guard.MinRosterRatio > 1 {
		errs.Add(field.Join(path, "guard.min_roster_ratio"), "must be between 0 and 1")
	}
	if c.Lease.TTL <= 0 {
		errs.Add(field.Join(path, "lease.ttl"), "must be positive")
	}
	if c.Lease.Renew <= 0 || c.Lease.Renew >= c.Lease.TTL {
		errs.Add(field.Join(path, "lease.renew"), "must be positive and below lease.ttl (%s)", c.Lease.TTL)
	}
	if c.Activation.Poll < 0 {
		errs.Add(field.Join(path, "activation.poll"), "must not be negative (0 leaves activation to the sweeps)")
	}
	if strings.Contains(c.Lease.Holder, ";") {
		errs.Add(field.Join(path, "lease.holder"), "must not contain ';'")
	}
	return errs
}

// InboxDir returns the inbox directory, defaulted.
func (c Config) InboxDir() string { return cmp.Or(c.Inbox.Dir, filepath.Join(c.StateDir, "inbox")) }

// Letters returns the letters directory, defaulted.
func (c Config) Letters() string { return cmp.Or(c.LettersDir, filepath.Join(c.StateDir, "letters")) }

// Socket returns the control socket's path.
func (c Config) Socket() string {
	return cmp.Or(c.ControlSocket, filepath.Join(c.StateDir, "control.sock"))
}
