package clock

import (
	"testing"
	"time"
)

func TestFrozenClock(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, Beijing)
	c := NewFrozen(start)
	if !c.Now().Equal(start) || c.Now().Location() != time.UTC {
		t.Fatalf("Now = %v, want %v in UTC", c.Now(), start)
	}
	c.Advance(2 * time.Hour)
	if got := c.Now(); !got.Equal(start.Add(2 * time.Hour)) {
		t.Errorf("after Advance: %v", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("after Set: %v", c.Now())
	}
}

func TestRunningClockKeepsItsOffset(t *testing.T) {
	c := NewRunning()
	c.Advance(48 * time.Hour)
	if d := c.Now().Sub(time.Now()); d < 47*time.Hour {
		t.Errorf("running clock is only %v ahead", d)
	}
	c2 := NewRunning()
	c2.SetOffset(c.Offset())
	if d := c2.Now().Sub(c.Now()); d > time.Minute || d < -time.Minute {
		t.Errorf("restored offset differs by %v", d)
	}
}
