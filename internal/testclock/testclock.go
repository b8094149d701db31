// Package testclock is the one "now" of ldapsync's tests, and the guard
// that keeps tests from depending on the day they run.
//
// Tests inject T0 (or a time derived from it) wherever the code takes a
// clock. Where that clock meets a time the operating system or slapd stamps
// (a file's mtime, createTimestamp, pwdLastSuccess), a test derives one from
// the other; it never compares T0 with real time.
//
// T0 is a fixed instant in the past, so a test that needs the injected
// clock to be at or after real time fails at once. "make test" then runs
// the suites again with LDAPSYNC_TEST_SHIFT_DAYS set to a random number of
// days (printed), which moves T0 and every date built with Date into the
// future: a test that needs the injected clock to be before real time
// fails then. A test that passes both ways passes on any day.
package testclock

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// EnvShift names the environment variable that moves the test clock by a
// whole number of days.
const EnvShift = "LDAPSYNC_TEST_SHIFT_DAYS"

// base is T0 without a shift: a Monday, 09:00 UTC (16:00 in Vietnam).
var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// shiftDays is read once; a malformed value panics, so that the guard can
// never pass by being ignored.
var shiftDays = func() int {
	v := os.Getenv(EnvShift)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		panic(fmt.Sprintf("testclock: %s=%q: %v", EnvShift, v, err))
	}
	return n
}()

// ShiftDays returns the number of days T0 is moved by.
func ShiftDays() int { return shiftDays }

// T0 is the tests' "now": 2026-11-23 09:00 UTC moved by ShiftDays.
func T0() time.Time { return base.AddDate(0, 0, shiftDays) }

// Date returns the calendar day y-m-d moved by ShiftDays, at 00:00 UTC: an
// effective date, a departure, a revocation that a test places relative to
// T0. Use its Date method or ISO for the parts.
func Date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, shiftDays)
}

// ISO returns Date(y, m, d) as "2006-01-02", for input files.
func ISO(y int, m time.Month, d int) string { return Date(y, m, d).Format(time.DateOnly) }

// Clock returns a clock for a test that runs a daemon: it reads T0 when
// called first and runs on with real time from there, so timers and
// back-offs behave while every date the daemon reckons stays relative to T0.
func Clock() func() time.Time {
	start := time.Now()
	return func() time.Time { return T0().Add(time.Since(start)) }
}
