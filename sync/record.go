package sync

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ldapsync/ldapsync/rules"
)

// Fields of an input record. CSV headers and JSON keys use these names.
const (
	FieldEventID      = "event_id"
	FieldType         = "type"
	FieldEffective    = "effective"
	FieldEmployeeID   = "employee_id"
	FieldFullName     = "full_name"
	FieldFamilyName   = "family_name"
	FieldMiddleName   = "middle_name"
	FieldGivenName    = "given_name"
	FieldUnit         = "unit"
	FieldTitle        = "title"
	FieldPhone        = "phone"
	FieldApplications = "applications"
	FieldReplyName    = "reply_name"
	FieldReplyUnit    = "reply_unit"
	FieldReplyMail    = "reply_mail"
	FieldReplyPhone   = "reply_phone"
	FieldRequestedBy  = "requested_by"
	// FieldLeader ("true"/"false", also "1"/"0", "có"/"không") says
	// whether a title_change makes, or a departure finds, the person a
	// leader in the sense of NT 5.2.c; empty derives it from the title.
	FieldLeader = "leader"
	// FieldUntil is a leave_notice's last day of absence.
	FieldUntil = "until"
	// FieldWithdraws is the event_id a withdraw cancels.
	FieldWithdraws = "withdraws"
	// FieldError is the column ldapsync adds to rejected rows. It is ignored
	// on input, so a fixed file can be dropped back into the inbox as is.
	FieldError = "error"
)

// Fields lists every input field in the order rejected files write them.
var Fields = []string{
	FieldEventID, FieldType, FieldEffective, FieldEmployeeID,
	FieldFullName, FieldFamilyName, FieldMiddleName, FieldGivenName,
	FieldUnit, FieldTitle, FieldPhone, FieldApplications,
	FieldReplyName, FieldReplyUnit, FieldReplyMail, FieldReplyPhone, FieldRequestedBy,
	FieldLeader, FieldUntil, FieldWithdraws,
}

// requiredColumns must be in every CSV header; without them no row can be
// valid, so the whole file is set aside.
var requiredColumns = []string{FieldEventID, FieldType, FieldEffective, FieldEmployeeID}

// Record is one input row: field name to raw value.
type Record struct {
	Origin Origin
	Values map[string]string
	// Raw is the CSV row as written, JSON the JSON Lines line: a rejected
	// record is written back as it came, unknown columns included, so the
	// admin fixes the reported field and resubmits the file.
	Raw  []string
	JSON []byte
}

// Problem is one thing wrong with one field of a record.
type Problem struct {
	Field string `json:"field"`
	Msg   string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Msg
	}
	return p.Field + ": " + p.Msg
}

// Rejection is a record that could not become an event, with every reason.
type Rejection struct {
	Record   Record
	Problems []Problem
}

// Error formats the rejection as file:line: field: reason; field: reason.
func (r Rejection) Error() string {
	return fmt.Sprintf("%s:%d: %s", r.Record.Origin.File, r.Record.Origin.Line, r.Reason())
}

// Reason joins the problems, without the location.
func (r Rejection) Reason() string {
	msgs := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "; ")
}

var (
	eventIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
	employeeIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	phoneRE      = regexp.MustCompile(`^\+?[0-9 ().-]{3,32}$`)
)

// maxFieldLen bounds free-text fields; LDAP and letters need no more.
const maxFieldLen = 256

// decode validates rec against the rules and turns it into an event. It
// reports every problem of the record, not just the first.
func decode(rec Record, r *rules.Rules, source string, received time.Time) (Event, []Problem) {
	var probs []Problem
	add := func(f, format string, args ...any) {
		probs = append(probs, Problem{Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	vals := make(map[string]string, len(rec.Values))
	for f, v := range rec.Values {
		vals[f] = clean(v)
	}
	get := func(f string) string { return vals[f] }
	for f, v := range rec.Values {
		switch {
		case !utf8.ValidString(v):
			add(f, "not valid UTF-8")
		case len(v) > maxFieldLen:
			add(f, "longer than %d bytes", maxFieldLen)
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }):
			add(f, "contains a control character or line break")
		default:
			if p := formulaProblem(f, v, vals[f]); p != "" {
				add(f, "%s", p)
			}
		}
	}
	// A field that is wrong as text is reported once: its other checks
	// would only repeat it ("=cmd" is not a unit either, nor a name).
	textProbs := len(probs)
	bad := make(map[string]bool, textProbs)
	for _, p := range probs {
		bad[p.Field] = true
	}
	ev := Event{Source: source, Origin: rec.Origin, Received: received}

	ev.ID = get(FieldEventID)
	switch {
	case ev.ID == "":
		add(FieldEventID, "required")
	case !eventIDRE.MatchString(ev.ID):
		add(FieldEventID, "%q must be 1-128 letters, digits or . _ : / -", ev.ID)
	}

	ev.Type = EventType(strings.ToLower(get(FieldType)))
	switch {
	case ev.Type == "":
		add(FieldType, "required")
	case !slices.Contains(EventTypes, ev.Type):
		add(FieldType, "%q is not supported (supported: %s)", ev.Type, joinTypes(EventTypes))
	}

	if s := get(FieldEffective); s == "" {
		add(FieldEffective, "required")
	} else if d, err := rules.ParseDate(s); err != nil {
		add(FieldEffective, "%v", err)
	} else {
		ev.Effective = d
	}

	ev.EmployeeID = get(FieldEmployeeID)
	switch {
	case ev.EmployeeID == "":
		add(FieldEmployeeID, "required")
	case !employeeIDRE.MatchString(ev.EmployeeID):
		add(FieldEmployeeID, "%q must be 1-64 letters, digits or . _ -", ev.EmployeeID)
	}

	// A hire names the person and the unit; later events find the person
	// by employee_id and may leave them out.
	if ev.Type == Hire || ev.Type == Rename || get(FieldFullName)+get(FieldFamilyName)+get(FieldMiddleName)+get(FieldGivenName) != "" {
		decodeName(get, &ev, add)
	}
	ev.Unit = strings.ToLower(get(FieldUnit))
	if ev.Unit == "" && (ev.Type == Hire || ev.Type == Transfer) {
		add(FieldUnit, "required for %s", ev.Type)
	} else if _, ok := r.Units.Lookup(ev.Unit); !ok && ev.Unit != "" {
		add(FieldUnit, "%q is not a unit of the config (see: ldapsync units)", ev.Unit)
	}

	ev.Title = get(FieldTitle)
	if ev.Title == "" && ev.Type == TitleChange {
		add(FieldTitle, "required for %s", ev.Type)
	}
	if v := get(FieldLeader); v != "" {
		if b, ok := parseBool(v); ok {
			ev.Leader = &b
		} else {
			add(FieldLeader, "%q is not true or false", v)
		}
	}
	if v := get(FieldUntil); v != "" {
		if d, err := rules.ParseDate(v); err != nil {
			add(FieldUntil, "%v", err)
		} else {
			ev.Until = d
		}
	} else if ev.Type == LeaveNotice {
		add(FieldUntil, "required for %s: the last day of the absence", ev.Type)
	}
	ev.Withdraws = get(FieldWithdraws)
	switch {
	case ev.Withdraws == "" && ev.Type == Withdraw:
		add(FieldWithdraws, "required for %s: the event_id of the event it cancels", ev.Type)
	case ev.Withdraws != "" && !eventIDRE.MatchString(ev.Withdraws):
		add(FieldWithdraws, "%q is not an event_id", ev.Withdraws)
	case ev.Withdraws != "" && ev.Withdraws == ev.ID:
		add(FieldWithdraws, "an event cannot withdraw itself")
	}
	ev.Phone = get(FieldPhone)
	if ev.Phone != "" && !phoneRE.MatchString(ev.Phone) {
		add(FieldPhone, "%q is not a phone number", ev.Phone)
	}
	decodeApplications(r, get(FieldApplications), &ev, add)
	ev.Reply = Reply{Name: get(FieldReplyName), Unit: get(FieldReplyUnit), Mail: get(FieldReplyMail), Phone: get(FieldReplyPhone)}
	if ev.Reply.Mail != "" {
		if a, err := mail.ParseAddress(ev.Reply.Mail); err != nil || a.Address != ev.Reply.Mail {
			add(FieldReplyMail, "%q is not a mail address", ev.Reply.Mail)
		}
	}
	if ev.Reply.Phone != "" && !phoneRE.MatchString(ev.Reply.Phone) {
		add(FieldReplyPhone, "%q is not a phone number", ev.Reply.Phone)
	}
	ev.RequestedBy = get(FieldRequestedBy)

	if ev.Type == Applications && get(FieldApplications) == "" {
		add(FieldApplications, "required for %s: the new set, or +name/-name changes", ev.Type)
	}
	if ev.Type == Hire {
		for _, f := range r.RequestFields {
			if get(f) == "" {
				add(f, "required for %s (BTC 4: an account request names it)", ev.Type)
			}
		}
	}
	kept := probs[:textProbs]
	for _, p := range probs[textProbs:] {
		if !bad[p.Field] {
			kept = append(kept, p)
		}
	}
	probs = kept
	slices.SortStableFunc(probs, func(a, b Problem) int { return fieldOrder(a.Field) - fieldOrder(b.Field) })
	return ev, probs
}

// decodeApplications reads "mail;eoffice" (the whole set) or, for an
// applications event, "+eoffice;-baocao" (changes to the current set).
func decodeApplications(r *rules.Rules, s string, ev *Event, add func(f, format string, args ...any)) {
	var names, changes int
	for _, item := range splitList(s) {
		c, isChange := AppChange{App: item}, item[0] == '+' || item[0] == '-'
		if isChange {
			c.App, c.Remove = strings.TrimSpace(item[1:]), item[0] == '-'
			changes++
		} else {
			names++
		}
		c.App = strings.ToLower(c.App)
		if _, ok := r.Application(c.App); !ok {
			add(FieldApplications, "%q is not an application of the config", c.App)
			continue
		}
		switch {
		case isChange && slices.Contains(ev.AppChanges, AppChange{App: c.App, Remove: !c.Remove}):
			add(FieldApplications, "%q is both added and removed", c.App)
		case isChange && !slices.Contains(ev.AppChanges, c):
			ev.AppChanges = append(ev.AppChanges, c)
		case !isChange && !slices.Contains(ev.Applications, c.App):
			ev.Applications = append(ev.Applications, c.App)
		}
	}
	slices.Sort(ev.Applications)
	switch {
	case names > 0 && changes > 0:
		add(FieldApplications, "mixes names with +/- changes: list the whole set, or only changes")
	case changes > 0 && ev.Type != Applications:
		add(FieldApplications, "+/- changes apply only to an %s event; a %s lists the whole set", Applications, ev.Type)
	}
}

// decodeName reads full_name or the three parts. When both are given they
// must agree, so a typo in one cannot silently win.
func decodeName(get func(string) string, ev *Event, add func(f, format string, args ...any)) {
	full := get(FieldFullName)
	family, middle, given := get(FieldFamilyName), get(FieldMiddleName), get(FieldGivenName)
	parts := family != "" || middle != "" || given != ""
	switch {
	case parts:
		if family == "" {
			add(FieldFamilyName, "required when the name is given in parts")
		}
		if given == "" {
			add(FieldGivenName, "required when the name is given in parts")
		}
		if family == "" || given == "" {
			return
		}
		n, err := rules.NameFromParts(family, middle, given)
		if err != nil {
			// Name the part at fault, not the name as a whole.
			for _, part := range []struct{ field, value string }{{FieldFamilyName, family}, {FieldMiddleName, middle}, {FieldGivenName, given}} {
				if _, perr := rules.Fold(part.value); perr != nil {
					add(part.field, "%v", perr)
					return
				}
			}
			add(FieldGivenName, "%v", err)
			return
		}
		if full != "" {
			if f, err := rules.ParseFullName(full); err != nil || f.Full() != n.Full() {
				add(FieldFullName, "%q does not match family_name, middle_name and given_name (%q)", full, n.Full())
				return
			}
		}
		ev.Name = n
	case full != "":
		n, err := rules.ParseFullName(full)
		if err != nil {
			add(FieldFullName, "%v", err)
			return
		}
		ev.Name = n
	default:
		add(FieldFullName, "required (or family_name and given_name)")
	}
}

// clean trims the value, turns the spaces Excel and Word leave (NBSP,
// ideographic space) into plain ones, and composes it to NFC (TCVN 6909),
// whatever mix of composed and combining marks the source wrote.
func clean(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii { // most fields: ids, dates, units, phones
		return strings.TrimSpace(s)
	}
	return norm.NFC.String(strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)))
}

// parseBool reads a yes/no column as HR files write it.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "x", "có", "co":
		return true, true
	case "false", "0", "no", "không", "khong":
		return false, true
	}
	return false, false
}

// splitList splits "mail; eoffice" (also with commas) into its items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinTypes(ts []EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func fieldOrder(f string) int {
	if i := slices.Index(Fields, f); i >= 0 {
		return i
	}
	return len(Fields)
}
