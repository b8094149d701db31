package rules

import "hash/maphash"

// NameSet is a set of usernames kept as 64-bit fingerprints in one open
// addressing table: a look-up touches one cache line, where a map of
// strings touches its control word, its slot and the string's bytes, which
// is what allocating names into a directory of 100,000 spends its time on.
// Two names with the same fingerprint (about one chance in 2^64 / n) make
// the set answer "taken" for a free name: a rung skipped, never a name
// handed out twice.
type NameSet struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty; a fingerprint is never 0
	n     int
}

// NewNameSet returns an empty set sized for about n names.
func NewNameSet(n int) *NameSet {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return &NameSet{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
}

// Len returns how many names the set holds.
func (s *NameSet) Len() int { return s.n }

func (s *NameSet) print(b []byte) uint64 {
	h := maphash.Bytes(s.seed, b)
	if h == 0 {
		h = 1
	}
	return h
}

func (s *NameSet) printString(v string) uint64 {
	h := maphash.String(s.seed, v)
	if h == 0 {
		h = 1
	}
	return h
}

// Add adds name.
func (s *NameSet) Add(name string) { s.insert(s.printString(name)) }

// Has reports whether name is in the set.
func (s *NameSet) Has(name string) bool { return s.has(s.printString(name)) }

func (s *NameSet) has(h uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *NameSet) insert(h uint64) {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case 0:
			s.slots[i] = h
			s.n++
			return
		}
	}
}

func (s *NameSet) grow() {
	old := s.slots
	s.slots, s.n = make([]uint64, 2*len(old)), 0
	for _, h := range old {
		if h != 0 {
			s.insert(h)
		}
	}
}
