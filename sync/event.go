package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// EventType is the kind of personnel change an event reports.
type EventType string

// The event types ldapsync understands.
const (
	// Hire is a new recruit or a transfer in from outside (NT 5.2.a; BTC 4):
	// the person gets an account.
	Hire EventType = "hire"
	// Applications changes which shared applications a person's account
	// may use (BTC 4: "các loại tài khoản"; BTC 6: adjusted when the job
	// changes): the applications field lists the whole new set, or changes
	// to the current one as +name and -name.
	Applications EventType = "applications"
	// Transfer moves the person to another unit inside the system (NT
	// 5.2.b): departmentNumber changes; DN, uid and mail stay.
	Transfer EventType = "transfer"
	// TitleChange changes the person's title, and with it whether the
	// person is a leader in the sense of NT 5.2.c (BTC 6).
	TitleChange EventType = "title_change"
	// Rename changes the person's name; the username never changes (BTC 6,
	// NT 2.1).
	Rename EventType = "rename"
	// Retire, Resign and TransferOut are departures (NT 5.2.c): the
	// account is locked and later revoked, on the staff's or the leaders'
	// deadlines.
	Retire      EventType = rules.DepartRetire
	Resign      EventType = rules.DepartResign
	TransferOut EventType = rules.DepartTransferOut
	// Return brings a departed person back to the same account (NT 2.1,
	// 5.2.a): unlocked, or reinstated from its tombstone, with a new first
	// password.
	Return EventType = "return"
	// LeaveNotice is a notified absence until a date (NT 6.2.a): no
	// inactivity lock before it ends.
	LeaveNotice EventType = "leave_notice"
	// Withdraw cancels an earlier event by its event_id (a departure
	// entered by mistake).
	Withdraw EventType = "withdraw"

	// Lock and Restore are an operator's (ldapsync lock, ldapsync
	// restore; NT 6.2.b-c, 6.3), never read from a file.
	Lock    EventType = "lock"
	Restore EventType = "restore"

	// DeadlineLock, DeadlineRevoke, InactivityLock and FirstSeen are the
	// sweep's: a departure's deadline reached (NT 5.2.c), an account idle
	// too long (NT 6.2.a), an account seen for the first time.
	DeadlineLock   EventType = "deadline_lock"
	DeadlineRevoke EventType = "deadline_revoke"
	InactivityLock EventType = "inactivity_lock"
	FirstSeen      EventType = "first_seen"
	// Activity records activity reported by applications (NT 6.2.a), from
	// an activity feed in the inbox.
	Activity EventType = "activity"
	// RosterDeparture is a person a roster no longer lists: a departure
	// (NT 5.2.c) whose kind the roster cannot tell, which always waits for
	// an operator's confirmation (ldapsync approve).
	RosterDeparture EventType = rules.DepartUnspecified
	// Reorganise moves a person of a unit that ceased to the unit a
	// rules.unit_changes entry names (NT 4.1, 5.2.b); it always waits for
	// an operator's approval.
	Reorganise EventType = "reorganise"
)

// EventTypes lists the types an input file may carry, for messages.
var EventTypes = []EventType{Hire, Applications, Transfer, TitleChange, Rename, Retire, Resign, TransferOut, Return, LeaveNotice, Withdraw}

// Departure reports whether t is a departure (NT 5.2.c).
func (t EventType) Departure() bool {
	return t == Retire || t == Resign || t == TransferOut || t == RosterDeparture
}

// Article returns the regulation articles that govern t, for the plan and
// the audit.
func (t EventType) Article() string {
	switch t {
	case Hire:
		return "NT 5.2.a; BTC 4"
	case Applications:
		return "BTC 4; BTC 6"
	case Transfer:
		return "NT 5.2.b; BTC 6"
	case Reorganise:
		return "NT 4.1; NT 5.2.b"
	case TitleChange, Rename:
		return "BTC 6"
	case Retire, Resign, TransferOut, RosterDeparture, DeadlineLock, DeadlineRevoke:
		return "NT 5.2.c"
	case Return:
		return "NT 2.1; NT 5.2.a"
	case LeaveNotice, InactivityLock, FirstSeen, Activity:
		return "NT 6.2.a"
	case Lock:
		return "NT 6.2.b-c; NT 3.2"
	case Restore:
		return "NT 6.3"
	case Withdraw:
		return "withdrawal of an earlier event"
	case Adoption:
		return "NT 2.1"
	case Activate, AwaitChange:
		return activationArticle
	}
	return ""
}

// Reply is where the answer to a request goes (BTC 4): the sealed letter is
// addressed to it.
type Reply struct {
	Name  string `json:"name,omitempty"`
	Unit  string `json:"unit,omitempty"`
	Mail  string `json:"mail,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Origin says where an event was read: a file and line, or an API call.
type Origin struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Event is one validated personnel change.
type Event struct {
	// Source is the channel the event came through ("inbox", "cli"); with
	// ID it is the deduplication key.
	Source string `json:"source"`
	// ID is the event_id the HR side gave, unique per source.
	ID        string     `json:"event_id"`
	Type      EventType  `json:"type"`
	Effective rules.Date `json:"effective"`
	// EmployeeID is the person's HR id: the identity key, never the name.
	EmployeeID   string     `json:"employee_id"`
	Name         rules.Name `json:"name"`
	Unit         string     `json:"unit"`
	Title        string     `json:"title,omitempty"`
	Phone        string     `json:"phone,omitempty"`
	Applications []string   `json:"applications,omitempty"`
	// AppChanges, for an Applications event written as +name/-name, are
	// the changes; Applications is then empty.
	AppChanges []AppChange `json:"app_changes,omitempty"`
	// Leader, for a title_change or a departure, says whether the person
	// is (or was, on the departure's date) a leader in the sense of NT
	// 5.2.c; nil derives it from the title (rules.lifecycle.leader_titles).
	Leader *bool `json:"leader,omitempty"`
	// Until, for a leave_notice, is the last day of the absence.
	Until rules.Date `json:"until,omitzero"`
	// Withdraws, for a withdraw, is the event_id it cancels (of the same
	// source, or "source/event_id").
	Withdraws string `json:"withdraws,omitempty"`
	// UID names the account of an operator's lock or restore, which name
	// accounts by username; other events name the person by EmployeeID.
	UID string `json:"uid,omitempty"`
	// Entry, for an adoption, is the DN of the hand-made entry adopted.
	Entry string `json:"entry,omitempty"`
	// LockReason, Note and Request are an operator's lock reason
	// (rules.AdminLockReasons), free text and the request's reference.
	LockReason string `json:"lock_reason,omitempty"`
	Note       string `json:"note,omitempty"`
	Request    string `json:"request,omitempty"`
	// RequestReceived is when a restore request was received: NT 6.3.b's
	// 30 working minutes run from it.
	RequestReceived time.Time `json:"request_received,omitzero"`
	Reply           Reply     `json:"reply"`
	RequestedBy     string    `json:"requested_by,omitempty"`
	// Origin and Received describe the delivery, not the change; they are
	// left out of the content hash so the same row resubmitted in another
	// file is a duplicate, not a conflict.
	Origin   Origin    `json:"origin"`
	Received time.Time `json:"received"`
}

// Key is the deduplication key: source and event id.
func (e *Event) Key() string { return e.Source + "/" + e.ID }

// ContentHash identifies what the event says, independent of how and when
// it was delivered.
func (e *Event) ContentHash() string {
	c := *e
	c.Origin, c.Received = Origin{}, time.Time{}
	b, err := json.Marshal(c)
	if err != nil {
		panic("sync: event does not marshal: " + err.Error()) // only plain fields: cannot happen
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AppChange adds or removes one application.
type AppChange struct {
	App    string `json:"app"`
	Remove bool   `json:"remove,omitempty"`
}

// record returns the event as an input record (JSON Lines keys), for
// writing a refused event back where it can be fixed and resubmitted.
func (e *Event) record() map[string]any {
	rec := map[string]any{
		FieldEventID: e.ID, FieldType: string(e.Type), FieldEffective: e.Effective.String(), FieldEmployeeID: e.EmployeeID,
	}
	set := func(k, v string) {
		if v != "" {
			rec[k] = v
		}
	}
	set(FieldFamilyName, e.Name.Family)
	set(FieldMiddleName, e.Name.Middle)
	set(FieldGivenName, e.Name.Given)
	set(FieldUnit, e.Unit)
	set(FieldTitle, e.Title)
	set(FieldPhone, e.Phone)
	set(FieldReplyName, e.Reply.Name)
	set(FieldReplyUnit, e.Reply.Unit)
	set(FieldReplyMail, e.Reply.Mail)
	set(FieldReplyPhone, e.Reply.Phone)
	set(FieldRequestedBy, e.RequestedBy)
	if e.Leader != nil {
		set(FieldLeader, strconv.FormatBool(*e.Leader))
	}
	if !e.Until.IsZero() {
		set(FieldUntil, e.Until.String())
	}
	set(FieldWithdraws, e.Withdraws)
	apps := slices.Clone(e.Applications)
	for _, c := range e.AppChanges {
		if c.Remove {
			apps = append(apps, "-"+c.App)
		} else {
			apps = append(apps, "+"+c.App)
		}
	}
	set(FieldApplications, strings.Join(apps, ";"))
	return rec
}
