package sync

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/sys/unix"

	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/rules"
)

// Letters writes sealed credential letters: one file per issued password,
// mode 0600, in a directory per unit, mode 0700, encrypted with age when
// the unit has recipients (rules.Unit.AgeRecipients). The first password
// is written nowhere else (BTC 4: "phong bì có dấu mật").
type Letters struct {
	Dir string
	// PageURL is the address of the self-service password page as users
	// reach it (api.password_page.url), printed in every letter; "" for
	// none.
	PageURL string
}

// Letter is what a credential letter says.
type Letter struct {
	Issued   time.Time
	Event    *Event
	UID      string
	Mail     string
	FullName string
	Unit     *rules.Unit
	Password secret.Secret
	Profile  rules.PasswordProfile
}

// Letter field labels; ReadLetter finds the values by them.
const (
	labelUID      = "Tên tài khoản:"
	labelPassword = "Mật khẩu lần đầu:"
)

var letterTmpl = template.Must(template.New("letter").Funcs(template.FuncMap{
	"classes": describeProfile,
}).Parse(`MẬT
THƯ CẤP TÀI KHOẢN TRUY CẬP CÁC ỨNG DỤNG DÙNG CHUNG
(Sealed credential letter: hand it to the addressee only.)

Kính gửi:       {{.Event.Reply.Name}}{{with .Event.Reply.Unit}} — {{.}}{{end}}
{{- with .Event.Reply.Mail}}
Thư điện tử:    {{.}}{{end}}
{{- with .Event.Reply.Phone}}
Điện thoại:     {{.}}{{end}}

Theo đề nghị của {{or .Event.RequestedBy "(không ghi)"}} (mã {{.Event.ID}}, hiệu lực {{.Event.Effective}}),
tài khoản sau đã được cấp:

  Họ và tên:         {{.FullName}}
  Mã cán bộ:         {{.Event.EmployeeID}}
  Đơn vị:            {{.Unit.Name}} ({{.Unit.Account}})
{{- with .Event.Title}}
  Chức vụ:           {{.}}{{end}}
  ` + labelUID + `     {{.UID}}
  Thư điện tử:       {{.Mail}}
  ` + labelPassword + ` {{.Password.Reveal}}

Mật khẩu trên chỉ dùng cho lần đăng nhập đầu tiên: hệ thống yêu cầu đổi mật
khẩu ngay khi đăng nhập. Mật khẩu mới {{classes .Profile}}.
{{- with .PageURL}}

Nếu ứng dụng không yêu cầu đổi mật khẩu, đổi mật khẩu tại: {{.}}
(If your application does not ask you to change it, change it at: {{.}})
Tài khoản chỉ dùng được với tất cả các ứng dụng sau khi đã đổi mật khẩu lần đầu.
(The account is enabled for all applications only after this first change.)
{{end}}
Không cho người khác biết mật khẩu; bảo quản thư này theo chế độ "Mật" và
hủy thư sau khi đã đổi mật khẩu.

Cấp lúc {{.Issued.Format "15:04 ngày 02/01/2006"}} bởi ldapsync.
`))

// letterPage is what the letter template renders: the letter, and the
// address of the password page (Letters.PageURL).
type letterPage struct {
	Letter
	PageURL string
}

// describeProfile says in Vietnamese what a password must be.
func describeProfile(p rules.PasswordProfile) string {
	s := fmt.Sprintf("phải dài ít nhất %d ký tự", p.MinLength)
	specials := "ký tự đặc biệt"
	if p.Specials != "" {
		specials += " (" + strings.Join(strings.Split(p.Specials, ""), " ") + ")"
	}
	switch {
	case p.MinClasses >= 4:
		s += ", gồm chữ in hoa, chữ thường, chữ số và " + specials
	case p.MinClasses > 0:
		s += fmt.Sprintf(", gồm ít nhất %d trong 4 loại: chữ in hoa, chữ thường, chữ số, %s", p.MinClasses, specials)
	}
	if p.UsernamePart > 0 {
		s += ", và không chứa một phần tên tài khoản"
	}
	if p.History > 0 {
		s += "; phải khác mật khẩu cũ"
	}
	return s
}

// Letter file extensions: a plain letter, and one encrypted with age.
const (
	plainExt     = ".txt"
	encryptedExt = ".txt.age"
)

// base returns the letter's path without its extension: a directory per
// unit, one file per account and event, so a replay after a crash rewrites
// the same letter instead of leaving two.
func (l *Letters) base(unit, uid string, ev *Event) string {
	id := strings.NewReplacer("/", "_", ":", "_").Replace(ev.ID)
	return filepath.Join(l.Dir, unit, uid+"_"+id)
}

// Path returns where the letter for uid issued for event is:
// <unit>/<uid>_<event>.txt.age when it was encrypted, .txt when not. It
// looks at the letters directory, because whether a letter is encrypted
// depends on the unit's recipients when it was written; for a letter not
// written (yet), it returns the .txt path. PathFor says where Write would
// put it.
func (l *Letters) Path(unit, uid string, ev *Event) string {
	b := l.base(unit, uid, ev)
	if _, err := os.Lstat(b + encryptedExt); err == nil {
		return b + encryptedExt
	}
	return b + plainExt
}

// PathFor returns where Write puts the letter for uid issued for event in
// unit u: .txt.age when u has age recipients (its own or inherited), .txt
// when not.
func (l *Letters) PathFor(u *rules.Unit, uid string, ev *Event) string {
	b := l.base(u.Account(), uid, ev)
	if len(u.LetterRecipients()) > 0 {
		return b + encryptedExt
	}
	return b + plainExt
}

// Write writes the letter atomically (temporary file, fsync, rename) and
// returns its path. When the unit has age recipients (Unit.LetterRecipients)
// the letter is encrypted to them in memory and only the ciphertext reaches
// the disk. A letter of the same account and event in the other form (the
// recipients changed between a crash and its replay) is removed, so the
// unit keeps one letter, the one whose password is set.
func (l *Letters) Write(lt Letter) (string, error) {
	return l.write(lt, true)
}

// WriteUnsynced is Write without making the letter durable: the caller
// writes many, then makes them all durable with one Sync, before any of
// their passwords is set.
func (l *Letters) WriteUnsynced(lt Letter) (string, error) {
	return l.write(lt, false)
}

// Sync makes every letter written so far durable, with one syncfs(2) of
// the file system that holds the letters directory: one flush for a whole
// batch instead of two per letter.
func (l *Letters) Sync() error {
	d, err := os.Open(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no letter written yet
	}
	if err != nil {
		return fmt.Errorf("letters: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("letters: syncfs %s: %w", l.Dir, err)
	}
	return nil
}

func (l *Letters) write(lt Letter, durable bool) (string, error) {
	var buf bytes.Buffer
	defer func() { b := buf.Bytes(); clear(b[:cap(b)]) }() // the password
	if err := letterTmpl.Execute(&buf, letterPage{Letter: lt, PageURL: l.PageURL}); err != nil {
		return "", fmt.Errorf("letter: %w", err)
	}
	data := buf.Bytes()
	path, stale := l.PathFor(lt.Unit, lt.UID, lt.Event), ""
	if recips := lt.Unit.LetterRecipients(); len(recips) > 0 {
		var enc bytes.Buffer
		w, err := age.Encrypt(&enc, recips...)
		if err != nil {
			return "", fmt.Errorf("letter for %s: encrypt: %w", lt.UID, err)
		}
		if _, err := w.Write(data); err != nil {
			return "", fmt.Errorf("letter for %s: encrypt: %w", lt.UID, err)
		}
		if err := w.Close(); err != nil {
			return "", fmt.Errorf("letter for %s: encrypt: %w", lt.UID, err)
		}
		data, stale = enc.Bytes(), strings.TrimSuffix(path, encryptedExt)+plainExt
	} else {
		stale = strings.TrimSuffix(path, plainExt) + encryptedExt
	}
	dir := filepath.Dir(path)
	for _, d := range []string{l.Dir, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("letter: %w", err)
		}
		// MkdirAll leaves an existing directory's mode alone; a letters
		// directory readable by others is not sealed.
		if err := os.Chmod(d, 0o700); err != nil {
			return "", fmt.Errorf("letter: %w", err)
		}
	}
	if err := placeFile(path, data, 0o600, durable); err != nil {
		return "", fmt.Errorf("letter: %w", err)
	}
	switch err := os.Remove(stale); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("letter: remove the superseded %s: %w", stale, err)
	case durable:
		if err := syncDir(dir); err != nil {
			return "", fmt.Errorf("letter: %w", err)
		}
	}
	return path, nil
}

// ReadLetter returns the account name and first password a plain letter
// holds. An encrypted letter needs ReadLetterWith and an identity.
func ReadLetter(path string) (uid string, pw secret.Secret, err error) {
	return ReadLetterWith(path)
}

// ReadLetterWith returns the account name and first password a letter
// holds, decrypting it with one of ids when it is encrypted with age
// (binary or armored). A plain letter needs no identity.
func ReadLetterWith(path string, ids ...age.Identity) (uid string, pw secret.Secret, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", secret.Secret{}, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	switch head, _ := br.Peek(len(armor.Header)); {
	case bytes.HasPrefix(head, []byte(ageMagic)), bytes.Equal(head, []byte(armor.Header)):
		if len(ids) == 0 {
			return "", secret.Secret{}, fmt.Errorf("letter %s is encrypted with age: an identity is needed to read it", path)
		}
		if bytes.Equal(head, []byte(armor.Header)) {
			r = armor.NewReader(br)
		}
		if r, err = age.Decrypt(r, ids...); err != nil {
			return "", secret.Secret{}, fmt.Errorf("letter %s: %w", path, err)
		}
	}
	uid, pw, err = parseLetter(r)
	if err != nil {
		return "", secret.Secret{}, fmt.Errorf("letter %s: %w", path, err)
	}
	return uid, pw, nil
}

// ageMagic starts every binary age file.
const ageMagic = "age-encryption.org/"

// parseLetter finds the account name and password in a letter's text by
// their labels.
func parseLetter(r io.Reader) (uid string, pw secret.Secret, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, labelUID); ok {
			uid = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, labelPassword); ok {
			pw = secret.New(strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return "", secret.Secret{}, err
	}
	if uid == "" || pw.IsZero() {
		return "", secret.Secret{}, errors.New("no account or password in it")
	}
	return uid, pw, nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so a reader sees the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return placeFile(path, data, perm, true)
}

// placeFile writes data to path through a temporary file renamed into
// place, so a reader never sees half of it; durable fsyncs the file and
// its directory before it returns.
func placeFile(path string, data []byte, perm os.FileMode, durable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if !durable {
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), path)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
