package rules

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
)

// testRules returns the default rules with the 2026-2027 test calendar,
// after edit.
func testRules(t *testing.T, edit func(*Config)) *Rules {
	t.Helper()
	c := DefaultConfig()
	c.Units = testUnits()
	c.Calendar = testCalendarConfig()
	if edit != nil {
		edit(&c)
	}
	r, errs := New(c, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

func TestRules_PeriodEnd(t *testing.T) {
	r := testRules(t, nil)
	strict := testRules(t, func(c *Config) { c.Lifecycle.ExtendToWorkingDay = false })
	tests := []struct {
		name  string
		r     *Rules
		event Date
		p     Period
		want  time.Time
	}{
		{"ends on a Tuesday", r, Date{2026, 3, 15}, Period{Months: 6}, at(2026, 9, 16, 0, 0)},
		{"zero is at once, from the start of the day", r, Date{2026, 3, 15}, Period{}, at(2026, 3, 15, 0, 0)},
		// 31/8/2026 + 6 months: 28/2/2027, a Sunday, so Monday 1/3.
		{"month end into February, a Sunday", r, Date{2026, 8, 31}, Period{Months: 6}, at(2027, 3, 2, 0, 0)},
		{"month end into February, not extended", strict, Date{2026, 8, 31}, Period{Months: 6}, at(2027, 3, 1, 0, 0)},
		// 31/8/2027 + 6 months: 29/2/2028, a Tuesday.
		{"month end into a leap February", r, Date{2027, 8, 31}, Period{Months: 6}, at(2028, 3, 1, 0, 0)},
		// 10/3/2026 + 2 months: 10/5/2026, a Sunday.
		{"ends on a Sunday", r, Date{2026, 3, 10}, Period{Months: 2}, at(2026, 5, 12, 0, 0)},
		{"ends on a Sunday, not extended", strict, Date{2026, 3, 10}, Period{Months: 2}, at(2026, 5, 11, 0, 0)},
		// 2/9/2026 is National Day, a Wednesday: Thursday 3/9.
		{"ends on National Day", r, Date{2026, 3, 2}, Period{Months: 6}, at(2026, 9, 4, 0, 0)},
		// 8/2/2027 is a Monday inside Tết (4/2-10/2): Thursday 11/2.
		{"ends inside Tết 2027", r, Date{2026, 8, 8}, Period{Months: 6}, at(2027, 2, 12, 0, 0)},
		{"ends inside Tết 2027, not extended", strict, Date{2026, 8, 8}, Period{Months: 6}, at(2027, 2, 9, 0, 0)},
		// 10/1/2026 is a Saturday worked in exchange for Fri 2/1.
		{"ends on a make-up Saturday", r, Date{2025, 12, 10}, Period{Months: 1}, at(2026, 1, 11, 0, 0)},
		// 20/12/2026 + 30 days: 19/1/2027, a Tuesday.
		{"days", r, Date{2026, 12, 20}, Period{Days: 30}, at(2027, 1, 20, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.PeriodEnd(tt.event, tt.p)
			if !got.Equal(tt.want) || got.Location().String() != "Asia/Ho_Chi_Minh" {
				t.Errorf("PeriodEnd(%s, %s) = %s, want %s", tt.event, tt.p, got, tt.want)
			}
		})
	}
}

func TestRules_DepartureDeadlines(t *testing.T) {
	r := testRules(t, nil)
	tests := []struct {
		name             string
		effective        Date
		leader           bool
		lockAt, revokeAt time.Time
	}{
		// Lock at once; 15/9/2026 is a Tuesday.
		{"staff", Date{2026, 3, 15}, false, at(2026, 3, 15, 0, 0), at(2026, 9, 16, 0, 0)},
		// 15/4/2026 is a Wednesday, 15/3/2027 a Monday.
		{"leader", Date{2026, 3, 15}, true, at(2026, 4, 16, 0, 0), at(2027, 3, 16, 0, 0)},
		// 31/1 + 1 month: 28/2/2026, a Saturday, so Monday 2/3; + 12
		// months: 31/1/2027, a Sunday, so Monday 1/2.
		{"leader at a month end", Date{2026, 1, 31}, true, at(2026, 3, 3, 0, 0), at(2027, 2, 2, 0, 0)},
		// A departure on a holiday still locks at once, from that day.
		{"staff effective on a holiday", Date{2026, 9, 2}, false, at(2026, 9, 2, 0, 0), at(2027, 3, 3, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lockAt, revokeAt := r.DepartureDeadlines(tt.effective, tt.leader)
			if !lockAt.Equal(tt.lockAt) || !revokeAt.Equal(tt.revokeAt) {
				t.Errorf("DepartureDeadlines(%s, %v) = %s, %s; want %s, %s", tt.effective, tt.leader, lockAt, revokeAt, tt.lockAt, tt.revokeAt)
			}
		})
	}
}

func TestRules_IsLeaderTitle(t *testing.T) {
	r := testRules(t, nil)
	tests := []struct {
		name  string
		title string
		want  bool
	}{
		{"director of a department", "Giám đốc Sở Nội vụ", true},
		{"deputy director", "Phó Giám đốc Sở Thông tin và Truyền thông", true},
		{"the bare default", "Phó Giám đốc Sở", true},
		{"upper case", "PHÓ GIÁM ĐỐC SỞ TÀI CHÍNH", true},
		{"spaces and no diacritics", "  pho   giam doc so  ", true},
		{"decomposed", norm.NFD.String("Giám đốc Sở Y tế"), true},
		{"punctuation", "Giám đốc Sở TT&TT", true},
		{"district chair, written out", "Chủ tịch Ủy ban nhân dân huyện Ninh Hải", true},
		{"city vice-chair, TP", "Phó Chủ tịch UBND TP Phan Rang-Tháp Chàm", true},
		{"provincial chair, old tone placement", "Chủ tịch Uỷ ban nhân dân tỉnh", true},
		{"head of a provincial board", "Trưởng ban Dân tộc tỉnh", true},
		{"chief of the provincial office", "Chánh Văn phòng UBND tỉnh", true},
		{"office head", "Trưởng phòng Văn hóa và Thông tin", false},
		{"deputy office head", "Phó Trưởng phòng - Kế toán", false},
		{"head of a department's office", "Chánh Văn phòng", false},
		{"a department's inspector", "Chánh Thanh tra Sở", false},
		{"director of a centre", "Giám đốc Trung tâm Công nghệ thông tin và Truyền thông", false},
		{"commune chair", "Chủ tịch UBND xã Phước Hải", false},
		{"a district project board", "Trưởng ban Quản lý dự án đầu tư xây dựng huyện", false},
		{"a bare director", "Giám đốc", false},
		{"a word that only starts the same", "Giám đốc Sởn", false},
		{"staff", "Chuyên viên", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.IsLeaderTitle(tt.title); got != tt.want {
				t.Errorf("IsLeaderTitle(%q) = %v, want %v (folded %q)", tt.title, got, tt.want, foldTitle(tt.title))
			}
		})
	}
	custom := testRules(t, func(c *Config) { c.Lifecycle.LeaderTitles = []string{"Giám đốc"} })
	if !custom.IsLeaderTitle("Giám đốc") || !custom.IsLeaderTitle("giam doc trung tam") || custom.IsLeaderTitle("Phó Giám đốc") {
		t.Error("leader_titles from the config not used")
	}
}

func TestRules_InactivityLockAt(t *testing.T) {
	r := testRules(t, nil)
	noGrace := testRules(t, func(c *Config) { c.Lifecycle.LeaveGrace = Period{} })
	off := testRules(t, func(c *Config) { c.Lifecycle.Inactivity = Period{} })
	tests := []struct {
		name  string
		r     *Rules
		a     Account
		want  time.Time
		basis string
	}{
		// 10/7/2026 is a Friday.
		{"last login", r, Account{LastLogin: at(2026, 1, 10, 10, 0), Created: at(2025, 6, 1, 9, 0)},
			at(2026, 7, 11, 0, 0), "last login 2026-01-10"},
		// 20:00 UTC is 03:00 the next day in Vietnam; 11/7/2026 is a
		// Saturday, so Monday 13/7.
		{"the day is Vietnam's", r, Account{LastLogin: time.Date(2026, 1, 10, 20, 0, 0, 0, time.UTC)},
			at(2026, 7, 14, 0, 0), "last login 2026-01-11"},
		// 1/8/2026 is a Saturday, so Monday 3/8.
		{"applications report later activity", r, Account{LastLogin: at(2026, 1, 10, 10, 0),
			Lifecycle: Lifecycle{LastActive: at(2026, 2, 1, 8, 0)}},
			at(2026, 8, 4, 0, 0), "last activity reported by applications 2026-02-01"},
		{"a login after the applications' report", r, Account{LastLogin: at(2026, 3, 2, 10, 0),
			Lifecycle: Lifecycle{LastActive: at(2026, 2, 1, 8, 0)}},
			at(2026, 9, 4, 0, 0), "last login 2026-03-02"},
		// 12/7/2026 is a Sunday, so Monday 13/7.
		{"a restore's password", r, Account{LastLogin: at(2026, 1, 10, 10, 0), PasswordChanged: at(2026, 1, 12, 9, 0)},
			at(2026, 7, 14, 0, 0), "password last set 2026-01-12"},
		// 5/7/2026 is a Sunday, so Monday 6/7.
		{"never used: created", r, Account{Created: at(2026, 1, 5, 14, 0)},
			at(2026, 7, 7, 0, 0), "never used; created 2026-01-05"},
		{"never used: first seen after creation", r, Account{Created: at(2020, 3, 1, 9, 0),
			Lifecycle: Lifecycle{FirstSeen: at(2026, 1, 5, 14, 0)}},
			at(2026, 7, 7, 0, 0), "never used; first seen 2026-01-05"},
		{"never used: created after first seen", r, Account{Created: at(2026, 1, 5, 14, 0),
			Lifecycle: Lifecycle{FirstSeen: at(2025, 12, 1, 9, 0)}},
			at(2026, 7, 7, 0, 0), "never used; created 2026-01-05"},
		// Leave until Mon 31/8/2026 + 7 days: Mon 7/9.
		{"on leave", r, Account{LastLogin: at(2026, 1, 10, 10, 0),
			Lifecycle: Lifecycle{LeaveUntil: Date{2026, 8, 31}}},
			at(2026, 9, 8, 0, 0), "last login 2026-01-10; on leave until 2026-08-31"},
		{"on leave, no grace", noGrace, Account{LastLogin: at(2026, 1, 10, 10, 0),
			Lifecycle: Lifecycle{LeaveUntil: Date{2026, 8, 31}}},
			at(2026, 9, 1, 0, 0), "last login 2026-01-10; on leave until 2026-08-31"},
		// Leave until Sat 22/8/2026 (a make-up working day) + 7 days: Sat
		// 29/8, in the National Day holiday: Thursday 3/9.
		{"grace ending in a holiday", r, Account{LastLogin: at(2026, 1, 10, 10, 0),
			Lifecycle: Lifecycle{LeaveUntil: Date{2026, 8, 22}}},
			at(2026, 9, 4, 0, 0), "last login 2026-01-10; on leave until 2026-08-22"},
		{"a leave long over does not decide", r, Account{LastLogin: at(2026, 1, 10, 10, 0),
			Lifecycle: Lifecycle{LeaveUntil: Date{2026, 2, 1}}},
			at(2026, 7, 11, 0, 0), "last login 2026-01-10"},
		{"nothing known", r, Account{Lifecycle: Lifecycle{LeaveUntil: Date{2026, 8, 31}}}, time.Time{}, ""},
		{"rule off", off, Account{LastLogin: at(2026, 1, 10, 10, 0)}, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, basis := tt.r.InactivityLockAt(&tt.a)
			if !got.Equal(tt.want) || basis != tt.basis {
				t.Errorf("InactivityLockAt = %s, %q; want %s, %q", got, basis, tt.want, tt.basis)
			}
		})
	}
}

func TestRules_RestoreDue(t *testing.T) {
	r := testRules(t, nil)
	hour := testRules(t, func(c *Config) { c.Lifecycle.RestoreWithin = Duration(time.Hour) })
	tests := []struct {
		name     string
		r        *Rules
		received time.Time
		want     time.Time
	}{
		{"Friday 16:50 before a Monday holiday", r, at(2026, 4, 24, 16, 50), at(2026, 4, 28, 7, 20)},
		{"in the morning", r, at(2026, 4, 28, 8, 0), at(2026, 4, 28, 8, 30)},
		{"at lunch", r, at(2026, 4, 28, 11, 45), at(2026, 4, 28, 14, 0)},
		{"on a Sunday", r, at(2026, 3, 8, 21, 0), at(2026, 3, 9, 7, 30)},
		// 15 minutes on Sat 22/8, a make-up working day; Sat 29/8 to Wed
		// 2/9 are off; Mon 24/8 is a working day.
		{"on the make-up Saturday", r, at(2026, 8, 22, 16, 45), at(2026, 8, 24, 7, 15)},
		{"an hour, configured", hour, at(2026, 4, 28, 11, 0), at(2026, 4, 28, 14, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.RestoreDue(tt.received); !got.Equal(tt.want) {
				t.Errorf("RestoreDue(%s) = %s, want %s", tt.received, got, tt.want)
			}
		})
	}
}

func TestRules_IssueDue(t *testing.T) {
	r := testRules(t, nil)
	tests := []struct {
		name     string
		received time.Time
		want     time.Time
	}{
		// Mon 27/4 off; Tue 28 (1), Wed 29 (2); Thu 30/4 to Sun 3/5 off;
		// Mon 4/5 (3), to its end.
		{"a Friday before holidays", at(2026, 4, 24, 9, 0), at(2026, 5, 5, 0, 0)},
		{"the Friday before Tết", at(2026, 2, 13, 16, 0), at(2026, 2, 26, 0, 0)},
		{"a make-up Saturday", at(2026, 1, 10, 9, 0), at(2026, 1, 15, 0, 0)},
		{"an ordinary Monday", at(2026, 3, 2, 9, 0), at(2026, 3, 6, 0, 0)},
		// 23:30 UTC on Sunday 1/3 is 06:30 on Monday 2/3 in Vietnam.
		{"the day is Vietnam's", time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC), at(2026, 3, 6, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.IssueDue(tt.received); !got.Equal(tt.want) {
				t.Errorf("IssueDue(%s) = %s, want %s", tt.received, got, tt.want)
			}
		})
	}
}

func TestRules_CalendarWarning(t *testing.T) {
	r := testRules(t, nil)
	none := testRules(t, func(c *Config) { c.Calendar.Holidays, c.Calendar.WorkingDays = nil, nil })
	end := at(2028, 1, 1, 0, 0) // the end of 2027-12-31
	tests := []struct {
		name string
		r    *Rules
		now  time.Time
		want string // "" for no warning
	}{
		{"a year ahead", r, at(2027, 1, 1, 9, 0), ""},
		{"exactly 60 days ahead", r, end.Add(-60 * 24 * time.Hour), ""},
		{"just under 60 days ahead", r, end.Add(-60*24*time.Hour + time.Second), "public holidays are listed only until 2027-12-31; add next year's before 2027-12-31"},
		{"the last day", r, at(2027, 12, 31, 23, 0), "listed only until 2027-12-31; add next year's"},
		{"run out", r, end, "listed only until 2027-12-31, which has passed"},
		{"none listed", none, at(2026, 6, 1, 9, 0), "no public holidays are listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.CalendarWarning(tt.now)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) || (got != "" && !strings.HasPrefix(got, "rules.calendar: ")) {
				t.Errorf("CalendarWarning(%s) = %q, want %q", tt.now, got, tt.want)
			}
		})
	}
}

func TestPeriodAfter(t *testing.T) {
	tests := []struct {
		name string
		p, q Period
		want bool
	}{
		{"shorter", Period{Months: 1}, Period{Months: 6}, false},
		{"equal", Period{Months: 12}, Period{Years: 1}, false},
		{"longer", Period{Months: 13}, Period{Months: 12}, true},
		{"a month can be longer than 30 days", Period{Months: 1}, Period{Days: 30}, true},
		{"or shorter than 30 days", Period{Days: 30}, Period{Months: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := periodAfter(tt.p, tt.q); got != tt.want {
				t.Errorf("periodAfter(%s, %s) = %v, want %v", tt.p, tt.q, got, tt.want)
			}
		})
	}
}
