package sync

import (
	"slices"
	"strings"

	"github.com/ldapsync/ldapsync/rules"
)

// Collision is a person of another directory, to be merged into this one
// (two provinces merged), whose username or mail address is already held
// here.
type Collision struct {
	// DN, UID, Name and Mail are the incoming person's.
	DN   string `json:"dn"`
	UID  string `json:"uid"`
	Name string `json:"name"`
	Mail string `json:"mail,omitempty"`
	// Kind is "username" or "mail"; Holder the DN (or organisational
	// account) that holds it here.
	Kind   string `json:"kind"`
	Holder string `json:"holder"`
	// Proposed is a name of the NT 4.2 ladder free on both sides, for the
	// incoming person; Alias the old address, to keep as an alias so mail
	// to it still arrives. Problem says why no name is proposed.
	Proposed string `json:"proposed,omitempty"`
	Alias    string `json:"alias,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// Collisions reports every username and mail address of incoming (the
// people of another directory) that this directory already holds, and
// proposes for each incoming person a ladder name free on both sides,
// keeping the old address as an alias. Nothing is applied: renaming
// accounts at a merger stays a manual, reviewed step.
func Collisions(incoming []rules.Account, snap *rules.Snapshot, r *rules.Rules) []Collision {
	holder := map[string]string{} // folded uid → DN here
	mails := map[string]string{}  // folded mail → DN here
	add := func(a *rules.Account) {
		holder[fold(a.UID)] = a.DN
		if a.Mail != "" {
			mails[fold(a.Mail)] = a.DN
		}
	}
	for i := range snap.People {
		add(&snap.People[i])
	}
	for i := range snap.Unadopted {
		add(&snap.Unadopted[i])
	}
	for _, u := range snap.Accounts {
		if _, ok := holder[fold(u)]; !ok {
			holder[fold(u)] = u
		}
	}
	for _, u := range r.Units.All() {
		if _, ok := holder[u.Account()]; !ok {
			holder[u.Account()] = "organisational account " + u.Account()
		}
	}
	// A proposal must be free here, among the incoming people, and among
	// the proposals already made.
	taken := map[string]bool{}
	for k := range holder {
		taken[k] = true
	}
	for i := range incoming {
		taken[fold(incoming[i].UID)] = true
	}
	alloc := rules.NewAllocator(r.Username, func(u string) bool { return taken[u] })
	var out []Collision
	for i := range incoming {
		a := &incoming[i]
		c := Collision{DN: a.DN, UID: a.UID, Name: a.CN, Mail: a.Mail}
		switch {
		case holder[fold(a.UID)] != "":
			c.Kind, c.Holder = "username", holder[fold(a.UID)]
		case mails[fold(r.Mail(strings.ToLower(a.UID)))] != "":
			c.Kind, c.Holder = "mail", mails[fold(r.Mail(strings.ToLower(a.UID)))]
		case a.Mail != "" && mails[fold(a.Mail)] != "":
			c.Kind, c.Holder = "mail", mails[fold(a.Mail)]
		default:
			continue
		}
		c.Alias = a.Mail
		if c.Alias == "" {
			c.Alias = a.UID
		}
		name, err := rules.ParseFullName(a.CN)
		if err != nil {
			c.Problem = "the name does not fold: " + err.Error()
			out = append(out, c)
			continue
		}
		abbr := ""
		if u, ok := r.Units.Lookup(strings.ToLower(a.Unit)); ok {
			abbr = u.LadderAbbr()
		}
		if p, err := alloc.Allocate(name, abbr); err != nil {
			c.Problem = err.Error()
		} else {
			c.Proposed = p
			taken[p] = true
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y Collision) int { return strings.Compare(x.DN, y.DN) })
	return out
}
