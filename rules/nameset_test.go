package rules

import (
	"fmt"
	"testing"
)

// The set holds what was added, through its growth, and nothing else; an
// allocator in it hands out each name once and never a reserved one.
func TestNameSet(t *testing.T) {
	s := NewNameSet(0)
	for i := range 10_000 {
		s.Add(fmt.Sprintf("user%d", i))
		s.Add(fmt.Sprintf("user%d", i)) // twice: counted once
	}
	if s.Len() != 10_000 {
		t.Fatalf("Len = %d, want 10000", s.Len())
	}
	for i := range 10_000 {
		if !s.Has(fmt.Sprintf("user%d", i)) {
			t.Fatalf("user%d lost", i)
		}
		if s.Has(fmt.Sprintf("other%d", i)) {
			t.Fatalf("other%d found", i)
		}
	}

	cfg := DefaultUsernameConfig()
	used := NewNameSet(4)
	used.Add("vantuan")
	a := NewAllocatorIn(cfg, used)
	n, err := ParseFullName("Lê Văn Tuấn")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		u, err := a.Allocate(n, "nh")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u)
	}
	if fmt.Sprint(got) != "[tuanlv tuanlv.nh tuanlv2.nh]" {
		t.Errorf("allocated %v, want [tuanlv tuanlv.nh tuanlv2.nh]", got)
	}
	for _, r := range cfg.Reserved {
		if !used.Has(r) {
			t.Errorf("reserved %q not in the set", r)
		}
	}
}
