package rules

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/ldapsync/ldapsync/internal/field"
)

// LifecycleConfig is the account lifecycle's periods and deadlines
// (rules.lifecycle). Its defaults are NT Art. 5-6 and BTC 4.
type LifecycleConfig struct {
	// LeaderTitles are the job titles that make a person a leader in the
	// sense of NT 5.2.c: "lãnh đạo các sở, ban, ngành; Ủy ban nhân dân các
	// huyện, thành phố trở lên", the directors and deputy directors of
	// departments, boards and agencies, the chairs and vice-chairs of
	// district and city People's Committees, and those above them. Heads
	// of offices ("lãnh đạo cấp phòng, ban trở xuống") are staff.
	//
	// A title matches an entry when, compared without case, diacritics,
	// punctuation or extra spaces, it is the entry or the entry followed by
	// more words (the name of the unit): "Giám đốc Sở" matches "Giám đốc
	// Sở Nội vụ" but not "Phó Giám đốc Sở Nội vụ", which needs its own
	// entry. "Ủy ban nhân dân" and "UBND", "Hội đồng nhân dân" and "HĐND",
	// "TP" and "thành phố" are the same words.
	//
	// A bare "Giám đốc", "Trưởng ban", "Chủ tịch" or "Chánh Văn phòng" is
	// deliberately not a default: each is also the title of someone who
	// is not a leader in this sense (the director of a centre under a
	// department, the head of a district's project board or of a
	// department's office, the chair of a commune), and only the unit
	// tells them apart. Where HR writes bare titles, it should say so in
	// the event's leader field, or list the titles here. Default: Giám đốc
	// Sở, Phó Giám đốc Sở; Chánh Văn phòng UBND tỉnh and Chánh Thanh tra
	// tỉnh and their deputies (heads of department-level agencies);
	// Trưởng ban Dân tộc, Trưởng ban Quản lý các khu công nghiệp and their
	// deputies (the province's department-level boards); Chủ tịch and Phó
	// Chủ tịch UBND huyện, thành phố, thị xã, tỉnh; Chủ tịch and Phó Chủ
	// tịch HĐND tỉnh.
	LeaderTitles []string `yaml:"leader_titles"`
	// Staff and Leader are the departure rules of NT 5.2.c, counted from
	// the departure's effective date. Default: staff lock "0" (at once)
	// and revoke "6 months"; leaders lock "1 month" and revoke "12 months".
	Staff  DepartureRule `yaml:"staff"`
	Leader DepartureRule `yaml:"leader"`
	// Inactivity is how long an account may go without activity before a
	// temporary lock (NT 6.2.a); "0" turns the rule off. Default "6 months".
	Inactivity Period `yaml:"inactivity"`
	// LeaveGrace is how long after a notified absence ends inactivity
	// still cannot lock the account, so that a person back from leave has
	// time to log in. Default "7 days".
	LeaveGrace Period `yaml:"leave_grace"`
	// ExtendToWorkingDay makes a period whose last day is a weekend day or
	// holiday end at 24:00 of the next working day (Civil Code 2015 Art.
	// 148). Default true.
	ExtendToWorkingDay bool `yaml:"extend_to_working_day"`
	// RestoreWithin is the working time within which a locked account is
	// restored after the request is received (NT 6.3.b). Default 30m.
	RestoreWithin Duration `yaml:"restore_within"`
	// IssueWithinDays is the number of working days after the day a
	// request is received within which the account is issued (BTC 4).
	// Default 3.
	IssueWithinDays int `yaml:"issue_within_days"`
}

// DepartureRule is when a departed person's account is locked and revoked,
// counted from the departure's effective date.
type DepartureRule struct {
	// Lock "0" locks at once: from the start of the effective date.
	Lock   Period `yaml:"lock"`
	Revoke Period `yaml:"revoke"`
}

// DefaultLifecycleConfig returns the regulation's periods.
func DefaultLifecycleConfig() LifecycleConfig {
	return LifecycleConfig{
		LeaderTitles: []string{
			"Giám đốc Sở", "Phó Giám đốc Sở",
			"Chánh Văn phòng UBND tỉnh", "Phó Chánh Văn phòng UBND tỉnh",
			"Chánh Thanh tra tỉnh", "Phó Chánh Thanh tra tỉnh",
			"Trưởng ban Dân tộc", "Phó Trưởng ban Dân tộc",
			"Trưởng ban Quản lý các khu công nghiệp", "Phó Trưởng ban Quản lý các khu công nghiệp",
			"Chủ tịch UBND huyện", "Phó Chủ tịch UBND huyện",
			"Chủ tịch UBND thành phố", "Phó Chủ tịch UBND thành phố",
			"Chủ tịch UBND thị xã", "Phó Chủ tịch UBND thị xã",
			"Chủ tịch UBND tỉnh", "Phó Chủ tịch UBND tỉnh",
			"Chủ tịch HĐND tỉnh", "Phó Chủ tịch HĐND tỉnh",
		},
		Staff:              DepartureRule{Lock: Period{}, Revoke: Period{Months: 6}},
		Leader:             DepartureRule{Lock: Period{Months: 1}, Revoke: Period{Months: 12}},
		Inactivity:         Period{Months: 6},
		LeaveGrace:         Period{Days: 7},
		ExtendToWorkingDay: true,
		RestoreWithin:      Duration(30 * time.Minute),
		IssueWithinDays:    3,
	}
}

// Validate returns every problem with c, each named by its path under
// path (usually "rules.lifecycle").
func (c LifecycleConfig) Validate(path string) field.List {
	var errs field.List
	seen := map[string]int{}
	for i, t := range c.LeaderTitles {
		p := field.Index(field.Join(path, "leader_titles"), i)
		k := foldTitle(t)
		if k == "" {
			errs.Add(p, "empty title")
			continue
		}
		if j, dup := seen[k]; dup {
			errs.Add(p, "%q is the same title as leader_titles[%d]", t, j)
			continue
		}
		seen[k] = i
	}
	for _, r := range []struct {
		name string
		rule DepartureRule
	}{{"staff", c.Staff}, {"leader", c.Leader}} {
		p := field.Join(path, r.name)
		errs.Append(checkPeriod(r.rule.Lock, field.Join(p, "lock")))
		errs.Append(checkPeriod(r.rule.Revoke, field.Join(p, "revoke")))
		if r.rule.Revoke.IsZero() {
			errs.Add(field.Join(p, "revoke"), "must be more than 0: a revocation is final, and a departure entered by mistake needs time to be withdrawn")
		} else if periodAfter(r.rule.Lock, r.rule.Revoke) {
			errs.Add(field.Join(p, "lock"), "%s is after revoke (%s): an account is locked before it is revoked", r.rule.Lock, r.rule.Revoke)
		}
	}
	if periodAfter(c.Staff.Lock, c.Leader.Lock) || periodAfter(c.Staff.Revoke, c.Leader.Revoke) {
		errs.Add(field.Join(path, "leader"), "leaders' deadlines come before the staff's: NT 5.2.c gives leaders the longer ones")
	}
	errs.Append(checkPeriod(c.Inactivity, field.Join(path, "inactivity")))
	errs.Append(checkPeriod(c.LeaveGrace, field.Join(path, "leave_grace")))
	if c.RestoreWithin <= 0 {
		errs.Add(field.Join(path, "restore_within"), "must be more than 0 (NT 6.3.b: 30m)")
	}
	if c.IssueWithinDays < 1 {
		errs.Add(field.Join(path, "issue_within_days"), "%d: must be at least 1 (BTC 4: 3)", c.IssueWithinDays)
	}
	return errs
}

func checkPeriod(p Period, path string) field.List {
	var errs field.List
	if p.Years < 0 || p.Months < 0 || p.Days < 0 {
		errs.Add(path, "%s: a period cannot be negative", p)
	}
	return errs
}

// periodAfter reports whether p ends later than q counted from some day:
// months differ in length, so "1 month" and "30 days" compare both ways.
func periodAfter(p, q Period) bool {
	for _, d := range []Date{{2001, 1, 31}, {2001, 2, 28}, {2000, 2, 29}, {2001, 4, 30}, {2001, 12, 31}} {
		t := d.In(time.UTC)
		if p.AddTo(t).After(q.AddTo(t)) {
			return true
		}
	}
	return false
}

// titleWords are spellings of the same words in job titles, folded.
var titleWords = strings.NewReplacer(
	" uy ban nhan dan ", " ubnd ",
	" hoi dong nhan dan ", " hdnd ",
	" tp ", " thanh pho ",
)

// foldTitle returns a job title as LeaderTitles compares it: lower-case
// ASCII words without diacritics or punctuation, one space apart, the
// common abbreviations written one way.
func foldTitle(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
			return r
		}
		return ' ' // "TT&TT", "Bưu chính - Viễn thông", digits
	}, s)
	f, err := Fold(s)
	if err != nil {
		// A letter Vietnamese does not write: compare it as written.
		f = strings.Join(strings.Fields(strings.ToLower(s)), " ")
	}
	// Twice, as the replacer does not see a match that shares a space
	// with the one before it.
	f = titleWords.Replace(titleWords.Replace(" " + f + " "))
	return strings.TrimSpace(f)
}

// IsLeaderTitle reports whether title is a leader's in the sense of NT
// 5.2.c: it is one of LeaderTitles, or one of them followed by more words.
func (r *Rules) IsLeaderTitle(title string) bool {
	t := foldTitle(title)
	if t == "" {
		return false
	}
	for _, l := range r.leaderTitles {
		if t == l || strings.HasPrefix(t, l+" ") {
			return true
		}
	}
	return false
}

// PeriodEnd returns the instant a period counted from the day event has
// ended (Civil Code 2015 Art. 147-148): the period starts on the day after
// event and ends at 24:00 of the corresponding day (Period.AddTo, so 31
// August + 6 months ends on 28 or 29 February); when that day is not a
// working day and ExtendToWorkingDay is set, at 24:00 of the next working
// day. The result is 00:00 of the day after the last day, in r.Location. A
// zero period is "at once": 00:00 of event itself.
func (r *Rules) PeriodEnd(event Date, p Period) time.Time {
	if p.IsZero() {
		return event.In(r.Location)
	}
	last := DateOf(p.AddTo(event.In(r.Location)))
	if r.Lifecycle.ExtendToWorkingDay {
		last = r.Calendar.NextWorkingDay(last)
	}
	return last.AddDays(1).In(r.Location)
}

// DepartureDeadlines returns when the account of a person who departs on
// effective is locked and revoked (NT 5.2.c), by the leaders' rule when
// leader is set, else by the staff's.
func (r *Rules) DepartureDeadlines(effective Date, leader bool) (lockAt, revokeAt time.Time) {
	rule := r.Lifecycle.Staff
	if leader {
		rule = r.Lifecycle.Leader
	}
	return r.PeriodEnd(effective, rule.Lock), r.PeriodEnd(effective, rule.Revoke)
}

// InactivityLockAt returns when a (temporarily) inactive account is locked
// (NT 6.2.a), and a short phrase saying what the date is counted from.
//
// The count starts on the day of the account's last activity, the latest
// of its last login, the last activity applications reported, and the last
// time its password was set (a restore, or the user's own change). An
// account never used counts from the later of its creation and the day
// ldapsync first saw it, so that switching the sweep on does not lock old
// unused accounts at once. A notified absence (LeaveUntil) defers the lock
// to the end of LeaveGrace after it.
//
// It returns the zero time when the rule is off (Inactivity "0") or
// nothing is known to count from.
func (r *Rules) InactivityLockAt(a *Account) (lockAt time.Time, basis string) {
	if r.Lifecycle.Inactivity.IsZero() {
		return time.Time{}, ""
	}
	var from time.Time
	for _, c := range []struct {
		t    time.Time
		what string
	}{
		{a.LastLogin, "last login"},
		{a.Lifecycle.LastActive, "last activity reported by applications"},
		{a.PasswordChanged, "password last set"},
	} {
		if c.t.After(from) {
			from, basis = c.t, c.what
		}
	}
	if from.IsZero() {
		what := "never used; created"
		from = a.Created
		if a.Lifecycle.FirstSeen.After(from) {
			what, from = "never used; first seen", a.Lifecycle.FirstSeen
		}
		if from.IsZero() {
			return time.Time{}, ""
		}
		basis = what
	}
	day := DateOf(from.In(r.Location))
	basis += " " + day.String()
	lockAt = r.PeriodEnd(day, r.Lifecycle.Inactivity)
	if u := a.Lifecycle.LeaveUntil; !u.IsZero() {
		back := u.AddDays(1).In(r.Location)
		if !r.Lifecycle.LeaveGrace.IsZero() {
			back = r.PeriodEnd(u, r.Lifecycle.LeaveGrace)
		}
		if back.After(lockAt) {
			lockAt = back
			basis += "; on leave until " + u.String()
		}
	}
	return lockAt, basis
}

// RestoreDue returns when a restore requested at received must be done:
// RestoreWithin of working time later (NT 6.3.b).
func (r *Rules) RestoreDue(received time.Time) time.Time {
	return r.Calendar.AddWorkingTime(received, r.Lifecycle.RestoreWithin.Std())
}

// IssueDue returns when an account requested at received must be issued
// (BTC 4): at 24:00 of the IssueWithinDays-th working day after the day of
// receipt, which is 00:00 of the day after it.
func (r *Rules) IssueDue(received time.Time) time.Time {
	day := r.Calendar.AddWorkingDays(DateOf(received.In(r.Location)), r.Lifecycle.IssueWithinDays)
	return day.AddDays(1).In(r.Location)
}

// calendarWarnAhead is how long before the listed holidays run out
// CalendarWarning starts to say so: time for the government's next
// announcement to be published and copied in.
const calendarWarnAhead = 60 * 24 * time.Hour

// CalendarWarning returns "" or a warning that the public holidays the
// calendar lists run out within 60 days of now, or have run out: past
// CoveredUntil every weekday counts as a working day, and deadlines that
// count working time or end on a holiday come out early.
func (r *Rules) CalendarWarning(now time.Time) string {
	until := r.Calendar.CoveredUntil()
	if until.IsZero() {
		return "rules.calendar: no public holidays are listed: every weekday counts as a working day; add this year's and next year's holidays"
	}
	end := until.AddDays(1).In(r.Location)
	switch {
	case !now.Before(end):
		return fmt.Sprintf("rules.calendar: public holidays are listed only until %s, which has passed: every weekday since counts as a working day; add the holidays of %d", until, DateOf(now.In(r.Location)).Year)
	case end.Sub(now) < calendarWarnAhead:
		return fmt.Sprintf("rules.calendar: public holidays are listed only until %s; add next year's before %s", until, until)
	}
	return ""
}
