package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/internal/field"
)

// CalendarConfig is the working calendar (rules.calendar): the working
// hours, the weekly days off, the public holidays and the weekend days
// worked in exchange for a bridge day. The deadlines that count working
// time (NT 6.3.b, BTC 4) and the periods that end on a day off (Civil Code
// Art. 148) read it.
type CalendarConfig struct {
	// WorkingHours are the day's working periods, "07:00-11:30", in
	// rules.timezone, in order and not overlapping. Default
	// ["07:00-11:30", "13:30-17:00"].
	WorkingHours []string `yaml:"working_hours"`
	// Weekend are the weekly days off, lower-case English names. Default
	// [saturday, sunday].
	Weekend []string `yaml:"weekend"`
	// Holidays are the public holidays and the days off in lieu and in
	// exchange the government schedules for civil servants: a day, or a
	// range date..to, each with a name. They change by decree every year,
	// so they are data: the default is the national calendar of 2026 and
	// 2027 as config.example.yaml writes it out (Labour Code 2019 Art.
	// 111-112 and the government's announcements), and a list here
	// replaces it. CoveredUntil says how far it reaches.
	Holidays []DayRange `yaml:"holidays"`
	// WorkingDays are weekend days worked to make up a bridge day off
	// (a Saturday worked for a Friday off). Default: those of the default
	// Holidays.
	WorkingDays []DayRange `yaml:"working_days"`
}

// DayRange is a day, or the days Date to To inclusive, with a name.
type DayRange struct {
	Date Date `yaml:"date"`
	// To is the last day of a range; zero for a single day.
	To   Date   `yaml:"to"`
	Name string `yaml:"name"`
}

// Last returns the last day of the range.
func (r DayRange) Last() Date {
	if r.To.IsZero() {
		return r.Date
	}
	return r.To
}

// maxRangeDays bounds a holiday or working-day range: the longest
// Vietnamese holiday (Tết) is nine days with its weekends, so a longer
// range is a typo in a year or a month.
const maxRangeDays = 31

// DefaultCalendarConfig returns office hours of the state administration
// (07:00-11:30, 13:30-17:00, Monday to Friday) and no public holidays: the
// holidays change by decree every year, so they are data, in the config
// (config.example.yaml lists 2026 and 2027 with their sources), never
// code. CalendarWarning says when the listed ones run out.
func DefaultCalendarConfig() CalendarConfig {
	return CalendarConfig{
		WorkingHours: []string{"07:00-11:30", "13:30-17:00"},
		Weekend:      []string{"saturday", "sunday"},
	}
}

// Calendar is a validated CalendarConfig in a time zone: it answers which
// days are working days and adds working time and working days.
type Calendar struct {
	loc *time.Location
	// hours are the working periods as offsets from 00:00, in order.
	hours   []workPeriod
	weekend [7]bool
	// holidays and working are the days of Holidays and WorkingDays.
	holidays map[Date]string
	working  map[Date]string
	covered  Date
}

// workPeriod is one working period of a day, from start to end after 00:00.
type workPeriod struct{ start, end time.Duration }

// NewCalendar validates c and returns its calendar in loc, which must not
// be nil, or every problem found, each named by its path under path
// (usually "rules.calendar").
func NewCalendar(c CalendarConfig, loc *time.Location, path string) (*Calendar, field.List) {
	var errs field.List
	cal := &Calendar{loc: loc, holidays: map[Date]string{}, working: map[Date]string{}}
	if len(c.WorkingHours) == 0 {
		errs.Add(field.Join(path, "working_hours"), "required: at least one working period such as \"07:00-11:30\"")
	}
	for i, s := range c.WorkingHours {
		p := field.Index(field.Join(path, "working_hours"), i)
		wp, err := parseWorkPeriod(s)
		if err != nil {
			errs.Add(p, "%v", err)
			continue
		}
		if n := len(cal.hours); n > 0 && wp.start < cal.hours[n-1].end {
			errs.Add(p, "%q starts before the period before it ends: list the periods in order, without overlap", s)
			continue
		}
		cal.hours = append(cal.hours, wp)
	}
	for i, s := range c.Weekend {
		p := field.Index(field.Join(path, "weekend"), i)
		switch wd, ok := parseWeekday(s); {
		case !ok:
			errs.Add(p, "%q is not a weekday (monday … sunday)", s)
		case cal.weekend[wd]:
			errs.Add(p, "%q is listed twice", s)
		default:
			cal.weekend[wd] = true
		}
	}
	if !slices.Contains(cal.weekend[:], false) {
		errs.Add(field.Join(path, "weekend"), "every day of the week is a day off")
	}
	errs.Append(cal.addRanges(c.Holidays, field.Join(path, "holidays"), cal.holidays, true))
	errs.Append(cal.addRanges(c.WorkingDays, field.Join(path, "working_days"), cal.working, false))
	for i, r := range c.WorkingDays {
		p := field.Index(field.Join(path, "working_days"), i)
		for d := range r.days() {
			if !cal.weekend[weekday(d)] {
				errs.Add(p, "%s is a %s, not a weekend day: only a day off can be made a working day", d, strings.ToLower(weekday(d).String()))
				break
			}
			if name, ok := cal.holidays[d]; ok {
				errs.Add(p, "%s is also a holiday (%s)", d, name)
				break
			}
		}
	}
	for _, r := range c.Holidays {
		if y := r.Last().Year; !r.Date.IsZero() && y > cal.covered.Year {
			cal.covered = Date{y, time.December, 31}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cal, nil
}

// addRanges checks ranges and records their days in into. Holidays must have
// a name, for the people who read the calendar.
func (c *Calendar) addRanges(ranges []DayRange, path string, into map[Date]string, needName bool) field.List {
	var errs field.List
	owner := map[Date]int{}
	for i, r := range ranges {
		p := field.Index(path, i)
		switch {
		case r.Date.IsZero():
			errs.Add(field.Join(p, "date"), "required")
			continue
		case !r.To.IsZero() && r.To.Before(r.Date):
			errs.Add(field.Join(p, "to"), "%s is before date %s", r.To, r.Date)
			continue
		case daysBetween(r.Date, r.Last()) >= maxRangeDays:
			errs.Add(field.Join(p, "to"), "%s to %s is longer than %d days: a typo in the year or month?", r.Date, r.To, maxRangeDays)
			continue
		}
		if needName && strings.TrimSpace(r.Name) == "" {
			errs.Add(field.Join(p, "name"), "required: what the day is, for the people who read the calendar")
		}
		for d := range r.days() {
			if j, dup := owner[d]; dup {
				errs.Add(p, "%s is also in %s", d, field.Index(path, j))
				break
			}
			owner[d] = i
			into[d] = r.Name
		}
	}
	return errs
}

// days yields the days of r in order.
func (r DayRange) days() func(func(Date) bool) {
	return func(yield func(Date) bool) {
		for d := r.Date; !r.Last().Before(d); d = d.AddDays(1) {
			if !yield(d) {
				return
			}
		}
	}
}

// parseWorkPeriod reads "07:00-11:30".
func parseWorkPeriod(s string) (workPeriod, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return workPeriod{}, fmt.Errorf("%q: want a period such as \"07:00-11:30\"", s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	switch {
	case err1 != nil || err2 != nil:
		return workPeriod{}, fmt.Errorf("%q: want a period such as \"07:00-11:30\" (24-hour HH:MM, up to 24:00)", s)
	case end <= start:
		return workPeriod{}, fmt.Errorf("%q ends before it starts", s)
	}
	return workPeriod{start, end}, nil
}

// parseClock reads "07:00" as the time after 00:00; "24:00" is the end of
// the day.
func parseClock(s string) (time.Duration, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 ||
		h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func parseWeekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.ToLower(d.String()) == s {
			return d, true
		}
	}
	return 0, false
}

// daysBetween returns the number of days from d to e.
func daysBetween(d, e Date) int {
	return int(e.In(time.UTC).Sub(d.In(time.UTC)) / (24 * time.Hour))
}

func weekday(d Date) time.Weekday { return d.In(time.UTC).Weekday() }

// Location returns the time zone the calendar's hours are in.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsWorkingDay reports whether d is a working day: not a weekend day unless
// listed in WorkingDays, and not a holiday.
func (c *Calendar) IsWorkingDay(d Date) bool {
	if _, ok := c.holidays[d]; ok {
		return false
	}
	if c.weekend[weekday(d)] {
		_, ok := c.working[d]
		return ok
	}
	return true
}

// Holiday returns the name of the holiday d is, if it is one.
func (c *Calendar) Holiday(d Date) (string, bool) {
	name, ok := c.holidays[d]
	return name, ok
}

// NextWorkingDay returns d when it is a working day, else the first working
// day after it.
func (c *Calendar) NextWorkingDay(d Date) Date {
	// NewCalendar leaves at least one weekday, and holidays are finite.
	for !c.IsWorkingDay(d) {
		d = d.AddDays(1)
	}
	return d
}

// AddWorkingDays returns the n-th working day after d, d itself not
// counted; d for n <= 0.
func (c *Calendar) AddWorkingDays(d Date, n int) Date {
	for ; n > 0; n-- {
		d = c.NextWorkingDay(d.AddDays(1))
	}
	return d
}

// AddWorkingTime returns the instant d of working time after t, in the
// calendar's location: only the working hours of working days count, and a
// t outside them counts from the start of the next working period. A
// request received on Friday at 16:50 with a 30-minute limit, the Monday
// after a holiday, is due at 07:20 on Tuesday. A d of zero or less returns
// the first working instant at or after t.
func (c *Calendar) AddWorkingTime(t time.Time, d time.Duration) time.Time {
	t = t.In(c.loc)
	d = max(d, 0)
	for day := DateOf(t); ; day = day.AddDays(1) {
		if !c.IsWorkingDay(day) {
			continue
		}
		for _, p := range c.hours {
			start, end := c.at(day, p.start), c.at(day, p.end)
			if !t.Before(end) {
				continue
			}
			if t.After(start) {
				start = t
			}
			left := end.Sub(start)
			if d <= left {
				return start.Add(d)
			}
			d -= left
		}
	}
}

// at returns the instant off after 00:00 of day, on the wall clock of the
// calendar's location (so "07:00" is 07:00 also on a day that changes its
// clocks).
func (c *Calendar) at(day Date, off time.Duration) time.Time {
	return time.Date(day.Year, day.Month, day.Day, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, c.loc)
}

// CoveredUntil returns 31 December of the last year with a holiday listed,
// or the zero Date when none is: past it, every weekday counts as a working
// day.
func (c *Calendar) CoveredUntil() Date { return c.covered }
