package rules

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func testUnits() []*Unit {
	return []*Unit{
		{Name: "Sở Thông tin và Truyền thông", Kind: KindDepartment, Abbr: "sotttt"},
		{Name: "UBND huyện Ninh Hải", Kind: KindDistrict, Abbr: "nh"},
	}
}

func TestNew(t *testing.T) {
	c := DefaultConfig()
	c.Units = testUnits()
	c.Calendar = testCalendarConfig()
	r, errs := New(c, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r.Mail("quoctrang") != "quoctrang@ninhthuan.gov.vn" || r.Location.String() != "Asia/Ho_Chi_Minh" || r.Password.MinClasses != 4 {
		t.Errorf("rules = %+v", r)
	}
	if _, ok := r.Application("eoffice"); !ok {
		t.Error("default application eoffice missing")
	}
}

func TestNew_ReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.MailDomain = "Ninh Thuan"
	c.Timezone = "Asia/Nowhere"
	c.RequestFields = []string{"title", "shoe_size"}
	c.Applications = append(c.Applications, Application{Name: "mail"}, Application{Name: "Thư"})
	c.Password.Profile = "strong"
	c.Username.MaxLength = 5
	c.Username.Reserved = append(c.Username.Reserved, "sotttt")
	c.Units = testUnits()
	_, errs := New(c, "rules")
	want := []string{
		`rules.mail_domain: "Ninh Thuan" is not a lower-case domain name`,
		`rules.timezone: "Asia/Nowhere" is not a known time zone`,
		`rules.request_fields[1]: "shoe_size" is not a request field`,
		`rules.applications[4].name: "mail" is listed twice`,
		`rules.applications[5].name: "Thư" must be lower-case`,
		`rules.password.profile: "strong" is not one of the profiles (btc5, nt7)`,
		`rules.units[0]: account "sotttt" is longer than rules.username.max_length (5)`,
		`rules.units[1]: account "ubnd_nh" is longer than rules.username.max_length (5)`,
	}
	text := errs.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
	c.Username.MaxLength = 64
	if _, errs := New(c, "rules"); !strings.Contains(errs.Error(), `rules.units[0]: account "sotttt" is a reserved name`) {
		t.Errorf("reserved unit account not reported:\n%v", errs)
	}
}

func TestLifecycleConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*LifecycleConfig)
		want []string
	}{
		{"defaults", func(*LifecycleConfig) {}, nil},
		{"negative and reversed periods", func(c *LifecycleConfig) {
			c.Staff.Lock = Period{Months: -1}
			c.Leader.Lock = Period{Months: 13}
		}, []string{
			`rules.lifecycle.staff.lock: -1 months: a period cannot be negative`,
			`rules.lifecycle.leader.lock: 13 months is after revoke (12 months)`,
		}},
		{"revoke at once", func(c *LifecycleConfig) { c.Staff.Revoke = Period{} },
			[]string{`rules.lifecycle.staff.revoke: must be more than 0`}},
		{"leaders shorter than staff", func(c *LifecycleConfig) { c.Leader.Revoke = Period{Months: 3} },
			[]string{`rules.lifecycle.leader: leaders' deadlines come before the staff's`}},
		{"deadlines and titles", func(c *LifecycleConfig) {
			c.RestoreWithin = 0
			c.IssueWithinDays = 0
			c.Inactivity = Period{Days: -7}
			c.LeaveGrace = Period{Years: -1}
			c.LeaderTitles = []string{"Giám đốc Sở", " ", "GIAM DOC  SO"}
		}, []string{
			`rules.lifecycle.restore_within: must be more than 0`,
			`rules.lifecycle.issue_within_days: 0: must be at least 1`,
			`rules.lifecycle.inactivity: -7 days: a period cannot be negative`,
			`rules.lifecycle.leave_grace: -1 years: a period cannot be negative`,
			`rules.lifecycle.leader_titles[1]: empty title`,
			`rules.lifecycle.leader_titles[2]: "GIAM DOC  SO" is the same title as leader_titles[0]`,
		}},
		{"inactivity off is allowed", func(c *LifecycleConfig) { c.Inactivity, c.LeaveGrace, c.Staff.Lock = Period{}, Period{}, Period{} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultLifecycleConfig()
			tt.edit(&c)
			errs := c.Validate("rules.lifecycle")
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

func TestNew_CalendarAndLifecycle(t *testing.T) {
	c := DefaultConfig()
	c.Units = testUnits()
	c.Calendar = testCalendarConfig()
	r, errs := New(c, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r.Calendar == nil || r.Calendar.Location() != r.Location || r.Calendar.CoveredUntil() != (Date{2027, 12, 31}) || !r.Lifecycle.ExtendToWorkingDay {
		t.Errorf("rules = %+v", r)
	}
	// Problems of both sections come with the rest, and a bad time zone
	// does not hide the calendar's.
	c.Timezone = "Asia/Nowhere"
	c.Calendar.Weekend = []string{"caturday"}
	c.Calendar.Holidays = append(c.Calendar.Holidays, DayRange{Date: Date{2027, 9, 3}, Name: "again"})
	c.Lifecycle.IssueWithinDays = -1
	_, errs = New(c, "rules")
	text := errs.Error()
	for _, w := range []string{
		`rules.timezone: "Asia/Nowhere" is not a known time zone`,
		`rules.calendar.weekend[0]: "caturday" is not a weekday`,
		`rules.calendar.holidays[10]: 2027-09-03 is also in rules.calendar.holidays[9]`,
		`rules.lifecycle.issue_within_days: -1: must be at least 1`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
}

// TestConfig_ExampleCalendarAndLifecycle checks that config.example.yaml
// writes out the calendar and lifecycle defaults, strictly decoded, and
// that its calendar covers what its comments say.
func TestConfig_ExampleCalendarAndLifecycle(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Rules struct {
			Calendar  CalendarConfig  `yaml:"calendar"`
			Lifecycle LifecycleConfig `yaml:"lifecycle"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	def := DefaultConfig()
	// The holidays are data the example ships; the rest are the defaults.
	if !reflect.DeepEqual(file.Rules.Calendar.WorkingHours, def.Calendar.WorkingHours) || !reflect.DeepEqual(file.Rules.Calendar.Weekend, def.Calendar.Weekend) {
		t.Errorf("rules.calendar of the example and the defaults disagree:\nexample  %+v\ndefaults %+v", file.Rules.Calendar, def.Calendar)
	}
	days := func(rs []DayRange) []DayRange {
		out := make([]DayRange, len(rs))
		for i, r := range rs {
			out[i] = DayRange{Date: r.Date, To: r.To}
		}
		return out
	}
	want := testCalendarConfig()
	if !reflect.DeepEqual(days(file.Rules.Calendar.Holidays), days(want.Holidays)) || !reflect.DeepEqual(days(file.Rules.Calendar.WorkingDays), days(want.WorkingDays)) {
		t.Errorf("the example's holidays differ from the ones the tests check by hand:\nexample %+v\ntests   %+v", file.Rules.Calendar, want)
	}
	if !reflect.DeepEqual(file.Rules.Lifecycle, def.Lifecycle) {
		t.Errorf("rules.lifecycle of the example and the defaults disagree:\nexample  %+v\ndefaults %+v", file.Rules.Lifecycle, def.Lifecycle)
	}
	c, errs := NewCalendar(file.Rules.Calendar, vnLoc, "rules.calendar")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// Weekdays checked by hand: the days the names say are off.
	for _, d := range []Date{{2026, 1, 2}, {2026, 2, 16}, {2026, 2, 20}, {2026, 4, 27}, {2026, 8, 31}, {2026, 9, 1},
		{2027, 1, 1}, {2027, 2, 4}, {2027, 2, 10}, {2027, 4, 16}, {2027, 4, 30}, {2027, 5, 3}, {2027, 9, 3}} {
		if c.IsWorkingDay(d) {
			t.Errorf("%s (a %s) is a working day in the example", d, weekday(d))
		}
	}
	for _, d := range []Date{{2026, 1, 10}, {2026, 8, 22}, {2026, 2, 23}, {2027, 2, 11}, {2027, 5, 4}} {
		if !c.IsWorkingDay(d) {
			t.Errorf("%s (a %s) is not a working day in the example", d, weekday(d))
		}
	}
}
