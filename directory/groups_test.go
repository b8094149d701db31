package directory_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/rules"
)

func TestClient_AddPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	p := withApps(person("lan", "NV-0100"), "mail")
	for _, round := range []string{"add", "replay"} {
		if err := e.c.AddPerson(ctx(t), p); err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
	got := e.snapshotPerson(t, "lan")
	if got.Active || len(got.Groups) != 0 || got.Status != rules.StatusActive {
		t.Errorf("after AddPerson: active %v groups %v status %q; want the entry alone, status active", got.Active, got.Groups, got.Status)
	}
	other := person("lan", "NV-0999")
	if err := e.c.AddPerson(ctx(t), other); err == nil || !strings.Contains(err.Error(), "NV-0999") {
		t.Errorf("AddPerson over another employee's entry: %v", err)
	}
}

func TestClient_ChangeGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	var dns []string
	for _, uid := range []string{"an", "binh", "chau"} {
		p := person(uid, "NV-"+uid)
		if err := e.c.AddPerson(ctx(t), p); err != nil {
			t.Fatal(err)
		}
		dns = append(dns, e.cfg.PersonDN(uid))
	}
	state := func() string {
		var out []string
		for _, uid := range []string{"an", "binh", "chau"} {
			p := e.snapshotPerson(t, uid)
			out = append(out, uid+":"+strings.Join(append(slices.Clone(p.Groups), map[bool]string{true: "+active"}[p.Active]), ","))
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name    string
		changes []rules.GroupChange
		want    string
	}{
		{"everyone joins active and mail", []rules.GroupChange{{Group: "active", Add: dns}, {Group: "mail", Add: dns}},
			"an:mail,+active binh:mail,+active chau:mail,+active"},
		{"replay", []rules.GroupChange{{Group: "active", Add: dns}, {Group: "mail", Add: dns}},
			"an:mail,+active binh:mail,+active chau:mail,+active"},
		{"some already there, some not", []rules.GroupChange{{Group: "eoffice", Add: dns[:1]}, {Group: "eoffice", Add: dns}},
			"an:eoffice,mail,+active binh:eoffice,mail,+active chau:eoffice,mail,+active"},
		{"add and remove in one change", []rules.GroupChange{{Group: "mail", Remove: dns[1:]}, {Group: "eoffice", Remove: dns[:1]}},
			"an:mail,+active binh:eoffice,+active chau:eoffice,+active"},
		{"remove again, and some never there", []rules.GroupChange{{Group: "mail", Remove: dns}},
			"an:+active binh:eoffice,+active chau:eoffice,+active"},
		{"leave a group that does not exist", []rules.GroupChange{{Group: "nosuchapp", Remove: dns}},
			"an:+active binh:eoffice,+active chau:eoffice,+active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.c.ChangeGroups(ctx(t), tt.changes); err != nil {
				t.Fatal(err)
			}
			if got := state(); got != tt.want {
				t.Errorf("state %s\nwant      %s", got, tt.want)
			}
		})
	}
	if err := e.c.ChangeGroups(ctx(t), []rules.GroupChange{{Group: "nosuchapp", Add: dns}}); err == nil {
		t.Error("joining a group that does not exist succeeded")
	}
}
