package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeadlines(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want map[string]any // the JSON object
	}{
		// 15/9/2026 is a Tuesday.
		{"staff departure", []string{"departure", "--effective", "2026-03-15"},
			map[string]any{"lock_at": "2026-03-15T00:00:00+07:00", "revoke_at": "2026-09-16T00:00:00+07:00"}},
		// 15/4/2026 is a Wednesday, 15/3/2027 a Monday.
		{"leader departure, day-first date", []string{"departure", "--leader", "--effective", "15/03/2026"},
			map[string]any{"lock_at": "2026-04-16T00:00:00+07:00", "revoke_at": "2027-03-16T00:00:00+07:00"}},
		// 28/2/2027 is a Sunday.
		{"departure at a month end", []string{"departure", "--effective", "2026-08-31"},
			map[string]any{"lock_at": "2026-08-31T00:00:00+07:00", "revoke_at": "2027-03-02T00:00:00+07:00"}},
		// 10/7/2026 is a Friday.
		{"inactivity", []string{"inactivity", "--last-active", "2026-01-10"},
			map[string]any{"lock_at": "2026-07-11T00:00:00+07:00"}},
		// Leave until Mon 31/8/2026 + 7 days: Mon 7/9.
		{"inactivity on leave", []string{"inactivity", "--last-active", "2026-01-10T15:00", "--leave-until", "31/08/2026"},
			map[string]any{"lock_at": "2026-09-08T00:00:00+07:00"}},
		// 5/7/2026 is a Sunday.
		{"inactivity, never used", []string{"inactivity", "--created", "2026-01-05"},
			map[string]any{"lock_at": "2026-07-07T00:00:00+07:00"}},
		// Sat, Sun and Mon 27/4 (Hùng Kings' day in lieu) are off.
		{"restore before a holiday", []string{"restore", "--received", "2026-04-24T16:50"},
			map[string]any{"due": "2026-04-28T07:20:00+07:00"}},
		{"restore, RFC 3339 in UTC", []string{"restore", "--received", "2026-04-24T09:50:00Z"},
			map[string]any{"due": "2026-04-28T07:20:00+07:00"}},
		{"restore at lunch, space-separated", []string{"restore", "--received", "2026-04-28 12:00"},
			map[string]any{"due": "2026-04-28T14:00:00+07:00"}},
		// Tue 28 and Wed 29/4, then 30/4 to 3/5 off, Mon 4/5.
		{"issue on a Friday", []string{"issue", "--received", "2026-04-24T09:00"},
			map[string]any{"due": "2026-05-05T00:00:00+07:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"deadlines", "--config", exampleConfig, "--output", "json"}, tt.args...)
			out, errOut, code := ldapsync(t, nil, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil || strings.Count(out, "\n") != 1 {
				t.Fatalf("output %q: %v", out, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeadlines_Text(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // lines, in order, each containing these
	}{
		{"departure", []string{"departure", "--effective", "2026-03-15"}, []string{
			"lock_at    2026-03-15T00:00:00+07:00  NT 5.2.c, staff: locked at once, from the effective date 2026-03-15",
			"revoke_at  2026-09-16T00:00:00+07:00  NT 5.2.c, staff: revoked 6 months after the effective date 2026-03-15",
		}},
		{"inactivity", []string{"inactivity", "--last-active", "2026-02-01", "--created", "2025-01-01"}, []string{
			"lock_at  2026-08-04T00:00:00+07:00  NT 6.2.a: 6 months without activity; last activity 2026-02-01",
		}},
		{"inactivity on leave", []string{"inactivity", "--last-active", "2026-01-10", "--leave-until", "2026-08-31"}, []string{
			"last activity 2026-01-10; on leave until 2026-08-31",
		}},
		{"restore", []string{"restore", "--received", "2026-04-24T16:50"}, []string{
			"due  2026-04-28T07:20:00+07:00  NT 6.3.b: restored within 30 working minutes",
		}},
		{"issue", []string{"issue", "--received", "2026-04-24T09:00"}, []string{
			"due  2026-05-05T00:00:00+07:00  BTC 4: issued within 3 working days",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ldapsync(t, nil, append([]string{"deadlines", "--config", exampleConfig}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("output:\n%s\nwant %d lines", out, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d: %q\nlacks %q", i+1, lines[i], w)
				}
			}
		})
	}
}

func TestDeadlines_BadInput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"no kind", nil, "Usage: ldapsync deadlines"},
		{"unknown kind", []string{"expiry"}, "Usage: ldapsync deadlines"},
		{"two kinds", []string{"restore", "issue", "--received", "2026-04-24T09:00"}, "Usage: ldapsync deadlines"},
		{"bad output", []string{"issue", "--received", "2026-04-24T09:00", "--output", "yaml"}, "Usage: ldapsync deadlines"},
		{"missing date", []string{"departure"}, "deadlines departure: --effective is required"},
		{"bad date", []string{"departure", "--effective", "2026-02-30"}, `--effective: invalid date "2026-02-30": no such day`},
		{"month-first date", []string{"departure", "--effective", "03/15/2026"}, `invalid date "03/15/2026"`},
		{"flag of another kind", []string{"departure", "--effective", "2026-03-15", "--received", "2026-04-24T09:00"},
			"deadlines departure: --received does not apply (flags: --effective, --leader)"},
		{"nothing to count from", []string{"inactivity", "--leave-until", "2026-08-31"}, "--last-active or --created is required"},
		{"bad last activity", []string{"inactivity", "--last-active", "yesterday"}, `--last-active: invalid date "yesterday"`},
		{"bad leave", []string{"inactivity", "--last-active", "2026-01-10", "--leave-until", "2026-13-01"}, `--leave-until: invalid date`},
		{"missing received", []string{"restore"}, "deadlines restore: --received: required"},
		{"bad received", []string{"issue", "--received", "24/04/2026 09:00"}, `--received: invalid time "24/04/2026 09:00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := ldapsync(t, nil, append([]string{"deadlines", "--config", exampleConfig}, tt.args...)...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, stderr containing %q", code, out, errOut, exitUsage, tt.inStderr)
			}
		})
	}
	if _, errOut, code := ldapsync(t, nil, "deadlines", "--config", filepath.Join(t.TempDir(), "none.yaml"), "issue", "--received", "2026-04-24T09:00"); code != exitUsage || !strings.Contains(errOut, "config:") {
		t.Errorf("missing config: exit %d, %s", code, errOut)
	}
}

// TestConfigCheck_CalendarWarning checks that config check warns, exit 0,
// about a calendar whose holidays have run out. The example's holidays are
// replaced by one of 2001, which has run out on any day the test runs.
func TestConfigCheck_CalendarWarning(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-bind\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), "/etc/ldapsync/bind-password", pw, 1)
	start := strings.Index(text, "    holidays:\n")
	end := strings.Index(text, "    # Weekend days worked")
	if start < 0 || end < start {
		t.Fatal("the example's rules.calendar.holidays not found")
	}
	text = text[:start] + "    holidays: [{date: 2001-01-01, name: Tết Dương lịch}]\n" + text[end:]
	stale := filepath.Join(dir, "stale.yaml")
	if err := os.WriteFile(stale, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := ldapsync(t, nil, "config", "check", "--config", stale)
	if code != exitOK || !strings.Contains(out, "OK") ||
		!strings.Contains(errOut, "warning: rules.calendar: public holidays are listed only until 2001-12-31, which has passed") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestParseConfig_Calendar checks that calendar and lifecycle problems in a
// file come with their YAML paths and lines.
func TestParseConfig_Calendar(t *testing.T) {
	yaml := "rules:\n" +
		"  calendar:\n" +
		"    working_hours: [\"07:00-11:30\", \"11:00-17:00\"]\n" +
		"    weekend: [saturday, sundae]\n" +
		"    holidays:\n" +
		"      - date: 2026-09-02\n" +
		"        to: 2026-09-01\n" +
		"        name: Quốc khánh\n" +
		"      - date: 31/02/2026\n" +
		"        name: no such day\n" +
		"  lifecycle:\n" +
		"    staff: {lock: 7 months, revoke: 6 months}\n" +
		"    inactivity: six months\n" +
		"    issue_within_days: 0\n"
	_, r, errs := parseConfig([]byte(yaml))
	if r != nil {
		t.Fatal("no problem reported")
	}
	text := errs.Error()
	for _, w := range []string{
		`rules.calendar.working_hours[1]: "11:00-17:00" starts before the period before it ends: list the periods in order, without overlap (line 3)`,
		`rules.calendar.weekend[1]: "sundae" is not a weekday (monday … sunday) (line 4)`,
		`rules.calendar.holidays[0].to: 2026-09-01 is before date 2026-09-02 (line 7)`,
		`rules.calendar.holidays[1]: invalid date "31/02/2026": no such day (line 9)`,
		`rules.lifecycle.staff.lock: 7 months is after revoke (6 months): an account is locked before it is revoked (line 12)`,
		`rules.lifecycle.inactivity: invalid period "six months"`,
		`rules.lifecycle.issue_within_days: 0: must be at least 1 (BTC 4: 3) (line 14)`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("problems:\n%s\nlack %q", text, w)
		}
	}
}
