package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
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
)

// EventTypes lists the supported types, for messages.
var EventTypes = []EventType{Hire, Applications}

// Article returns the regulation articles that govern t, for the audit.
func (t EventType) Article() string {
	switch t {
	case Hire:
		return "NT 5.2.a; BTC 4"
	case Applications:
		return "BTC 4; BTC 6"
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
	AppChanges  []AppChange `json:"app_changes,omitempty"`
	Reply       Reply       `json:"reply"`
	RequestedBy string      `json:"requested_by,omitempty"`
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
