package rules

import (
	"slices"
	"time"

	"github.com/ldapsync/ldapsync/internal/field"
)

// UnitChange is one reorganisation of the unit tree (2025: districts
// abolished, provinces and communes merged): the units From cease on
// Effective and their people move to To. With one unit in To it is a
// merger or a rename; with several it is a split, and People says where
// each person goes (a person it does not name is reported, not moved).
// Personal usernames never change (NT 2.1); the units of To must be in the
// unit tree, which creates their entries and organisational accounts (NT
// 4.1). The entries of the old units are left as they are, so their
// organisational names stay taken and their mail keeps arriving until an
// administrator retires them. Moving people always waits for an operator's
// approval (ldapsync pending, approve).
type UnitChange struct {
	// ID names the change in events, holds and the audit; required.
	ID string `yaml:"id"`
	// Effective is the day the change takes effect.
	Effective Date `yaml:"effective"`
	// From are the account names of the units that cease.
	From []string `yaml:"from"`
	// To are the account names of the units their people move to.
	To []string `yaml:"to"`
	// People, for a split, gives each person's new unit: employee_id to
	// one of To.
	People map[string]string `yaml:"people"`
	// Act is the legal act behind the change, for the audit (e.g.
	// "Resolution 1667/NQ-UBTVQH15").
	Act string `yaml:"act"`
	// OldAccounts says what becomes of the organisational accounts of the
	// units that cease: "embargo" (the default) leaves their entries as
	// they are, names taken and mail delivered to them; "alias" moves
	// their mail addresses, from Effective, onto the unit of To (one unit
	// only), so mail to the old address reaches the new unit, while the
	// old entries keep their names taken. With "alias" the old units stay
	// in rules.units until an administrator retires them.
	OldAccounts string `yaml:"old_accounts"`
}

// Old account policies of a UnitChange.
const (
	OldAccountsEmbargo = "embargo"
	OldAccountsAlias   = "alias"
)

// MailAliases returns, at now, the mail addresses of ceased units that
// unit changes with OldAccounts "alias" have moved onto a new unit (by the
// new unit's account), and the ceased units whose address moved.
func (r *Rules) MailAliases(now time.Time) (aliases map[string][]string, moved map[string]bool) {
	aliases, moved = map[string][]string{}, map[string]bool{}
	for _, c := range r.UnitChanges {
		if c.OldAccounts != OldAccountsAlias || len(c.To) != 1 || now.Before(c.Effective.In(r.Location)) {
			continue
		}
		for _, old := range c.From {
			aliases[c.To[0]] = append(aliases[c.To[0]], r.Mail(old))
			moved[old] = true
		}
	}
	return aliases, moved
}

// Target returns the unit the person employee of a unit in From moves to,
// and false when the change is a split that does not say.
func (c *UnitChange) Target(employee string) (string, bool) {
	if len(c.To) == 1 {
		return c.To[0], true
	}
	t, ok := c.People[employee]
	return t, ok
}

// Ceases reports whether unit is one of From.
func (c *UnitChange) Ceases(unit string) bool { return slices.Contains(c.From, unit) }

// validateUnitChanges checks the changes against the unit tree.
func validateUnitChanges(changes []UnitChange, tree *UnitTree, path string) field.List {
	var errs field.List
	ids := map[string]bool{}
	from := map[string]string{}
	for i, c := range changes {
		p := field.Index(path, i)
		switch {
		case c.ID == "":
			errs.Add(field.Join(p, "id"), "required: the change's name in events, holds and the audit")
		case ids[c.ID]:
			errs.Add(field.Join(p, "id"), "%q is used twice", c.ID)
		}
		ids[c.ID] = true
		if c.Effective.IsZero() {
			errs.Add(field.Join(p, "effective"), "required")
		}
		if len(c.From) == 0 {
			errs.Add(field.Join(p, "from"), "required: the units that cease")
		}
		for j, u := range c.From {
			if other, dup := from[u]; dup {
				errs.Add(field.Index(field.Join(p, "from"), j), "%q already ceases in change %q", u, other)
			}
			from[u] = c.ID
		}
		if len(c.To) == 0 {
			errs.Add(field.Join(p, "to"), "required: the units the people move to")
		}
		for j, u := range c.To {
			if tree == nil {
				break
			}
			if _, ok := tree.Lookup(u); !ok {
				errs.Add(field.Index(field.Join(p, "to"), j), "%q is not a unit of rules.units: add the new unit to the tree", u)
			}
			if slices.Contains(c.From, u) {
				errs.Add(field.Index(field.Join(p, "to"), j), "%q both ceases and receives", u)
			}
		}
		for emp, u := range c.People {
			if !slices.Contains(c.To, u) {
				errs.Add(field.Join(field.Join(p, "people"), emp), "%q is not one of to %v", u, c.To)
			}
		}
		if len(c.To) == 1 && len(c.People) > 0 {
			errs.Add(field.Join(p, "people"), "only a split (several units in to) names people")
		}
		switch c.OldAccounts {
		case "", OldAccountsEmbargo:
		case OldAccountsAlias:
			if len(c.To) != 1 {
				errs.Add(field.Join(p, "old_accounts"), "alias needs one unit in to: a split's old address cannot go to two units")
			}
			for j, u := range c.From {
				if _, ok := tree.Lookup(u); tree != nil && !ok {
					errs.Add(field.Index(field.Join(p, "from"), j), "%q must stay in rules.units while old_accounts is alias: its entry gives up its address", u)
				}
			}
		default:
			errs.Add(field.Join(p, "old_accounts"), "%q must be embargo or alias", c.OldAccounts)
		}
	}
	return errs
}
