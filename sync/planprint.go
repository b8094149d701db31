package sync

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the plan for people: one row per operation, then one
// per event that needs none, with the reason.
func (p *Plan) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tTYPE\tOPERATION\tUID\tEMPLOYEE\tUNIT\tARTICLE\tDETAIL")
	for _, o := range p.Ops {
		detail := ""
		switch o.Kind {
		case OpCreate:
			detail = strings.Join(nonEmpty(o.Name, o.Title, o.Mail, strings.Join(o.Applications, ",")), ", ")
		case OpIssueCredentials:
			detail = "first password in a sealed letter; must change at first login"
		case OpPurge:
			detail = "delete the old tombstone"
		case OpGroups:
			detail = strings.Join(nonEmpty(prefixed("join ", o.Join), prefixed("leave ", o.Leave)), "; ")
		case OpLock:
			detail = o.LockReason
		case OpRestore, OpReinstate:
			detail = "new password in a sealed letter; must change at next login"
		case OpRevoke:
			detail = "revoke for good"
		case OpUpdate, OpMove:
			detail = formatDetail(o.Detail)
		}
		if o.Note != "" {
			detail = strings.Join(nonEmpty(detail, o.Note), "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.EventID, o.Type, o.Kind, o.UID, o.EmployeeID, o.Unit, o.Article, detail)
	}
	for _, group := range []struct {
		label string
		list  []Outcome
	}{{"(held)", p.Held}, {"(nothing to do)", p.Satisfied}, {"(refused)", p.Refused}, {"(withdrawn)", p.Withdrawn}} {
		for _, o := range group.list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t%s\t%s\t%s\t%s\n", o.Event.ID, o.Event.Type, group.label, o.Event.EmployeeID, o.Event.Unit, o.Event.Type.Article(), o.Reason)
		}
	}
	return tw.Flush()
}

// WriteJSON prints one JSON object a line: each operation (with an "op"
// key), then each event that needs none (with a "status" key: pending for
// held, done for nothing to do, failed for refused).
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, o := range p.Ops {
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	for _, list := range [][]Outcome{p.Held, p.Satisfied, p.Refused, p.Withdrawn} {
		for _, o := range list {
			obj := struct {
				EventID    string    `json:"event_id"`
				Source     string    `json:"source"`
				Type       EventType `json:"type"`
				EmployeeID string    `json:"employee_id"`
				Outcome
			}{o.Event.ID, o.Event.Source, o.Event.Type, o.Event.EmployeeID, o}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// formatDetail writes an operation's detail as "k=v" pairs in key order.
func formatDetail(d map[string]string) string {
	keys := slices.Sorted(maps.Keys(d))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, ", ")
}

func nonEmpty(ss ...string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// prefixed writes "join a, b", or "" for no names.
func prefixed(label string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	return label + strings.Join(names, ", ")
}
