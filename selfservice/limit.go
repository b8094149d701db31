package selfservice

import (
	"math"
	"sync"
	"time"
)

// buckets is a token bucket per source address: each holds up to burst
// tokens, refilled at rate a second, and a request takes one. At most max
// sources are remembered; a full bucket is forgotten first (it is as good
// as new), then the one unused longest.
type buckets struct {
	mu    sync.Mutex
	rate  float64 // tokens a second
	burst float64
	max   int
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newBuckets(perMinute float64, burst, max int) *buckets {
	return &buckets{rate: perMinute / 60, burst: float64(burst), max: max, m: map[string]*bucket{}}
}

// take takes a token for key at now. When none is left it returns false
// and how long until one is.
func (b *buckets) take(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k, ok := b.m[key]
	if !ok {
		b.evict(now)
		k = &bucket{tokens: b.burst, last: now}
		b.m[key] = k
	}
	k.refill(b, now)
	if k.tokens < 1 {
		if b.rate <= 0 {
			return false, time.Duration(math.MaxInt64)
		}
		return false, time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
	}
	k.tokens--
	return true, 0
}

func (k *bucket) refill(b *buckets, now time.Time) {
	if d := now.Sub(k.last); d > 0 {
		k.tokens = min(b.burst, k.tokens+d.Seconds()*b.rate)
		k.last = now
	}
}

// evict makes room for one more source.
func (b *buckets) evict(now time.Time) {
	if len(b.m) < b.max {
		return
	}
	for key, k := range b.m {
		k.refill(b, now)
		if k.tokens >= b.burst {
			delete(b.m, key)
		}
	}
	for len(b.m) >= b.max {
		var oldest string
		var at time.Time
		found := false
		for key, k := range b.m {
			if !found || k.last.Before(at) {
				oldest, at, found = key, k.last, true
			}
		}
		delete(b.m, oldest)
	}
}

// len returns how many sources are remembered.
func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// failures counts the failed current passwords of each username as slapd's
// ppolicy counts failed binds (pwdMaxFailure within
// pwdFailureCountInterval): a username with max failures in the last
// window is refused until the oldest of them is window old. It keeps at
// most max failure times per username, and at most maxKeys usernames:
// those whose failures have all expired go first, then the one whose last
// failure is oldest.
type failures struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	maxKeys int
	m       map[string][]time.Time // oldest first
}

func newFailures(max int, window time.Duration, maxKeys int) *failures {
	return &failures{max: max, window: window, maxKeys: maxKeys, m: map[string][]time.Time{}}
}

// blocked reports whether key has max failures in the window ending at
// now, and until when.
func (f *failures) blocked(key string, now time.Time) (bool, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := f.recent(key, now)
	if len(ts) < f.max {
		return false, time.Time{}
	}
	return true, ts[len(ts)-f.max].Add(f.window)
}

// recent drops key's failures older than the window and returns the rest.
func (f *failures) recent(key string, now time.Time) []time.Time {
	ts := f.m[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-f.window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(f.m, key)
		return nil
	}
	f.m[key] = ts
	return ts
}

// add records a failure of key at now.
func (f *failures) add(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := f.recent(key, now)
	if ts == nil {
		f.evict(now)
	}
	ts = append(ts, now)
	if len(ts) > f.max {
		ts = ts[len(ts)-f.max:]
	}
	f.m[key] = ts
}

// reset forgets key's failures, as a successful bind clears pwdFailureTime.
func (f *failures) reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

// evict makes room for one more username.
func (f *failures) evict(now time.Time) {
	if len(f.m) < f.maxKeys {
		return
	}
	for key := range f.m {
		f.recent(key, now)
	}
	for len(f.m) >= f.maxKeys {
		var oldest string
		var at time.Time
		found := false
		for key, ts := range f.m {
			if last := ts[len(ts)-1]; !found || last.Before(at) {
				oldest, at, found = key, last, true
			}
		}
		delete(f.m, oldest)
	}
}

// len returns how many usernames are remembered.
func (f *failures) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
