package rules

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date is a calendar day with no time or zone, such as an effective date
// in a personnel decision. It becomes an instant only in a location: the
// day starts at 00:00 there.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads ISO "2026-03-01" and the Vietnamese day-first forms
// "01/03/2026" and "1/3/2026" (never month-first: Vietnamese documents and
// Vietnamese-locale Excel write the day first).
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	var parts []string
	iso := false
	switch {
	case strings.Count(s, "-") == 2:
		parts, iso = strings.Split(s, "-"), true
	case strings.Count(s, "/") == 2:
		parts = strings.Split(s, "/")
	case strings.Count(s, ".") == 2:
		parts = strings.Split(s, ".")
	default:
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD or DD/MM/YYYY", s)
	}
	n := make([]int, 3)
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || p == "" || len(p) > 4 {
			return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD or DD/MM/YYYY", s)
		}
		n[i] = v
	}
	d := Date{Year: n[2], Month: time.Month(n[1]), Day: n[0]}
	if iso {
		if len(parts[0]) != 4 {
			return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD or DD/MM/YYYY", s)
		}
		d = Date{Year: n[0], Month: time.Month(n[1]), Day: n[2]}
	} else if len(parts[2]) != 4 {
		return Date{}, fmt.Errorf("invalid date %q: the year must have four digits", s)
	}
	if d.Year < 1900 || d.Year > 9999 || !d.valid() {
		return Date{}, fmt.Errorf("invalid date %q: no such day", s)
	}
	return d, nil
}

func (d Date) valid() bool {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return t.Year() == d.Year && t.Month() == d.Month && t.Day() == d.Day
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// In returns 00:00 of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	return cmp.Or(cmp.Compare(d.Year, e.Year), cmp.Compare(d.Month, e.Month), cmp.Compare(d.Day, e.Day))
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// String writes d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AddDays returns the day n days after d (before, for a negative n).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}
