package rules

import (
	"strings"
	"testing"
	"time"
)

// vnLoc is Vietnam's time zone, UTC+7 all year.
var vnLoc = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at returns a wall-clock time in Vietnam.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, vnLoc)
}

// testCalendarConfig is the 2026 calendar as the government scheduled it
// for civil servants, and 2027 as config.example.yaml computes it. It is
// written out here, not taken from the defaults, so that the tests check
// the arithmetic against days whose weekday was checked by hand.
func testCalendarConfig() CalendarConfig {
	return CalendarConfig{
		WorkingHours: []string{"07:00-11:30", "13:30-17:00"},
		Weekend:      []string{"saturday", "sunday"},
		Holidays: []DayRange{
			{Date: Date{2026, 1, 1}, To: Date{2026, 1, 4}, Name: "Tết Dương lịch"},      // Thu-Sun
			{Date: Date{2026, 2, 14}, To: Date{2026, 2, 22}, Name: "Tết Bính Ngọ"},      // Sat-Sun
			{Date: Date{2026, 4, 26}, To: Date{2026, 4, 27}, Name: "Giỗ Tổ Hùng Vương"}, // Sun, Mon in lieu
			{Date: Date{2026, 4, 30}, To: Date{2026, 5, 3}, Name: "30/4 và 1/5"},        // Thu-Sun
			{Date: Date{2026, 8, 29}, To: Date{2026, 9, 2}, Name: "Quốc khánh"},         // Sat-Wed
			{Date: Date{2027, 1, 1}, Name: "Tết Dương lịch"},                            // Fri
			{Date: Date{2027, 2, 4}, To: Date{2027, 2, 10}, Name: "Tết Đinh Mùi"},       // Thu-Wed
			{Date: Date{2027, 4, 16}, Name: "Giỗ Tổ Hùng Vương"},                        // Fri
			{Date: Date{2027, 4, 30}, To: Date{2027, 5, 3}, Name: "30/4 và 1/5"},        // Fri-Mon
			{Date: Date{2027, 9, 2}, To: Date{2027, 9, 3}, Name: "Quốc khánh"},          // Thu-Fri
		},
		WorkingDays: []DayRange{
			{Date: Date{2026, 1, 10}, Name: "for Fri 2/1"},  // Sat
			{Date: Date{2026, 8, 22}, Name: "for Mon 31/8"}, // Sat
		},
	}
}

func testCalendar(t *testing.T) *Calendar {
	t.Helper()
	c, errs := NewCalendar(testCalendarConfig(), vnLoc, "rules.calendar")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return c
}

func TestCalendar_IsWorkingDay(t *testing.T) {
	c := testCalendar(t)
	tests := []struct {
		name string
		day  Date
		want bool
	}{
		{"a Monday", Date{2026, 1, 5}, true},
		{"a Saturday", Date{2026, 1, 17}, false},
		{"a Sunday", Date{2026, 1, 18}, false},
		{"New Year, a Thursday", Date{2026, 1, 1}, false},
		{"Friday exchanged for a Saturday", Date{2026, 1, 2}, false},
		{"the Saturday worked instead", Date{2026, 1, 10}, true},
		{"Hùng Kings' day in lieu, a Monday", Date{2026, 4, 27}, false},
		{"the Tuesday after it", Date{2026, 4, 28}, true},
		{"National Day, a Wednesday", Date{2026, 9, 2}, false},
		{"the day after National Day", Date{2026, 9, 3}, true},
		{"Saturday worked for Mon 31/8", Date{2026, 8, 22}, true},
		{"Tết 2027, a Monday", Date{2027, 2, 8}, false},
		{"the Thursday after Tết 2027", Date{2027, 2, 11}, true},
		{"a weekday in a year with no holidays listed", Date{2028, 1, 3}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.IsWorkingDay(tt.day); got != tt.want {
				t.Errorf("IsWorkingDay(%s, a %s) = %v, want %v", tt.day, weekday(tt.day), got, tt.want)
			}
		})
	}
}

func TestCalendar_NextWorkingDay(t *testing.T) {
	c := testCalendar(t)
	tests := []struct {
		name      string
		day, want Date
	}{
		{"a working day is itself", Date{2026, 1, 9}, Date{2026, 1, 9}},
		{"a make-up Saturday is itself", Date{2026, 1, 10}, Date{2026, 1, 10}},
		{"first day of Tết to Monday after it", Date{2026, 2, 14}, Date{2026, 2, 23}},
		{"Saturday before a Monday off to Tuesday", Date{2026, 4, 25}, Date{2026, 4, 28}},
		{"National Day weekend to Thursday", Date{2026, 8, 29}, Date{2026, 9, 3}},
		{"a Sunday to Monday", Date{2027, 2, 28}, Date{2027, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.NextWorkingDay(tt.day); got != tt.want {
				t.Errorf("NextWorkingDay(%s) = %s, want %s", tt.day, got, tt.want)
			}
		})
	}
}

func TestCalendar_AddWorkingDays(t *testing.T) {
	c := testCalendar(t)
	tests := []struct {
		name string
		day  Date
		n    int
		want Date
	}{
		// Fri 24/4: Mon 27/4 off; Tue 28 (1), Wed 29 (2); Thu 30/4 to Sun
		// 3/5 off; Mon 4/5 (3).
		{"Friday before two holidays", Date{2026, 4, 24}, 3, Date{2026, 5, 4}},
		{"a Friday, then the make-up Saturday", Date{2026, 1, 9}, 1, Date{2026, 1, 10}},
		{"a Monday", Date{2026, 3, 2}, 3, Date{2026, 3, 5}},
		{"zero is the day itself", Date{2026, 4, 25}, 0, Date{2026, 4, 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.AddWorkingDays(tt.day, tt.n); got != tt.want {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.day, tt.n, got, tt.want)
			}
		})
	}
}

func TestCalendar_AddWorkingTime(t *testing.T) {
	c := testCalendar(t)
	tests := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"inside the morning", at(2026, 4, 28, 9, 0), 30 * time.Minute, at(2026, 4, 28, 9, 30)},
		{"ends exactly at the end of the morning", at(2026, 4, 28, 11, 0), 30 * time.Minute, at(2026, 4, 28, 11, 30)},
		{"across lunch", at(2026, 4, 28, 11, 15), 30 * time.Minute, at(2026, 4, 28, 13, 45)},
		{"received at lunch", at(2026, 4, 28, 12, 0), 30 * time.Minute, at(2026, 4, 28, 14, 0)},
		{"received before work", at(2026, 4, 28, 5, 0), 30 * time.Minute, at(2026, 4, 28, 7, 30)},
		{"received in the evening", at(2026, 4, 28, 18, 0), 30 * time.Minute, at(2026, 4, 29, 7, 30)},
		// 10 minutes on Friday; Sat, Sun and Mon 27/4 (Hùng Kings' day in
		// lieu) are off; 20 minutes on Tuesday.
		{"Friday 16:50 before a Monday holiday", at(2026, 4, 24, 16, 50), 30 * time.Minute, at(2026, 4, 28, 7, 20)},
		{"received on a Saturday", at(2026, 3, 7, 10, 0), 30 * time.Minute, at(2026, 3, 9, 7, 30)},
		{"received on the make-up Saturday", at(2026, 1, 10, 9, 0), 30 * time.Minute, at(2026, 1, 10, 9, 30)},
		{"Friday 16:50 before the make-up Saturday", at(2026, 1, 9, 16, 50), 30 * time.Minute, at(2026, 1, 10, 7, 20)},
		{"the last Friday before Tết", at(2026, 2, 13, 16, 45), 30 * time.Minute, at(2026, 2, 23, 7, 15)},
		{"a whole working day", at(2026, 4, 28, 7, 0), 8 * time.Hour, at(2026, 4, 28, 17, 0)},
		// 1 hour on Tuesday, 8 on Wednesday, Thu 30/4 to Sun 3/5 off, 1 on Monday.
		{"more than a day", at(2026, 4, 28, 16, 0), 10 * time.Hour, at(2026, 5, 4, 8, 0)},
		{"received in UTC", time.Date(2026, 4, 24, 9, 50, 0, 0, time.UTC), 30 * time.Minute, at(2026, 4, 28, 7, 20)},
		{"zero from lunch is the afternoon's start", at(2026, 4, 28, 12, 0), 0, at(2026, 4, 28, 13, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddWorkingTime(tt.from, tt.d)
			if !got.Equal(tt.want) || got.Location().String() != "Asia/Ho_Chi_Minh" {
				t.Errorf("AddWorkingTime(%s, %s) = %s, want %s", tt.from, tt.d, got, tt.want)
			}
		})
	}
}

func TestCalendar_CoveredUntil(t *testing.T) {
	only2026 := testCalendarConfig()
	only2026.Holidays = only2026.Holidays[:5]
	none := testCalendarConfig()
	none.Holidays, none.WorkingDays = nil, nil
	tests := []struct {
		name string
		cfg  CalendarConfig
		want Date
	}{
		{"2026 and 2027", testCalendarConfig(), Date{2027, 12, 31}},
		{"2026 only", only2026, Date{2026, 12, 31}},
		{"none", none, Date{}},
		{"the defaults: no holidays in code", DefaultCalendarConfig(), Date{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := NewCalendar(tt.cfg, vnLoc, "rules.calendar")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := c.CoveredUntil(); got != tt.want {
				t.Errorf("CoveredUntil() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewCalendar_ReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		edit func(*CalendarConfig)
		want []string
	}{
		{"working hours", func(c *CalendarConfig) {
			c.WorkingHours = []string{"07:00-11:70", "7:00", "13:00-12:00", "08:00-09:00", "08:30-10:00", "25:00-26:00"}
		}, []string{
			`rules.calendar.working_hours[0]: "07:00-11:70": want a period such as "07:00-11:30"`,
			`rules.calendar.working_hours[1]: "7:00": want a period`,
			`rules.calendar.working_hours[2]: "13:00-12:00" ends before it starts`,
			`rules.calendar.working_hours[4]: "08:30-10:00" starts before the period before it ends`,
			`rules.calendar.working_hours[5]: "25:00-26:00": want a period`,
		}},
		{"unsorted working hours", func(c *CalendarConfig) {
			c.WorkingHours = []string{"13:30-17:00", "07:00-11:30"}
		}, []string{`rules.calendar.working_hours[1]: "07:00-11:30" starts before the period before it ends`}},
		{"no working hours", func(c *CalendarConfig) { c.WorkingHours = nil },
			[]string{`rules.calendar.working_hours: required`}},
		{"weekend", func(c *CalendarConfig) {
			c.Weekend = []string{"saturday", "Sunday", "saturday"}
		}, []string{
			`rules.calendar.weekend[1]: "Sunday" is not a weekday`,
			`rules.calendar.weekend[2]: "saturday" is listed twice`,
		}},
		{"a week off", func(c *CalendarConfig) {
			c.Weekend = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
		}, []string{`rules.calendar.weekend: every day of the week is a day off`}},
		{"holidays", func(c *CalendarConfig) {
			c.Holidays = []DayRange{
				{Date: Date{2026, 9, 2}, To: Date{2026, 9, 1}, Name: "backwards"},
				{To: Date{2026, 9, 1}, Name: "no date"},
				{Date: Date{2026, 9, 2}},
				{Date: Date{2026, 2, 14}, To: Date{2027, 2, 22}, Name: "a year's Tết"},
				{Date: Date{2026, 8, 29}, To: Date{2026, 9, 2}, Name: "overlaps [2]"},
			}
			c.WorkingDays = nil
		}, []string{
			`rules.calendar.holidays[0].to: 2026-09-01 is before date 2026-09-02`,
			`rules.calendar.holidays[1].date: required`,
			`rules.calendar.holidays[2].name: required`,
			`rules.calendar.holidays[3].to: 2026-02-14 to 2027-02-22 is longer than 31 days`,
			`rules.calendar.holidays[4]: 2026-09-02 is also in rules.calendar.holidays[2]`,
		}},
		{"working days", func(c *CalendarConfig) {
			c.WorkingDays = []DayRange{
				{Date: Date{2026, 1, 9}},  // a Friday
				{Date: Date{2026, 2, 14}}, // a Saturday of Tết
				{Date: Date{2026, 1, 10}, To: Date{2026, 1, 9}},
			}
		}, []string{
			`rules.calendar.working_days[0]: 2026-01-09 is a friday, not a weekend day`,
			`rules.calendar.working_days[1]: 2026-02-14 is also a holiday (Tết Bính Ngọ)`,
			`rules.calendar.working_days[2].to: 2026-01-09 is before date 2026-01-10`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCalendarConfig()
			tt.edit(&cfg)
			c, errs := NewCalendar(cfg, vnLoc, "rules.calendar")
			if c != nil || len(errs) == 0 {
				t.Fatal("no problem reported")
			}
			text := errs.Error()
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems lack %q:\n%s", w, text)
				}
			}
			if len(errs) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(errs), len(tt.want), text)
			}
		})
	}
}

func TestParseWorkPeriod(t *testing.T) {
	tests := []struct {
		in         string
		start, end time.Duration
	}{
		{"07:00-11:30", 7 * time.Hour, 11*time.Hour + 30*time.Minute},
		{" 7:30 - 17:00 ", 7*time.Hour + 30*time.Minute, 17 * time.Hour},
		{"22:00-24:00", 22 * time.Hour, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWorkPeriod(tt.in)
			if err != nil || got.start != tt.start || got.end != tt.end {
				t.Errorf("parseWorkPeriod(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}
