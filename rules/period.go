package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a calendar period of the regulations: "6 months", "1 month",
// "12 months", "30 days". Months are counted on the calendar, as the Civil
// Code (Art. 147-148) counts them, not as a fixed number of seconds.
type Period struct {
	Years, Months, Days int
}

// ParsePeriod accepts "6 months", "1 month", "1 year", "30 days", "0", and
// the ISO 8601 forms "P6M", "P1Y", "P30D", "P1Y6M".
func ParsePeriod(s string) (Period, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "0" {
		return Period{}, nil
	}
	if strings.HasPrefix(t, "p") {
		return parseISOPeriod(s, t[1:])
	}
	num, unit, ok := strings.Cut(t, " ")
	if !ok {
		return Period{}, fmt.Errorf("invalid period %q: want a number and a unit, such as \"6 months\"", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return Period{}, fmt.Errorf("invalid period %q: %q is not a whole number", s, num)
	}
	switch strings.TrimSpace(unit) {
	case "day", "days":
		return Period{Days: n}, nil
	case "month", "months":
		return Period{Months: n}, nil
	case "year", "years":
		return Period{Years: n}, nil
	}
	return Period{}, fmt.Errorf("invalid period %q: unit must be days, months or years", s)
}

func parseISOPeriod(orig, body string) (Period, error) {
	var p Period
	if body == "" {
		return p, fmt.Errorf("invalid period %q", orig)
	}
	for body != "" {
		i := strings.IndexFunc(body, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return Period{}, fmt.Errorf("invalid period %q", orig)
		}
		n, _ := strconv.Atoi(body[:i])
		switch body[i] {
		case 'y':
			p.Years += n
		case 'm':
			p.Months += n
		case 'w':
			p.Days += 7 * n
		case 'd':
			p.Days += n
		default:
			return Period{}, fmt.Errorf("invalid period %q", orig)
		}
		body = body[i+1:]
	}
	return p, nil
}

// IsZero reports whether p is empty.
func (p Period) IsZero() bool { return p == Period{} }

// String writes the period as ParsePeriod reads it.
func (p Period) String() string {
	switch {
	case p.IsZero():
		return "0"
	case p.Months == 0 && p.Days == 0:
		return plural(p.Years, "year")
	case p.Years == 0 && p.Days == 0:
		return plural(p.Months, "month")
	case p.Years == 0 && p.Months == 0:
		return plural(p.Days, "day")
	}
	s := "P"
	if p.Years != 0 {
		s += strconv.Itoa(p.Years) + "Y"
	}
	if p.Months != 0 {
		s += strconv.Itoa(p.Months) + "M"
	}
	if p.Days != 0 {
		s += strconv.Itoa(p.Days) + "D"
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// AddTo returns the calendar day that corresponds to day d after the period:
// years and months first, clamped to the last day of a shorter month
// (31 August + 6 months is 28 or 29 February), then days. Only the date of d
// is used; the result is midnight of that day in d's location.
func (p Period) AddTo(d time.Time) time.Time {
	y, m, day := d.Date()
	total := int(m) - 1 + p.Months + 12*p.Years
	ty, tm := y+total/12, time.Month(total%12+1)
	if total < 0 && total%12 != 0 {
		ty, tm = y+total/12-1, time.Month(total%12+13)
	}
	last := time.Date(ty, tm+1, 0, 0, 0, 0, 0, d.Location()).Day()
	if day > last {
		day = last
	}
	return time.Date(ty, tm, day+p.Days, 0, 0, 0, 0, d.Location())
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
