package rules

import (
	"errors"
	"strings"
	"time"
)

// Values of an account's Status, as the directory stores them
// (ldapsyncStatus).
const (
	// StatusPending is an account whose first password (or the password
	// of a restore) has not been changed yet: it receives mail and is in
	// its application groups, but is not in the active group, so that
	// applications that filter on it refuse the password of the letter
	// even when they bind without the ppolicy control (BTC 4, NT 6.3.c).
	StatusPending = "pending"
	StatusActive  = "active"
	StatusLocked  = "locked"
	StatusRevoked = "revoked"
)

// Activation returns the status a's first-login gate calls for: active for
// a pending account whose user has changed the password ldapsync issued
// (slapd cleared pwdReset when the user changed it), pending for an active
// one that must change a password ldapsync issued (an account made before
// the gate, or reset since by an administrator), and "" when a is where it
// should be. Locked, revoked and unmanaged accounts, and accounts that
// never had a password from ldapsync (Issued ""), are never moved by it.
func Activation(a *Account) string {
	if a.Revoked || a.Locked || a.Status == StatusRevoked || a.Issued == "" {
		// Issued: the gate holds the passwords ldapsync issued (first
		// passwords, restores), with their letters. A pending account
		// without one is one whose password is still being set.
		return ""
	}
	switch {
	case a.Status == StatusPending && !a.MustChange:
		return StatusActive
	case a.Status == StatusActive && a.MustChange:
		return StatusPending
	}
	return ""
}

// Account is a personal account as the planner sees it: the regulated facts
// of one person's entry, whatever directory holds it. The directory package
// maps LDAP entries into it; sync plans on it and never sees LDAP.
type Account struct {
	DN          string
	UID         string
	EmployeeID  string // the HR id (employeeNumber)
	CN          string
	SN          string
	GivenName   string
	DisplayName string
	Mail        string
	Unit        string // the unit's account name (departmentNumber)
	Title       string
	Phone       string
	// Status is StatusPending, StatusActive, StatusLocked, StatusRevoked,
	// or "" for an entry ldapsync did not create.
	Status string
	// Groups are the application names whose group lists the person, sorted.
	// The active group is not among them.
	Groups []string
	// Active reports membership of the active group: an unlocked account
	// whose first password has been changed (see Activation).
	Active bool
	// Locked reports a password-policy lock.
	Locked     bool
	LockReason string
	// MustChange reports a password the user must change at the next login
	// (pwdReset).
	MustChange bool
	// Issued names the event whose first or reset password the account
	// holds (ldapsyncIssuedFor), written with the password itself; "" when
	// ldapsync never set one.
	Issued string
	// PasswordChanged is when the password was last set; zero when no
	// password was ever set.
	PasswordChanged time.Time
	// LastLogin is the last successful login; zero when the account never
	// bound.
	LastLogin time.Time
	// Created is when the entry was created.
	Created time.Time
	// Revoked reports a revoked account's tombstone; RevokedAt when.
	Revoked   bool
	RevokedAt time.Time
	// Lifecycle are the facts and deadlines ldapsync keeps on the entry.
	Lifecycle Lifecycle
}

// Departure kinds (NT 5.2.c): the personnel events that end a person's
// work in the system.
const (
	DepartRetire      = "retire"
	DepartResign      = "resign"
	DepartTransferOut = "transfer_out"
	// DepartUnspecified is a departure whose kind is not known: a person
	// the roster no longer lists, confirmed by an operator.
	DepartUnspecified = "departure"
)

// Lifecycle are the lifecycle facts and deadlines ldapsync keeps on a
// person's entry (attributes of the ldapsync schema), so that a restart, a
// second instance, or an administrator with ldapsearch sees them, and a
// sweep is a pure function of the directory and the clock. A zero field is
// an attribute the entry does not have.
type Lifecycle struct {
	// Departure is the departure in force (ldapsyncDepartureKind,
	// ldapsyncDepartureDate, ldapsyncDepartureEvent); zero when none.
	Departure Departure
	// Leader reports whether the person's position is a leader's in the
	// sense of NT 5.2.c (ldapsyncLeader), as of LeaderSince
	// (ldapsyncLeaderSince), the effective date of the title change that
	// set it; zero when no title change ever set it.
	Leader      bool
	LeaderSince Date
	// LockAt and RevokeAt are the deadlines a departure set
	// (ldapsyncLockAt, ldapsyncRevokeAt): the account is locked, and
	// revoked, once they have passed.
	LockAt   time.Time
	RevokeAt time.Time
	// LeaveUntil is the last day of a notified absence (NT 6.2.a;
	// ldapsyncLeaveUntil): no inactivity lock before it and its grace.
	LeaveUntil Date
	// LastActive is the latest activity applications reported for the
	// person (ldapsyncLastActive), for those that never bind as the user.
	LastActive time.Time
	// FirstSeen is when ldapsync first saw the account (ldapsyncFirstSeen),
	// written once: an account with no recorded activity counts its
	// inactivity from the later of its creation and FirstSeen.
	FirstSeen time.Time
}

// Departure is a departure in force on an account.
type Departure struct {
	Kind      string // DepartRetire, DepartResign, DepartTransferOut or DepartUnspecified
	Effective Date
	// Event is the key (source/event_id) of the event that reported it:
	// a withdrawal names it.
	Event string
	// Leader reports whether the leaders' rule of NT 5.2.c applies: the
	// person's position on Effective.
	Leader bool
}

// IsZero reports whether d is no departure.
func (d Departure) IsZero() bool { return d == Departure{} }

// Lock reasons (ldapsyncLockReason starts with one, then ": " and free
// text): why an account is locked (NT 6.2).
const (
	LockInactive      = "inactive"       // NT 6.2.a
	LockCompromised   = "compromised"    // NT 6.2.b: a leaked password, a virus
	LockMalware       = "malware"        // NT 6.2.b
	LockSpam          = "spam"           // NT 6.2.b
	LockProhibitedUse = "prohibited-use" // NT 6.2.c, 3.2
	LockOther         = "other"
)

// AdminLockReasons are the reasons an operator may give for a lock.
var AdminLockReasons = []string{LockCompromised, LockMalware, LockSpam, LockProhibitedUse, LockOther}

// LockCode returns the code a lock reason starts with ("retire",
// "inactive", "compromised", ...).
func LockCode(reason string) string {
	code, _, _ := strings.Cut(reason, ":")
	return strings.TrimSpace(code)
}

// PersonUpdate is a change of name, job title or phone (BTC 6). A nil field
// leaves the attribute as it is; a pointer to "" removes it, except CN and
// SN, which every person must have. The uid, the DN and mail never change.
type PersonUpdate struct {
	CN, SN, GivenName, DisplayName *string
	Title, Phone                   *string
}

// Snapshot is the whole directory as the planner needs it.
type Snapshot struct {
	// People are all personal accounts, revoked tombstones included, sorted
	// by UID.
	People []Account
	// Accounts are the usernames of every other entry that holds one
	// (organisational accounts, anything else), sorted.
	Accounts []string
	// Unadopted are the entries that look like people (inetOrgPerson)
	// anywhere under the base, outside ldapsync's containers or inside
	// People, without employeeNumber: accounts made by hand that ldapsync
	// has not adopted; DN, uid, names, mail, unit (departmentNumber), title
	// and lock are read. Sorted by DN. Only entries with a uid count (one
	// without is a contact, not an account). They are not in People; their
	// uids are in Accounts.
	Unadopted []Account
}

// GroupChange is a change to the members of one group.
type GroupChange struct {
	// Group is the group's name: an application's name or the active group.
	Group string
	// Add and Remove are member DNs.
	Add, Remove []string
}

// TreeChange is one entry of the directory's tree (a container, a unit, a
// group, a policy) created or changed to follow the rules, for the audit.
type TreeChange struct {
	DN   string
	What string
}

// Failures of a directory that say nothing about the change asked of it:
// the change waits and is tried again, it is never refused for them. A
// directory implementation returns errors that wrap them.
var (
	// ErrUnavailable is a directory that is down, unreachable or busy for
	// longer than its own retries.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrConnect is a connection that opened but cannot be used: the
	// service account's bind was refused (its password rotated?) or TLS
	// failed (a certificate that does not verify). No retry cures it; an
	// administrator must.
	ErrConnect = errors.New("cannot connect as the service account")
	// ErrClosed is an operation on a directory client already closed.
	ErrClosed = errors.New("client closed")
)
