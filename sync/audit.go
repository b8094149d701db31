package sync

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	gosync "sync"
	"time"
)

// AuditRecord is one change ldapsync made, with when, what, why and on
// whose request (NT 8.2). It never holds a password: a credential issue is
// recorded as the fact and the letter's path.
type AuditRecord struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Action is what was done: an operation kind such as "create_person".
	Action string `json:"action"`
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

// Audit is the append-only, hash-chained audit log. Append writes a record
// at once; Sync makes every record written so far durable, with one fsync
// for many records (group commit). Callers Sync before they journal an
// event as done, so an event is never done without its records on disk.
type Audit struct {
	mu    gosync.Mutex
	f     *os.File
	seq   uint64
	head  string
	dirty bool
	// err is sticky: after a failed write the file may end in half a
	// record, and appending after it would bury the damage.
	err error
}

// OpenAudit opens or creates the log at path and verifies the whole chain,
// so that a tampered log is found at start, not months later. A record cut
// short by a crash is removed; repaired reports it.
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
	var v verifier
	repaired, err = scanLines(f, func(_ int, line []byte) error { return v.next(line) })
	if err != nil {
		return nil, false, fmt.Errorf("audit: %w", err)
	}
	return &Audit{f: f, seq: v.n, head: v.head}, repaired, nil
}

// Append chains rec to the log and writes it; Sync makes it durable. Seq,
// Prev and Hash are set here.
func (a *Audit) Append(rec AuditRecord) (AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
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
		a.err = fmt.Errorf("audit: write: %w (restart ldapsync: the torn record is cut off at start)", err)
		return rec, a.err
	}
	a.seq, a.head, a.dirty = rec.Seq, rec.Hash, true
	return rec, nil
}

// Sync fsyncs the records written since the last Sync.
func (a *Audit) Sync() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil || !a.dirty {
		return a.err
	}
	if err := a.f.Sync(); err != nil {
		a.err = fmt.Errorf("audit: fsync: %w", err)
		return a.err
	}
	a.dirty = false
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

// ErrAuditBroken reports a log whose chain does not hold.
var ErrAuditBroken = errors.New("audit chain broken")

// verifier checks records one by one.
type verifier struct {
	n    uint64
	head string
}

func (v *verifier) next(line []byte) error {
	var rec AuditRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("%w: not a record: %w", errTornLine, err)
	}
	want, err := rec.digest()
	if err != nil {
		return err
	}
	switch {
	case rec.Seq != v.n+1:
		return fmt.Errorf("%w: record has seq %d, want %d", ErrAuditBroken, rec.Seq, v.n+1)
	case rec.Prev != v.head:
		return fmt.Errorf("%w: record %d does not follow record %d", ErrAuditBroken, rec.Seq, v.n)
	case rec.Hash != want:
		return fmt.Errorf("%w: record %d was altered", ErrAuditBroken, rec.Seq)
	}
	v.n, v.head = rec.Seq, rec.Hash
	return nil
}

// VerifyAudit reads a whole log and checks every link. It returns the
// number of records and the last hash, or an error naming the first line
// that does not fit. Unlike OpenAudit it forgives nothing.
func VerifyAudit(r io.Reader) (n uint64, head string, err error) {
	var v verifier
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if err := v.next(sc.Bytes()); err != nil {
			return v.n, v.head, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return v.n, v.head, fmt.Errorf("read: %w", err)
	}
	return v.n, v.head, nil
}
