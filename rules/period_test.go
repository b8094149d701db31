package rules

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want Period
		str  string
	}{
		{"6 months", Period{Months: 6}, "6 months"},
		{"1 month", Period{Months: 1}, "1 month"},
		{"12 Months", Period{Months: 12}, "12 months"},
		{"1 year", Period{Years: 1}, "1 year"},
		{"30 days", Period{Days: 30}, "30 days"},
		{"0", Period{}, "0"},
		{"P6M", Period{Months: 6}, "6 months"},
		{"P1Y6M", Period{Years: 1, Months: 6}, "P1Y6M"},
		{"P2W", Period{Days: 14}, "14 days"},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParsePeriod(%q) = %+v (%q), %v; want %+v (%q)", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
	for _, bad := range []string{"", "6", "six months", "6 fortnights", "-1 month", "P", "P6", "P6X"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
}

// Civil Code Art. 147-148: a period in months ends on the corresponding
// day of the last month, or on that month's last day when it has none.
func TestPeriod_AddTo(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	tests := []struct {
		from time.Time
		p    Period
		want time.Time
	}{
		{day(2026, 1, 15), Period{Months: 6}, day(2026, 7, 15)},
		{day(2026, 8, 31), Period{Months: 6}, day(2027, 2, 28)},
		{day(2027, 8, 31), Period{Months: 6}, day(2028, 2, 29)},
		{day(2026, 11, 30), Period{Months: 1}, day(2026, 12, 30)},
		{day(2026, 1, 31), Period{Months: 1}, day(2026, 2, 28)},
		{day(2026, 3, 31), Period{Months: 12}, day(2027, 3, 31)},
		{day(2028, 2, 29), Period{Years: 1}, day(2029, 2, 28)},
		{day(2026, 12, 20), Period{Days: 30}, day(2027, 1, 19)},
		{day(2026, 5, 10).Add(15 * time.Hour), Period{Months: 1}, day(2026, 6, 10)},
	}
	for _, tt := range tests {
		if got := tt.p.AddTo(tt.from); !got.Equal(tt.want) {
			t.Errorf("%s + %s = %s, want %s", tt.from.Format("2006-01-02"), tt.p, got.Format("2006-01-02"), tt.want.Format("2006-01-02"))
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"90d": "90d", "36h": "36h0m0s", "30m": "30m0s", "0": "0s", "48h": "2d"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "3 months", "-5m", "1.5d", "d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-02": "2026-11-02", "02/11/2026": "2026-11-02", "2/11/2026": "2026-11-02", "29.02.2028": "2028-02-29",
	} {
		d, err := ParseDate(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDate(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"2026-02-29", "31/04/2026", "11/02/26", "2026/11/02", "26-11-02", "tomorrow", "2026-1-2-3"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	a, b := Date{2026, 11, 2}, Date{2026, 12, 1}
	if !a.Before(b) || b.Before(a) || a.Compare(a) != 0 {
		t.Error("Date ordering")
	}
}
