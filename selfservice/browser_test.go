package selfservice_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/internal/syncbuf"
	"github.com/ldapsync/ldapsync/rules"
	"github.com/ldapsync/ldapsync/selfservice"
	ldapsync "github.com/ldapsync/ldapsync/sync"
)

// EnvUpdateScreenshot, set to 1, makes TestPage_Browser write the
// README's screenshot of the page, docs/password-page.png.
const EnvUpdateScreenshot = "UPDATE_SCREENSHOT"

// chromium returns the path of a Chromium or Chrome to drive. When there is
// none it skips t, or fails it under CI=true, so that CI never passes by
// skipping.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium installed (apt-get install chromium); CI=true, so this is a failure")
	}
	t.Skip("no chromium installed (apt-get install chromium); skipping")
	return ""
}

// A person changes their first password in a real browser, on the page
// served against a real slapd: the page refuses a wrong current password
// and each rule of NT 7 and BTC 5 in both languages, then makes the
// change, after which the new password binds, pwdReset is gone, and the
// daemon's check puts the account in the active group.
func TestPage_Browser(t *testing.T) {
	browser := chromium(t)
	srv := slapdtest.New(t, slapdtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	logs := &syncbuf.Buffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	dcfg := srv.Config()
	dir, err := directory.Dial(ctx, dcfg, log.With().Str("component", "directory").Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	rcfg := rules.DefaultConfig()
	rcfg.Units = []*rules.Unit{{Name: "Sở Thông tin và Truyền thông", Kind: rules.KindDepartment, Abbr: "sotttt"}}
	rs, errs := rules.New(rcfg, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := dir.EnsureTree(ctx, rs); err != nil {
		t.Fatal(err)
	}
	const uid = "tuanlv"
	first, next, wrong := "Xk7#mPq2@vRt9w", "Nw4$hTr8#pLq2z", "Wrong#Pass-123"
	if err := dir.CreatePerson(ctx, rules.Account{UID: uid, EmployeeID: "NV-0100", CN: "Lê Văn Tuấn", SN: "Lê", Unit: "sotttt"}); err != nil {
		t.Fatal(err)
	}
	dn := dcfg.PersonDN(uid)
	// As a hire leaves it: pending, its first password issued for an event.
	if err := dir.SetPassword(ctx, dn, secret.New(first), "inbox/HIRE-0100"); err != nil {
		t.Fatal(err)
	}
	passwords := []string{first, next, wrong}

	var profile atomic.Pointer[rules.PasswordProfile]
	setProfile := func(name string) {
		p := rs.Config.Password.Profiles[name]
		profile.Store(&p)
	}
	setProfile("nt7")
	page := selfservice.New(selfservice.Config{PerSourceRate: 600, PerSourceBurst: 100}, dir,
		func() rules.PasswordProfile { return *profile.Load() }, log.With().Str("component", "password_page").Logger())
	web := httptest.NewServer(page)
	defer web.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(900, 1200))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// submit fills in a fresh form and sends it; it returns the answer's
	// status and the text of its message box.
	submit := func(t *testing.T, current, newPW, confirm string) (int64, string) {
		t.Helper()
		if err := chromedp.Do(bctx,
			chromedp.Navigate(web.URL+"/password"),
			chromedp.SendKeys(chromedp.ID("username"), uid),
			chromedp.SendKeys(chromedp.ID("current"), current),
			chromedp.SendKeys(chromedp.ID("new"), newPW),
			chromedp.SendKeys(chromedp.ID("confirm"), confirm),
		); err != nil {
			t.Fatal(err)
		}
		resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		if err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".alert")))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status, text
	}

	tests := []struct {
		name, profile, current, new, confirm string
		status                               int64
		want                                 []string
	}{
		{"wrong current password", "nt7", wrong, next, next, http.StatusUnprocessableEntity, []string{
			"Tên đăng nhập hoặc mật khẩu hiện tại không đúng", "The username or the current password is wrong"}},
		{"mismatch", "nt7", first, next, next + "x", http.StatusUnprocessableEntity, []string{
			"Hai lần nhập mật khẩu mới không giống nhau", "The two new passwords are not the same"}},
		{"nt7 too short", "nt7", first, "Ab3#efg", "", http.StatusUnprocessableEntity, []string{
			"phải dài ít nhất 8 ký tự", "must be at least 8 characters long"}},
		{"nt7 missing a class", "nt7", first, "Abcdefg1", "", http.StatusUnprocessableEntity, []string{
			"còn thiếu: ký tự đặc biệt", "it lacks a special character"}},
		{"nt7 password1", "nt7", first, "password1", "", http.StatusUnprocessableEntity, []string{
			"phải có đủ chữ in hoa, chữ thường, chữ số và ký tự đặc biệt", "còn thiếu: chữ in hoa, ký tự đặc biệt",
			"must contain upper-case letters, lower-case letters, digits and special characters", "it lacks an upper-case letter, a special character"}},
		{"btc5 too short", "btc5", first, "Ab3efg", "", http.StatusUnprocessableEntity, []string{
			"phải dài ít nhất 8 ký tự", "must be at least 8 characters long"}},
		{"btc5 missing classes", "btc5", first, "abcdefgh", "", http.StatusUnprocessableEntity, []string{
			"ít nhất 3 trong 4 loại", "hiện chỉ có 1 loại", "at least 3 of the 4 kinds", "it has 1"}},
		{"btc5 password1", "btc5", first, "password1", "", http.StatusUnprocessableEntity, []string{
			"hiện chỉ có 2 loại (thiếu: chữ in hoa, ký tự đặc biệt)", "it has 2 (it lacks an upper-case letter, a special character)"}},
		{"btc5 part of the account name", "btc5", first, "Tuan#2026x", "", http.StatusUnprocessableEntity, []string{
			"không được chứa 3 ký tự liên tiếp nào của tên đăng nhập", "must not contain 3 or more consecutive characters of the username"}},
		{"new equals current", "btc5", first, first, "", http.StatusUnprocessableEntity, []string{
			"Mật khẩu mới phải khác mật khẩu hiện tại", "The new password must differ from the current one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setProfile(tt.profile)
			passwords = append(passwords, tt.new)
			confirm := tt.confirm
			if confirm == "" {
				confirm = tt.new
			}
			status, text := submit(t, tt.current, tt.new, confirm)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the message lacks %q:\n%s", w, text)
				}
			}
			if tt.name == "nt7 password1" && os.Getenv(EnvUpdateScreenshot) == "1" {
				png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile("../docs/password-page.png", png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The browser got back the username, never a password.
			for _, id := range []string{"current", "new", "confirm"} {
				v, err := chromedp.Run(bctx, chromedp.Value(chromedp.ID(id)))
				if err != nil || v != "" {
					t.Errorf("field %s holds %q after the answer (%v)", id, v, err)
				}
			}
			if v, err := chromedp.Run(bctx, chromedp.Value(chromedp.ID("username"))); err != nil || v != uid {
				t.Errorf("username field %q (%v)", v, err)
			}
		})
	}
	if res, err := dir.Bind(ctx, dn, secret.New(first)); err != nil || !res.MustChange {
		t.Fatalf("after the refusals the first password binds with MustChange: %+v %v", res, err)
	}

	t.Run("good change", func(t *testing.T) {
		setProfile("nt7")
		status, text := submit(t, first, next, next)
		if status != http.StatusOK {
			t.Errorf("status %d", status)
		}
		for _, w := range []string{"Đã đổi mật khẩu", "tất cả các ứng dụng", "Your password has been changed", "active for all applications"} {
			if !strings.Contains(text, w) {
				t.Errorf("the message lacks %q:\n%s", w, text)
			}
		}
	})
	res, err := dir.Bind(ctx, dn, secret.New(next))
	if err != nil || res.MustChange {
		t.Errorf("bind with the new password: %+v %v; want success without MustChange", res, err)
	}
	found, err := dir.FindPeople(ctx, directory.ByUID, uid)
	if err != nil || len(found) != 1 || found[0].MustChange || found[0].Active || found[0].Status != rules.StatusPending {
		t.Errorf("after the change: %+v %v; want pwdReset gone, still pending until the daemon sees it", found, err)
	}

	// The daemon's check (sync.activation.poll) lets the account into the
	// active group that applications filter on.
	scfg := ldapsync.DefaultConfig()
	scfg.StateDir = t.TempDir()
	eng, err := ldapsync.Open(ldapsync.Options{Config: scfg, Rules: rs, Directory: dir, Log: log,
		Layout: ldapsync.Layout{PersonDN: dcfg.PersonDN, ActiveGroup: dcfg.ActiveGroup}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if n, err := eng.Activations(ctx); err != nil || n != 1 {
		t.Fatalf("activations after the change: %d %v", n, err)
	}
	found, err = dir.FindPeople(ctx, directory.ByUID, uid)
	if err != nil || len(found) != 1 || !found[0].Active || found[0].Status != rules.StatusActive {
		t.Errorf("after the daemon's check: %+v %v; want active, in cn=%s", found, err, dcfg.ActiveGroup)
	}

	out := logs.String()
	for _, pw := range passwords {
		if strings.Contains(out, pw) {
			t.Errorf("a password appears in the log:\n%s", out)
		}
	}
	for _, w := range []string{`"uid":"tuanlv"`, `"outcome":"invalid_credentials"`, `"outcome":"rules:classes"`, `"outcome":"changed"`} {
		if !strings.Contains(out, w) {
			t.Errorf("the log lacks %s:\n%s", w, out)
		}
	}
}
