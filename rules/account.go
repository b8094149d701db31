package rules

import (
	"errors"
	"time"
)

// Values of an account's Status, as the directory stores them
// (ldapsyncStatus).
const (
	StatusActive  = "active"
	StatusLocked  = "locked"
	StatusRevoked = "revoked"
)

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
	// Status is StatusActive, StatusLocked, StatusRevoked, or "" for an
	// entry ldapsync did not create.
	Status string
	// Groups are the application names whose group lists the person, sorted.
	// The active group is not among them.
	Groups []string
	// Active reports membership of the active group.
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
}

// Snapshot is the whole directory as the planner needs it.
type Snapshot struct {
	// People are all personal accounts, revoked tombstones included, sorted
	// by UID.
	People []Account
	// Accounts are the usernames of every other entry that holds one
	// (organisational accounts, anything else), sorted.
	Accounts []string
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
