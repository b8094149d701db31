package sync

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	gosync "sync"
	"time"
)

// Opening the audit log must not cost a verification of its whole history:
// the daemon is to be ready within a second of its start with 600,000
// records behind it, while "ldapsync audit verify" (VerifyAuditLog) still
// checks every record strictly.
//
// Closed segments are sealed: when Rotate closes a segment it reads it
// back, checks it, and starts the next segment with a seal record
// (ActionSeal) that gives, for every closed segment, its record count, its
// first and last seq, its last hash and the SHA-256 of its bytes. The seal
// is a record of the chain, not a file beside it: changing it breaks the
// chain as changing any record does, so a segment cannot be altered and
// its seal updated to match without rewriting the chain to its head (which
// the head anchored in the directory shows). At open, a closed segment the
// last seal names is checked by hashing its bytes; one it does not name
// (made by an earlier version) is verified record by record, as before,
// and sealed by the next Rotate. Rotate never closes a segment with an
// intent still open, so closed segments hold no open intents.
//
// The current segment is read once, each record scanned for the few fields
// the open needs (chainScan): its seq and prev must continue the chain, and
// its hash must be the SHA-256 of the line itself with the hash emptied.
// That is the digest of the record (AuditRecord.digest) whenever the line
// is the record's own encoding, which is how Append writes it; a line that
// is not (written by an earlier encoder) is checked the strict way,
// verifier.next, and so is every line the scan does not take.

// ActionSeal is the action of the record that vouches for the closed
// segments of the log: Detail maps each one's file name to its record
// count, first and last seq, size, last hash and SHA-256 (see Rotate).
const ActionSeal = "seal"

// segmentSeal is what a seal record says of one closed segment.
type segmentSeal struct {
	name                 string // file name, beside the current segment
	records, first, last uint64
	size                 int64
	head, sum            string
}

func (s segmentSeal) String() string {
	return fmt.Sprintf("records=%d first=%d last=%d size=%d head=%s sha256=%s", s.records, s.first, s.last, s.size, s.head, s.sum)
}

// parseSeal reads one entry of a seal record's Detail.
func parseSeal(name, v string) (segmentSeal, error) {
	s := segmentSeal{name: name}
	n, err := fmt.Sscanf(v, "records=%d first=%d last=%d size=%d head=%s sha256=%s", &s.records, &s.first, &s.last, &s.size, &s.head, &s.sum)
	if err != nil || n != 6 || s.first == 0 || s.last < s.first || s.records != s.last-s.first+1 || !isHash(s.head) || !isHash(s.sum) {
		return s, fmt.Errorf("%w: the seal of %s is not one: %q", ErrAuditBroken, name, v)
	}
	return s, nil
}

// sealRecord is the record that seals segs, at now.
func sealRecord(now time.Time, segs []segmentSeal) AuditRecord {
	d := make(map[string]string, len(segs))
	for _, s := range segs {
		d[s.name] = s.String()
	}
	return AuditRecord{Time: now, Action: ActionSeal, Reason: "the closed segments' digests, which a start checks instead of every record", Detail: d}
}

func isHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// auditFields are the fields of AuditRecord in the order its encoding has
// them; a line whose keys are not a subsequence of it is no encoding of a
// record, and is left to the strict check.
var auditFields = [...]string{"seq", "time", "action", "op", "intent", "uid", "dn", "employee_id", "event_id", "source", "reason", "article", "requested_by", "detail", "prev", "hash"}

const (
	fSeq = iota
	fTime
	fAction
	fOp
	fIntent
	fUID
	fDN
	fEmployeeID
	fEventID
	fSource
	fReason
	fArticle
	fRequestedBy
	fDetail
	fPrev
	fHash
)

// auditLine is what chainScan reads of a line: the raw value of each
// field it needs, strings without their quotes.
type auditLine struct {
	seq, intent                      uint64
	action, op, uid, eventID, source []byte
	escaped                          uint32 // bit f: field f's string has escapes
	prev, hash                       []byte
	hashAt                           int // index of the hash value's opening quote
}

// parseAuditLine scans line, an object and its newline, as the encoding of
// an AuditRecord: known keys in order, seq, time, action, prev and hash
// present, hash last. ok is false for anything else.
func parseAuditLine(line []byte) (l auditLine, ok bool) {
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '\n' {
		return l, false
	}
	line = line[:len(line)-1]
	i, last, seen := 1, -1, uint32(0)
	for {
		if i >= len(line) || line[i] != '"' {
			return l, false
		}
		j := bytes.IndexByte(line[i+1:], '"')
		if j < 0 {
			return l, false
		}
		key := line[i+1 : i+1+j]
		i += j + 2
		if i >= len(line) || line[i] != ':' {
			return l, false
		}
		i++
		f := last + 1
		for f < len(auditFields) && auditFields[f] != string(key) {
			f++
		}
		if f == len(auditFields) {
			return l, false // unknown, repeated or out of order
		}
		last, seen = f, seen|1<<f
		switch f {
		case fSeq, fIntent:
			k := i
			for k < len(line) && line[k] >= '0' && line[k] <= '9' {
				k++
			}
			if k == i || (line[i] == '0' && k > i+1) {
				return l, false
			}
			n, err := strconv.ParseUint(string(line[i:k]), 10, 64)
			if err != nil {
				return l, false
			}
			if f == fSeq {
				l.seq = n
			} else {
				l.intent = n
			}
			i = k
		case fDetail:
			k, ok := skipStringMap(line, i)
			if !ok {
				return l, false
			}
			i = k
		default:
			end, esc, ok := skipString(line, i)
			if !ok {
				return l, false
			}
			if esc {
				l.escaped |= 1 << f
			}
			v := line[i+1 : end-1]
			switch f {
			case fAction:
				l.action = v
			case fOp:
				l.op = v
			case fUID:
				l.uid = v
			case fEventID:
				l.eventID = v
			case fSource:
				l.source = v
			case fPrev:
				l.prev = v
			case fHash:
				l.hash, l.hashAt = v, i
			}
			i = end
		}
		if i >= len(line) {
			return l, false
		}
		if line[i] == '}' {
			const need = 1<<fSeq | 1<<fTime | 1<<fAction | 1<<fPrev | 1<<fHash
			return l, i == len(line)-1 && last == fHash && seen&need == need
		}
		if line[i] != ',' {
			return l, false
		}
		i++
	}
}

// skipString returns the index just past the JSON string at line[i] and
// whether it has escapes.
func skipString(line []byte, i int) (end int, escaped, ok bool) {
	if i >= len(line) || line[i] != '"' {
		return 0, false, false
	}
	for k := i + 1; k < len(line); k++ {
		switch c := line[k]; {
		case c == '"':
			return k + 1, escaped, true
		case c == '\\':
			escaped = true
			k++
		case c < 0x20:
			return 0, false, false
		}
	}
	return 0, false, false
}

// skipStringMap returns the index just past the JSON object of strings at
// line[i].
func skipStringMap(line []byte, i int) (int, bool) {
	if i >= len(line) || line[i] != '{' {
		return 0, false
	}
	i++
	if i < len(line) && line[i] == '}' {
		return i + 1, true
	}
	for {
		k, _, ok := skipString(line, i)
		if !ok || k >= len(line) || line[k] != ':' {
			return 0, false
		}
		if k, _, ok = skipString(line, k+1); !ok || k >= len(line) {
			return 0, false
		}
		switch line[k] {
		case '}':
			return k + 1, true
		case ',':
			i = k + 1
		default:
			return 0, false
		}
	}
}

// appendKey appends field f of l, whose value is raw, to the intent key
// being built in b: its length, then its bytes, so that no two keys run
// together.
func (l *auditLine) appendKey(b []byte, f int, raw []byte) []byte {
	raw = l.value(f, raw)
	return append(binary.AppendUvarint(b, uint64(len(raw))), raw...)
}

// value returns the string of field f of l, whose value is raw, without
// its escapes.
func (l *auditLine) value(f int, raw []byte) []byte {
	if l.escaped&(1<<f) == 0 {
		return raw
	}
	var s string
	json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) // a string: parseAuditLine saw it whole
	return []byte(s)
}

// packKey is intentKey as appendKey builds it.
func packKey(k intentKey) string {
	var b []byte
	for _, s := range []string{k.source, k.eventID, k.op, k.uid} {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	return string(b)
}

// emptyHashEnd ends a line whose hash is emptied: the digest's input.
var emptyHashEnd = []byte(`"}`)

// chainScan checks the records of one segment as they are read, one line
// at a time: the chain's links, and each record's digest (see above).
type chainScan struct {
	n    uint64
	head []byte
	// started is set by the first record, whose seq and prev the scan
	// takes as the chain's start: the segment before it is checked apart.
	started   bool
	firstSeq  uint64
	firstPrev string
	first     time.Time
	records   uint64
	h         hash.Hash
	sum       [sha256.Size]byte
	hex       [sha256.Size * 2]byte
	off       int64 // of the next line in the file
	seal      map[string]string
	// open and openByOp are Audit's, with the key packed (packKey) so
	// that following an intent costs one allocation.
	open                map[uint64]scanIntent // nil: intents not followed
	openByOp            map[string]uint64
	key                 []byte
	strictLines         int // lines the strict check took
	track, wantFirstRec bool
}

// scanIntent is an intent without an outcome yet: where its line is,
// unless the strict check decoded it.
type scanIntent struct {
	key  string
	off  int64
	size int
	rec  *AuditRecord
}

func newChainScan(track bool) *chainScan {
	s := &chainScan{h: sha256.New(), head: make([]byte, 0, sha256.Size*2), track: track, wantFirstRec: track}
	if track {
		s.open, s.openByOp = map[uint64]scanIntent{}, map[string]uint64{}
	}
	return s
}

// line checks one line, its newline included.
func (s *chainScan) line(line []byte) error {
	l, ok := parseAuditLine(line)
	if ok {
		s.h.Reset()
		s.h.Write(line[:l.hashAt+1])
		s.h.Write(emptyHashEnd)
		hex.Encode(s.hex[:], s.h.Sum(s.sum[:0]))
		ok = bytes.Equal(s.hex[:], l.hash)
	}
	if !ok {
		return s.strict(line)
	}
	if !s.started {
		s.started, s.n, s.firstSeq, s.firstPrev = true, l.seq-1, l.seq, string(l.prev)
		s.head = append(s.head[:0], l.prev...)
	}
	switch {
	case l.seq != s.n+1:
		return fmt.Errorf("%w: record has seq %d, want %d", ErrAuditBroken, l.seq, s.n+1)
	case !bytes.Equal(l.prev, s.head):
		return fmt.Errorf("%w: record %d does not follow record %d", ErrAuditBroken, l.seq, s.n)
	}
	s.n, s.head = l.seq, append(s.head[:0], l.hash...)
	s.records++
	if s.wantFirstRec || string(l.value(fAction, l.action)) == ActionSeal {
		var rec AuditRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrAuditBroken, l.seq, err)
		}
		s.noteRecord(rec)
	}
	if s.track {
		switch {
		case string(l.value(fAction, l.action)) == ActionIntent:
			s.key = l.appendKey(s.key[:0], fSource, l.source)
			s.key = l.appendKey(s.key, fEventID, l.eventID)
			s.key = l.appendKey(s.key, fOp, l.op)
			s.key = l.appendKey(s.key, fUID, l.uid)
			k := string(s.key)
			s.open[l.seq] = scanIntent{key: k, off: s.off, size: len(line)}
			s.openByOp[k] = l.seq
		case l.intent != 0:
			s.closeIntent(l.intent)
		}
	}
	s.off += int64(len(line))
	return nil
}

// strict checks line as VerifyAudit does.
func (s *chainScan) strict(line []byte) error {
	v := verifier{n: s.n, head: string(s.head), seed: !s.started}
	rec, err := v.next(line)
	if err != nil {
		return err
	}
	s.strictLines++
	if !s.started {
		s.started, s.firstSeq, s.firstPrev = true, rec.Seq, rec.Prev
	}
	s.n, s.head = v.n, append(s.head[:0], v.head...)
	s.records++
	s.noteRecord(rec)
	if s.track {
		switch {
		case rec.Action == ActionIntent:
			k := packKey(keyOf(rec))
			s.open[rec.Seq] = scanIntent{key: k, rec: &rec}
			s.openByOp[k] = rec.Seq
		case rec.Intent != 0:
			s.closeIntent(rec.Intent)
		}
	}
	s.off += int64(len(line))
	return nil
}

func (s *chainScan) noteRecord(rec AuditRecord) {
	if s.wantFirstRec {
		s.first, s.wantFirstRec = rec.Time, false
	}
	if rec.Action == ActionSeal {
		s.seal = rec.Detail
	}
}

// closeIntent is track's outcome case.
func (s *chainScan) closeIntent(seq uint64) {
	in, ok := s.open[seq]
	if !ok {
		return
	}
	delete(s.open, seq)
	if s.openByOp[in.key] == seq {
		delete(s.openByOp, in.key)
	}
}

// openIntents decodes the intents left open, reading their lines from f,
// and returns them as Audit keeps them.
func (s *chainScan) openIntents(f *os.File) (map[uint64]AuditRecord, map[intentKey]uint64, error) {
	out := make(map[uint64]AuditRecord, len(s.open))
	byOp := make(map[intentKey]uint64, len(s.openByOp))
	for seq, in := range s.open {
		if in.rec == nil {
			b := make([]byte, in.size)
			if _, err := f.ReadAt(b, in.off); err != nil {
				return nil, nil, fmt.Errorf("audit: read intent %d: %w", seq, err)
			}
			in.rec = new(AuditRecord)
			if err := json.Unmarshal(b, in.rec); err != nil || in.rec.Seq != seq {
				return nil, nil, fmt.Errorf("audit: read intent %d: changed under the open (%v)", seq, err)
			}
		}
		out[seq] = *in.rec
		if s.openByOp[in.key] == seq {
			byOp[keyOf(*in.rec)] = seq
		}
	}
	return out, byOp, nil
}

// closedSegment is what the open learned of one closed segment.
type closedSegment struct {
	seg  auditSegment
	seal segmentSeal // its seal as checked, or as computed (unsealed)
	// firstSeq and firstPrev are those of its first record: the link to
	// the segment before.
	firstSeq  uint64
	firstPrev string
	// unsealed is set when no seal named it and its records were verified
	// one by one.
	unsealed bool
	err      error
}

// hashSegment reads the closed segment c: the SHA-256 and size of its
// bytes, and its first record's seq and prev.
func hashSegment(c *closedSegment) {
	f, err := os.Open(c.seg.path)
	if err != nil {
		c.err = fmt.Errorf("audit: %w", err)
		return
	}
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(f, 1<<16)
	first, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		first = slices.Clone(first)
		for errors.Is(err, bufio.ErrBufferFull) {
			var more []byte
			more, err = br.ReadSlice('\n')
			first = append(first, more...)
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = fmt.Errorf("audit %s: %w", c.seg.path, err)
		return
	}
	h.Write(first)
	var head struct {
		Seq  uint64 `json:"seq"`
		Prev string `json:"prev"`
	}
	if json.Unmarshal(first, &head) == nil {
		c.firstSeq, c.firstPrev = head.Seq, head.Prev
	}
	n, err := br.WriteTo(h)
	if err != nil {
		c.err = fmt.Errorf("audit %s: %w", c.seg.path, err)
		return
	}
	c.seal.size, c.seal.sum = int64(len(first))+n, hex.EncodeToString(h.Sum(nil))
}

// verifyUnsealed verifies the closed segment c record by record, as
// VerifyAuditLog does, and computes its seal.
func verifyUnsealed(c *closedSegment) {
	f, err := os.Open(c.seg.path)
	if err != nil {
		c.err = fmt.Errorf("audit: %w", err)
		return
	}
	defer f.Close()
	h := sha256.New()
	v := verifier{seed: true}
	sc := bufio.NewScanner(io.TeeReader(f, h))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var size int64
	for line := 1; sc.Scan(); line++ {
		rec, err := v.next(sc.Bytes())
		if err != nil {
			c.err = fmt.Errorf("audit %s: line %d: %w", c.seg.path, line, err)
			return
		}
		if line == 1 {
			c.firstSeq, c.firstPrev = rec.Seq, rec.Prev
		}
		size += int64(len(sc.Bytes())) + 1
	}
	if err := sc.Err(); err != nil {
		c.err = fmt.Errorf("audit %s: %w", c.seg.path, err)
		return
	}
	if c.firstSeq == 0 {
		c.err = fmt.Errorf("audit %s: %w: an empty closed segment", c.seg.path, ErrAuditBroken)
		return
	}
	c.seal = segmentSeal{name: filepath.Base(c.seg.path), records: v.n - c.firstSeq + 1, first: c.firstSeq, last: v.n, size: size, head: v.head}
	c.seal.sum = hex.EncodeToString(h.Sum(nil))
	c.unsealed = true
}

// checkClosed checks the closed segments segs against seal, the Detail
// of the current segment's last seal record (nil if it has none), as one
// chain. hashed are the results of hashSegment on segs, in order. It
// returns them checked, and the chain's end: the last seq and hash.
func checkClosed(segs []auditSegment, hashed []closedSegment, seal map[string]string) ([]closedSegment, uint64, string, error) {
	seals := make(map[string]segmentSeal, len(seal))
	for name, v := range seal {
		s, err := parseSeal(name, v)
		if err != nil {
			return nil, 0, "", fmt.Errorf("audit: %w", err)
		}
		seals[name] = s
	}
	var todo []*closedSegment
	for i := range hashed {
		c := &hashed[i]
		name := filepath.Base(c.seg.path)
		s, ok := seals[name]
		if !ok {
			todo = append(todo, c)
			continue
		}
		delete(seals, name)
		if c.err != nil {
			return nil, 0, "", c.err
		}
		if c.seal.sum != s.sum || c.seal.size != s.size {
			return nil, 0, "", fmt.Errorf("audit %s: %w: its bytes are not those sealed (sha256 %s, size %d; sealed %s, %d)", c.seg.path, ErrAuditBroken, c.seal.sum, c.seal.size, s.sum, s.size)
		}
		if s.first != c.seg.first || c.firstSeq != s.first {
			return nil, 0, "", fmt.Errorf("audit %s: %w: it starts at record %d, its seal at %d", c.seg.path, ErrAuditBroken, c.firstSeq, s.first)
		}
		c.seal = s
	}
	for name := range seals {
		return nil, 0, "", fmt.Errorf("audit: %w: closed segment %s is missing (the log's seal names it)", ErrAuditBroken, name)
	}
	// The unsealed ones, from an earlier version: record by record.
	parallel(len(todo), func(i int) { *todo[i] = closedSegment{seg: todo[i].seg}; verifyUnsealed(todo[i]) })
	var n uint64
	var head string
	for _, c := range hashed {
		switch {
		case c.err != nil:
			return nil, 0, "", c.err
		case c.firstSeq != n+1:
			return nil, 0, "", fmt.Errorf("audit %s: line 1: %w: record has seq %d, want %d", c.seg.path, ErrAuditBroken, c.firstSeq, n+1)
		case c.firstPrev != head:
			return nil, 0, "", fmt.Errorf("audit %s: line 1: %w: record %d does not follow record %d", c.seg.path, ErrAuditBroken, c.firstSeq, n)
		}
		n, head = c.seal.last, c.seal.head
	}
	return hashed, n, head, nil
}

// parallel runs fn(0) … fn(n-1), as many at a time as there are CPUs.
func parallel(n int, fn func(int)) {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg gosync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// sealCurrent reads back the current segment at path, which ends at
// record last with hash head, checks it as the open does, and returns its
// seal: what Rotate records as it closes the segment.
func sealCurrent(path string, last uint64, head string) (segmentSeal, error) {
	f, err := os.Open(path)
	if err != nil {
		return segmentSeal{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<16)
	s := newChainScan(false)
	var long []byte
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br, &long)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if errors.Is(err, io.EOF) {
			return segmentSeal{}, fmt.Errorf("audit %s: line %d: %w: the last record has no newline", path, lineNo, ErrAuditBroken)
		}
		if err != nil {
			return segmentSeal{}, fmt.Errorf("audit %s: %w", path, err)
		}
		if err := s.line(line); err != nil {
			return segmentSeal{}, fmt.Errorf("audit %s: line %d: %w", path, lineNo, err)
		}
	}
	if s.n != last || string(s.head) != head {
		return segmentSeal{}, fmt.Errorf("audit %s: %w: it ends at record %d %s, the log at %d %s", path, ErrAuditBroken, s.n, s.head, last, head)
	}
	return segmentSeal{records: s.records, first: s.firstSeq, last: s.n, size: s.off, head: head, sum: hex.EncodeToString(h.Sum(nil))}, nil
}
