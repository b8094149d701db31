package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
)

// drop writes a file into the inbox as HR is asked to: under a dot-name,
// then renamed.
func drop(t *testing.T, cfg Config, name, data string) string {
	t.Helper()
	tmp := filepath.Join(cfg.InboxDir(), "."+name)
	if err := os.WriteFile(tmp, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(cfg.InboxDir(), name)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// settled is a wall clock at which every file written so far has settled.
// ReadyFiles compares it with the files' change times, which the OS stamps
// with real time: it is derived from real time, never from the injected
// clock.
func settled() time.Time { return time.Now().Add(time.Hour) }

// refusedName is the file refused events go to on the engine's day.
func refusedName(e *Engine) string {
	return "refused-" + e.now().In(e.Rules().Location).Format(time.DateOnly) + ".jsonl"
}

func ingestAll(t *testing.T, e *Engine) {
	t.Helper()
	ready, _, err := e.ReadyFiles(settled())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ready {
		if _, _, err := claimAndIngest(t, e, p); err != nil {
			t.Fatal(err)
		}
	}
}

// checkLetters checks every created person has exactly one sealed letter,
// and that its password is the one the directory holds.
func checkLetters(t *testing.T, cfg Config, f *fakeDir) {
	t.Helper()
	for dn, p := range f.people {
		matches, _ := filepath.Glob(filepath.Join(cfg.Letters(), p.Unit, p.UID+"_*.txt"))
		if len(matches) != 1 {
			t.Errorf("%s: %d letters, want 1", p.UID, len(matches))
			continue
		}
		uid, pw, err := ReadLetter(matches[0])
		if err != nil || uid != p.UID || pw.Reveal() != f.passwords[dn] || pw.Reveal() == "" {
			t.Errorf("%s: letter says %s/%v (err %v), directory has the password %v", p.UID, uid, pw, err, f.passwords[dn] != "")
		}
		if st, _ := os.Stat(matches[0]); st.Mode().Perm() != 0o600 {
			t.Errorf("letter mode %v, want 0600", st.Mode().Perm())
		}
		if st, _ := os.Stat(filepath.Dir(matches[0])); st.Mode().Perm() != 0o700 {
			t.Errorf("letter directory mode %v, want 0700", st.Mode().Perm())
		}
	}
}

func TestEngine_InboxToDirectory(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	in := drop(t, cfg, "personnel.csv", header+
		row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh")+
		row("E2", "", "Phạm Thị Hoa", "sotttt")+ // no employee_id
		row("E3", "NV3", "Lê Văn Tuấn", "vhtt_nh")+
		row("E4", "NV4", "Nguyễn Quốc Trạng", "sotttx")+ // unknown unit
		row("E5", "NV5", "Nguyễn Quốc Trạng", "sotttt"))
	_, res, err := claimAndIngest(t, e, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || len(res.Rejected) != 2 {
		t.Fatalf("added %d rejected %v", res.Added, res.Rejected)
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Error("input file still in the inbox")
	}
	if left, _ := e.claimedFiles(); len(left) != 0 {
		t.Errorf("left in processing/: %v", left)
	}
	if _, err := os.Stat(res.DonePath); err != nil || filepath.Dir(res.DonePath) != filepath.Join(cfg.InboxDir(), "done") {
		t.Errorf("done path %s: %v", res.DonePath, err)
	}
	rej, _ := os.ReadFile(res.RejectedPath)
	if !strings.Contains(string(rej), "employee_id: required") || !strings.Contains(string(rej), `unit: ""sotttx""`) {
		t.Errorf("rejected file:\n%s", rej)
	}

	_, rep, err := e.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 9 || rep.Done != 3 {
		t.Errorf("report %+v, want 9 operations (create, credentials, groups) for 3 events", rep)
	}
	if n := f.calls["ChangeGroups"]; n != 1 {
		t.Errorf("ChangeGroups called %d times, want once for the whole batch", n)
	}
	for _, uid := range []string{"vantuan", "tuanlv", "quoctrang"} {
		if _, ok := f.people[personDN(uid)]; !ok {
			t.Errorf("%s not created", uid)
		}
	}
	checkLetters(t, cfg, f)
	if n := len(e.Journal().Pending()); n != 0 {
		t.Errorf("%d events still pending", n)
	}
	af, _ := os.Open(AuditPath(cfg))
	defer af.Close()
	if n, _, err := VerifyAudit(af); err != nil || n != 18 {
		t.Errorf("audit: %d records, %v; want 18 (9 operations, each an intent and its outcome)", n, err)
	}
	if open := e.audit.OpenIntents(); len(open) != 0 {
		t.Errorf("intents without an outcome: %+v", open)
	}
}

// A directory outage in the middle of a batch loses nothing and applies
// nothing twice: the events wait in the journal, and the retry finishes
// them with exactly one account and one letter per person.
func TestEngine_OutageMidBatch(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh")+row("E2", "NV2", "Lê Văn Tuấn", "vhtt_nh")+row("E3", "NV3", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)

	f.failOn["SetPassword "+personDN("tuanlv")] = true
	f.failOn["SetPassword/flag "+personDN("vantuan")] = true // password set, pwdReset not
	// Each outage stops its run; the journal keeps the rest for the next.
	failures := 0
	for range 5 {
		_, _, err := e.Process(context.Background())
		if err == nil {
			break
		}
		if !errors.Is(err, errOutage) {
			t.Fatalf("process during outage: %v", err)
		}
		failures++
		if len(e.Journal().Pending()) == 0 {
			t.Fatal("a failed run left nothing pending")
		}
	}
	if failures != 2 || len(e.Journal().Pending()) != 0 {
		t.Fatalf("%d failed runs, %d events pending; want 2 and 0", failures, len(e.Journal().Pending()))
	}
	for dn, p := range f.people {
		if !p.MustChange {
			t.Errorf("%s: not flagged to change the first password", dn)
		}
	}
	if len(f.people) != 3 {
		t.Errorf("%d people, want 3", len(f.people))
	}
	for _, uid := range []string{"vantuan", "tuanlv", "quoctrang"} {
		if n := f.calls["AddPerson "+personDN(uid)]; n != 1 {
			t.Errorf("%s created %d times, want once", uid, n)
		}
	}
	checkLetters(t, cfg, f)
	if _, rep, _ := e.Process(context.Background()); rep.Applied != 0 {
		t.Errorf("a third run applied %d operations", rep.Applied)
	}
}

// A file read twice ("ldapsync apply" run again on it) adds nothing the
// second time: every event is a duplicate, and its rejected rows go to the
// same file. A crash in the daemon is TestInbox_ClaimedFileReadAgainAtStartUp.
func TestEngine_FileReadTwice(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	data := header + row("E1", "NV1", "Lê Văn Tuấn", "ubnd_nh") + row("E2", "", "Lê Văn Tuấn", "ubnd_nh")
	p := drop(t, cfg, "a.csv", data)
	first, err := e.IngestFile(p)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.IngestFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if first.Added != 1 || second.Added != 0 || second.Duplicates != 1 {
		t.Errorf("first added %d; second added %d, duplicates %d", first.Added, second.Added, second.Duplicates)
	}
	if first.RejectedPath != second.RejectedPath {
		t.Errorf("rejected rows written twice: %s and %s", first.RejectedPath, second.RejectedPath)
	}
	if n := len(e.Journal().Pending()); n != 1 {
		t.Errorf("pending = %d, want 1", n)
	}
}

func TestEngine_SetsAsideUnreadableFiles(t *testing.T) {
	e, cfg := newEngine(t, newFakeDir(), t0)
	drop(t, cfg, "photo.xlsx", "PK")
	drop(t, cfg, "b.csv", "event_id,type\n")
	drop(t, cfg, "~$lock.csv", "")
	ready, other, err := e.ReadyFiles(settled())
	if err != nil {
		t.Fatal(err)
	}
	if len(ready) != 1 || len(other) != 1 {
		t.Fatalf("ready %v other %v", ready, other)
	}
	if e.scanInbox(settled()) {
		t.Error("events journaled from unreadable files")
	}
	got, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "rejected", "*"))
	if len(got) != 4 {
		t.Errorf("rejected/ holds %v, want both files and their .error.txt", got)
	}
	why, _ := filepath.Glob(filepath.Join(cfg.InboxDir(), "rejected", "*_b.csv.error.txt"))
	if len(why) != 1 {
		t.Fatalf("no reason beside b.csv: %v", got)
	}
	if data, _ := os.ReadFile(why[0]); !strings.Contains(string(data), filepath.Join(cfg.InboxDir(), "b.csv")+": ") {
		t.Errorf("reason %q does not name the file as it was dropped", data)
	}
	if left, _ := e.claimedFiles(); len(left) != 0 {
		t.Errorf("left in processing/: %v", left)
	}
}

func TestOpen_StateDirIsLocked(t *testing.T) {
	_, cfg := newEngine(t, newFakeDir(), t0)
	_, err := Open(Options{Config: cfg, Rules: exampleRules(t), Directory: newFakeDir(), Layout: layout})
	if err == nil || !strings.Contains(err.Error(), "in use by another ldapsync") {
		t.Fatalf("second Open: %v", err)
	}
}

// Different people's operations run in parallel; a refusal by the directory
// fails that event alone.
func TestApplier_ParallelAndPermanentFailure(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	e.applier.Parallel = 4
	var data strings.Builder
	data.WriteString(header)
	for i := range 40 {
		data.WriteString(row(fmt.Sprintf("E%02d", i), fmt.Sprintf("NV%02d", i), "Lê Văn Tuấn", "ubnd_nh"))
	}
	drop(t, cfg, "a.csv", data.String())
	ingestAll(t, e)
	// The 3rd Lê Văn Tuấn gets tuanlv.nh; the directory refuses it for good.
	f.failOn["AddPerson "+personDN("tuanlv.nh")] = true
	f.failWith["AddPerson "+personDN("tuanlv.nh")] = fmt.Errorf("directory: add: %w", directory.ErrConflict)

	_, rep, err := e.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Done != 39 || rep.Refused != 1 || rep.Applied != 117 {
		t.Errorf("report %+v, want 39 done with 117 operations, 1 refused", rep)
	}
	if _, ok := f.people[personDN("tuanlv38.nh")]; !ok {
		t.Error("the 40th person, tuanlv38.nh, was not created")
	}
	checkLetters(t, cfg, f)
	if n := len(e.Journal().Pending()); n != 0 {
		t.Errorf("%d pending, want 0: the refused event is failed, not pending", n)
	}
	audit, _ := os.ReadFile(AuditPath(cfg))
	if !strings.Contains(string(audit), `"action":"refused"`) {
		t.Error("the refusal is not in the audit log")
	}
}

// An event the directory state refuses is set aside like a rejected row:
// in the input format with its reason, to be fixed and dropped back in.
func TestEngine_RefusedEventsAreSetAside(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"))
	drop(t, cfg, "b.jsonl", `{"event_id":"A1","type":"applications","effective":"`+effectiveISO+`","employee_id":"NV404","applications":"+baocao","requested_by":"Giám đốc"}`+"\n")
	ingestAll(t, e)
	if _, rep, err := e.Process(context.Background()); err != nil || rep.Refused != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	path := filepath.Join(cfg.InboxDir(), "rejected", refusedName(e))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"employee_id":"NV404"`) || !strings.Contains(string(data), `"error":"employee NV404 has no account"`) ||
		!strings.Contains(string(data), `"applications":"+baocao"`) {
		t.Fatalf("refused file:\n%s", data)
	}
	// The admin fixes the employee id and resubmits the same event.
	drop(t, cfg, "fixed.jsonl", strings.Replace(string(data), "NV404", "NV1", 1))
	ingestAll(t, e)
	if _, rep, err := e.Process(context.Background()); err != nil || rep.Done != 1 || rep.Refused != 0 {
		t.Fatalf("resubmitted: %+v %v", rep, err)
	}
	if p := f.people[personDN("quoctrang")]; !slices.Contains(p.Groups, "baocao") {
		t.Errorf("groups %v after the fixed event", p.Groups)
	}
}

// Two events for one person in one file: the second waits for the first's
// group changes, and Process goes round again for it, in the same call.
func TestEngine_SeveralEventsForOnePerson(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+row("E2", "NV1", "Nguyễn Quốc Trạng", "sotttt"))
	drop(t, cfg, "b.jsonl", `{"event_id":"A1","type":"applications","effective":"`+effectiveISO+`","employee_id":"nv1","applications":"-eoffice;+baocao"}`+"\n")
	ingestAll(t, e)
	_, rep, err := e.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Journal().Pending()); n != 0 || rep.Done != 3 {
		t.Fatalf("pending %d, report %+v; want all 3 events done in one Process", n, rep)
	}
	p := f.people[personDN("quoctrang")]
	// Pending, outside the active group, until the first password is
	// changed.
	if len(f.people) != 1 || strings.Join(p.Groups, ",") != "baocao,mail" || p.Active || p.Status != rules.StatusPending {
		t.Errorf("people %d, groups %v active %v status %s", len(f.people), p.Groups, p.Active, p.Status)
	}
	if n := f.calls["SetPassword "+personDN("quoctrang")]; n != 1 {
		t.Errorf("first password set %d times, want once", n)
	}
}

// A connection the directory will not let ldapsync use (its password was
// rotated) says nothing about the events: they wait, none is refused.
func TestEngine_ServiceBindFailureKeepsEventsPending(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+row("E2", "NV2", "Lê Văn Tuấn", "sotttt"))
	ingestAll(t, e)
	f.failOn["AddPerson "+personDN("quoctrang")] = true
	f.failWith["AddPerson "+personDN("quoctrang")] = fmt.Errorf("directory: bind: %w: LDAP Result Code 49", rules.ErrConnect)
	_, rep, err := e.Process(context.Background())
	if !errors.Is(err, rules.ErrConnect) || rep.Refused != 0 {
		t.Fatalf("err %v report %+v; want the run stopped, nothing refused", err, rep)
	}
	if n := len(e.Journal().Pending()); n != 2 {
		t.Errorf("pending %d, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.InboxDir(), "rejected", refusedName(e))); !os.IsNotExist(err) {
		t.Error("events were set aside as refused")
	}
}

// A password the directory refuses for good was never set: its letter is
// voided, so no unit receives a password that does not work.
func TestEngine_VoidsTheLetterOfARefusedPassword(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)
	f.failOn["SetPassword "+personDN("quoctrang")] = true
	f.failWith["SetPassword "+personDN("quoctrang")] = fmt.Errorf("directory: set password: %w", directory.ErrAccountLocked)
	_, rep, err := e.Process(context.Background())
	if err != nil || rep.Refused != 1 {
		t.Fatalf("err %v report %+v", err, rep)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.Letters(), "sotttt", "*.txt")); len(m) != 0 {
		t.Errorf("letters left: %v", m)
	}
	refused, _ := os.ReadFile(filepath.Join(cfg.InboxDir(), "rejected", refusedName(e)))
	if !strings.Contains(string(refused), "its letter was voided") {
		t.Errorf("refused file:\n%s", refused)
	}
}

// A hire delivered twice in one batch: the second is satisfied by the
// first's operations, so it is done only once they succeed. When the
// directory refuses the first for good, the second is planned again on its
// own, and the person gets an account.
func TestEngine_SecondHireWaitsForTheFirst(t *testing.T) {
	f := newFakeDir()
	e, cfg := newEngine(t, f, t0)
	drop(t, cfg, "a.csv", header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+row("E2", "NV1", "Nguyễn Quốc Trạng", "sotttt"))
	ingestAll(t, e)
	f.failOn["AddPerson "+personDN("quoctrang")] = true
	f.failWith["AddPerson "+personDN("quoctrang")] = fmt.Errorf("fake: refused: %w", directory.ErrConflict)
	_, rep, err := e.Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Refused != 1 || rep.Done != 1 {
		t.Errorf("report %+v, want E1 refused and E2 done", rep)
	}
	if _, ok := f.people[personDN("quoctrang")]; !ok {
		t.Fatal("E2 was marked done without an account: it was resolved before the operations that satisfied it ran")
	}
	audit, _ := os.ReadFile(AuditPath(cfg))
	if !strings.Contains(string(audit), `"action":"create","intent":`) || !strings.Contains(string(audit), `"event_id":"E2"`) {
		t.Errorf("E2's own create is not in the audit log:\n%s", audit)
	}
}
