package sync

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestFoldHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Họ và tên", "ho va ten"},
		{"  HỌ VÀ TÊN (*):", "ho va ten"},
		{"Ho_va_ten", "ho va ten"},
		{"Họ  và\u00a0tên", "ho va ten"},
		{"\ufeffMã cán bộ", "ma can bo"},
		{"Hủy sự kiện", "huy su kien"},
		{"Huỷ sự kiện", "huy su kien"},
		{"Đơn vị", "don vi"},
		{"Full Name", "full name"},
		{"full_name", "full name"},
		{"Số ĐT 2", "so dt 2"},
		{"---", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := foldHeader(tt.in); got != tt.want {
				t.Errorf("foldHeader(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHeaderMap_Validate(t *testing.T) {
	tests := []struct {
		name string
		m    HeaderMap
		want []string
	}{
		{"default", DefaultHeaders(), nil},
		{"empty", HeaderMap{}, nil},
		{"a column's own name, for itself", HeaderMap{"Full name": FieldFullName}, nil},
		{"roster columns", HeaderMap{"Tài khoản": "username", "E-mail": "mail"}, nil},
		{
			"not a column",
			HeaderMap{"Họ tên": "fullname", "Lỗi": "error"},
			[]string{
				`sync.inbox.headers.Họ tên: "fullname" is not a column: want one of event_id, type,`,
				`sync.inbox.headers.Lỗi: "error" is not a column`,
			},
		},
		{
			"two texts, one header",
			HeaderMap{"Họ và tên": FieldFullName, "HO VA TEN:": FieldFamilyName},
			[]string{`sync.inbox.headers.Họ và tên: is the same header as "HO VA TEN:" once case, marks and punctuation are ignored`},
		},
		{
			"a column's name for another",
			HeaderMap{"Unit": FieldTitle},
			[]string{"sync.inbox.headers.Unit: is the name of the column unit; it cannot stand for title"},
		},
		{"no letter", HeaderMap{"(*)": FieldUnit}, []string{"sync.inbox.headers.(*): names no header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.m.Validate("sync.inbox.headers")
			if len(errs) != len(tt.want) {
				t.Fatalf("errors:\n%v\nwant %d", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, w) {
					t.Errorf("error %d =\n  %s\nwant prefix\n  %s", i, got, w)
				}
			}
		})
	}
}

// A header map in the config replaces the default; its problems are
// config errors under their YAML path.
func TestConfig_Headers(t *testing.T) {
	decode := func(t *testing.T, doc string) Config {
		t.Helper()
		c := DefaultConfig()
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := decode(t, "inbox:\n  headers:\n    Họ tên: full_name\n")
	if !reflect.DeepEqual(c.Inbox.Headers, HeaderMap{"Họ tên": FieldFullName}) {
		t.Errorf("headers = %v, want the config's map alone", c.Inbox.Headers)
	}
	if errs := c.Validate("sync"); len(errs) > 0 {
		t.Errorf("valid map: %v", errs)
	}
	if c := decode(t, "state_dir: /x\n"); !reflect.DeepEqual(c.Inbox.Headers, DefaultHeaders()) {
		t.Errorf("headers = %v, want the default", c.Inbox.Headers)
	}
	c = decode(t, "inbox:\n  headers:\n    Họ tên: ho_ten\n")
	errs := c.Validate("sync")
	if len(errs) != 1 || errs[0].Path != "sync.inbox.headers.Họ tên" || !strings.Contains(errs[0].Msg, `"ho_ten" is not a column`) {
		t.Errorf("errors = %v", errs)
	}
	var te *yaml.TypeError
	c = DefaultConfig()
	if err := yaml.Unmarshal([]byte("inbox:\n  headers: [full_name]\n"), &c); !errors.As(err, &te) || !strings.Contains(err.Error(), "line 2: want a mapping") {
		t.Errorf("a list: %v", err)
	}
}

// vietHeader is header as Vietnamese HR exports write it.
const vietHeader = "Mã sự kiện,Loại,Ngày hiệu lực,Mã cán bộ,Họ và tên,Đơn vị,Chức vụ,Số điện thoại,Ứng dụng," +
	"Người nhận kết quả,Đơn vị nhận kết quả,Thư điện tử nhận kết quả,Điện thoại nhận kết quả,Người đề nghị\n"

func TestParse_VietnameseHeaders(t *testing.T) {
	r := exampleRules(t)
	rows := row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt") + row("E2", "NV2", "Đàng Năng Thọ", "ubnd_phuochai") +
		row("E3", "NV3", "Lê Văn Tuấn", "vhtt_ns")
	want, err := Parse("in.csv", []byte(header+rows), SourceInbox, r, t0)
	if err != nil || len(want.Events) != 3 {
		t.Fatalf("canonical: %v %v", err, want.Rejected)
	}
	tests := []struct {
		name, data string
		opts       []ParseOption
		warnings   []string
	}{
		{name: "default map", data: vietHeader + rows},
		// TCVN3 has no Ứ: the header says ứng dụng, which folds alike.
		{name: "in TCVN3", data: string(encode(t, "TCVN3", strings.Replace(vietHeader, "Ứng", "ứng", 1)+rows)), warnings: []string{`file is not UTF-8; read as TCVN3 (save as "CSV UTF-8" to avoid this)`}},
		{name: "in VNI", data: string(encode(t, "VNI", vietHeader+rows)), warnings: []string{`file is not UTF-8; read as VNI (save as "CSV UTF-8" to avoid this)`}},
		{
			name: "as Excel writes it: capitals, stray spaces and marks, an unknown column",
			data: "STT;" + strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(strings.ToUpper(vietHeader), "HỌ VÀ TÊN", " Họ  và tên (*)"), "MÃ CÁN BỘ", "Ma can bo:"), ",", ";") +
				strings.ReplaceAll("1,"+strings.ReplaceAll(strings.ReplaceAll(rows, "mail;eoffice", `"mail;eoffice"`), "\nE", "\n2,E"), ",", ";"),
			warnings: []string{"ignored unknown columns: STT"},
		},
		{
			name:     "configured map",
			data:     strings.Replace(vietHeader, "Họ và tên", "Tên cán bộ", 1) + rows,
			opts:     []ParseOption{WithHeaders(HeaderMap{"Mã sự kiện": FieldEventID, "Loại": FieldType, "Ngày hiệu lực": FieldEffective, "Mã cán bộ": FieldEmployeeID, "Tên cán bộ": FieldFullName})},
			warnings: []string{"ignored unknown columns: Đơn vị, Chức vụ, Số điện thoại, Ứng dụng, Người nhận kết quả, Đơn vị nhận kết quả, Thư điện tử nhận kết quả, Điện thoại nhận kết quả, Người đề nghị"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("in.csv", []byte(tt.data), SourceInbox, r, t0, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Warnings, tt.warnings) {
				t.Errorf("warnings = %q, want %q", b.Warnings, tt.warnings)
			}
			if tt.opts != nil {
				// Only the mapped columns: the events lack the rest.
				if len(b.Events) != 0 || len(b.Rejected) != 3 || !strings.Contains(b.Rejected[0].Error(), "unit: required for hire") {
					t.Fatalf("events %d, rejected %v", len(b.Events), b.Rejected)
				}
				if n := b.Rejected[0].Record.Values[FieldFullName]; n != "Nguyễn Quốc Trạng" {
					t.Errorf("full_name = %q", n)
				}
				return
			}
			if !reflect.DeepEqual(b.Events, want.Events) {
				t.Errorf("events:\n  %+v\nwant\n  %+v (rejected %v)", b.Events, want.Events, b.Rejected)
			}
		})
	}
}

// An unknown Vietnamese header is ignored with a warning; two headers for
// one column are a header error.
func TestParse_VietnameseHeaderErrors(t *testing.T) {
	r := exampleRules(t)
	data := strings.TrimSuffix(vietHeader, "\n") + ",Ghi chú\n" + strings.TrimSuffix(row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt"), "\n") + ",chuyển từ Sở Nội vụ\n"
	b, err := Parse("in.csv", []byte(data), SourceInbox, r, t0)
	if err != nil || len(b.Events) != 1 || !reflect.DeepEqual(b.Warnings, []string{"ignored unknown columns: Ghi chú"}) {
		t.Fatalf("%v, events %d, warnings %q, rejected %v", err, len(b.Events), b.Warnings, b.Rejected)
	}
	for _, tt := range []struct{ header, want string }{
		{strings.Replace(vietHeader, "Chức vụ", "Họ tên", 1), `header: "Họ và tên" and "Họ tên" both stand for the column full_name`},
		{strings.Replace(vietHeader, "Chức vụ", "full_name", 1), `header: "Họ và tên" and "full_name" both stand for the column full_name`},
		{strings.Replace(vietHeader, "Mã cán bộ", "Mã CB", 1), "header: missing column employee_id"},
	} {
		_, err := Parse("in.csv", []byte(tt.header+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")), SourceInbox, r, t0)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want a FileError with %q", err, tt.want)
		}
	}
}

// Rejected rows go back under the header as HR wrote it, and the fixed
// file reads again.
func TestParse_VietnameseHeaderRejectedRoundTrip(t *testing.T) {
	r := exampleRules(t)
	in := strings.ReplaceAll(vietHeader+row("E1", "NV1", "Nguyễn Quốc Trạng", "sotttt")+row("E2", "", "Lê Văn Tuấn", "sotttt"), "mail;eoffice", "mail")
	b, err := Parse("in.csv", []byte(in), SourceInbox, r, t0)
	if err != nil || len(b.Rejected) != 1 {
		t.Fatalf("%v %v", err, b.Rejected)
	}
	if got := b.Rejected[0].Error(); !strings.HasPrefix(got, "in.csv:3: employee_id: required") {
		t.Errorf("rejection = %s", got)
	}
	var out bytes.Buffer
	if err := b.WriteRejected(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.HasPrefix(text, "\ufefferror,"+strings.TrimSuffix(vietHeader, "\n")+"\r\n") {
		t.Fatalf("rejected file:\n%s", text)
	}
	fixed := strings.Replace(text, ",E2,hire,"+effectiveISO+",,", ",E2,hire,"+effectiveISO+",NV2,", 1)
	b2, err := Parse("fixed.csv", []byte(fixed), SourceInbox, r, t0)
	if err != nil || len(b2.Events) != 1 || len(b2.Rejected) != 0 || len(b2.Warnings) != 0 {
		t.Fatalf("resubmitted: %v, events %d, rejected %v, warnings %v", err, len(b2.Events), b2.Rejected, b2.Warnings)
	}
}

func TestParse_VietnameseJSONKeys(t *testing.T) {
	r := exampleRules(t)
	canonical := `{"event_id":"E1","type":"hire","effective":"2026-11-02","employee_id":"NV1","full_name":"Nguyễn Quốc Trạng","unit":"sotttt","title":"Chuyên viên","phone":"0259 3824 101","applications":["mail","eoffice"],"reply_name":"Trần Thị Mai","reply_unit":"VP","reply_mail":"vp@ninhthuan.gov.vn","reply_phone":"0259 3824 100","requested_by":"Giám đốc"}`
	viet := `{"Mã sự kiện":"E1","Loại":"hire","Ngày hiệu lực":"2026-11-02","Mã cán bộ":"NV1","Họ và tên":"Nguyễn Quốc Trạng","Đơn vị":"sotttt","Chức vụ":"Chuyên viên","Số điện thoại":"0259 3824 101","Ứng dụng":["mail","eoffice"],"Người nhận kết quả":"Trần Thị Mai","Đơn vị nhận kết quả":"VP","Thư điện tử nhận kết quả":"vp@ninhthuan.gov.vn","Điện thoại nhận kết quả":"0259 3824 100","Người đề nghị":"Giám đốc"}`
	want, err := Parse("in.jsonl", []byte(canonical+"\n"), SourceInbox, r, t0)
	if err != nil || len(want.Events) != 1 {
		t.Fatalf("canonical: %v %v", err, want.Rejected)
	}
	b, err := Parse("in.jsonl", []byte(viet+"\n"+strings.Replace(viet, `"E1"`, `"E2"`, 1)[:len(viet)-1]+`,"Họ tên":"Lê Văn Tuấn"}`+"\n"), SourceInbox, r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Events, want.Events) {
		t.Errorf("events:\n  %+v\nwant\n  %+v", b.Events, want.Events)
	}
	if len(b.Rejected) != 1 || b.Rejected[0].Error() != `in.jsonl:2: Họ và tên: stands for full_name, as "Họ tên" does` {
		t.Errorf("rejected = %v", b.Rejected)
	}
}
