package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/rules"
)

// Adoption of the directory a province already has: entries made by hand
// before ldapsync (no employeeNumber, usernames off the ladder, often
// outside ou=people) are matched to a roster and adopted where they are:
// their DN never changes, since applications store DNs (NT 2.1: one
// account per person, so nobody gets a second one).

// SourceAdopt is the source of adoption events.
const SourceAdopt = "adopt"

// Adoption is the event that adopts a hand-made entry (Event.Entry, its
// DN) as the account of Event.EmployeeID, in Event.Unit.
const Adoption EventType = "adopt"

// OpAdopt writes employeeNumber, the ldapsync object class, the unit and
// the status on a hand-made entry; it moves and renames nothing.
const OpAdopt OpKind = "adopt"

// AdoptionMatch is a roster row and the hand-made entry it matched.
type AdoptionMatch struct {
	Line       int    `json:"line"`
	EmployeeID string `json:"employee_id"`
	Name       string `json:"name"`
	Unit       string `json:"unit"`
	DN         string `json:"dn"`
	UID        string `json:"uid"`
	// By is how: "username", "mail" or "name".
	By string `json:"by"`
	// OffLadder reports a username the ladder of NT 4.2 would not give
	// this person: kept as it is, never renamed.
	OffLadder bool `json:"off_ladder,omitempty"`
}

// AdoptionCandidates is a roster row that more than one entry could be, or
// an entry more than one row could be: an administrator decides.
type AdoptionCandidates struct {
	Line       int      `json:"line"`
	EmployeeID string   `json:"employee_id"`
	Name       string   `json:"name"`
	Unit       string   `json:"unit"`
	DNs        []string `json:"dns"`
}

// AdoptionReport is the matching of a roster with the hand-made entries.
type AdoptionReport struct {
	Matched   []AdoptionMatch      `json:"matched"`
	Ambiguous []AdoptionCandidates `json:"ambiguous"`
	// UnmatchedRows are people the roster lists with no account and no
	// entry to adopt: a later reconciliation hires them.
	UnmatchedRows []AdoptionCandidates `json:"unmatched_rows"`
	// UnmatchedEntries are hand-made entries no row matched: left alone.
	UnmatchedEntries []string `json:"unmatched_entries"`
	// Managed counts rows whose person ldapsync already manages.
	Managed int `json:"managed"`
}

// foldName returns a full name as adoption compares names: lower case,
// without diacritics, one space between words.
func foldName(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if f, err := rules.Fold(w); err == nil {
			words[i] = f
		} else {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}

// entryUnit returns the unit of a hand-made entry: its departmentNumber,
// else the first ou=<unit account> of its DN; "" when neither is a unit.
func entryUnit(a *rules.Account, r *rules.Rules) string {
	if _, ok := r.Units.Lookup(strings.ToLower(a.Unit)); ok {
		return strings.ToLower(a.Unit)
	}
	for _, rdn := range strings.Split(strings.ToLower(a.DN), ",")[1:] {
		if v, ok := strings.CutPrefix(strings.TrimSpace(rdn), "ou="); ok {
			if _, ok := r.Units.Lookup(v); ok {
				return v
			}
		}
	}
	return ""
}

// inUnitTree reports whether unit is want or a unit under it.
func inUnitTree(r *rules.Rules, unit, want string) bool {
	for u, ok := r.Units.Lookup(unit); ok && u != nil; u = u.Parent() {
		if u.Account() == want {
			return true
		}
	}
	return false
}

// MatchAdoption matches the roster's people that ldapsync does not manage
// yet with the hand-made entries (Snapshot.Unadopted): by the roster's
// username or mail column when it has one, else by the full name (without
// case or diacritics) among the entries of the row's unit or of no known
// unit. One candidate is a match; two or more, or one entry two rows
// claim, is ambiguous and left to an administrator.
func MatchAdoption(ro *Roster, snap *rules.Snapshot, r *rules.Rules) *AdoptionReport {
	rep := &AdoptionReport{}
	managed := map[string]bool{}
	for i := range snap.People {
		if snap.People[i].EmployeeID != "" {
			managed[fold(snap.People[i].EmployeeID)] = true
		}
	}
	byName := map[string][]*rules.Account{}
	for i := range snap.Unadopted {
		a := &snap.Unadopted[i]
		byName[foldName(a.CN)] = append(byName[foldName(a.CN)], a)
	}
	type claim struct {
		row  RosterRow
		by   string
		cand []*rules.Account
	}
	var claims []claim
	claimsOf := map[string]int{} // entry DN → rows that claim it
	for _, row := range ro.Rows {
		if managed[fold(row.EmployeeID)] {
			rep.Managed++
			continue
		}
		c := claim{row: row}
		switch {
		case row.Username != "" || row.Mail != "":
			c.by = "username"
			if row.Username == "" {
				c.by = "mail"
			}
			for i := range snap.Unadopted {
				a := &snap.Unadopted[i]
				if (row.Username != "" && strings.EqualFold(a.UID, row.Username)) || (row.Username == "" && strings.EqualFold(a.Mail, row.Mail)) {
					c.cand = append(c.cand, a)
				}
			}
		default:
			c.by = "name"
			for _, a := range byName[foldName(row.Name.Full())] {
				if u := entryUnit(a, r); u == "" || inUnitTree(r, u, row.Unit) || inUnitTree(r, row.Unit, u) {
					c.cand = append(c.cand, a)
				}
			}
		}
		if len(c.cand) == 1 {
			claimsOf[c.cand[0].DN]++
		}
		claims = append(claims, c)
	}
	matched := map[string]bool{}
	for _, c := range claims {
		dns := make([]string, len(c.cand))
		for i, a := range c.cand {
			dns[i] = a.DN
		}
		who := AdoptionCandidates{Line: c.row.Line, EmployeeID: c.row.EmployeeID, Name: c.row.Name.Full(), Unit: c.row.Unit, DNs: dns}
		switch {
		case len(c.cand) == 0:
			rep.UnmatchedRows = append(rep.UnmatchedRows, who)
		case len(c.cand) > 1 || claimsOf[c.cand[0].DN] > 1:
			rep.Ambiguous = append(rep.Ambiguous, who)
		default:
			a := c.cand[0]
			matched[a.DN] = true
			rep.Matched = append(rep.Matched, AdoptionMatch{Line: c.row.Line, EmployeeID: c.row.EmployeeID, Name: c.row.Name.Full(),
				Unit: c.row.Unit, DN: a.DN, UID: a.UID, By: c.by, OffLadder: offLadder(r, c.row, a.UID)})
		}
	}
	for i := range snap.Unadopted {
		if a := &snap.Unadopted[i]; !matched[a.DN] {
			rep.UnmatchedEntries = append(rep.UnmatchedEntries, a.DN)
		}
	}
	slices.Sort(rep.UnmatchedEntries)
	return rep
}

// offLadder reports whether uid is not a rung of the username ladder of
// NT 4.2 for the row's name and unit.
func offLadder(r *rules.Rules, row RosterRow, uid string) bool {
	abbr := ""
	if u, ok := r.Units.Lookup(row.Unit); ok {
		abbr = u.LadderAbbr()
	}
	want := strings.ToLower(uid)
	got, err := rules.NewAllocator(r.Username, func(u string) bool { return u != want }).Allocate(row.Name, abbr)
	return err != nil || got != want
}

// AdoptionEvents returns the events that adopt the matched entries; their
// ids derive from the roster's content, so the same adoption twice adopts
// once.
func AdoptionEvents(ro *Roster, rep *AdoptionReport, by string, now time.Time) []Event {
	var out []Event
	for _, m := range rep.Matched {
		out = append(out, Event{Source: SourceAdopt, ID: "adopt:" + ro.Hash[:12] + ":" + m.EmployeeID, Type: Adoption,
			Effective: rules.DateOf(now), EmployeeID: m.EmployeeID, Unit: m.Unit, UID: m.UID, Entry: m.DN,
			Note: "matched by " + m.By, RequestedBy: by, Origin: Origin{File: ro.File, Line: m.Line}, Received: now})
	}
	return out
}

// adoption plans the adoption of a hand-made entry.
func (st *planState) adoption(p *Plan, e *Entry) {
	ev := &e.Event
	if accts := st.byEmployee[fold(ev.EmployeeID)]; len(accts) > 0 {
		if len(accts) == 1 && strings.EqualFold(dnKeyOf(accts[0].DN), dnKeyOf(ev.Entry)) {
			st.satisfied(p, e, accts[0], "%s is already adopted as employee %s", ev.Entry, ev.EmployeeID)
			return
		}
		st.refuse(p, e, "employee %s already has account %s; %s is not adopted (NT 2.1: one account per person)", ev.EmployeeID, accts[0].UID, ev.Entry)
		return
	}
	a := st.unadopted[dnKeyOf(ev.Entry)]
	if a == nil {
		st.refuse(p, e, "%s is no longer an entry to adopt (gone, or adopted for another employee)", ev.Entry)
		return
	}
	op := st.op(OpAdopt, e, a.UID, ev.Note)
	op.DN, op.Unit, op.Name, op.Mail = a.DN, ev.Unit, a.CN, a.Mail
	op.Detail = map[string]string{"dn": a.DN, "employee_id": ev.EmployeeID, "unit": ev.Unit, "matched": ev.Note}
	p.Ops = append(p.Ops, op)
	adopted := *a
	adopted.EmployeeID, adopted.Unit = ev.EmployeeID, ev.Unit
	adopted.Status = rules.StatusActive
	if adopted.Locked {
		adopted.Status = rules.StatusLocked
	}
	delete(st.unadopted, dnKeyOf(a.DN))
	st.byEmployee[fold(ev.EmployeeID)] = []*rules.Account{&adopted}
	st.byUID[fold(adopted.UID)] = &adopted
	// Adopting writes no membership: an account that may log in joins the
	// active group, as every account ldapsync manages is in it.
	adopted.Active = false
	st.setGroups(p, e, &adopted, !adopted.Locked, adopted.Groups)
}

// dnKeyOf is a DN as the planner compares them: lower case, no spaces
// around separators.
func dnKeyOf(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		parts[i] = strings.ToLower(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// unadoptedMatch returns the hand-made entry a hire's person might already
// have (same name, in the unit's tree or of no known unit): the hire waits
// for an operator rather than giving the person a second account.
func (st *planState) unadoptedMatch(ev *Event) *rules.Account {
	name := foldName(ev.Name.Full())
	var found *rules.Account
	for _, a := range st.unadopted {
		if foldName(a.CN) != name {
			continue
		}
		if u := entryUnit(a, st.pl.Rules); u == "" || inUnitTree(st.pl.Rules, u, ev.Unit) || inUnitTree(st.pl.Rules, ev.Unit, u) {
			if found == nil || a.DN < found.DN {
				found = a
			}
		}
	}
	return found
}

// adoptionNote describes a hire held for a hand-made entry.
func adoptionNote(a *rules.Account) string {
	return fmt.Sprintf("a hand-made entry %s (%s, %s) may be this person: adopt it (ldapsync adopt), or approve to create a new account", a.DN, a.UID, a.CN)
}

// AdoptResult is what adopting a roster's hand-made entries found and did.
type AdoptResult struct {
	Report *AdoptionReport `json:"report"`
	// Added counts the adoption events journaled (zero for a dry run).
	Added int    `json:"added"`
	Run   Report `json:"run"`
}

// AdoptRoster matches the roster at path with the hand-made entries (see
// MatchAdoption) and, unless dryRun, adopts the exact matches: one event
// each, journaled, applied and audited with by as who asked. Ambiguous and
// unmatched ones are only reported.
func (e *Engine) AdoptRoster(ctx context.Context, path string, dryRun bool, by string) (*AdoptResult, error) {
	data, _, err := readFile(path)
	if err != nil {
		return nil, err
	}
	r := e.Rules()
	now := e.now()
	ro, err := ParseRoster(path, data, r, now, WithHeaders(e.cfg.Inbox.Headers))
	if err != nil {
		return nil, err
	}
	e.proc.Lock()
	defer e.proc.Unlock()
	snap, err := e.dir.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync: adopt: read directory: %w", err)
	}
	res := &AdoptResult{Report: MatchAdoption(ro, snap, r)}
	if dryRun || len(res.Report.Matched) == 0 {
		return res, nil
	}
	if strings.TrimSpace(by) == "" {
		return res, fmt.Errorf("sync: adopt: who asks is required (--by NAME)")
	}
	added, err := e.addEvents(AdoptionEvents(ro, res.Report, by, now.In(r.Location)), now)
	if err != nil {
		return res, err
	}
	res.Added = len(added.Added)
	_, res.Run, err = e.process(ctx)
	return res, err
}
