package sync

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"
)

// AuditRecord is one change ldapsync made, with when, what, why and on
// whose request (NT 8.2). It never holds a password: a credential issue is
// recorded as the fact and the letter's path.
type AuditRecord struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Action is what was done: an operation kind such as "create", or
	// ActionIntent for an operation about to run.
	Action string `json:"action"`
	// Op is, on an intent, the operation about to run.
	Op string `json:"op,omitempty"`
	// Intent is, on the record of an operation's outcome, the Seq of its
	// intent.
	Intent uint64 `json:"intent,omitempty"`
	UID    string `json:"uid,omitempty"`
	DN     string `json:"dn,omitempty"`
	// EmployeeID is the person's HR id.
	EmployeeID string `json:"employee_id,omitempty"`
	// Why: the event, its type and the regulation that requires the change.
	EventID     string `json:"event_id,omitempty"`
	Source      string `json:"source,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Article     string `json:"article,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
	// Detail says what changed: attribute values, the letter's path.
	Detail map[string]string `json:"detail,omitempty"`
	// Prev is the previous record's Hash; Hash is the SHA-256 of Prev and
	// this record without Hash. Changing, removing or reordering any record
	// breaks the chain from there on.
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// ActionIntent is the action of the record written, and fsynced, before an
// operation runs; the record of its outcome names it in Intent. An intent
// without an outcome is an operation a crash interrupted: a later run
// either runs it again or records that it found it done (see
// Engine.adopt), so every change in the directory has its record.
const ActionIntent = "intent"

// Audit is the append-only, hash-chained audit log. Append writes a record
// at once; Sync makes every record written so far durable, with one fsync
// for many records (group commit: an fsync covers every record written
// before it, whoever asked for it). Callers Sync before they journal an
// event as done, so an event is never done without its records on disk.
type Audit struct {
	path string
	mu   gosync.Mutex
	f    *os.File
	seq  uint64
	head string
	// written is the Seq of the last record written, synced of the last
	// one fsynced; syncMu lets one fsync run at a time, outside mu.
	written, synced uint64
	syncMu          gosync.Mutex
	// open are the intents without an outcome, by Seq; openByOp finds
	// them by operation, once per operation a run starts.
	open     map[uint64]AuditRecord
	openByOp map[intentKey]uint64
	// err is sticky: after a failed write the file may end in half a
	// record, and appending after it would bury the damage. Reopen clears
	// it once the disk takes writes again.
	err error
	// first and firstSeq are the time and seq of the current segment's
	// first record (zero while it is empty): see Rotate.
	first    time.Time
	firstSeq uint64
	// sealed are the seals of the closed segments, in chain order: what
	// the next seal record says (see Rotate). unsealed is set while one
	// of them is not in a seal record yet.
	sealed   []segmentSeal
	unsealed bool
}

// OpenAudit opens or creates the log at path and checks the whole chain,
// so that a tampered log is found at start, not months later: the closed
// segments by their seals, the current one record by record (see
// auditopen.go). A record cut short by a crash is removed; repaired
// reports it.
func OpenAudit(path string) (a *Audit, repaired bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("audit: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, false, err
	}
	segs, err := auditSegments(path)
	if err != nil {
		return nil, false, err
	}
	// The closed segments are hashed while the current one is read: the
	// current one's last seal says which hashes they must have.
	closed := make([]closedSegment, len(segs))
	var wg gosync.WaitGroup
	wg.Go(func() {
		parallel(len(segs), func(i int) {
			closed[i].seg = segs[i]
			hashSegment(&closed[i])
		})
	})
	s := newChainScan(true)
	repaired, err = scanLines(f, func(_ int, line []byte) error { return s.line(line) })
	wg.Wait()
	if err != nil {
		return nil, false, fmt.Errorf("audit: %w", err)
	}
	closed, n, head, err := checkClosed(segs, closed, s.seal)
	if err != nil {
		return nil, false, err
	}
	// The current segment goes on with their chain.
	switch {
	case !s.started:
		s.n, s.head = n, []byte(head)
	case s.firstSeq != n+1:
		return nil, false, fmt.Errorf("audit: %s line 1: %w: record has seq %d, want %d", path, ErrAuditBroken, s.firstSeq, n+1)
	case s.firstPrev != head:
		return nil, false, fmt.Errorf("audit: %s line 1: %w: record %d does not follow record %d", path, ErrAuditBroken, s.firstSeq, n)
	}
	open, byOp, err := s.openIntents(f)
	if err != nil {
		return nil, false, err
	}
	a = &Audit{path: path, f: f, open: open, openByOp: byOp}
	for _, c := range closed {
		a.sealed = append(a.sealed, c.seal)
		a.unsealed = a.unsealed || c.unsealed
	}
	a.seq, a.head, a.written, a.synced = s.n, string(s.head), s.n, s.n
	if s.started {
		a.first, a.firstSeq = s.first, s.firstSeq
	}
	return a, repaired, nil
}

// intentKey names one operation of one event.
type intentKey struct{ source, eventID, op, uid string }

func keyOf(r AuditRecord) intentKey { return intentKey{r.Source, r.EventID, r.Op, r.UID} }

// track keeps the open intents up to date with rec.
func (a *Audit) track(rec AuditRecord) {
	switch {
	case rec.Action == ActionIntent:
		a.open[rec.Seq] = rec
		a.openByOp[keyOf(rec)] = rec.Seq
	case rec.Intent != 0:
		if in, ok := a.open[rec.Intent]; ok {
			delete(a.open, rec.Intent)
			if a.openByOp[keyOf(in)] == rec.Intent {
				delete(a.openByOp, keyOf(in))
			}
		}
	}
}

// OpenIntent returns the intent without an outcome of the operation op on
// uid for the event source/eventID, if there is one: an operation a crash
// or an outage interrupted, to be finished under the same intent.
func (a *Audit) OpenIntent(source, eventID, op, uid string) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq, ok := a.openByOp[intentKey{source, eventID, op, uid}]
	return seq, ok
}

// OpenIntents returns the intents without an outcome, oldest first.
func (a *Audit) OpenIntents() []AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AuditRecord, 0, len(a.open))
	for _, r := range a.open {
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y AuditRecord) int { return cmp.Compare(x.Seq, y.Seq) })
	return out
}

// Err returns the error that stopped the log, if one did.
func (a *Audit) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Reopen recovers from a failed write once the disk takes writes again: it
// reopens the file, cuts off a torn last record and checks the chain, as at
// start-up. It reports whether a torn record was cut.
func (a *Audit) Reopen() (repaired bool, err error) {
	fresh, repaired, err := OpenAudit(a.path)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.f
	a.f, a.seq, a.head, a.written, a.synced, a.open, a.err = fresh.f, fresh.seq, fresh.head, fresh.written, fresh.synced, fresh.open, nil
	a.openByOp, a.first, a.firstSeq, a.sealed, a.unsealed = fresh.openByOp, fresh.first, fresh.firstSeq, fresh.sealed, fresh.unsealed
	old.Close()
	return repaired, nil
}

// Append chains rec to the log and writes it; Sync makes it durable. Seq,
// Prev and Hash are set here.
func (a *Audit) Append(rec AuditRecord) (AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.append(rec)
}

// append is Append with a.mu held.
func (a *Audit) append(rec AuditRecord) (AuditRecord, error) {
	if a.err != nil {
		return rec, a.err
	}
	rec.Seq = a.seq + 1
	rec.Time = rec.Time.UTC()
	rec.Prev = a.head
	h, err := rec.digest()
	if err != nil {
		return rec, err
	}
	rec.Hash = h
	b, err := json.Marshal(rec)
	if err != nil {
		return rec, fmt.Errorf("audit: encode: %w", err)
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		a.err = fmt.Errorf("audit: write: %w", err)
		return rec, a.err
	}
	a.seq, a.head, a.written = rec.Seq, rec.Hash, rec.Seq
	if a.firstSeq == 0 {
		a.first, a.firstSeq = rec.Time, rec.Seq
	}
	a.track(rec)
	return rec, nil
}

// Sync makes every record written so far durable. Callers that write at
// the same time share one fsync.
func (a *Audit) Sync() error {
	a.mu.Lock()
	want, f, err := a.written, a.f, a.err
	a.mu.Unlock()
	if err != nil {
		return err
	}
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	a.mu.Lock()
	done := a.synced >= want
	upto := a.written
	a.mu.Unlock()
	if done {
		return nil
	}
	if err := f.Sync(); err != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.err == nil && a.f == f { // not a file Reopen has replaced
			a.err = fmt.Errorf("audit: fsync: %w", err)
		}
		return a.err
	}
	a.mu.Lock()
	a.synced = max(a.synced, upto)
	a.mu.Unlock()
	return nil
}

// Head returns the number of records and the hash of the last one. Logging
// the head now and then anchors the chain outside the file.
func (a *Audit) Head() (uint64, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq, a.head
}

// Close syncs and closes the file.
func (a *Audit) Close() error { return errors.Join(a.Sync(), a.f.Close()) }

func (rec AuditRecord) digest() (string, error) {
	rec.Hash = ""
	b, err := json.Marshal(rec)
	if err != nil {
		return "", fmt.Errorf("audit: encode: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// verifySegment checks a closed segment with v, which goes on from the
// segment before; track sees each record.
func verifySegment(v *verifier, path string, track func(AuditRecord)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		rec, err := v.next(sc.Bytes())
		if err != nil {
			return fmt.Errorf("audit %s: line %d: %w", path, line, err)
		}
		if track != nil {
			track(rec)
		}
	}
	return sc.Err()
}

// VerifyAuditLog verifies the whole audit log whose current segment is at
// path: every closed segment beside it, in order, then path, as one chain.
// It returns the number of records and the last hash.
func VerifyAuditLog(path string) (n uint64, head string, err error) {
	var v verifier
	files := []string{path}
	if strings.HasPrefix(filepath.Base(path), segmentPrefix) {
		v.seed = true // a closed segment alone: its chain from its first record
	} else if files, err = AuditFiles(path); err != nil {
		return 0, "", err
	}
	for _, p := range files {
		if err := verifySegment(&v, p, nil); err != nil {
			return v.n, v.head, err
		}
	}
	return v.n, v.head, nil
}

// ErrAuditBroken reports a log whose chain does not hold.
var ErrAuditBroken = errors.New("audit chain broken")

// verifier checks records one by one.
type verifier struct {
	n    uint64
	head string
	// seed takes the chain's start from the first record: a closed
	// segment read alone, whose predecessor is not at hand.
	seed bool
}

func (v *verifier) next(line []byte) (AuditRecord, error) {
	var rec AuditRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("%w: not a record: %w", errTornLine, err)
	}
	// The hash covers the record's fields: one it does not know was added
	// later, and is not covered.
	strict := json.NewDecoder(bytes.NewReader(line))
	strict.DisallowUnknownFields()
	if err := strict.Decode(new(AuditRecord)); err != nil {
		return rec, fmt.Errorf("%w: record %d was altered: %v", ErrAuditBroken, rec.Seq, err)
	}
	want, err := rec.digest()
	if err != nil {
		return rec, err
	}
	if v.seed && v.n == 0 && v.head == "" {
		v.n, v.head, v.seed = rec.Seq-1, rec.Prev, false
	}
	switch {
	case rec.Seq != v.n+1:
		return rec, fmt.Errorf("%w: record has seq %d, want %d", ErrAuditBroken, rec.Seq, v.n+1)
	case rec.Prev != v.head:
		return rec, fmt.Errorf("%w: record %d does not follow record %d", ErrAuditBroken, rec.Seq, v.n)
	case rec.Hash != want:
		return rec, fmt.Errorf("%w: record %d was altered", ErrAuditBroken, rec.Seq)
	}
	v.n, v.head = rec.Seq, rec.Hash
	return rec, nil
}

// VerifyAudit reads a whole log and checks every link. It returns the
// number of records and the last hash, or an error naming the first line
// that does not fit. Unlike OpenAudit it forgives nothing.
func VerifyAudit(r io.Reader) (n uint64, head string, err error) {
	var v verifier
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if _, err := v.next(sc.Bytes()); err != nil {
			return v.n, v.head, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return v.n, v.head, fmt.Errorf("read: %w", err)
	}
	return v.n, v.head, nil
}

// IssuedPassword reports whether r records a password ldapsync issued
// through a sealed letter: a create that carried the first password (one
// write, see Planner.OneWrite), a first password set afterwards, a restore
// or a reinstatement.
func (r AuditRecord) IssuedPassword() bool {
	switch OpKind(r.Action) {
	case OpIssueCredentials, OpRestore, OpReinstate:
		return true
	case OpCreate:
		return r.Detail["letter"] != ""
	}
	return false
}
