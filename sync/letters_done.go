package sync

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ActionLetterDelivered is the audit action of a sealed letter an operator
// delivered and removed; the record's Detail names the letter.
const ActionLetterDelivered = "letter_delivered"

// LetterFile is a sealed letter waiting for delivery, as the letters
// directory shows it. It holds nothing of the letter's content.
type LetterFile struct {
	// File is the letter's path.
	File string `json:"file"`
	// Unit is the account name of the unit whose directory holds it.
	Unit string `json:"unit"`
	// UID is the account the letter is for, and Source and EventID the
	// event that issued it. They come from the audit log's record of the
	// letter; without one, from the file name, <uid>_<event>, whose uid
	// ends at the first "_" (the ladder's usernames have none).
	UID     string `json:"uid"`
	Source  string `json:"source,omitempty"`
	EventID string `json:"event_id"`
	// Written is when the file was last written (its modification time).
	Written time.Time `json:"written"`
	// Encrypted reports whether the letter is encrypted with age.
	Encrypted bool `json:"encrypted"`
}

// ListLetters returns the letters waiting for delivery under c's letters
// directory, by unit, then oldest first. It opens no letter. The audit log
// is read, when it can be, only to tell a letter's account from its event.
func ListLetters(c Config) ([]LetterFile, error) {
	root := c.Letters()
	units, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	names := letterNames(AuditPath(c))
	var out []LetterFile
	for _, u := range units {
		if !u.IsDir() || strings.HasPrefix(u.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, u.Name()))
		if err != nil {
			return nil, fmt.Errorf("letters: %w", err)
		}
		for _, f := range files {
			stem, encrypted, ok := letterStem(f.Name())
			if !ok || !f.Type().IsRegular() {
				continue
			}
			info, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // delivered or voided meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("letters: %w", err)
			}
			lf := LetterFile{File: filepath.Join(root, u.Name(), f.Name()), Unit: u.Name(),
				Written: info.ModTime(), Encrypted: encrypted}
			lf.UID, lf.Source, lf.EventID = names.lookup(stem)
			out = append(out, lf)
		}
	}
	slices.SortFunc(out, func(a, b LetterFile) int {
		return cmp.Or(strings.Compare(a.Unit, b.Unit), a.Written.Compare(b.Written), strings.Compare(a.File, b.File))
	})
	return out, nil
}

// LettersDone records in the audit log that the letters at paths were
// delivered, by whom, and removes them. Every path must be a letter in a
// unit's directory under the letters directory (sync.letters_dir): if one
// is not, nothing is removed. Each record is durable before its letter is
// removed, so no letter goes without its record.
func (e *Engine) LettersDone(paths []string, by string) error {
	if len(paths) == 0 {
		return errors.New("letters: no letter named")
	}
	if strings.TrimSpace(by) == "" {
		return errors.New("letters: who delivered them is required")
	}
	root := e.cfg.Letters()
	realRoot, err := realDir(root)
	if err != nil {
		return fmt.Errorf("letters: %w", err)
	}
	var targets []letterTarget
	var errs []error
	seen := map[string]bool{}
	for _, p := range paths {
		t, err := letterAt(realRoot, root, p)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !seen[t.real]:
			seen[t.real] = true
			targets = append(targets, t)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w\nno letter was removed", errors.Join(errs...))
	}
	names := letterNames(AuditPath(e.cfg))
	// A batch may be rewriting or voiding one of these letters.
	e.proc.Lock()
	defer e.proc.Unlock()
	for _, t := range targets {
		stem, _, _ := letterStem(filepath.Base(t.path))
		uid, source, eventID := names.lookup(stem)
		if _, err := e.audit.Append(AuditRecord{
			Time: e.now(), Action: ActionLetterDelivered, UID: uid, Source: source, EventID: eventID,
			RequestedBy: by, Detail: map[string]string{"letter": t.path},
		}); err != nil {
			return fmt.Errorf("letters: audit log: %w (no letter was removed)", err)
		}
	}
	if err := e.audit.Sync(); err != nil {
		return fmt.Errorf("letters: audit log: %w (no letter was removed)", err)
	}
	dirs := map[string]bool{}
	for _, t := range targets {
		if err := os.Remove(t.real); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("letters: remove %s: %w", t.path, err))
			continue
		}
		dirs[filepath.Dir(t.real)] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			errs = append(errs, fmt.Errorf("letters: %w", err))
		}
	}
	return errors.Join(errs...)
}

// letterTarget is a letter LettersDone removes: path as Write named it
// (what the audit log records), real with the symbolic links resolved.
type letterTarget struct{ path, real string }

// letterAt checks that p is a letter in a unit's directory right under the
// letters directory, root, whose real path is realRoot.
func letterAt(realRoot, root, p string) (letterTarget, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return letterTarget{}, fmt.Errorf("letters: %s: %w", p, err)
	}
	dir, name := filepath.Split(abs)
	if d, err := realDir(dir); err == nil {
		dir = d
	}
	unit, err := filepath.Rel(realRoot, dir)
	if err != nil || unit == "." || unit == ".." || strings.HasPrefix(unit, ".."+string(filepath.Separator)) ||
		strings.ContainsRune(unit, filepath.Separator) {
		return letterTarget{}, fmt.Errorf("letters: %s is not in a unit's directory of the letters directory %s (sync.letters_dir): refused", p, root)
	}
	if _, _, ok := letterStem(name); !ok {
		return letterTarget{}, fmt.Errorf("letters: %s is not a letter (<uid>_<event>.txt or .txt.age): refused", p)
	}
	real := filepath.Join(dir, name)
	fi, err := os.Lstat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return letterTarget{}, fmt.Errorf("letters: %s: no such letter (delivered already?)", p)
	case err != nil:
		return letterTarget{}, fmt.Errorf("letters: %w", err)
	case !fi.Mode().IsRegular():
		return letterTarget{}, fmt.Errorf("letters: %s is not a regular file: refused", p)
	}
	return letterTarget{path: filepath.Join(root, unit, name), real: real}, nil
}

// realDir returns dir made absolute with its symbolic links resolved.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// letterStem returns a letter file's name without its extension, and
// whether it is encrypted; ok is false for any other file, such as
// Write's temporary files.
func letterStem(name string) (stem string, encrypted, ok bool) {
	if strings.HasPrefix(name, ".") {
		return "", false, false
	}
	if s, found := strings.CutSuffix(name, encryptedExt); found && s != "" {
		return s, true, true
	}
	if s, found := strings.CutSuffix(name, plainExt); found && s != "" {
		return s, false, true
	}
	return "", false, false
}

// letterEvent is the account and event a letter was issued for.
type letterEvent struct{ uid, source, eventID string }

// letterIndex finds a letter's account and event by its file name's stem.
type letterIndex map[string]letterEvent

// letterNames reads the audit log at path for the operations that write
// letters, and indexes them by the stem of the letter's file name. It is
// read-only and forgiving (the daemon may be appending; a missing or
// unreadable log gives an empty index): the index only improves names.
func letterNames(path string) letterIndex {
	idx := letterIndex{}
	f, err := os.Open(path)
	if err != nil {
		return idx
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	letters := &Letters{}
	for sc.Scan() {
		var r AuditRecord
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.UID == "" || r.EventID == "" {
			continue
		}
		switch OpKind(cmp.Or(r.Op, r.Action)) {
		case OpIssueCredentials, OpRestore, OpReinstate:
			idx[filepath.Base(letters.base("", r.UID, &Event{ID: r.EventID}))] = letterEvent{r.UID, r.Source, r.EventID}
		}
	}
	return idx
}

// lookup returns the account and event of the letter whose name's stem is
// stem: from the audit log, else split at the first "_".
func (idx letterIndex) lookup(stem string) (uid, source, eventID string) {
	if ev, ok := idx[stem]; ok {
		return ev.uid, ev.source, ev.eventID
	}
	uid, eventID, _ = strings.Cut(stem, "_")
	return uid, "", eventID
}
