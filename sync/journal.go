package sync

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"time"
)

// Status is where a journaled event stands.
type Status string

// Event statuses.
const (
	// Pending events wait to be applied: not yet effective, or the directory
	// was unreachable, or the daemon stopped before it finished them.
	Pending Status = "pending"
	// Done events are fully applied.
	Done Status = "done"
	// Failed events cannot be applied as they are; the reason says why. The
	// same event_id may be submitted again, corrected.
	Failed Status = "failed"
)

// Entry is one journaled event.
type Entry struct {
	Seq    uint64
	Event  Event
	Hash   string
	Status Status
	Reason string
}

// journalLine is one line of the journal file.
type journalLine struct {
	Kind  string    `json:"kind"` // "event", a Status, "seen" or "archive"
	Seq   uint64    `json:"seq"`
	At    time.Time `json:"at"`
	Event *Event    `json:"event,omitempty"`
	// Key and Status, on a "seen" line, are those of an event compaction
	// moved to an archive: enough to keep it from being applied twice.
	Key    string `json:"key,omitempty"`
	Status Status `json:"status,omitempty"`
	// File and SHA256, on an "archive" line, name an archive compaction
	// wrote and the digest of its content after that compaction.
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Hash   string `json:"hash,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type keyState struct {
	seq    uint64
	hash   string
	status Status
	reason string
}

// Journal is the durable, append-only record of every event ldapsync has
// accepted and of what became of it. An event is in the journal, fsynced,
// before its input file leaves the inbox; it is marked done only after all
// its changes are in the directory and the audit log. Events are
// deduplicated by source and event_id.
type Journal struct {
	mu      gosync.Mutex
	f       *os.File
	path    string
	next    uint64
	keys    map[string]*keyState
	pending map[uint64]*Entry
	// err is sticky: after a failed write the file may end in part of a
	// batch, and writing after it would bury the damage or reuse sequence
	// numbers. Reopening cuts a torn tail off.
	err error
}

// OpenJournal opens or creates the journal at path. A torn last line, left
// by a crash in the middle of a write, is cut off (its events were never
// acknowledged, so their input files are still in the inbox); repaired
// reports that. Damage anywhere else is an error: the file needs a human.
func OpenJournal(path string) (j *Journal, repaired bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, false, err
	}
	j = &Journal{f: f, path: path, next: 1, keys: map[string]*keyState{}, pending: map[uint64]*Entry{}}
	repaired, err = scanLines(f, func(_ int, line []byte) error {
		var l journalLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("%w: %v", errTornLine, err)
		}
		switch Status(l.Kind) {
		case "event":
			if l.Event == nil || l.Seq == 0 {
				return fmt.Errorf("%w: event record without an event", errTornLine)
			}
		case Done, Failed, "archive":
		case "seen":
			if l.Key == "" || l.Seq == 0 {
				return fmt.Errorf("%w: seen record without a key", errTornLine)
			}
		default:
			return fmt.Errorf("%w: unknown record kind %q", errTornLine, l.Kind)
		}
		j.replay(l)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	return j, repaired, nil
}

func (j *Journal) replay(l journalLine) {
	if l.Seq >= j.next {
		j.next = l.Seq + 1
	}
	switch l.Kind {
	case "event":
		j.keys[l.Event.Key()] = &keyState{seq: l.Seq, hash: l.Hash, status: Pending}
		j.pending[l.Seq] = &Entry{Seq: l.Seq, Event: *l.Event, Hash: l.Hash, Status: Pending}
		return
	case "seen":
		j.keys[l.Key] = &keyState{seq: l.Seq, hash: l.Hash, status: l.Status, reason: l.Reason}
		return
	case "archive":
		return
	}
	e, ok := j.pending[l.Seq]
	if !ok {
		return
	}
	delete(j.pending, l.Seq)
	if ks := j.keys[e.Event.Key()]; ks != nil && ks.seq == l.Seq {
		ks.status, ks.reason = Status(l.Kind), l.Reason
	}
}

// AddResult says what Add did with each event.
type AddResult struct {
	Added      []Entry
	Duplicates []Event
	// Conflicts are the indexes, in the events given, of those that reuse a
	// source and event_id the journal holds with other content: HR reused
	// an id. They are not added.
	Conflicts []int
}

// Add journals the events that are new, with one fsync. An event whose key
// is known with the same content is a duplicate; with other content it is a
// conflict, unless the earlier one failed, in which case the new one is a
// correction and is added.
func (j *Journal) Add(events []Event, now time.Time) (AddResult, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var res AddResult
	var buf bytes.Buffer
	var lines []journalLine
	batch := map[string]string{}
	for i, ev := range events {
		key, hash := ev.Key(), ev.ContentHash()
		prev, known := batch[key]
		if ks := j.keys[key]; !known && ks != nil && ks.status != Failed {
			prev, known = ks.hash, true
		}
		if known {
			if prev == hash {
				res.Duplicates = append(res.Duplicates, ev)
			} else {
				res.Conflicts = append(res.Conflicts, i)
			}
			continue
		}
		batch[key] = hash
		l := journalLine{Kind: "event", Seq: j.next + uint64(len(lines)), At: now.UTC(), Event: &ev, Hash: hash}
		if err := appendLine(&buf, l); err != nil {
			return AddResult{}, err
		}
		lines = append(lines, l)
	}
	if err := j.write(buf.Bytes()); err != nil {
		return AddResult{}, err
	}
	for _, l := range lines {
		j.replay(l)
		res.Added = append(res.Added, *j.pending[l.Seq])
	}
	return res, nil
}

// Resolution is the outcome of one pending event.
type Resolution struct {
	Seq    uint64
	Status Status // Done or Failed
	Reason string
	// Withdrawn marks a Failed event cancelled by a withdraw: nothing to
	// fix and resubmit, so it is not set aside in rejected/.
	Withdrawn bool
}

// Resolve records outcomes with one fsync. Unknown or already resolved
// sequence numbers are ignored.
func (j *Journal) Resolve(res []Resolution, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var buf bytes.Buffer
	var lines []journalLine
	for _, r := range res {
		if _, ok := j.pending[r.Seq]; !ok {
			continue
		}
		if r.Status != Done && r.Status != Failed {
			return fmt.Errorf("journal: cannot resolve event %d as %q", r.Seq, r.Status)
		}
		l := journalLine{Kind: string(r.Status), Seq: r.Seq, At: now.UTC(), Reason: r.Reason}
		if err := appendLine(&buf, l); err != nil {
			return err
		}
		lines = append(lines, l)
	}
	if err := j.write(buf.Bytes()); err != nil {
		return err
	}
	for _, l := range lines {
		j.replay(l)
	}
	return nil
}

// Lookup returns the status of the event with key (source/event_id) and,
// once it is resolved, why; ok is false for an event never journaled.
func (j *Journal) Lookup(key string) (status Status, reason string, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ks := j.keys[key]
	if ks == nil {
		return "", "", false
	}
	return ks.status, ks.reason, true
}

// Pending returns the events not yet resolved, in journal order.
func (j *Journal) Pending() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(j.pending))
	for _, e := range j.pending {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

func (j *Journal) write(b []byte) error {
	if j.err != nil {
		return j.err
	}
	if len(b) == 0 {
		return nil
	}
	if _, err := j.f.Write(b); err != nil {
		j.err = fmt.Errorf("journal: write: %w", err)
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("journal: fsync: %w", err)
		return j.err
	}
	return nil
}

// Reopen recovers from a failed write once the disk takes writes again: it
// reopens the file, cuts off a torn last line and reads the state back, as
// at start-up. It reports whether a torn line was cut.
func (j *Journal) Reopen() (repaired bool, err error) {
	fresh, repaired, err := OpenJournal(j.path)
	if err != nil {
		return false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	old := j.f
	j.f, j.next, j.keys, j.pending, j.err = fresh.f, fresh.next, fresh.keys, fresh.pending, nil
	old.Close()
	return repaired, nil
}

// Err returns the error that stopped the journal, if one did: nothing more
// can be written until Reopen succeeds.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

func appendLine(buf *bytes.Buffer, l journalLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

// syncDir fsyncs a directory so that a file created or renamed in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
