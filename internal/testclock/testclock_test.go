package testclock

import (
	"testing"
	"time"
)

// The guard in make test is only as good as the shift being applied: T0
// and Date move by exactly the days the environment asks for.
func TestT0_FollowsShift(t *testing.T) {
	t.Logf("%s=%d", EnvShift, ShiftDays())
	if got, want := T0(), base.AddDate(0, 0, ShiftDays()); !got.Equal(want) {
		t.Errorf("T0 = %v, want %v", got, want)
	}
	if got := Date(2026, 11, 2); !got.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, ShiftDays())) {
		t.Errorf("Date(2026-11-02) = %v", got)
	}
	if got := T0().Sub(Date(2026, 11, 23)); got != 9*time.Hour {
		t.Errorf("T0 is %v after Date(2026-11-23), want 9h whatever the shift", got)
	}
}
