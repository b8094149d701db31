package sync

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	gosync "sync"
	"time"

	"github.com/ldapsync/ldapsync/rules"
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

// keyState is all the journal keeps in memory of an event it has seen:
// what deduplication needs. The event itself stays in the file.
type keyState struct {
	seq    uint64
	hash   contentHash
	status Status
	reason string
}

// contentHash is an event's ContentHash, as bytes: half the memory of its
// hex form, and no allocation of its own.
type contentHash [32]byte

func parseContentHash(s string) (contentHash, bool) {
	var h contentHash
	if len(s) != 2*len(h) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err == nil
}

func (h contentHash) String() string { return hex.EncodeToString(h[:]) }

// pendingRef is where a pending event is in the file, with what the engine
// orders and groups pending events by, so that it can read them back a
// batch at a time instead of keeping every pending event in memory.
type pendingRef struct {
	off       int64 // where its event line starts in the file
	n         int   // the line's length, newline included
	key       string
	person    string // personKey of the event
	effective rules.Date
}

// personKey groups the events of one person: by employee id, or by
// username for an operator's lock or restore, which names no employee.
func personKey(ev *Event) string {
	if ev.EmployeeID != "" {
		return "e:" + fold(ev.EmployeeID)
	}
	return "u:" + fold(ev.UID)
}

// Journal is the durable, append-only record of every event ldapsync has
// accepted and of what became of it. An event is in the journal, fsynced,
// before its input file leaves the inbox; it is marked done only after all
// its changes are in the directory and the audit log. Events are
// deduplicated by source and event_id.
//
// In memory it keeps, per event, only its key, content hash and status,
// and for a pending event where its line is: a pending event is read back
// from the file when it is asked for (Pending, EachPending), so a backlog
// of 100,000 events costs the few bytes of its index, not the events.
type Journal struct {
	mu      gosync.Mutex
	f       *os.File
	path    string
	size    int64 // the file's length: where the next line goes
	next    uint64
	keys    map[string]keyState
	pending map[uint64]*pendingRef
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
	j = &Journal{f: f, path: path, next: 1, keys: map[string]keyState{}, pending: map[uint64]*pendingRef{}}
	var off int64
	repaired, err = scanLines(f, func(_ int, line []byte) error {
		h, err := decodeHead(line)
		if err != nil {
			return err
		}
		if err := j.replayHead(h, off, len(line)); err != nil {
			return err
		}
		off += int64(len(line))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	j.size = off
	// What the engine orders pending events by is read from the events
	// still pending, not from every event the file holds.
	for seq, ref := range j.pending {
		en, err := j.readEntry(seq, ref)
		if err != nil {
			return nil, false, fmt.Errorf("journal: %w", err)
		}
		ref.person, ref.effective = personKey(&en.Event), en.Event.Effective
	}
	return j, repaired, nil
}

// lineHead is what opening the journal needs of a line: never the whole
// event, which most lines of a long-lived journal hold for events long
// done.
type lineHead struct {
	kind   string
	seq    uint64
	key    string // an event's source/event_id, or a seen line's key
	hash   contentHash
	status Status // a seen line's
	reason string
}

// headJSON is lineHead as encoding/json reads it, for the lines
// decodeEventHead does not take.
type headJSON struct {
	Kind  string `json:"kind"`
	Seq   uint64 `json:"seq"`
	Event *struct {
		Source string `json:"source"`
		ID     string `json:"event_id"`
	} `json:"event"`
	Key    string `json:"key"`
	Status Status `json:"status"`
	Hash   string `json:"hash"`
	Reason string `json:"reason"`
}

// decodeHead reads the head of one journal line. An event line as Add
// writes it is read from its first and last bytes (decodeEventHead):
// decoding a whole event for its key took most of the start-up time of a
// journal of 100,000 events. Any other line, and any event line not
// exactly in that form, goes through encoding/json.
func decodeHead(line []byte) (lineHead, error) {
	if h, ok := decodeEventHead(line); ok {
		return h, nil
	}
	if h, ok := decodeDoneHead(line); ok {
		return h, nil
	}
	var l headJSON
	if err := json.Unmarshal(line, &l); err != nil {
		return lineHead{}, fmt.Errorf("%w: %v", errTornLine, err)
	}
	h := lineHead{kind: l.Kind, seq: l.Seq, status: l.Status, reason: l.Reason}
	switch Status(l.Kind) {
	case "event":
		if l.Event == nil || l.Seq == 0 {
			return h, fmt.Errorf("%w: event record without an event", errTornLine)
		}
		h.key = (&Event{Source: l.Event.Source, ID: l.Event.ID}).Key()
	case Done, Failed, "archive":
		return h, nil
	case "seen":
		if l.Key == "" || l.Seq == 0 {
			return h, fmt.Errorf("%w: seen record without a key", errTornLine)
		}
		h.key = l.Key
	default:
		return h, fmt.Errorf("%w: unknown record kind %q", errTornLine, l.Kind)
	}
	var ok bool
	if h.hash, ok = parseContentHash(l.Hash); !ok {
		return h, fmt.Errorf("%w: record %d has no content hash", errTornLine, l.Seq)
	}
	return h, nil
}

// The fixed parts of an event line as json.Marshal writes a journalLine.
var (
	eventPrefix = []byte(`{"kind":"event","seq":`)
	eventSource = []byte(`,"event":{"source":"`)
	eventID     = []byte(`,"event_id":"`)
	hashSuffix  = []byte(`,"hash":"`)
)

// decodeEventHead reads the seq, key and hash of an event line written by
// Add, whose layout json.Marshal fixes: kind, seq, at, the event starting
// with source and event_id, and the hash last. ok is false for anything
// else (an escaped character in the key, another layout), which
// decodeHead then reads with encoding/json.
func decodeEventHead(line []byte) (h lineHead, ok bool) {
	rest, found := bytes.CutPrefix(line, eventPrefix)
	if !found {
		return h, false
	}
	end := bytes.IndexByte(rest, ',')
	if end <= 0 {
		return h, false
	}
	seq, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil || seq == 0 {
		return h, false
	}
	rest = rest[end:]
	// ,"at":"<time>"
	if !bytes.HasPrefix(rest, []byte(`,"at":"`)) {
		return h, false
	}
	rest = rest[len(`,"at":"`):]
	if end = bytes.IndexByte(rest, '"'); end < 0 {
		return h, false
	}
	rest, found = bytes.CutPrefix(rest[end+1:], eventSource)
	if !found {
		return h, false
	}
	source, rest, found := bytes.Cut(rest, []byte(`"`))
	if !found || bytes.IndexByte(source, '\\') >= 0 {
		return h, false
	}
	rest, found = bytes.CutPrefix(rest, eventID)
	if !found {
		return h, false
	}
	id, _, found := bytes.Cut(rest, []byte(`"`))
	if !found || bytes.IndexByte(id, '\\') >= 0 {
		return h, false
	}
	// The end: ,"hash":"<64 hex>"}\n
	tail := bytes.TrimSuffix(line, []byte("\n"))
	const hexLen = 2 * len(contentHash{})
	if len(tail) < len(hashSuffix)+hexLen+2 || !bytes.HasSuffix(tail, []byte(`"}`)) {
		return h, false
	}
	hx := tail[len(tail)-2-hexLen : len(tail)-2]
	if !bytes.HasSuffix(tail[:len(tail)-2-hexLen], hashSuffix) {
		return h, false
	}
	if _, err := hex.Decode(h.hash[:], hx); err != nil {
		return h, false
	}
	h.kind, h.seq, h.key = "event", seq, string(source)+"/"+string(id)
	return h, true
}

var donePrefix = []byte(`{"kind":"done","seq":`)

// decodeDoneHead reads the seq of a done line without a reason, as
// Resolve writes it: {"kind":"done","seq":N,"at":"<time>"}.
func decodeDoneHead(line []byte) (h lineHead, ok bool) {
	rest, found := bytes.CutPrefix(line, donePrefix)
	if !found {
		return h, false
	}
	num, rest, found := bytes.Cut(rest, []byte(`,"at":"`))
	if !found {
		return h, false
	}
	seq, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		return h, false
	}
	at, found := bytes.CutSuffix(bytes.TrimSuffix(rest, []byte("\n")), []byte(`"}`))
	if !found || bytes.IndexByte(at, '"') >= 0 || bytes.IndexByte(at, '\\') >= 0 {
		return h, false
	}
	return lineHead{kind: string(Done), seq: seq}, true
}

// replayHead brings the in-memory state up to date with one line read at
// start-up, at offset off in the file.
func (j *Journal) replayHead(h lineHead, off int64, n int) error {
	if h.seq >= j.next {
		j.next = h.seq + 1
	}
	switch h.kind {
	case "event":
		j.keys[h.key] = keyState{seq: h.seq, hash: h.hash, status: Pending}
		j.pending[h.seq] = &pendingRef{off: off, n: n, key: h.key}
	case "seen":
		j.keys[h.key] = keyState{seq: h.seq, hash: h.hash, status: h.status, reason: h.reason}
	case "archive":
	default:
		j.resolved(h.seq, Status(h.kind), h.reason)
	}
	return nil
}

// resolved records that the pending event seq ended as status.
func (j *Journal) resolved(seq uint64, status Status, reason string) {
	ref, ok := j.pending[seq]
	if !ok {
		return
	}
	delete(j.pending, seq)
	if ks, ok := j.keys[ref.key]; ok && ks.seq == seq {
		ks.status, ks.reason = status, reason
		j.keys[ref.key] = ks
	}
}

// readEntry reads the pending event seq back from the file.
func (j *Journal) readEntry(seq uint64, ref *pendingRef) (Entry, error) {
	buf := make([]byte, ref.n)
	if _, err := j.f.ReadAt(buf, ref.off); err != nil {
		return Entry{}, fmt.Errorf("read event %d: %w", seq, err)
	}
	var l journalLine
	if err := json.Unmarshal(buf, &l); err != nil || l.Kind != "event" || l.Seq != seq || l.Event == nil {
		return Entry{}, fmt.Errorf("%s: event %d is not where the journal put it (offset %d): %v", j.path, seq, ref.off, err)
	}
	return Entry{Seq: seq, Event: *l.Event, Hash: l.Hash, Status: Pending}, nil
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
	type added struct {
		i      int // in events
		off, n int
		hash   string
	}
	var lines []added
	batch := map[string]string{}
	for i := range events {
		ev := &events[i]
		key, hash := ev.Key(), ev.ContentHash()
		prev, known := batch[key]
		if ks, ok := j.keys[key]; !known && ok && ks.status != Failed {
			prev, known = ks.hash.String(), true
		}
		if known {
			if prev == hash {
				res.Duplicates = append(res.Duplicates, *ev)
			} else {
				res.Conflicts = append(res.Conflicts, i)
			}
			continue
		}
		batch[key] = hash
		off := buf.Len()
		l := journalLine{Kind: "event", Seq: j.next + uint64(len(lines)), At: now.UTC(), Event: ev, Hash: hash}
		if err := appendLine(&buf, l); err != nil {
			return AddResult{}, err
		}
		lines = append(lines, added{i: i, off: off, n: buf.Len() - off, hash: hash})
	}
	base := j.size
	if err := j.write(buf.Bytes()); err != nil {
		return AddResult{}, err
	}
	res.Added = make([]Entry, 0, len(lines))
	for _, a := range lines {
		ev := &events[a.i]
		seq := j.next
		j.next++
		key := ev.Key()
		h, _ := parseContentHash(a.hash)
		j.keys[key] = keyState{seq: seq, hash: h, status: Pending}
		j.pending[seq] = &pendingRef{off: base + int64(a.off), n: a.n, key: key, person: personKey(ev), effective: ev.Effective}
		res.Added = append(res.Added, Entry{Seq: seq, Event: *ev, Hash: a.hash, Status: Pending})
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
	var done []Resolution
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
		done = append(done, r)
	}
	if err := j.write(buf.Bytes()); err != nil {
		return err
	}
	for _, r := range done {
		j.resolved(r.Seq, r.Status, r.Reason)
	}
	return nil
}

// Lookup returns the status of the event with key (source/event_id) and,
// once it is resolved, why; ok is false for an event never journaled.
func (j *Journal) Lookup(key string) (status Status, reason string, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ks, ok := j.keys[key]
	if !ok {
		return "", "", false
	}
	return ks.status, ks.reason, true
}

// Pending returns the events not yet resolved, in journal order. It reads
// every one of them from the file: where the backlog may be large, count
// it with PendingCount, or go through it with EachPending.
func (j *Journal) Pending() []Entry {
	var out []Entry
	// An error is sticky (see Err): the next write fails and Reopen reads
	// the file again.
	_ = j.EachPending(func(en Entry) bool {
		out = append(out, en)
		return true
	})
	return out
}

// PendingCount returns how many events are not yet resolved.
func (j *Journal) PendingCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending)
}

// EachPending calls fn with each event not yet resolved, in journal order,
// reading one at a time, until fn returns false. A read that fails stops
// the journal (see Err) and is returned.
func (j *Journal) EachPending(fn func(Entry) bool) error {
	for _, p := range j.pendingIndex() {
		ens, err := j.entries([]uint64{p.seq})
		if err != nil {
			return err
		}
		for _, en := range ens {
			if !fn(en) {
				return nil
			}
		}
	}
	return nil
}

// pendingInfo is what the engine orders and chunks pending events by.
type pendingInfo struct {
	seq       uint64
	key       string
	person    string
	effective rules.Date
}

// pendingIndex returns the pending events' pendingInfo, in journal order.
func (j *Journal) pendingIndex() []pendingInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]pendingInfo, 0, len(j.pending))
	for seq, r := range j.pending {
		out = append(out, pendingInfo{seq: seq, key: r.key, person: r.person, effective: r.effective})
	}
	slices.SortFunc(out, func(a, b pendingInfo) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// entries reads the pending events seqs from the file, in the order given;
// those resolved meanwhile are left out.
func (j *Journal) entries(seqs []uint64) ([]Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(seqs))
	for _, seq := range seqs {
		ref, ok := j.pending[seq]
		if !ok {
			continue
		}
		en, err := j.readEntry(seq, ref)
		if err != nil {
			if j.err == nil {
				j.err = fmt.Errorf("journal: %w", err)
			}
			return out, j.err
		}
		out = append(out, en)
	}
	return out, nil
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
	n, err := j.f.WriteAt(b, j.size)
	if err != nil {
		j.err = fmt.Errorf("journal: write: %w", err)
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("journal: fsync: %w", err)
		return j.err
	}
	j.size += int64(n)
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
	j.f, j.size, j.next, j.keys, j.pending, j.err = fresh.f, fresh.size, fresh.next, fresh.keys, fresh.pending, nil
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
