package sync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The inbox's subdirectories. The daemon claims a file by renaming it into
// processing/ before reading it, so that the file it reads, journals and
// moves on is one and the same, whatever a writer puts at the inbox name
// meanwhile; a claimed file then moves to done/, or to rejected/ when none
// of it can be read.
const (
	processingDir = "processing"
	doneDir       = "done"
	rejectedDir   = "rejected"
)

// errChanged says a ready file changed between the look that found it
// settled and its claim: it is left for a later look.
var errChanged = errors.New("changed since it was found settled")

// IngestResult is what became of one input file.
type IngestResult struct {
	*Batch
	Added        int
	Duplicates   int
	RejectedPath string // where the rejected rows were written, if any
	DonePath     string // where the file was moved, if it was
}

// IngestFile reads the file at path, journals its valid events (fsynced)
// and writes its rejected rows with their reasons to the inbox's rejected/
// directory. It leaves the file where it is: "ldapsync apply" reads the
// files named on its command line with it. Reading the same file again adds
// nothing: its events are duplicates, and its rejected rows overwrite the
// same file in rejected/, whose name derives from the file's name and times.
func (e *Engine) IngestFile(path string) (*IngestResult, error) {
	data, info, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return e.ingest(path, stampName(path, info), data)
}

// scanInbox is Run's look at the inbox. It first reads again the files an
// earlier look claimed and did not finish (a crash, a failed write), so at
// start-up those come before anything else; then it claims each file that
// has settled, and reads it. It reports whether new events were journaled.
func (e *Engine) scanInbox(wall time.Time) (added bool) {
	left, err := e.claimedFiles()
	if err != nil {
		e.log.Error().Err(err).Msg("cannot read inbox")
	}
	for _, c := range left {
		e.log.Warn().Str("claimed", c).Msg("file claimed earlier and not finished; reading it again")
		added = e.finish(c) || added
	}
	ready, other, err := e.ReadyFiles(wall)
	if err != nil {
		e.log.Error().Err(err).Msg("cannot read inbox")
	}
	for _, p := range other {
		if c, ok := e.claimLogged(p); ok {
			e.setAside(c, fmt.Errorf("unknown file type %q: want .csv or .jsonl (.ndjson)", filepath.Ext(p)))
		}
	}
	for _, p := range ready {
		if c, ok := e.claimLogged(p); ok {
			added = e.finish(c) || added
		}
	}
	return added
}

// claimLogged claims the inbox file at path, and logs why not when it
// cannot.
func (e *Engine) claimLogged(path string) (claimed string, ok bool) {
	claimed, err := e.claim(path)
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, errChanged):
		e.log.Debug().Err(err).Str("file", path).Msg("file not claimed; it is looked at again next time")
	case err != nil && claimed == "":
		e.log.Error().Err(err).Str("file", path).Msg("cannot claim input file; will retry")
	case err != nil:
		// Renamed but not yet durable: it is read from processing/ all
		// the same; after a crash it is where the crash left it.
		e.log.Warn().Err(err).Str("file", path).Msg("claimed input file")
	}
	return claimed, claimed != ""
}

// finish reads a claimed file and moves it on, and reports whether it
// journaled new events. A file that cannot be read at all is set aside; one
// that failed for another reason (a failed write) stays in processing/ and
// is read again at the next look.
func (e *Engine) finish(claimed string) (added bool) {
	res, err := e.ingestClaimed(claimed)
	switch {
	case isFileError(err):
		e.setAside(claimed, err)
	case err != nil:
		e.log.Error().Err(err).Str("file", claimed).Msg("cannot finish input file; it stays in processing/ and is read again")
	}
	return res != nil && res.Added > 0
}

// claim renames the inbox file at path into processing/, under the name it
// keeps in done/ or rejected/, and fsyncs processing/. What is at path
// afterwards is another file, read in its own turn. A file that changed
// since ReadyFiles found it settled is not claimed (errChanged). claimed is
// empty when the file was not renamed.
func (e *Engine) claim(path string) (claimed string, err error) {
	info, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("sync: claim %s: not a regular file", path)
	}
	name := filepath.Base(path)
	if e.cfg.Inbox.Settle > 0 {
		if s, ok := e.seen[name]; !ok || !s.same(sightingOf(info)) {
			return "", errChanged
		}
	}
	dir := filepath.Join(e.cfg.InboxDir(), processingDir)
	claimed = filepath.Join(dir, e.claimName(path, info))
	if err := os.Rename(path, claimed); err != nil {
		return "", fmt.Errorf("sync: claim %s: %w", path, err)
	}
	delete(e.seen, name) // a file put at the name next is new
	if err := syncDir(dir); err != nil {
		return claimed, fmt.Errorf("sync: claim %s: %w", path, err)
	}
	return claimed, nil
}

// claimName is the name a file claimed now gets: its stampName, made unique
// among the names processing/, done/ and rejected/ hold, so that a file
// whose times equal an earlier one's (a coarse file-system clock) does not
// overwrite it. The name is fixed from then on: a repeat after a crash
// writes the same names again.
func (e *Engine) claimName(path string, info os.FileInfo) string {
	in := e.cfg.InboxDir()
	stamp := stampName(path, info)
	for n := 0; ; n++ {
		s := stamp
		if n > 0 {
			// Before the name, so that the name and its extension stay last.
			i := len(s) - len(filepath.Base(path)) - 1
			s = s[:i] + "-" + strconv.Itoa(n) + s[i:]
		}
		taken := false
		for _, p := range []string{
			filepath.Join(in, processingDir, s), filepath.Join(in, doneDir, s),
			filepath.Join(in, rejectedDir, s), filepath.Join(in, rejectedDir, s+".error.txt"),
		} {
			if _, err := os.Lstat(p); err == nil {
				taken = true
				break
			}
		}
		if !taken {
			return s
		}
	}
}

// claimedFiles lists the files in processing/, in name order: the order of
// their modification times.
func (e *Engine) claimedFiles() ([]string, error) {
	dir := filepath.Join(e.cfg.InboxDir(), processingDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sync: inbox: %w", err)
	}
	var files []string
	for _, de := range entries {
		if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
			files = append(files, filepath.Join(dir, de.Name()))
		}
	}
	return files, nil
}

// ingestClaimed reads a file claimed into processing/, journals it and moves
// it to done/ under its claimed name. It is safe to repeat after a crash:
// journaled events are duplicates the second time, and rejected rows are
// written to the same name again.
func (e *Engine) ingestClaimed(claimed string) (*IngestResult, error) {
	stamp := filepath.Base(claimed)
	data, _, err := readFile(claimed)
	if err != nil {
		return nil, err
	}
	// Rows are reported under the name HR gave the file.
	res, err := e.ingest(filepath.Join(e.cfg.InboxDir(), stampedName(stamp)), stamp, data)
	if err != nil {
		return res, err
	}
	if e.claimedHook != nil {
		if err := e.claimedHook(claimed); err != nil {
			return res, err
		}
	}
	res.DonePath = filepath.Join(e.cfg.InboxDir(), doneDir, stamp)
	return res, moveFile(claimed, res.DonePath)
}

// ingest parses data, read from the file called name, journals its valid
// events and writes its rejected rows to rejected/stamp.
func (e *Engine) ingest(name, stamp string, data []byte) (*IngestResult, error) {
	if isActivityFeed(name) {
		return e.ingestActivity(e.runContext(), name, stamp, data)
	}
	if IsRoster(name) {
		rr, err := e.ingestRoster(name, stamp, data)
		if rr == nil {
			return nil, err
		}
		return rr.IngestResult, err
	}
	log := e.log.With().Str("file", name).Logger()
	// The events are journaled a chunk at a time, each chunk with one
	// fsync, and not kept: a 100,000-row file never sits in memory as
	// events. A crash between two chunks leaves the file in processing/;
	// read again, its journaled events are duplicates and the rest are
	// added, as after a crash before the file's one write.
	now := e.now()
	res := &IngestResult{}
	events, chunks := 0, 0
	batch, err := parseEach(name, data, SourceInbox, e.Rules(), now, e.chunkSize(), func(evs []Event, _ []Record) ([]int, error) {
		added, err := e.addChunk(evs, now)
		if err != nil {
			return nil, err
		}
		if chunks++; e.chunkHook != nil {
			if err := e.chunkHook(chunks); err != nil {
				return nil, err
			}
		}
		events += len(evs) - len(added.Conflicts)
		res.Added += len(added.Added)
		res.Duplicates += len(added.Duplicates)
		return added.Conflicts, nil
	}, WithHeaders(e.cfg.Inbox.Headers))
	var fe *FileError
	if errors.As(err, &fe) {
		return nil, err
	}
	res.Batch = batch
	if batch != nil {
		for _, w := range batch.Warnings {
			log.Warn().Str("warning", w).Msg("input file")
		}
	}
	if err != nil {
		return res, err
	}
	if len(batch.Rejected) > 0 {
		for _, r := range batch.Rejected {
			log.Warn().Int("line", r.Record.Origin.Line).Str("reason", r.Reason()).Msg("row rejected")
		}
		var buf strings.Builder
		if err := batch.WriteRejected(&buf); err != nil {
			return res, err
		}
		res.RejectedPath = filepath.Join(e.cfg.InboxDir(), rejectedDir, stamp)
		if err := writeFileAtomic(res.RejectedPath, []byte(buf.String()), 0o640); err != nil {
			return res, fmt.Errorf("sync: write rejected rows: %w", err)
		}
	}
	log.Info().Int("events", events).Int("added", res.Added).Int("duplicates", res.Duplicates).
		Int("rejected", len(batch.Rejected)).Msg("file read")
	e.reportPending()
	return res, nil
}

// readFile reads the file at path and describes the file it read, from the
// same open file: a file renamed to path meanwhile changes neither.
func readFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sync: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("sync: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("sync: read %s: %w", path, err)
	}
	return data, info, nil
}

func moveFile(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("sync: move %s: %w", from, err)
	}
	return syncDir(filepath.Dir(to))
}

// sighting is what one look at an inbox file saw. The change time (ctime)
// is set by the kernel on every write and rename and no copy tool can set
// it, so a copy that keeps its source's modification time (Windows
// Explorer, cp -p, many SMB clients) still shows that it is being written.
type sighting struct {
	ino          uint64
	size         int64
	mtime, ctime time.Time
	since        time.Time // when this sighting was first made, by the wall clock
}

func sightingOf(info os.FileInfo) sighting {
	s := sighting{size: info.Size(), mtime: info.ModTime(), ctime: info.ModTime()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.ino, s.ctime = st.Ino, time.Unix(st.Ctim.Unix())
	}
	return s
}

// same reports whether s and o saw the file unchanged.
func (s sighting) same(o sighting) bool {
	return s.ino == o.ino && s.size == o.size && s.mtime.Equal(o.mtime) && s.ctime.Equal(o.ctime)
}

// settled reports whether a file last seen as s has settled at wall: seen
// unchanged for settle by the wall clock, which does not trust the file
// server's clock, and unchanged for settle by its own ctime, which also
// covers a write just before the first look that a coarse ctime hides.
func (s sighting) settled(wall time.Time, settle time.Duration) bool {
	return wall.Sub(s.since) >= settle && wall.Sub(s.ctime) >= settle
}

// ReadyFiles lists the inbox files ready to read, oldest first: regular
// files of a known format, not hidden (dot-files are uploads in progress),
// not Excel's lock files, and settled. Files of an unknown format are
// returned in other, to be set aside once settled too.
//
// wall is the real time (file times are stamped by the OS, not by the
// engine's clock). Each call is one look: a file has settled when its size,
// modification time and change time are the same as an earlier look saw
// them at least Settle ago, and its change time is at least Settle old.
// Settle 0 makes every file ready at once. It is not safe for concurrent
// use: Run is its caller.
func (e *Engine) ReadyFiles(wall time.Time) (ready, other []string, err error) {
	dir := e.cfg.InboxDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("sync: inbox: %w", err)
	}
	settle := e.cfg.Inbox.Settle.Std()
	if e.seen == nil {
		e.seen = map[string]sighting{}
	}
	present := make(map[string]bool, len(entries))
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, de := range entries {
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		present[name] = true
		if settle > 0 {
			s := sightingOf(info)
			prev, ok := e.seen[name]
			if !ok || !prev.same(s) {
				s.since = wall
				e.seen[name] = s
				continue
			}
			if !prev.settled(wall, settle) {
				continue
			}
		}
		p := filepath.Join(dir, name)
		if FormatOf(name) == "" {
			other = append(other, p)
			continue
		}
		files = append(files, file{p, info.ModTime()})
	}
	for name := range e.seen {
		if !present[name] {
			delete(e.seen, name)
		}
	}
	slices.SortStableFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		ready = append(ready, f.path)
	}
	return ready, other, nil
}

// setAside moves a claimed file none of which can be read to rejected/,
// with the reason beside it in <name>.error.txt. A move that fails leaves
// it in processing/, to be read and set aside again.
func (e *Engine) setAside(claimed string, reason error) {
	stamp := filepath.Base(claimed)
	rejected := filepath.Join(e.cfg.InboxDir(), rejectedDir)
	err := errors.Join(
		writeFileAtomic(filepath.Join(rejected, stamp+".error.txt"), []byte(reason.Error()+"\n"), 0o640),
		moveFile(claimed, filepath.Join(rejected, stamp)))
	e.log.Error().Err(reason).Str("file", filepath.Join(e.cfg.InboxDir(), stampedName(stamp))).
		Str("set_aside_as", stamp).AnErr("move_error", err).Msg("file set aside")
}

// stampName is the name a file gets in processing/, done/ and rejected/:
// its modification time (so names sort by it), a tag made of its change
// time, and its name. Copy tools keep the modification time but cannot keep
// the change time, so a re-export under the same name gets a name of its
// own, and the same file keeps the same name. claimName tells apart files
// whose times are the same too.
func stampName(path string, info os.FileInfo) string {
	tag := strconv.FormatInt(sightingOf(info).ctime.UnixNano(), 36)
	return info.ModTime().UTC().Format("20060102T150405.000000000Z") + "_" + tag + "_" + filepath.Base(path)
}

// stampedName is the name a file had before stampName, which it ends with.
func stampedName(stamp string) string {
	if parts := strings.SplitN(stamp, "_", 3); len(parts) == 3 {
		return parts[2]
	}
	return stamp
}

func isFileError(err error) bool {
	var fe *FileError
	return errors.As(err, &fe)
}
