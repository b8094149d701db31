package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ldapsync/ldapsync/api"
	"github.com/ldapsync/ldapsync/directory/slapdtest"
	"github.com/ldapsync/ldapsync/internal/secret"
	"github.com/ldapsync/ldapsync/sync"
)

// HR's records through the network API reach the journal of a real engine
// on a real slapd: valid ones journaled under the source "api", invalid
// ones answered with their problems, and a unit-scoped token's record for
// another unit refusing the whole request.
func TestAPI_SubmitEvents(t *testing.T) {
	srv := slapdtest.New(t, slapdtest.Options{})
	cfgPath, _ := harnessConfig(t, srv)
	l, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), l.Cfg.Directory, zerolog.Nop(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eng, err := sync.Open(sync.Options{Config: l.Cfg.Sync, Rules: l.Rules, Directory: c, Layout: layout(l.Cfg.Directory), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.EnsureTree(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LDAPSYNC_TEST_HR", "hr-token-0123456789")
	t.Setenv("LDAPSYNC_TEST_HR_SOTTTT", "hr-sotttt-token-0123456789")
	cfg := api.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Tokens = []api.TokenConfig{
		{Name: "hr", Source: secret.Source{Env: "LDAPSYNC_TEST_HR"}, Role: api.RoleHR},
		{Name: "hr-sotttt", Source: secret.Source{Env: "LDAPSYNC_TEST_HR_SOTTTT"}, Role: api.RoleHR, Units: []string{"sotttt"}},
	}
	s, err := api.NewServer(cfg, eng, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	post := func(token, body string) (int, sync.SubmitEventsResult) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+s.Addr().String()+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res sync.SubmitEventsResult
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, res
	}
	hire := `{"event_id":"API-1","type":"hire","effective":"2026-11-02","employee_id":"NT-009001","full_name":"Nguyễn Văn An","unit":"sotttt","title":"Chuyên viên","phone":"0259 3824 101","applications":["mail"],"reply_name":"Trần Thị Mai","reply_unit":"Văn phòng Sở","reply_mail":"vanphong.sotttt@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc Sở"}`
	bad := `{"event_id":"API-2","type":"hire","effective":"2026-13-45","employee_id":"NT-009002","unit":"sotttt"}`
	code, res := post("hr-sotttt-token-0123456789", "["+hire+","+bad+"]")
	if code != http.StatusOK || res.Accepted != 1 || res.Rejected != 1 || len(res.Records) != 2 {
		t.Fatalf("submit: %d %+v", code, res)
	}
	if r := res.Records[0]; r.Line != 1 || r.Status != sync.RecordAccepted || r.EventID != "API-1" {
		t.Errorf("first record: %+v", r)
	}
	if r := res.Records[1]; r.Line != 2 || r.Status != sync.RecordRejected || len(r.Problems) == 0 {
		t.Errorf("second record: %+v", r)
	}
	if _, _, ok := eng.Journal().Lookup(sync.SourceAPI + "/API-1"); !ok {
		t.Error("the accepted record is not in the journal")
	}
	// Again: a duplicate.
	if code, res := post("hr-token-0123456789", hire); code != http.StatusOK || res.Duplicates != 1 {
		t.Errorf("resubmit: %d %+v", code, res)
	}
	// A scoped token's record for another unit: nothing journaled.
	other := `{"event_id":"API-3","type":"hire","effective":"2026-11-02","employee_id":"NT-009003","full_name":"Lê Thị Bình","unit":"ubnd_nh","title":"Chuyên viên","phone":"0259 3824 101","applications":["mail"],"reply_name":"Trần Thị Mai","reply_unit":"Văn phòng Sở","reply_mail":"vanphong.sotttt@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc Sở"}`
	mine := `{"event_id":"API-4","type":"hire","effective":"2026-11-02","employee_id":"NT-009004","full_name":"Lê Thị Cúc","unit":"sotttt","title":"Chuyên viên","phone":"0259 3824 101","applications":["mail"],"reply_name":"Trần Thị Mai","reply_unit":"Văn phòng Sở","reply_mail":"vanphong.sotttt@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc Sở"}`
	code, res = post("hr-sotttt-token-0123456789", mine+"\n"+other+"\n")
	if code != http.StatusForbidden || res.Forbidden != 1 || res.Records[0].Line != 2 {
		t.Errorf("out of scope: %d %+v", code, res)
	}
	for _, id := range []string{"API-3", "API-4"} {
		if _, _, ok := eng.Journal().Lookup(sync.SourceAPI + "/" + id); ok {
			t.Errorf("%s journaled from a refused request", id)
		}
	}
}
